package edge_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"slipway.dev/slipway/internal/edge"
)

// apps are the Backends of the handler's tests: each instance is a real
// HTTP server on loopback, or has a fixed state, and requests in flight
// are counted as the runtime counts them.
type apps struct {
	mu       sync.Mutex
	addrs    map[string]string
	states   map[string]edge.State
	inflight atomic.Int64
}

func newApps() *apps {
	return &apps{addrs: map[string]string{}, states: map[string]edge.State{}}
}

func (a *apps) Backend(instance string) (string, func(), edge.State) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if addr, ok := a.addrs[instance]; ok {
		a.inflight.Add(1)
		return addr, func() { a.inflight.Add(-1) }, edge.Serving
	}
	if s, ok := a.states[instance]; ok {
		return "", nil, s
	}
	return "", nil, edge.PublishesNothing
}

// serve starts h as instance's app and returns its server.
func (a *apps) serve(t *testing.T, instance string, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	a.mu.Lock()
	a.addrs[instance] = srv.Listener.Addr().String()
	a.mu.Unlock()
	return srv
}

// startProxy serves a proxy over a's apps with l on loopback; with tls
// it is served over TLS with HTTP/2, as a TLS front door is.
func startProxy(t *testing.T, a *apps, l edge.Limits, tls bool) *httptest.Server {
	t.Helper()
	p, err := edge.New(edge.Config{Backends: a, Limits: l})
	if err != nil {
		t.Fatal(err)
	}
	hs := l.Server(p)
	srv := httptest.NewUnstartedServer(p)
	srv.Config = hs
	if tls {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// answer is a response read whole.
type answer struct {
	StatusCode int
	Header     http.Header
	ProtoMajor int
}

func get(t *testing.T, c *http.Client, url, host string, hdr http.Header) (answer, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	maps.Copy(req.Header, hdr)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", url, host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s (Host %s): reading: %v", url, host, err)
	}
	return answer{StatusCode: resp.StatusCode, Header: resp.Header, ProtoMajor: resp.ProtoMajor}, string(b)
}

// Ensure a tool with nothing to serve gets a page naming it and its
// state, in HTML for browsers and in text otherwise, with the status
// that fits and no internals.
func TestProxy_DownPage(t *testing.T) {
	t.Parallel()
	a := newApps()
	a.states["dep"] = edge.Deploying
	a.states["loop"] = edge.CrashLooping
	a.states["off"] = edge.Stopped
	// An app that is gone: its port refuses connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	a.addrs["gone"] = dead
	proxy := startProxy(t, a, edge.Limits{}, false)
	for _, tt := range []struct {
		host string
		code int
		say  string
	}{
		{"dep.localhost", 503, "Tool dep is deploying"},
		{"loop.localhost", 503, "Tool loop is crash-looping"},
		{"off.localhost", 503, "Tool off is stopped"},
		{"none.localhost", 404, "Tool none publishes nothing"},
		{"gone.localhost", 502, "The app of Tool gone did not answer"},
		{"example.org", 404, "No app is served at this address"},
	} {
		for _, accept := range []string{"", "text/html,application/xhtml+xml"} {
			resp, body := get(t, proxy.Client(), proxy.URL, tt.host, http.Header{"Accept": {accept}})
			ct := resp.Header.Get("Content-Type")
			if resp.StatusCode != tt.code {
				t.Errorf("GET %s (Accept %q) = %d, want %d", tt.host, accept, resp.StatusCode, tt.code)
			}
			say := tt.say
			if accept != "" {
				say = strings.Replace(say, "Tool "+strings.TrimSuffix(tt.host, ".localhost"), "<b>Tool "+strings.TrimSuffix(tt.host, ".localhost")+"</b>", 1)
				if !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, "<title>") {
					t.Errorf("GET %s for a browser: Content-Type %q, body %q; want an HTML page", tt.host, ct, body)
				}
			} else if !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("GET %s: Content-Type %q, want text", tt.host, ct)
			}
			if !strings.Contains(body, say) {
				t.Errorf("GET %s (Accept %q) body = %q, want it to say %q", tt.host, accept, body, say)
			}
			_, port, _ := net.SplitHostPort(dead)
			for _, leak := range []string{"127.0.0.1", port, "refused", "dial", "/"} {
				if leak == "/" {
					if accept == "" && strings.Contains(body, "/") {
						t.Errorf("GET %s body = %q names a path", tt.host, body)
					}
					continue
				}
				if strings.Contains(body, leak) {
					t.Errorf("GET %s body = %q, leaks %q", tt.host, body, leak)
				}
			}
		}
	}
	if got := a.inflight.Load(); got != 0 {
		t.Errorf("%d requests still counted in flight, want 0", got)
	}
}

// Ensure the app gets X-Forwarded-For/-Proto/-Host and X-Real-IP as the
// proxy sets them, never what the client sent, over HTTP/1.1 and over
// TLS with HTTP/2.
func TestProxy_ForwardedHeaders(t *testing.T) {
	t.Parallel()
	a := newApps()
	a.serve(t, "echo", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "for=%s proto=%s host=%s real=%s forwarded=%q reqhost=%s",
			r.Header.Values("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host"),
			r.Header.Get("X-Real-Ip"), r.Header.Get("Forwarded"), r.Host)
	}))
	for _, tls := range []bool{false, true} {
		proxy := startProxy(t, a, edge.Limits{}, tls)
		resp, body := get(t, proxy.Client(), proxy.URL, "echo.localhost:8701", http.Header{
			"X-Forwarded-For":   {"6.6.6.6"},
			"X-Forwarded-Proto": {"gopher"},
			"X-Forwarded-Host":  {"evil.example"},
			"X-Real-Ip":         {"7.7.7.7"},
			"Forwarded":         {"for=8.8.8.8"},
		})
		proto, major := "http", 1
		if tls {
			proto, major = "https", 2
		}
		want := fmt.Sprintf(`for=[127.0.0.1] proto=%s host=echo.localhost:8701 real=127.0.0.1 forwarded="" reqhost=echo.localhost:8701`, proto)
		if body != want || resp.ProtoMajor != major {
			t.Errorf("tls=%v: HTTP/%d, the app saw %q; want HTTP/%d and %q", tls, resp.ProtoMajor, body, major, want)
		}
	}
}

// Ensure a WebSocket passes through: the handshake is forwarded and
// messages go both ways as they are sent.
func TestProxy_WebSocket(t *testing.T) {
	t.Parallel()
	a := newApps()
	a.serve(t, "ws", websocket.Handler(func(c *websocket.Conn) { _, _ = io.Copy(c, c) }))
	proxy := startProxy(t, a, edge.Limits{StallTimeout: 200 * time.Millisecond}, false)
	cfg, err := websocket.NewConfig("ws://ws.localhost/", "http://ws.localhost/")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", proxy.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ws, err := websocket.NewClient(cfg, conn)
	if err != nil {
		t.Fatalf("WebSocket handshake through the proxy: %v", err)
	}
	defer ws.Close()
	for i, msg := range []string{"hello", "idle longer than the stall timeout", strings.Repeat("x", 100<<10)} {
		if i == 1 {
			// An idle WebSocket is no stalled client: nothing is
			// being written to it.
			time.Sleep(400 * time.Millisecond)
		}
		if _, err := ws.Write([]byte(msg)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(ws, got); err != nil {
			t.Fatalf("receive %d: %v", i, err)
		}
		if string(got) != msg {
			t.Fatalf("echo %d = %.20q, want %.20q", i, got, msg)
		}
	}
}

// Ensure server-sent events pass through unbuffered, over HTTP/1.1 and
// HTTP/2: the client reads each event before the app writes the next,
// and a pause longer than the stall timeout does not cut the stream.
func TestProxy_SSE(t *testing.T) {
	t.Parallel()
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			t.Parallel()
			a := newApps()
			next := make(chan struct{})
			a.serve(t, "sse", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				for i := range 3 {
					fmt.Fprintf(w, "data: event %d\n\n", i)
					w.(http.Flusher).Flush()
					select {
					case <-next:
					case <-r.Context().Done():
						return
					}
				}
			}))
			proxy := startProxy(t, a, edge.Limits{StallTimeout: 200 * time.Millisecond}, tls)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, proxy.URL, nil)
			req.Host = "sse.localhost"
			resp, err := proxy.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			for i := range 3 {
				line, err := br.ReadString('\n')
				if err != nil || line != fmt.Sprintf("data: event %d\n", i) {
					t.Fatalf("event %d: %q, %v", i, line, err)
				}
				_, _ = br.ReadString('\n')
				if i == 0 {
					time.Sleep(400 * time.Millisecond) // a quiet stream is not a stalled client
				}
				next <- struct{}{}
			}
		})
	}
}

// Ensure a 10 MB upload and a 10 MB download pass through whole, over
// HTTP/1.1 and HTTP/2, and a body past the cap is refused with 413.
func TestProxy_LargeBodies(t *testing.T) {
	t.Parallel()
	const size = 10 << 20
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	sum := sha256.Sum256(data)
	a := newApps()
	a.serve(t, "big", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			_, _ = w.Write(data)
			return
		}
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	}))
	for _, tls := range []bool{false, true} {
		proxy := startProxy(t, a, edge.Limits{MaxBody: size}, tls)
		resp, body := get(t, proxy.Client(), proxy.URL, "big.localhost", nil)
		if resp.StatusCode != 200 || sha256.Sum256([]byte(body)) != sum {
			t.Errorf("tls=%v: download: %d, %d bytes; want 200 and the app's %d bytes", tls, resp.StatusCode, len(body), size)
		}
		post := func(body io.Reader, length int64) (int, string) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, proxy.URL, body)
			req.Host = "big.localhost"
			req.ContentLength = length
			resp, err := proxy.Client().Do(req)
			if err != nil {
				t.Fatalf("tls=%v: upload: %v", tls, err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		if code, got := post(bytes.NewReader(data), size); code != 200 || got != fmt.Sprintf("%d %x", size, sum) {
			t.Errorf("tls=%v: upload = %d %q, want the app to get all %d bytes", tls, code, got, size)
		}
		over := append(bytes.Clone(data), 'x')
		if code, got := post(bytes.NewReader(over), int64(len(over))); code != 413 || !strings.Contains(got, "larger than this server accepts (10 MiB)") {
			t.Errorf("tls=%v: upload of 10 MiB + 1 with its length = %d %q, want 413", tls, code, got)
		}
		// With no length said (chunked), the cap cuts the body as it
		// comes.
		if code, _ := post(io.MultiReader(bytes.NewReader(over)), -1); code != 413 {
			t.Errorf("tls=%v: chunked upload of 10 MiB + 1 = %d, want 413", tls, code)
		}
	}
	if got := a.inflight.Load(); got != 0 {
		t.Errorf("%d requests still counted in flight, want 0", got)
	}
}

// Ensure an app that takes longer than the response header timeout to
// answer gets its client a 504, and that limits are checked.
func TestProxy_AppTimeout(t *testing.T) {
	t.Parallel()
	a := newApps()
	a.serve(t, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	proxy := startProxy(t, a, edge.Limits{ResponseHeaderTimeout: 100 * time.Millisecond}, false)
	resp, body := get(t, proxy.Client(), proxy.URL, "slow.localhost", nil)
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(body, "took too long") {
		t.Errorf("GET slow = %d %q, want 504", resp.StatusCode, body)
	}
	for _, l := range []edge.Limits{{StallTimeout: -1}, {IdleTimeout: -time.Second}, {MaxHeaderBytes: -1}} {
		if _, err := edge.New(edge.Config{Limits: l}); err == nil {
			t.Errorf("New(%+v) = nil error, want one naming the setting", l)
		}
	}
}

// Ensure a client that does not read its answer is cut off after the
// stall timeout, its app's request ended, while another tool keeps
// answering at once.
func TestProxy_SlowClientCutOff(t *testing.T) {
	t.Parallel()
	a := newApps()
	ended := make(chan error, 1)
	a.serve(t, "flood", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("z"), 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				ended <- err
				return
			}
		}
	}))
	a.serve(t, "other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	proxy := startProxy(t, a, edge.Limits{StallTimeout: 300 * time.Millisecond}, false)

	conn, err := net.Dial("tcp", proxy.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: flood.localhost\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for time.Since(start) < 300*time.Millisecond {
		// Meanwhile other tools answer at once.
		if resp, body := get(t, proxy.Client(), proxy.URL, "other.localhost", nil); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("GET other while flood stalls = %d %q", resp.StatusCode, body)
		}
	}
	select {
	case err := <-ended:
		t.Logf("the app's writes ended after %s: %v", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(10 * time.Second):
		t.Fatal("the client that does not read was not cut off")
	}
	// The connection is closed: reading drains what was buffered, then
	// ends.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, conn)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Errorf("reading the cut connection: %v after %d bytes, want its end", err, n)
	}
	if got := a.inflight.Load(); got != 0 {
		t.Errorf("%d requests still counted in flight, want 0", got)
	}
}
