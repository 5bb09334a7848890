package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// errNotNative means a listing cannot be done natively (a transport or a
// repository layout this package does not read itself): git ls-remote
// does it.
var errNotNative = errors.New("not listed natively")

// MaxRefAdvertisement bounds the ref listing an http(s) remote may send
// (pkt-line framing included, after any Content-Encoding): a remote that
// sends more fails with an error that says so, instead of filling memory.
// Protocol v2 asks only for the refs wanted; a v0 advertisement lists all
// of them (a large forge repository with its pull-request refs is a few
// MiB).
const MaxRefAdvertisement = 64 << 20

// userAgent is what the smart-HTTP requests say they are. Some servers
// answer the smart protocol only to agents starting with "git/".
const userAgent = "git/slipway"

// httpRefs lists r's refs over git's smart-HTTP protocol: protocol v2's
// ls-refs with the given ref prefixes (nil: all refs) when the server
// speaks it, else the v0/v1 advertisement. It returns errNotNative for a
// remote it does not talk to itself (not http(s), behind a proxy from the
// environment, a dumb-HTTP server), which git ls-remote then asks.
//
// The limits are git's: [Config.ConnectTimeout] on each connect,
// [Config.LowSpeedLimit] for [Config.LowSpeedTime] on all that is read, and
// ctx's deadline, the overall timeout; each ends in a [*TimeoutError]. The
// credential goes, as basic authentication, only to r's own scheme, host
// and port, whatever a redirect says.
func (c *Client) httpRefs(ctx context.Context, r *remote, prefixes []string) (map[string]string, error) {
	u, err := url.Parse(r.url)
	if err != nil || r.dial == "" {
		return nil, errNotNative
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return nil, errNotNative
	}
	var received atomic.Int64
	var dialing atomic.Int32
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := c.watchLowSpeed(ctx, cancel, &received, &dialing, hostOnly(r.host))
	defer stop()
	dialer := &net.Dialer{Timeout: c.cfg.ConnectTimeout}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialing.Add(1)
			conn, err := dialer.DialContext(ctx, network, addr)
			dialing.Add(-1)
			if err != nil {
				if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() && ctx.Err() == nil {
					return nil, &TimeoutError{Host: hostOnly(addr), Timeout: c.cfg.ConnectTimeout, Kind: TimeoutConnect}
				}
				return nil, err
			}
			return &countingConn{Conn: conn, n: &received}, nil
		},
		ForceAttemptHTTP2:      true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{
		Transport: &credentialTransport{next: tr, r: r},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if req.Method != http.MethodGet {
				return errors.New("a redirect of the upload-pack request") // git follows only the first request's
			}
			return nil
		},
	}
	refs, err := c.smartRefs(ctx, hc, r, prefixes)
	if err == nil || errors.Is(err, errNotNative) {
		return refs, err
	}
	if ctx.Err() != nil {
		// The overall or low-speed timeout (permanent), or the caller's
		// end (transient), as for a killed git.
		cause := contextError(ctx)
		if te, ok := errors.AsType[*TimeoutError](cause); ok {
			return nil, te
		}
		return nil, &gitError{err: cause, transient: true}
	}
	if te, ok := errors.AsType[*TimeoutError](err); ok {
		return nil, te
	}
	if ge, ok := errors.AsType[*gitError](err); ok {
		return nil, ge
	}
	// A transport failure (refused, reset, DNS, TLS) or a cut stream:
	// transient, as git's own for the same; a malformed listing is not.
	transient := !errors.Is(err, errBadAdvertisement) && !errors.Is(err, errTooLarge) && !errors.Is(err, errRemoteSays)
	return nil, &gitError{err: r.scrub(err), transient: transient}
}

// smartRefs makes the requests of httpRefs.
func (c *Client) smartRefs(ctx context.Context, hc *http.Client, r *remote, prefixes []string) (map[string]string, error) {
	base := strings.TrimSuffix(r.url, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/info/refs?service=git-upload-pack", nil)
	if err != nil {
		return nil, errNotNative
	}
	req.Header.Set("Git-Protocol", "version=2")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Pragma", "no-cache")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := c.httpStatus(r, resp); err != nil {
		return nil, err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/x-git-upload-pack-advertisement" {
		return nil, errNotNative // a dumb-HTTP server (or not git at all): git's to say
	}
	p := &pktReader{r: resp.Body, limit: c.maxAdvertisement}
	kind, payload, err := p.next()
	if err != nil {
		return nil, err
	}
	if kind == pktData && strings.HasPrefix(line(payload), "# service=") {
		if line(payload) != "# service=git-upload-pack" {
			return nil, fmt.Errorf("%w: %q", errBadAdvertisement, cut(line(payload)))
		}
		if kind, _, err = p.next(); err != nil {
			return nil, err
		} else if kind != pktFlush {
			return nil, fmt.Errorf("%w: no flush after the service line", errBadAdvertisement)
		}
		if kind, payload, err = p.next(); err != nil {
			return nil, err
		}
	}
	switch {
	case kind == pktFlush:
		return map[string]string{}, nil // v0: a repository with no refs at all
	case kind != pktData:
		return nil, fmt.Errorf("%w: unexpected special packet", errBadAdvertisement)
	case line(payload) == "version 2":
		caps, err := readCapabilities(p)
		if err != nil {
			return nil, err
		}
		post := resp.Request.URL // after redirects
		return c.lsRefs(ctx, hc, r, post, caps, prefixes)
	case line(payload) == "version 1":
		if kind, payload, err = p.next(); err != nil {
			return nil, err
		} else if kind == pktFlush {
			return map[string]string{}, nil
		} else if kind != pktData {
			return nil, fmt.Errorf("%w: unexpected special packet", errBadAdvertisement)
		}
	}
	return parseV0(p, payload)
}

// readCapabilities reads a v2 capability advertisement up to its flush:
// key → value ("" for a bare key).
func readCapabilities(p *pktReader) (map[string]string, error) {
	caps := map[string]string{}
	for {
		kind, payload, err := p.next()
		if err != nil {
			return nil, err
		}
		if kind == pktFlush {
			return caps, nil
		}
		if kind != pktData {
			return nil, fmt.Errorf("%w: unexpected special packet in the capabilities", errBadAdvertisement)
		}
		k, v, _ := strings.Cut(line(payload), "=")
		caps[k] = v
	}
}

// lsRefs sends protocol v2's ls-refs to the upload-pack service next to
// infoRefs (the URL info/refs was served from, after redirects).
func (c *Client) lsRefs(ctx context.Context, hc *http.Client, r *remote, infoRefs *url.URL, caps map[string]string, prefixes []string) (map[string]string, error) {
	if _, ok := caps["ls-refs"]; !ok {
		return nil, fmt.Errorf("%w: the server speaks protocol v2 without ls-refs", errBadAdvertisement)
	}
	u := *infoRefs
	u.Path = strings.TrimSuffix(u.Path, "/info/refs") + "/git-upload-pack"
	u.RawPath, u.RawQuery = "", ""
	var body bytes.Buffer
	pkt := func(s string) { fmt.Fprintf(&body, "%04x%s", len(s)+4, s) }
	pkt("command=ls-refs\n")
	pkt("agent=" + userAgent + "\n")
	if f := caps["object-format"]; f != "" {
		pkt("object-format=" + f + "\n")
	}
	body.WriteString("0001")
	pkt("peel\n")
	pkt("symrefs\n")
	for _, p := range prefixes {
		pkt("ref-prefix " + p + "\n")
	}
	body.WriteString("0000")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), &body)
	if err != nil {
		return nil, fmt.Errorf("%w: upload-pack URL: %w", errBadAdvertisement, err)
	}
	req.Header.Set("Git-Protocol", "version=2")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Content-Type", "application/x-git-upload-pack-request")
	req.Header.Set("Accept", "application/x-git-upload-pack-result")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := c.httpStatus(r, resp); err != nil {
		return nil, err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/x-git-upload-pack-result" {
		return nil, fmt.Errorf("%w: ls-refs answered with Content-Type %q", errBadAdvertisement, cut(resp.Header.Get("Content-Type")))
	}
	return parseLsRefs(&pktReader{r: resp.Body, limit: c.maxAdvertisement})
}

// httpStatus turns a response that is not 200 into the error git would
// give for it, permanent or transient as git's.
func (c *Client) httpStatus(r *remote, resp *http.Response) error {
	code := resp.StatusCode
	if code == http.StatusOK {
		return nil
	}
	var msg string
	transient := false
	switch {
	case code == http.StatusUnauthorized && r.hasCred:
		msg = "authentication failed (HTTP 401): the remote refused the credential"
	case code == http.StatusUnauthorized:
		msg = "authentication required (HTTP 401): the remote asks for a credential, and the URL gives none (https://user:password@host/…)"
	case code == http.StatusForbidden:
		msg = "access denied (HTTP 403)"
	case code == http.StatusNotFound:
		msg = "repository not found (HTTP 404)"
	case code == http.StatusTooManyRequests || code >= 500:
		msg, transient = fmt.Sprintf("the remote failed (HTTP %d)", code), true
	default:
		msg = fmt.Sprintf("unexpected answer (HTTP %d)", code)
	}
	return &gitError{err: errors.New(msg), transient: transient}
}

// credentialTransport adds r's credential as basic authentication to the
// requests that go to r's own scheme, host and port, and to no other.
type credentialTransport struct {
	next http.RoundTripper
	r    *remote
}

func (t *credentialTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.r.hasCred || !strings.EqualFold(req.URL.Scheme+"://"+req.URL.Host, t.r.credURL) {
		return t.next.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	req.SetBasicAuth(t.r.cred.Username, t.r.cred.Password)
	return t.next.RoundTrip(req)
}

// countingConn counts the bytes read from a connection (TLS included), for
// the low-speed limit.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// watchLowSpeed cancels ctx with a low-speed [*TimeoutError] when fewer
// than LowSpeedLimit bytes a second arrive for LowSpeedTime, as curl's
// limit does for git: waiting for an answer counts as receiving nothing,
// connecting (while dialing is not 0) does not, the connect timeout's.
// stop ends the watch.
func (c *Client) watchLowSpeed(ctx context.Context, cancel context.CancelCauseFunc, received *atomic.Int64, dialing *atomic.Int32, host string) (stop func()) {
	window := c.cfg.LowSpeedTime
	step := min(max(window/10, 10*time.Millisecond), time.Second)
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(step)
		defer tick.Stop()
		mark, markN := time.Now(), int64(0)
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case now := <-tick.C:
				n := received.Load()
				if dialing.Load() > 0 {
					mark, markN = now, n
					continue
				}
				if n > markN && float64(n-markN) >= float64(c.cfg.LowSpeedLimit)*now.Sub(mark).Seconds() {
					mark, markN = now, n // fast enough since the mark
					continue
				}
				if now.Sub(mark) >= window {
					cancel(&TimeoutError{Host: host, Timeout: time.Duration(seconds(window)) * time.Second, Kind: TimeoutLowSpeed, LowSpeedLimit: c.cfg.LowSpeedLimit})
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

// scrub hides r's credential in an error from the HTTP client (a URL in a
// *url.Error has no user info, but a remote may echo anything) and makes
// its text one escaped line.
func (r *remote) scrub(err error) error {
	msg := escapeControl(r.redactIn(err.Error()))
	if msg == err.Error() {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

// scrubbedError is an error whose text was redacted; it still unwraps to
// the original for errors.Is.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
