package server_test

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/kubetest"
	"slipway.dev/slipway/internal/pgtest"
	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/store/postgres"
)

// TestServer_Fence runs two servers on one PostgreSQL database, server A
// reaching it through a TCP proxy of the test's. A runs a step that waits
// (a component that is never ready); then the proxy cuts A off. Within
// NodeFence A fences itself: healthz reports the node check failed,
// saying why, the step's job cancelled and returned — while that job
// is still A's (server B has not rescued it: that comes only after
// NodeTTL). B then rescues it. Once the proxy lets A through again, A's
// heartbeat succeeds: its node is recorded again and healthz is OK.
func TestServer_Fence(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts two servers and a Kubernetes control plane; skipped with -short")
	}
	const (
		beat  = 100 * time.Millisecond
		fence = 1500 * time.Millisecond
		ttl   = 4 * time.Second
	)
	dsn := pgtest.Schema(t)
	proxy := startCutProxy(t, dsn)
	timing := func(c *server.Config) {
		c.NodeBeat, c.NodeFence, c.NodeTTL = beat, fence, ttl
		c.HealthTimeout = 10 * time.Minute // the step waits until the test ends
		// More than the kwok node has: the pod is never scheduled.
		c.Limits.Max.MilliCPU, c.Limits.Quota.MilliCPU = 64000, 128000
	}
	var reqsA, reqsB kubetest.Requests
	a, _, _ := startKube(t, &reqsA, func(c *server.Config) { timing(c); c.Database = proxy.url })
	db, err := postgres.Open(t.Context(), dsn, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	nodeA := nodeOf(t, db, os.Getpid())

	cfg := `{"components": {"web": {"component_type": "continuous", "build": {"image": "registry.example/big@sha256:0a1b"},
	    "run": {"command": "serve", "port": 8000, "cpu": "64"}}}}`
	if _, err := a.Client.ConfigCreate(t.Context(), "fence", []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Client.DeploymentCreate(t.Context(), "fence", false, false, ""); err != nil {
		t.Fatal(err)
	}
	// Alone, A runs the step; B starts next to it once it does.
	job := waitStepJob(t, db, func(owner string) bool { return owner == nodeA }, "running on A")
	key, err := os.ReadFile(filepath.Join(a.DataDir, server.SecretKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	startKube(t, &reqsB, func(c *server.Config) {
		if err := os.WriteFile(filepath.Join(c.DataDir, server.SecretKeyFile), key, 0o600); err != nil {
			t.Fatal(err)
		}
		timing(c)
		c.Database = dsn
	})

	proxy.cut()
	cut := time.Now()
	check := awaitHealth(t, a.URL(), func(node string) bool {
		return strings.HasPrefix(node, "fenced") && strings.Contains(node, "still stopping: 0)")
	})
	fenced := time.Since(cut)
	t.Logf("A fenced and its jobs stopped %s after the cut: %s", fenced.Round(time.Millisecond), check)
	// B has not rescued the step's job yet: it is still A's.
	if owner, state := stepJob(t, db, job); owner != nodeA || state != "running" {
		t.Fatalf("when A had fenced itself its step's job was %s by %s; want still running on A (not rescued before NodeTTL)", state, owner)
	}
	if !strings.Contains(check, "no heartbeat recorded for") || !strings.Contains(check, "cancelled: 1,") {
		t.Errorf("node check %q: want the reason, and the step's job cancelled", check)
	}
	waitStepJob(t, db, func(owner string) bool { return owner != nodeA }, "taken from A")
	rescued := time.Since(cut)
	t.Logf("the step's job rescued from A %s after the cut", rescued.Round(time.Millisecond))
	if rescued <= fenced {
		t.Errorf("rescued %s after the cut, before A fenced itself (%s)", rescued, fenced)
	}

	proxy.restore()
	restored := time.Now()
	awaitHealth(t, a.URL(), func(node string) bool { return node == "ok" })
	t.Logf("A healthy again %s after the restore", time.Since(restored).Round(time.Millisecond))
	nodes, err := db.NodeList(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range nodes {
		if n.ID == nodeA {
			found = true
			if since := time.Since(n.SeenAt); since > 2*time.Second {
				t.Errorf("A's node last seen %s ago once healthy again, want re-registered", since)
			}
		}
	}
	if !found {
		t.Errorf("A's node %s is not among the nodes once it is healthy again: %+v", nodeA, nodes)
	}
}

// awaitHealth polls the healthz of the server at base until its node
// check satisfies ok, and returns that check. healthz has no event to
// await; the wait is bounded.
func awaitHealth(t *testing.T, base string, ok func(node string) bool) string {
	t.Helper()
	last := ""
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(base + "/components/v1/healthz")
		if err != nil {
			last = err.Error()
			continue
		}
		var h struct {
			Data struct {
				Checks map[string]string `json:"checks"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&h)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		node := h.Data.Checks["node"]
		if ok(node) {
			if node != "ok" && resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("healthz answered %d with node check %q, want 503", resp.StatusCode, node)
			}
			return node
		}
		last = node
	}
	t.Fatalf("healthz's node check after a minute: %q", last)
	return ""
}

// waitStepJob waits until the deployment step job of the database is
// running on a node that owner accepts, and returns its ID. River has no
// notification of a job starting that a test can await: it polls.
func waitStepJob(t *testing.T, db *postgres.DB, owner func(string) bool, what string) int64 {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var id int64
		var by string
		err := db.WriteDB().QueryRowContext(t.Context(), `SELECT id, attempted_by[array_length(attempted_by, 1)] FROM river_job
			WHERE kind = 'deployment_step' AND state = 'running' ORDER BY id LIMIT 1`).Scan(&id, &by)
		if err == nil && owner(by) {
			return id
		}
	}
	t.Fatalf("no step job %s within a minute", what)
	return 0
}

// stepJob returns the node that last took job and its state.
func stepJob(t *testing.T, db *postgres.DB, id int64) (owner, state string) {
	t.Helper()
	err := db.WriteDB().QueryRowContext(t.Context(),
		`SELECT attempted_by[array_length(attempted_by, 1)], state FROM river_job WHERE id = $1`, id).Scan(&owner, &state)
	if err != nil {
		t.Fatal(err)
	}
	return owner, state
}

// cutProxy forwards TCP connections on loopback to a PostgreSQL server
// until it is cut: then it closes every connection and closes those that
// come, until restored.
type cutProxy struct {
	url    string
	target string
	ln     net.Listener

	mu     sync.Mutex
	isCut  bool
	conns  map[net.Conn]bool
	closed bool
}

// startCutProxy starts a proxy to the server of dsn, and sets its url to
// dsn through the proxy.
func startCutProxy(t *testing.T, dsn string) *cutProxy {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{target: u.Host, ln: ln, conns: map[net.Conn]bool{}}
	u.Host = ln.Addr().String()
	p.url = u.String()
	done := make(chan struct{})
	go func() { defer close(done); p.serve() }()
	t.Cleanup(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		_ = ln.Close()
		<-done
		p.closeAll()
	})
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		} else if err != nil {
			continue
		}
		p.mu.Lock()
		if p.isCut || p.closed {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.mu.Unlock()
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *cutProxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// cut closes every connection through the proxy and refuses new ones.
func (p *cutProxy) cut() {
	p.mu.Lock()
	p.isCut = true
	p.mu.Unlock()
	p.closeAll()
}

// restore lets connections through again.
func (p *cutProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isCut = false
}

func (p *cutProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

// Ensure New refuses a heartbeat contract whose fence would not come
// before the rescue with margin.
func TestNew_FenceTiming(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ beat, fence, ttl time.Duration }{
		{time.Second, time.Second, 10 * time.Second}, // the fence no later than a beat
		{time.Second, 6 * time.Second, 10 * time.Second},
		{0, 20 * time.Second, 0}, // the default TTL, 30s, is less than twice 20s
	} {
		_, err := server.New(server.Config{DataDir: t.TempDir(), NodeBeat: c.beat, NodeFence: c.fence, NodeTTL: c.ttl})
		if err == nil || !strings.Contains(err.Error(), "rescue after") {
			t.Errorf("New with heartbeat %s, fence %s, TTL %s = %v; want refused", c.beat, c.fence, c.ttl, err)
		}
	}
	if _, err := server.New(server.Config{DataDir: t.TempDir(), NodeBeat: time.Second, NodeFence: 3 * time.Second, NodeTTL: 6 * time.Second}); err != nil {
		t.Errorf("New with heartbeat 1s, fence 3s, TTL 6s: %v", err)
	}
}
