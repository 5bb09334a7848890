// Package remoteconfig fetches the documents that tool configs point at with
// source_url (TOOLFORGE-COMPAT.md §3.4), carefully: the URL is the user's, the
// request is the server's.
//
// A [Fetcher] speaks http and https only, bounds the whole fetch with a
// timeout and the body with a size limit, follows a few redirects (each
// re-checked), and refuses to connect to loopback, private, link-local,
// unspecified, multicast, CGNAT and reserved addresses unless the server
// allows private addresses. The address check runs at dial time on the IP
// that is actually connected to (net.Dialer.Control), so neither a redirect
// nor a DNS answer that changes between lookups (DNS rebinding) gets past it.
// Proxies from the environment are not used: the check must see the real
// destination.
//
// A URL's user info (https://user:pass@host/…) is sent as HTTP basic
// authentication to that URL only (never to a redirect's other host), and is
// never part of an error.
package remoteconfig

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// Defaults of [Config].
const (
	DefaultTimeout      = 10 * time.Second
	DefaultMaxBytes     = 1 << 20 // 1 MiB
	DefaultMaxRedirects = 5
	DefaultUserAgent    = "Slipway (Toolforge components-api compatible)"
)

// Config holds a [Fetcher]'s settings. Zero values mean the defaults.
type Config struct {
	// Timeout bounds one whole fetch: connecting, redirects and reading the
	// body. Default [DefaultTimeout].
	Timeout time.Duration
	// MaxBytes is the largest body accepted; a larger one is a
	// [*TooLargeError]. Default [DefaultMaxBytes].
	MaxBytes int64
	// MaxRedirects is how many redirects are followed; default
	// [DefaultMaxRedirects]. A negative value follows none.
	MaxRedirects int
	// AllowPrivate lets fetches connect to loopback, private, link-local
	// and the other addresses a public server must not reach on a user's
	// behalf (for a server on a private network, and for tests).
	AllowPrivate bool
	// UserAgent is sent with every request; default [DefaultUserAgent].
	UserAgent string
}

// Fetcher fetches documents over http and https with the guards of the
// package doc. It is safe for concurrent use.
type Fetcher struct {
	cfg    Config
	client *http.Client
	// blocked classifies the addresses connected to: [Blocked], or nil
	// when private addresses are allowed. Tests replace it.
	blocked func(netip.Addr) string
}

// New returns a fetcher with cfg's settings.
func New(cfg Config) *Fetcher {
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.MaxBytes = cmp.Or(cfg.MaxBytes, DefaultMaxBytes)
	cfg.MaxRedirects = cmp.Or(cfg.MaxRedirects, DefaultMaxRedirects)
	cfg.UserAgent = cmp.Or(cfg.UserAgent, DefaultUserAgent)
	f := &Fetcher{cfg: cfg}
	if !cfg.AllowPrivate {
		f.blocked = Blocked
	}
	// The fetch's context bounds every phase (dial, TLS, headers, body).
	dialer := &net.Dialer{Control: f.guard}
	transport := &http.Transport{
		Proxy:             nil, // the guard must see the real destination
		DialContext:       dialer.DialContext,
		ForceAttemptHTTP2: true,
		// Configs are fetched once per config create or deployment: an
		// idle connection would only be something to clean up.
		DisableKeepAlives: true,
	}
	f.client = &http.Client{Transport: transport, CheckRedirect: f.checkRedirect}
	return f
}

// errTimedOut is the cause of a fetch's context ending at the timeout.
var errTimedOut = errors.New("fetch timed out")

// Fetch returns the body at rawURL. Errors say what went wrong: a
// [*BlockedError] for an address the server may not connect to, a
// [*StatusError] for a response that is not 2xx, a [*TooLargeError] for a
// body over the limit, a [*TimeoutError] when the fetch did not complete in
// time, a [*SchemeError] for a URL (or redirect) that is not http or https;
// other errors come from the network.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("parse url: not a valid URL") // url's error would quote it, credential and all
	}
	if err := checkScheme(u); err != nil {
		return nil, err
	}
	user := u.User
	u.User = nil // errors quote u: the credential goes in a header
	ctx, cancel := context.WithTimeoutCause(ctx, f.cfg.Timeout, errTimedOut)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("make request: %w", err)
	}
	if user != nil {
		// net/http sends an explicit Authorization header on redirects to
		// the same host (or its subdomains) only.
		pass, _ := user.Password()
		req.SetBasicAuth(user.Username(), pass)
	}
	req.Header.Set("User-Agent", f.cfg.UserAgent)
	req.Header.Set("Accept", "application/yaml, text/yaml, application/json, text/plain;q=0.9, */*;q=0.5")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, f.fetchError(ctx, u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
	}
	if resp.ContentLength > f.cfg.MaxBytes {
		return nil, &TooLargeError{Limit: f.cfg.MaxBytes}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxBytes+1))
	if err != nil {
		return nil, f.fetchError(ctx, u, fmt.Errorf("read body: %w", err))
	}
	if int64(len(body)) > f.cfg.MaxBytes {
		return nil, &TooLargeError{Limit: f.cfg.MaxBytes}
	}
	return body, nil
}

// fetchError turns a failed request into the error to report: a
// [*TimeoutError] when the fetch's own timeout ended it, else err without
// the *url.Error layer that repeats the URL asked for (a redirect's URL is
// kept: it says where the fetch went).
func (f *Fetcher) fetchError(ctx context.Context, u *url.URL, err error) error {
	if errors.Is(context.Cause(ctx), errTimedOut) {
		return &TimeoutError{Timeout: f.cfg.Timeout, Err: err}
	}
	// A guard refusal is wrapped by http.Client in the *url.Error of the
	// request that was being made, so it comes out as "Get <url>: dial …".
	if ue, ok := errors.AsType[*url.Error](err); ok && ue.URL == u.String() {
		return ue.Err
	}
	return err
}

// checkRedirect follows at most MaxRedirects redirects, to http and https
// URLs only. The address guard checks each new connection.
func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > max(f.cfg.MaxRedirects, 0) {
		return fmt.Errorf("stopped after %d redirects", max(f.cfg.MaxRedirects, 0))
	}
	return checkScheme(req.URL)
}

func checkScheme(u *url.URL) error {
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &SchemeError{URL: u.Redacted()}
	}
	return nil
}

// guard is the dialer's Control function: it runs for each connection
// attempt, with the IP address actually being connected to.
func (f *Fetcher) guard(_, address string, _ syscall.RawConn) error {
	if f.blocked == nil {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("check address %s: %w", address, err)
	}
	if reason := f.blocked(ap.Addr()); reason != "" {
		return &BlockedError{Addr: ap.Addr(), Reason: reason}
	}
	return nil
}

// Ranges refused besides what netip classifies itself (loopback, RFC 1918
// and RFC 4193 private, link-local, multicast, unspecified).
var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")      // RFC 1122 "this network"
	cgnat       = netip.MustParsePrefix("100.64.0.0/10")  // RFC 6598 shared address space
	reserved4   = netip.MustParsePrefix("240.0.0.0/4")    // RFC 1112 reserved, and the broadcast address
	nat64       = netip.MustParsePrefix("64:ff9b::/96")   // RFC 6052: an IPv4 address in IPv6 clothes
	nat64Local  = netip.MustParsePrefix("64:ff9b:1::/48") // RFC 8215 local-use NAT64
	ietfProto   = netip.MustParsePrefix("192.0.0.0/24")   // RFC 6890 IETF protocol assignments
	benchmark   = netip.MustParsePrefix("198.18.0.0/15")  // RFC 2544 benchmarking
	siteLocal6  = netip.MustParsePrefix("fec0::/10")      // deprecated site-local
	discardOnly = netip.MustParsePrefix("100::/64")       // RFC 6666 discard prefix
	documentIP6 = netip.MustParsePrefix("2001:db8::/32")  // RFC 3849 documentation
	teredo      = netip.MustParsePrefix("2001::/32")      // Teredo: embeds an IPv4 address
	sixToFour   = netip.MustParsePrefix("2002::/16")      // 6to4: embeds an IPv4 address
	metadataIP  = netip.MustParseAddr("169.254.169.254")  // cloud metadata, named for the message
)

// Blocked returns why a fetch must not connect to addr ("loopback",
// "private", …), or "" when addr is a public address.
func Blocked(addr netip.Addr) string {
	addr = addr.Unmap()
	switch {
	case !addr.IsValid():
		return "invalid"
	case addr.IsUnspecified() || thisNetwork.Contains(addr):
		return "unspecified"
	case addr.IsLoopback():
		return "loopback"
	case addr == metadataIP:
		return "link-local (cloud metadata)"
	case addr.IsLinkLocalUnicast():
		return "link-local"
	case addr.IsPrivate():
		return "private"
	case addr.IsMulticast() || addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast():
		return "multicast"
	case cgnat.Contains(addr):
		return "shared (CGNAT)"
	case reserved4.Contains(addr), ietfProto.Contains(addr), benchmark.Contains(addr),
		siteLocal6.Contains(addr), discardOnly.Contains(addr), documentIP6.Contains(addr), nat64Local.Contains(addr):
		return "reserved"
	case nat64.Contains(addr):
		b := addr.As16()
		if r := Blocked(netip.AddrFrom4([4]byte(b[12:]))); r != "" {
			return r + " (through NAT64)"
		}
	case teredo.Contains(addr), sixToFour.Contains(addr):
		return "reserved (IPv4 tunnel)"
	}
	return ""
}

// BlockedError is a connection the fetcher refused to make: the address is
// loopback, private or otherwise not public, and the server does not allow
// private addresses.
type BlockedError struct {
	Addr   netip.Addr
	Reason string
}

// Error says which address was refused and why.
func (e *BlockedError) Error() string {
	return fmt.Sprintf("refusing to connect to %s (%s): this server fetches configs from public addresses only", e.Addr, e.Reason)
}

// StatusError is a response whose status is not 2xx.
type StatusError struct {
	StatusCode int
	Status     string // e.g. "404 Not Found"
}

// Error returns the status.
func (e *StatusError) Error() string {
	return "the server answered " + cmp.Or(e.Status, fmt.Sprint(e.StatusCode))
}

// TooLargeError is a body over the size limit.
type TooLargeError struct {
	Limit int64
}

// Error names the limit.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the document is larger than the limit of %d bytes", e.Limit)
}

// TimeoutError is a fetch that did not complete within the timeout.
type TimeoutError struct {
	Timeout time.Duration
	Err     error
}

// Error names the timeout.
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("no complete answer within %s", e.Timeout)
}

// Unwrap returns what the fetch was doing when time ran out.
func (e *TimeoutError) Unwrap() error { return e.Err }

// SchemeError is a URL, or a redirect's target, that is not http or https.
type SchemeError struct {
	URL string
}

// Error names the URL.
func (e *SchemeError) Error() string {
	return fmt.Sprintf("%s is not an http or https URL", e.URL)
}
