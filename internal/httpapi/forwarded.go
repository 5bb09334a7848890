package httpapi

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// clientAddress returns the address the request log names as the client:
// the TCP peer, unless the peer is a trusted proxy (Config.TrustedProxies,
// the same setting that lets x-toolforge-tool through). Only then are
// X-Forwarded-For and X-Real-IP believed: the client is the right-most
// X-Forwarded-For address that is not itself a trusted proxy (the ones to
// its left were written by whoever the client is, and prove nothing), else
// X-Real-IP. From any other peer both headers are ignored. via is the peer
// when the client came through a trusted proxy, else "".
func (a *api) clientAddress(r *http.Request) (client, via string) {
	peer, trusted := a.trustedProxy(r)
	if !trusted {
		return peer, ""
	}
	hops := forwardedFor(r.Header.Values("X-Forwarded-For"))
	for i, hop := range slices.Backward(hops) {
		if !a.isTrustedProxy(hop) || i == 0 {
			return hop.String(), peer
		}
	}
	if ip, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get("X-Real-IP"))); err == nil {
		return ip.Unmap().String(), peer
	}
	return peer, ""
}

// forwardedFor parses X-Forwarded-For values, left to right. An entry that
// is not an address ends the list there: nothing to its left can be told
// apart from what a client made up.
func forwardedFor(values []string) []netip.Addr {
	var hops []netip.Addr
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			ip, err := netip.ParseAddr(strings.TrimSpace(part))
			if err != nil {
				hops = hops[:0]
				continue
			}
			hops = append(hops, ip.Unmap())
		}
	}
	return hops
}

// isTrustedProxy reports whether addr is one of the trusted proxies.
func (a *api) isTrustedProxy(addr netip.Addr) bool {
	for _, p := range a.cfg.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
