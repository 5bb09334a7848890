package edge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/edge"
	"slipway.dev/slipway/internal/metrics"
	"slipway.dev/slipway/internal/metrics/metricstest"
)

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Ensure each request for a tool that exists gets an access log line in
// that tool's log (its environments' too) and counts in its metrics by
// status class; hosts naming no tool make no log and no series; the log
// is read back whole, by its last lines, and followed.
func TestProxy_AccessLogAndMetrics(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logs, err := edge.NewAccessLogs(dir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	m := metrics.New()
	a := newApps()
	a.serve(t, "alpha", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("hello"))
	}))
	a.serve(t, "alpha--staging", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("staging")) }))
	a.states["beta"] = edge.CrashLooping
	p, err := edge.New(edge.Config{Backends: a, AccessLogs: logs, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(p)
	defer proxy.Close()

	follow := &lockedBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	followed := make(chan error, 1)
	go func() { followed <- logs.Read(ctx, "alpha", 0, true, follow) }()

	for _, req := range []struct{ host, path string }{
		{"alpha.localhost", "/?q=1"},
		{"alpha.localhost", "/missing"},
		{"alpha--staging.localhost", "/"},
		{"beta.localhost", "/"},
		{"nosuch.localhost", "/"},
		{"example.org", "/"},
	} {
		get(t, proxy.Client(), proxy.URL+req.path, req.host, http.Header{"User-Agent": {"edge-test"}})
	}

	var out bytes.Buffer
	if err := logs.Read(t.Context(), "alpha", 0, false, &out); err != nil {
		t.Fatal(err)
	}
	var lines []edge.AccessLine
	for l := range strings.Lines(out.String()) {
		var al edge.AccessLine
		if err := json.Unmarshal([]byte(l), &al); err != nil {
			t.Fatalf("access log line %q: %v", l, err)
		}
		lines = append(lines, al)
	}
	if len(lines) != 3 {
		t.Fatalf("alpha's access log has %d lines, want 3:\n%s", len(lines), out.String())
	}
	want := []struct {
		instance, uri string
		status        int
		bytes         int64
	}{{"alpha", "/?q=1", 200, 5}, {"alpha", "/missing", 404, 19}, {"alpha--staging", "/", 200, 7}}
	for i, w := range want {
		l := lines[i]
		if l.Instance != w.instance || l.URI != w.uri || l.Status != w.status || l.Bytes != w.bytes ||
			l.Method != "GET" || l.Remote != "127.0.0.1" || l.UserAgent != "edge-test" || l.Proto != "HTTP/1.1" || l.Time.IsZero() {
			t.Errorf("line %d = %+v, want %s %s %d (%d bytes) from 127.0.0.1", i, l, w.instance, w.uri, w.status, w.bytes)
		}
	}
	out.Reset()
	if err := logs.Read(t.Context(), "beta", 1, false, &out); err != nil || !strings.Contains(out.String(), `"status":503`) {
		t.Errorf("beta's last line = %q, %v; want its 503", out.String(), err)
	}
	for _, none := range []string{"nosuch", "example.org"} {
		if _, err := os.Stat(filepath.Join(dir, none)); !os.IsNotExist(err) {
			t.Errorf("a log for %s exists (%v); hosts naming no tool get none", none, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(follow.String(), "\n") < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // the follower polls the file
	}
	cancel()
	if err := <-followed; err != nil || strings.Count(follow.String(), "\n") != 3 {
		t.Errorf("followed log = %q, %v; want the 3 lines", follow.String(), err)
	}

	f := metricstest.Scrape(t, m.Handler())
	for _, c := range []struct {
		tool, class string
		want        float64
	}{{"alpha", "2xx", 2}, {"alpha", "4xx", 1}, {"beta", "5xx", 1}} {
		if got := f.Value("slipway_proxy_requests_total", "tool", c.tool, "class", c.class); got != c.want {
			t.Errorf("slipway_proxy_requests_total{tool=%s,class=%s} = %v, want %v", c.tool, c.class, got, c.want)
		}
	}
	if got := f.Value("slipway_proxy_request_duration_seconds", "tool", "alpha"); got != 3 {
		t.Errorf("alpha's latency histogram counts %v requests, want 3", got)
	}
	tools := f.LabelValues("slipway_proxy_requests_total", "tool")
	slices.Sort(tools)
	if tools = slices.Compact(tools); !slices.Equal(tools, []string{"alpha", "beta"}) {
		t.Errorf("proxy series are for tools %v, want alpha and beta only", tools)
	}
	if err := logs.Read(t.Context(), "../etc", 0, false, &out); err == nil {
		t.Error("Read(../etc) = nil error, want one: not a tool name")
	}
}
