package edge

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"time"

	"slipway.dev/slipway/internal/metrics"
	"slipway.dev/slipway/internal/slipway"
)

// State says whether an instance has a replica to serve a request, and
// if not, why.
type State int

// The states of an instance, as [Backends.Backend] reports them.
const (
	// Serving: a replica is up, and the request goes to it.
	Serving State = iota
	// PublishesNothing: no such instance, or none of its components is
	// published.
	PublishesNothing
	// Deploying: the published component is starting (no replica up yet).
	Deploying
	// CrashLooping: its replicas keep exiting at start.
	CrashLooping
	// Stopped: the published component is stopped.
	Stopped
)

// String returns the state as the error page names it.
func (s State) String() string {
	switch s {
	case Serving:
		return "serving"
	case PublishesNothing:
		return "publishes nothing"
	case Deploying:
		return "deploying"
	case CrashLooping:
		return "crash-looping"
	case Stopped:
		return "stopped"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Backends picks where a request for an instance goes.
type Backends interface {
	// Backend returns the address (host:port) of a replica of instance's
	// published component that is up, and done, which the caller calls
	// once the request is answered: the request counts in flight until
	// then, so that a replaced generation is stopped only when its
	// requests are done. When no replica is up, addr is empty, done nil,
	// and state says why.
	Backend(instance string) (addr string, done func(), state State)
}

// Defaults of [Limits].
const (
	DefaultReadHeaderTimeout     = 10 * time.Second
	DefaultIdleTimeout           = 2 * time.Minute
	DefaultResponseHeaderTimeout = time.Minute
	DefaultStallTimeout          = 30 * time.Second
	DefaultMaxHeaderBytes        = 64 << 10
	DefaultMaxBody               = 100 << 20
)

// Limits are the proxy's timeouts and size caps; zero fields take the
// defaults ([Limits.WithDefaults]).
type Limits struct {
	// ReadHeaderTimeout is how long a client has to send a request's
	// headers.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle this long.
	IdleTimeout time.Duration
	// ResponseHeaderTimeout is how long the app has to start its answer
	// (its status and headers, once the request is sent); past it the
	// client gets 504. A stream that has started is never cut by it.
	ResponseHeaderTimeout time.Duration
	// StallTimeout cuts a client that, while its request is sent or its
	// answer written, takes or sends nothing for this long: a client
	// that does not read holds its connection no longer. Waiting for the
	// app (an event stream between events, an idle WebSocket) is not a
	// stall.
	StallTimeout time.Duration
	// MaxHeaderBytes caps a request's header size (431 past it).
	MaxHeaderBytes int
	// MaxBody caps a request's body (413 past it); negative: no cap.
	MaxBody int64
}

// WithDefaults returns l with its zero fields set to the defaults.
func (l Limits) WithDefaults() Limits {
	l.ReadHeaderTimeout = cmp.Or(l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	l.IdleTimeout = cmp.Or(l.IdleTimeout, DefaultIdleTimeout)
	l.ResponseHeaderTimeout = cmp.Or(l.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	l.StallTimeout = cmp.Or(l.StallTimeout, DefaultStallTimeout)
	l.MaxHeaderBytes = cmp.Or(l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	l.MaxBody = cmp.Or(l.MaxBody, DefaultMaxBody)
	return l
}

// Validate returns an error naming the first setting that is out of
// range (negative durations or header size).
func (l Limits) Validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"read header timeout", l.ReadHeaderTimeout},
		{"idle timeout", l.IdleTimeout},
		{"response header timeout", l.ResponseHeaderTimeout},
		{"stall timeout", l.StallTimeout},
	} {
		if d.v < 0 {
			return fmt.Errorf("proxy %s %s: want a positive duration", d.name, d.v)
		}
	}
	if l.MaxHeaderBytes < 0 {
		return fmt.Errorf("proxy max header bytes %d: want a positive size", l.MaxHeaderBytes)
	}
	return nil
}

// Config is what a [Proxy] needs.
type Config struct {
	// Hosts maps Host headers to instances; default [LocalhostHosts].
	Hosts Hosts
	// Backends picks replicas; nil: every instance publishes nothing (a
	// runtime whose apps are reached another way, such as Kubernetes).
	Backends Backends
	// Limits; zero fields take the defaults.
	Limits Limits
	// Logger; default none.
	Logger *slog.Logger
	// AccessLogs, when set, get a line per request for a tool that
	// exists (not for hosts that name no tool: those would make a log
	// per name a client makes up).
	AccessLogs *AccessLogs
	// Metrics, when set, count the same requests by tool.
	Metrics *metrics.Metrics
}

// Proxy is the front door's handler; make it with [New].
type Proxy struct {
	hosts    Hosts
	backends Backends
	limits   Limits
	logger   *slog.Logger
	access   *AccessLogs
	metrics  *metrics.Metrics
	rp       *httputil.ReverseProxy
}

type backendKey struct{}

// target is what a request being proxied carries in its context.
type target struct {
	instance string
	addr     string
	// code is the status the error handler answered, for the log.
	code int
}

// New returns the proxy of cfg. It returns an error when cfg.Limits is
// not valid.
func New(cfg Config) (*Proxy, error) {
	l := cfg.Limits.WithDefaults()
	if err := l.Validate(); err != nil {
		return nil, err
	}
	p := &Proxy{
		hosts: cmp.Or[Hosts](cfg.Hosts, LocalhostHosts{}), backends: cfg.Backends, limits: l,
		logger: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		access: cfg.AccessLogs, metrics: cfg.Metrics,
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			t := pr.In.Context().Value(backendKey{}).(*target)
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = t.addr
			pr.Out.Host = pr.In.Host
			// ReverseProxy dropped what the client sent in Forwarded and
			// X-Forwarded-*; they are set afresh, and so is X-Real-IP,
			// which apps also trust.
			pr.SetXForwarded()
			pr.Out.Header.Del("X-Real-Ip")
			if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
				pr.Out.Header.Set("X-Real-Ip", ip)
			}
		},
		// Responses are copied as they come: ReverseProxy flushes at once
		// (FlushInterval -1) for event streams and any body of unknown
		// length; fixed-length bodies are written through as read.
		Transport: &http.Transport{
			DialContext:           dialer.DialContext,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: l.ResponseHeaderTimeout,
			ExpectContinueTimeout: time.Second,
			// The client's Accept-Encoding goes to the app as sent, and
			// its answer comes back as the app encoded it.
			DisableCompression: true,
		},
		ErrorHandler: p.proxyError,
		// What ReverseProxy logs itself (a client that left mid-body) is
		// routine at a front door: debug, not the server's stderr.
		ErrorLog: slog.NewLogLogger(p.logger.Handler(), slog.LevelDebug),
	}
	return p, nil
}

// Server returns an HTTP server for h (a [Proxy], possibly wrapped) with
// l's timeouts and header cap (l with defaults). It has no read or write
// timeout for a whole request: [Proxy] cuts stalled clients itself.
func (l Limits) Server(h http.Handler) *http.Server {
	l = l.WithDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// ServeHTTP implements [http.Handler].
func (p *Proxy) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := &writer{ResponseWriter: rw, rc: http.NewResponseController(rw), stall: p.limits.StallTimeout}
	defer w.finish()
	instance, ok := p.hosts.Lookup(r.Host)
	if !ok {
		writePage(w, r, http.StatusNotFound, "", noHost)
		return
	}
	start := time.Now()
	addr, done, state := "", func() {}, PublishesNothing
	if p.backends != nil {
		addr, done, state = p.backends.Backend(instance)
	}
	t := &target{instance: instance, addr: addr}
	if state != PublishesNothing {
		// Deferred, so that a request the ReverseProxy aborts (by panic:
		// its client stopped reading) is recorded too.
		defer p.record(r, w, t, start)
	}
	if addr == "" {
		writeDown(w, r, instance, state)
		return
	}
	defer done()
	if p.limits.MaxBody >= 0 && r.ContentLength > p.limits.MaxBody {
		writePage(w, r, http.StatusRequestEntityTooLarge, instance, tooLarge(p.limits.MaxBody))
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &body{ReadCloser: r.Body, rc: w.rc, stall: p.limits.StallTimeout}
		if p.limits.MaxBody >= 0 {
			r.Body = http.MaxBytesReader(rw, r.Body, p.limits.MaxBody)
		}
	}
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, t)))
}

// record writes the access log line and the metrics of a request.
func (p *Proxy) record(r *http.Request, w *writer, t *target, start time.Time) {
	took := time.Since(start)
	code := cmp.Or(t.code, w.code, statusClientGone)
	tool, _ := slipway.SplitInstance(t.instance)
	p.metrics.ObserveProxy(tool, code, took)
	if p.access == nil {
		return
	}
	err := p.access.Log(AccessLine{
		Time: start.UTC(), Instance: t.instance, Method: r.Method, Host: r.Host, URI: r.RequestURI, Proto: r.Proto,
		Status: code, Bytes: w.bytes, DurationMS: float64(took.Microseconds()) / 1000, Remote: clientIP(r.RemoteAddr),
		UserAgent: r.UserAgent(), Referer: r.Referer(),
	})
	if err != nil {
		p.logger.WarnContext(r.Context(), "proxy: access log", "err", err)
	}
}

// clientIP returns the address of remote without its port.
func clientIP(remote string) string {
	if ip, _, err := net.SplitHostPort(remote); err == nil {
		return ip
	}
	return remote
}

// proxyError answers a request the app could not: 413 for a body past
// the cap, 504 when the app took too long to answer, else 502. The page
// names no address and no error; the log has them.
func (p *Proxy) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	t := r.Context().Value(backendKey{}).(*target)
	if r.Context().Err() != nil {
		// The client went away: nobody to answer.
		t.code = statusClientGone
		return
	}
	var tooBig *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &tooBig):
		writePage(w, r, http.StatusRequestEntityTooLarge, t.instance, tooLarge(p.limits.MaxBody))
		return
	case errors.As(err, &ne) && ne.Timeout():
		p.logger.WarnContext(r.Context(), "proxy: the app took too long", "instance", t.instance, "err", err)
		writePage(w, r, http.StatusGatewayTimeout, t.instance, appSlow)
	default:
		p.logger.WarnContext(r.Context(), "proxy: the app did not answer", "instance", t.instance, "err", err)
		writePage(w, r, http.StatusBadGateway, t.instance, appFailed)
	}
}

// statusClientGone is the status logged for a request whose client went
// away before the answer (nginx's 499).
const statusClientGone = 499

// writer records a response's status and size, and cuts a client that
// does not take what is written: each write and flush must complete
// within stall.
type writer struct {
	http.ResponseWriter
	rc    *http.ResponseController
	stall time.Duration
	code  int
	bytes int64
	// hijacked is set once the connection is taken over.
	hijacked bool
}

func (w *writer) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.arm()
	n, err := w.ResponseWriter.Write(p)
	w.disarm()
	w.bytes += int64(n)
	return n, err
}

// FlushError flushes what is buffered to the client, within stall.
func (w *writer) FlushError() error {
	w.arm()
	err := w.rc.Flush()
	w.disarm()
	return err
}

// Unwrap lets [http.ResponseController] reach the connection.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack takes the connection over (a WebSocket or another Upgrade); the
// server clears its deadlines, and the stall timeout no longer applies.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := w.rc.Hijack()
	if err == nil {
		w.hijacked = true
		if w.code == 0 {
			w.code = http.StatusSwitchingProtocols
		}
	}
	return conn, brw, err
}

// finish flushes the rest of the answer within stall, before the server
// writes its last bytes with no deadline.
func (w *writer) finish() {
	if !w.hijacked {
		_ = w.FlushError()
	}
}

// The deadline is set only while a write is under way and cleared after:
// a deadline left to expire would end an HTTP/2 stream that is merely
// waiting for the app.
func (w *writer) arm() {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.stall))
}

func (w *writer) disarm() { _ = w.rc.SetWriteDeadline(time.Time{}) }

// body is a request body each read of which must complete within stall.
// The deadline is cleared after each read: left set, it would end the
// connection once the server reads ahead for the client's next request
// (or its going away) while a long answer streams.
type body struct {
	io.ReadCloser
	rc    *http.ResponseController
	stall time.Duration
}

func (b *body) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(b.stall))
	n, err := b.ReadCloser.Read(p)
	_ = b.rc.SetReadDeadline(time.Time{})
	return n, err
}
