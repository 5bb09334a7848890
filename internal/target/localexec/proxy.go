package localexec

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"

	"slipway.dev/slipway/internal/slipway"
)

type backendKey struct{}

// Proxy returns the reverse proxy of published components: a request for
// Host "<tool>.localhost[:port]" goes to the tool's published continuous
// component (the first by name when there are several), round-robin over
// its replicas that are up. It answers 502 with a short text page when the
// tool has nothing published or nothing up, and 404 for any other host.
// The app gets X-Forwarded-For, -Host, -Proto and X-Real-IP set by the
// proxy; what the client sent in them is not passed on.
func (d *Driver) Proxy() http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			u := pr.In.Context().Value(backendKey{}).(*url.URL)
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
			// X-Forwarded-For/-Host/-Proto are set afresh (what the client
			// sent was dropped); so is X-Real-IP, which apps also trust.
			pr.SetXForwarded()
			pr.Out.Header.Del("X-Real-Ip")
			if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
				pr.Out.Header.Set("X-Real-Ip", ip)
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			d.logger.WarnContext(r.Context(), "proxy error", "host", r.Host, "err", err)
			http.Error(w, "502 Bad Gateway: the app did not answer.", http.StatusBadGateway)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, ok := toolFromHost(r.Host)
		if !ok {
			http.Error(w, "404 Not Found: no such app here.", http.StatusNotFound)
			return
		}
		rep, port, msg := d.backend(tool)
		if rep == nil {
			http.Error(w, "502 Bad Gateway: "+msg, http.StatusBadGateway)
			return
		}
		// Counted until answered: a replaced generation is stopped only
		// once its requests in flight are done.
		defer rep.inflight.Add(-1)
		u := &url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(port)}
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, u)))
	})
}

// toolFromHost returns the tool of a "<tool>.localhost[:port]" host.
func toolFromHost(host string) (string, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	tool, ok := strings.CutSuffix(host, ".localhost")
	if !ok || !slipway.ValidName(tool) {
		return "", false
	}
	return tool, true
}

// backend picks a replica of tool's published component that is up, and
// counts a request in flight to it (the caller takes it back), or returns
// nil and why not. During a surge the serving generation is picked: a new
// one takes traffic once promoted.
func (d *Driver) backend(tool string) (*replica, int, string) {
	for _, c := range d.toolComps(tool) {
		c.mu.Lock()
		run := c.spec.Component.Run
		published := c.active && c.spec.Component.Type == slipway.Continuous && run.Publish != "" && run.Port > 0
		c.mu.Unlock()
		if !published {
			continue
		}
		r, port := d.pick(c)
		if r == nil {
			return nil, 0, fmt.Sprintf("no replica of %s is up.", c.name)
		}
		return r, port, ""
	}
	return nil, 0, fmt.Sprintf("tool %s publishes nothing.", tool)
}
