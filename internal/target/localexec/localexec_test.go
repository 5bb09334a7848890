package localexec_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/sandbox"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
	"slipway.dev/slipway/internal/target/localexec"
	"slipway.dev/slipway/internal/target/targettest"
)

func newDriver(t testing.TB, dir string) *localexec.Driver {
	t.Helper()
	return newDriverWith(t, dir, nil, nil)
}

// newSandboxedDriver returns a driver whose processes run in a real
// sandbox, with limits from the run spec's memory ("64Mi" and the like, in
// bytes with a Mi suffix only) — or skips when bubblewrap is missing.
func newSandboxedDriver(t *testing.T, dir string) *localexec.Driver {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed (make deps installs it)")
	}
	sb, err := sandbox.New(t.Context(), sandbox.Config{Dir: filepath.Join(dir, ".sandbox"), Name: "localexec-" + filepath.Base(filepath.Dir(dir)) + "-" + filepath.Base(dir), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	t.Cleanup(sb.Close) // after the driver stopped (cleanups run last first)
	return newDriverWith(t, dir, sb, func(spec target.Spec) sandbox.Limits {
		var l sandbox.Limits
		if mi, ok := strings.CutSuffix(spec.Component.Run.Memory, "Mi"); ok {
			n, _ := strconv.ParseInt(mi, 10, 64)
			l.MemoryBytes = n << 20
		}
		return l
	})
}

func newDriverWith(t testing.TB, dir string, sb *sandbox.Sandbox, limits func(target.Spec) sandbox.Limits) *localexec.Driver {
	t.Helper()
	d, err := localexec.New(localexec.Config{
		Dir:          dir,
		Logger:       slog.New(slog.DiscardHandler),
		StopTimeout:  3 * time.Second,
		HealthyAfter: 300 * time.Millisecond,
		ProxyBaseURL: func(tool string) string { return "http://" + tool + ".localhost:8080/" },
		Sandbox:      sb,
		Limits:       limits,
	})
	if err != nil {
		t.Fatalf("New() error: %v", err)
	}
	if err := d.Start(t.Context()); err != nil {
		t.Fatalf("Start() error: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Stop(context.Background()); err != nil {
			t.Errorf("Stop() error: %v", err)
		}
	})
	return d
}

func makeArtifact(t testing.TB, files map[string]string) slipway.Artifact {
	t.Helper()
	dir := t.TempDir()
	// Like an artifact of the builder: readable by the tool's uid.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return slipway.Artifact{Key: "key-" + filepath.Base(dir), Dir: dir, Stack: "python"}
}

func TestDriver_Conformance(t *testing.T) {
	targettest.Run(t, harness(func(t *testing.T, dir string) *localexec.Driver { return newDriver(t, dir) }))
}

// The same suite with every process in a real sandbox.
func TestDriver_Conformance_Sandboxed(t *testing.T) {
	targettest.Run(t, harness(newSandboxedDriver))
}

// harness returns the conformance suite's harness for drivers made by mk,
// each on a directory: a new one, or on restart the old driver's.
func harness(mk func(t *testing.T, dir string) *localexec.Driver) targettest.Harness {
	var dirs sync.Map // *localexec.Driver → its directory
	on := func(t *testing.T, dir string) target.Driver {
		d := mk(t, dir)
		dirs.Store(d, dir)
		return d
	}
	dirOf := func(t *testing.T, d target.Driver) string {
		t.Helper()
		dir, ok := dirs.Load(d)
		if !ok {
			t.Fatalf("driver %p was not made by the harness", d)
		}
		return dir.(string)
	}
	return targettest.Harness{
		NewDriver:    func(t *testing.T) target.Driver { return on(t, t.TempDir()) },
		MakeArtifact: func(t *testing.T, files map[string]string) slipway.Artifact { return makeArtifact(t, files) },
		// A server that ends without a graceful Stop (one stops every
		// process) leaves them running: Detach ends the driver so.
		Restart: func(t *testing.T, d target.Driver) target.Driver {
			t.Helper()
			if err := d.(*localexec.Driver).Detach(t.Context()); err != nil {
				t.Fatalf("Detach() error: %v", err)
			}
			return on(t, dirOf(t, d))
		},
		Crash: func(t *testing.T, d target.Driver, op func(ctx context.Context)) target.Driver {
			t.Helper()
			// The frozen driver's op outlives the test's context.
			freezeAfterFirstSpawn(t, d.(*localexec.Driver), func() { op(context.Background()) })
			return on(t, dirOf(t, d))
		},
		Capabilities: targettest.Processes,
	}
}

// Ensure a sandboxed component cannot write its artifact, and that one
// killed for reaching its memory limit is reported as such, not as a
// vague crash: in the run's result, the status and the crash loop error.
func TestDriver_SandboxedLimits(t *testing.T) {
	t.Parallel()
	d := newSandboxedDriver(t, t.TempDir())
	art := makeArtifact(t, map[string]string{"data.txt": "original\n"})

	res, err := d.RunOnce(t.Context(), targettest.Spec("tool1", "writer", slipway.OneOff, slipway.RunSpec{
		Command: `echo tampered >data.txt || echo "write refused"; cat data.txt`,
	}, art), "w1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.LogTail, "write refused") || !strings.Contains(res.LogTail, "original") {
		t.Errorf("the artifact was writable:\n%s", res.LogTail)
	}
	if b, _ := os.ReadFile(filepath.Join(art.Dir, "data.txt")); string(b) != "original\n" {
		t.Errorf("data.txt = %q", b)
	}

	if !sandboxHasCgroups(t) {
		t.Skip("no cgroup limits on this host")
	}
	hog := `python3 -c "b = bytearray(b'x' * (300 << 20)); print('allocated')"`
	res, err = d.RunOnce(t.Context(), targettest.Spec("tool1", "hog", slipway.OneOff, slipway.RunSpec{Command: hog, Memory: "64Mi"}, art), "h1")
	if err != nil {
		t.Fatal(err)
	}
	if !res.OOMKilled || res.MemoryLimit != 64<<20 || res.ExitCode != 137 {
		t.Errorf("RunOnce(hog) = %+v, want OOMKilled with the 64Mi limit", res)
	}
	st, _, _ := d.Status(t.Context(), "tool1", "hog")
	if !strings.Contains(st.Message, "out of memory: limit 64Mi") {
		t.Errorf("status message = %q", st.Message)
	}

	targettest.MustApply(t, d, targettest.Spec("tool1", "hogd", slipway.Continuous, slipway.RunSpec{
		Command: hog + ` && touch "$HOME/allocated" && exec sleep 300`, HealthCheckScript: `test -f "$HOME/allocated"`, Memory: "64Mi",
	}, art))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	_, err = d.WaitHealthy(ctx, "tool1", "hogd")
	if err == nil || !strings.Contains(err.Error(), "crash loop") || !strings.Contains(err.Error(), "out of memory: limit 64Mi") {
		t.Errorf("WaitHealthy(hogd) = %v, want a crash loop out of memory", err)
	}
	if st, _, _ := d.Status(t.Context(), "tool1", "hogd"); !strings.Contains(st.Message, "last exit: out of memory: limit 64Mi") {
		t.Errorf("status message = %q", st.Message)
	}
}

// sandboxHasCgroups reports whether a sandbox here enforces limits with
// cgroups.
func sandboxHasCgroups(t *testing.T) bool {
	t.Helper()
	sb, err := sandbox.New(t.Context(), sandbox.Config{Dir: t.TempDir(), Name: "probe-" + strconv.Itoa(os.Getpid()) + "-" + strings.ReplaceAll(t.Name(), "/", "-"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return false
	}
	defer sb.Close()
	return strings.HasPrefix(sb.LimitsBackend(), "cgroup")
}

var webRun = slipway.RunSpec{Command: "web", Port: 8000, HealthCheckHTTP: "/", Publish: "/"}

func webArtifact(t *testing.T) slipway.Artifact {
	art := makeArtifact(t, targettest.AppFiles)
	art.Processes = map[string]string{"web": "python3 server.py"}
	return art
}

// waitFor polls cond until it holds or 20s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("test ended waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// Ensure a new driver adopts the very processes of the old one, by pid,
// and supervises and stops them as its own. (That it restarts nothing is
// the conformance suite's RestartAdopts.)
func TestDriver_Adoption(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	art := webArtifact(t)
	spec := targettest.Spec("tool1", "web", slipway.Continuous, webRun, art)

	a := newDriver(t, dir)
	targettest.MustApply(t, a, spec)
	targettest.MustWaitHealthy(t, a, "tool1", "web")
	pids, pgids := a.Procs("tool1", "web")
	if err := a.Detach(t.Context()); err != nil {
		t.Fatalf("Detach() error: %v", err)
	}
	if processGone(pids[0]) {
		t.Fatalf("process %d gone after Detach", pids[0])
	}

	b := newDriver(t, dir)
	got, _ := b.Procs("tool1", "web")
	if diff := cmp.Diff(pids, got); diff != "" {
		t.Fatalf("adopted pids (-want +got):\n%s", diff)
	}
	if err := b.Restore(t.Context(), []target.Spec{spec}); err != nil {
		t.Fatalf("Restore() error: %v", err)
	}
	targettest.MustWaitHealthy(t, b, "tool1", "web")
	if got, _ := b.Procs("tool1", "web"); got[0] != pids[0] {
		t.Fatalf("pid after Restore = %d, want %d (no restart)", got[0], pids[0])
	}

	// Supervision of the adopted process: kill it, b restarts it.
	if err := syscall.Kill(-pgids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "restart of the adopted replica", func() bool {
		got, _ := b.Procs("tool1", "web")
		return got[0] != 0 && got[0] != pids[0]
	})
	targettest.MustWaitHealthy(t, b, "tool1", "web")
	if st, _, _ := b.Status(t.Context(), "tool1", "web"); st.Restarts != 1 {
		t.Errorf("Status().Restarts = %d, want 1", st.Restarts)
	}
	newPids, newPgids := b.Procs("tool1", "web")
	if err := b.Stop(t.Context()); err != nil {
		t.Fatalf("Stop() error: %v", err)
	}
	if !processGone(newPids[0]) || localexec.GroupAlive(newPgids[0]) {
		t.Errorf("process %d still runs after Stop", newPids[0])
	}
}

func TestDriver_Supervision(t *testing.T) {
	t.Parallel()
	d := newDriver(t, t.TempDir())
	targettest.MustApply(t, d, targettest.Spec("tool1", "web", slipway.Continuous, webRun, webArtifact(t)))
	targettest.MustWaitHealthy(t, d, "tool1", "web")
	pids, _ := d.Procs("tool1", "web")
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "restart", func() bool {
		got, _ := d.Procs("tool1", "web")
		return got[0] != 0 && got[0] != pids[0]
	})
	st := targettest.WaitStatus(t, d, "tool1", "web", "running")
	if st.Restarts != 1 || st.URL != "http://tool1.localhost:8080/" {
		t.Errorf("Status() = %+v, want 1 restart and the proxy URL", st)
	}
}

// Ensure the app behind the proxy gets forwarding headers the proxy set,
// not the ones a client sent.
func TestDriver_ProxyForwardingHeaders(t *testing.T) {
	t.Parallel()
	d := newDriver(t, t.TempDir())
	art := makeArtifact(t, map[string]string{"echo.py": `import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("real=%s fwd=%s" % (self.headers.get("X-Real-IP"), self.headers.get("X-Forwarded-For"))).encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`})
	targettest.MustApply(t, d, targettest.Spec("echo", "web", slipway.Continuous, slipway.RunSpec{Command: "exec python3 echo.py", Port: 8000, Publish: "/"}, art))
	targettest.MustWaitHealthy(t, d, "echo", "web")
	srv := httptest.NewServer(d.Proxy())
	defer srv.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/", nil)
	req.Host = "echo.localhost"
	req.Header.Set("X-Real-IP", "6.6.6.6")
	req.Header.Set("X-Forwarded-For", "7.7.7.7")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "real=127.0.0.1 fwd=127.0.0.1" {
		t.Errorf("the app saw %q, want the proxy's headers only", b)
	}
}

func TestDriver_Proxy(t *testing.T) {
	t.Parallel()
	d := newDriver(t, t.TempDir())
	art := webArtifact(t)
	two := webRun
	two.Replicas = 2
	targettest.MustApply(t, d, targettest.Spec("alpha", "web", slipway.Continuous, two, art))
	targettest.MustApply(t, d, targettest.Spec("beta", "site", slipway.Continuous, webRun, art))
	targettest.MustApply(t, d, targettest.Spec("gamma", "worker", slipway.Continuous, slipway.RunSpec{Command: "exec sleep 300"}, art))
	targettest.MustWaitHealthy(t, d, "alpha", "web")
	targettest.MustWaitHealthy(t, d, "beta", "site")
	srv := httptest.NewServer(d.Proxy())
	defer srv.Close()

	get := func(host string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/", nil)
		req.Host = host
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", host, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	seen := map[string]bool{}
	for range 4 {
		code, body := get("alpha.localhost:8080")
		if code != 200 || !strings.HasPrefix(body, "hello web ") {
			t.Fatalf("GET alpha = %d %q, want 200 from web", code, body)
		}
		seen[body] = true
	}
	if len(seen) != 2 {
		t.Errorf("GET alpha 4 times reached %d replicas (%v), want 2", len(seen), seen)
	}
	if code, body := get("beta.localhost"); code != 200 || !strings.HasPrefix(body, "hello site ") {
		t.Errorf("GET beta = %d %q, want 200 from site", code, body)
	}
	if code, body := get("gamma.localhost:8080"); code != http.StatusNotFound || !strings.Contains(body, "gamma publishes nothing") {
		t.Errorf("GET gamma (nothing published) = %d %q, want 404 saying it publishes nothing", code, body)
	}
	if code, _ := get("nosuch.localhost"); code != http.StatusNotFound {
		t.Errorf("GET unknown tool = %d, want 404", code)
	}
	if code, _ := get("example.com"); code != http.StatusNotFound {
		t.Errorf("GET example.com = %d, want 404", code)
	}
}

// Ensure an event stream from a real app process passes through the
// proxy unbuffered: the client reads the first event while the app holds
// the stream open, waiting for the client's go-ahead (a second request
// through the proxy) to send the next.
func TestDriver_ProxyEventStream(t *testing.T) {
	t.Parallel()
	d := newDriver(t, t.TempDir())
	art := makeArtifact(t, map[string]string{"sse.py": `import http.server, os, threading
go = threading.Event()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path == "/go":
            go.set()
            self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"data: first\n\n"); self.wfile.flush()
        go.wait(30)
        self.wfile.write(b"data: second\n\n"); self.wfile.flush()
        self.close_connection = True
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`})
	targettest.MustApply(t, d, targettest.Spec("stream", "web", slipway.Continuous, slipway.RunSpec{Command: "exec python3 sse.py", Port: 8000, Publish: "/"}, art))
	targettest.MustWaitHealthy(t, d, "stream", "web")
	srv := httptest.NewServer(d.Proxy())
	defer srv.Close()
	get := func(path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
		req.Host = "stream.localhost"
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return resp
	}
	resp := get("/events")
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "data: first\n" {
		t.Fatalf("first event = %q, %v; want it while the app holds the stream", line, err)
	}
	goResp := get("/go")
	goResp.Body.Close()
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "\ndata: second\n\n" {
		t.Errorf("rest of the stream = %q, %v; want the second event", rest, err)
	}
}

// Ensure the proxy names the state of a published component that has
// nothing up: crash-looping, then stopped once it was removed and
// published again by nothing.
func TestDriver_ProxyDownStates(t *testing.T) {
	t.Parallel()
	d := newDriver(t, t.TempDir())
	srv := httptest.NewServer(d.Proxy())
	defer srv.Close()
	run := webRun
	run.Command = "echo doomed; exit 3"
	targettest.MustApply(t, d, targettest.Spec("doomed", "web", slipway.Continuous, run, webArtifact(t)))
	targettest.WaitStatus(t, d, "doomed", "web", "crashloop")
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/", nil)
	req.Host = "doomed.localhost"
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "Tool doomed is crash-looping") {
		t.Errorf("GET doomed = %d %q, want 503 naming the crash loop", resp.StatusCode, b)
	}
}

func TestDriver_ScheduledTimeout(t *testing.T) {
	t.Parallel()
	d := newDriver(t, t.TempDir())
	spec := targettest.Spec("tool1", "slow", slipway.Scheduled, slipway.RunSpec{
		Command: "echo attempt; exec sleep 300", Schedule: "@hourly", Timeout: 1, Retry: 1,
	}, makeArtifact(t, nil))
	targettest.MustApply(t, d, spec)
	start := time.Now()
	d.TriggerScheduled("tool1", "slow")
	runs := d.ScheduledRuns("tool1", "slow")
	if len(runs) != 1 {
		t.Fatalf("ScheduledRuns() = %+v, want 1", runs)
	}
	r := runs[0]
	if !r.TimedOut || r.Attempts != 2 || r.ExitCode == 0 {
		t.Errorf("scheduled run = %+v, want timed out after 2 attempts", r)
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Errorf("run took %s; the timeout did not stop it", el)
	}
	targettest.WaitLogs(t, d, "tool1", "slow", "timed out after 1s")
}

func TestDriver_StopLeavesNoProcesses(t *testing.T) {
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	d, err := localexec.New(localexec.Config{Dir: dir, Logger: slog.New(slog.DiscardHandler), StopTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(t.Context()); err != nil { // before Start: fine
		t.Fatalf("Stop() before Start error: %v", err)
	}
	d, _ = localexec.New(localexec.Config{Dir: dir, Logger: slog.New(slog.DiscardHandler), StopTimeout: 3 * time.Second})
	var spawnedMu sync.Mutex
	var spawned []int // every process d started
	d.OnSpawned(func(pid int) {
		spawnedMu.Lock()
		spawned = append(spawned, pid)
		spawnedMu.Unlock()
	})
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	art := webArtifact(t)
	two := webRun
	two.Replicas = 2
	targettest.MustApply(t, d, targettest.Spec("tool1", "web", slipway.Continuous, two, art))
	// A child that ignores SIGTERM: SIGKILL after StopTimeout.
	targettest.MustApply(t, d, targettest.Spec("tool1", "stubborn", slipway.Continuous,
		slipway.RunSpec{Command: "trap '' TERM; sleep 300 & wait; wait", Replicas: 2}, art))
	targettest.MustApply(t, d, targettest.Spec("tool1", "cron", slipway.Scheduled, slipway.RunSpec{Command: "true", Schedule: "@daily"}, art))
	targettest.MustApply(t, d, targettest.Spec("tool1", "longcron", slipway.Scheduled, slipway.RunSpec{Command: "exec sleep 300", Schedule: "@daily"}, art))
	targettest.MustWaitHealthy(t, d, "tool1", "web")
	targettest.MustWaitHealthy(t, d, "tool1", "stubborn")
	// A scheduled and a one-off run in progress.
	var runs sync.WaitGroup
	runs.Go(func() { d.TriggerScheduled("tool1", "longcron") })
	runs.Go(func() {
		if _, err := d.RunOnce(context.Background(), targettest.Spec("tool1", "job", slipway.OneOff, slipway.RunSpec{Command: "sleep 300"}, art), "r1"); err == nil {
			t.Errorf("RunOnce() stopped by Stop returned no error")
		}
	})
	waitFor(t, "the runs to start", func() bool {
		spawnedMu.Lock()
		defer spawnedMu.Unlock()
		return len(spawned) == 6
	})
	var pids, pgids []int
	for _, name := range []string{"web", "stubborn"} {
		p, g := d.Procs("tool1", name)
		pids, pgids = append(pids, p...), append(pgids, g...)
	}
	if len(pids) != 4 {
		t.Fatalf("pids = %v, want 4", pids)
	}
	if err := d.Stop(t.Context()); err != nil {
		t.Fatalf("Stop() error: %v", err)
	}
	if err := d.Stop(t.Context()); err != nil {
		t.Fatalf("Stop() again error: %v", err)
	}
	for i, pid := range pids {
		if !processGone(pid) || localexec.GroupAlive(pgids[i]) {
			t.Errorf("process %d (group %d) still runs after Stop", pid, pgids[i])
		}
	}
	runs.Wait()
	spawnedMu.Lock()
	defer spawnedMu.Unlock()
	for _, pid := range spawned { // each leads its own group
		waitFor(t, "the process to be reaped", func() bool { return processGone(pid) })
		if localexec.GroupAlive(pid) {
			t.Errorf("process group %d still runs after Stop", pid)
		}
	}
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

// TestDriver_HealthLatency measures how long after an HTTP app starts
// listening WaitHealthy notices (the app's own start-up is python's).
func TestDriver_HealthLatency(t *testing.T) {
	t.Parallel()
	d := newDriver(t, t.TempDir())
	art := webArtifact(t)
	var total, gaps time.Duration
	const n = 5
	for i := range n {
		spec := targettest.Spec("tool1", fmt.Sprintf("web%d", i), slipway.Continuous, webRun, art)
		start := time.Now()
		targettest.MustApply(t, d, spec)
		port := d.Ports("tool1", spec.Component.Name)[0]
		listening := make(chan time.Time, 1)
		go func() {
			tick := time.NewTicker(time.Millisecond) // measuring, not waiting
			defer tick.Stop()
			for time.Since(start) < 30*time.Second {
				if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
					c.Close()
					listening <- time.Now()
					return
				}
				<-tick.C
			}
			listening <- time.Time{}
		}()
		h := targettest.MustWaitHealthy(t, d, "tool1", spec.Component.Name)
		healthy := time.Now()
		l := <-listening
		total += healthy.Sub(start)
		gaps += healthy.Sub(l)
		t.Logf("%s: apply→healthy %s (app listening after %s, noticed %s later; %s)",
			spec.Component.Name, healthy.Sub(start).Round(time.Millisecond), l.Sub(start).Round(time.Millisecond),
			healthy.Sub(l).Round(time.Millisecond), h.Message)
	}
	t.Logf("mean apply→healthy %s, mean detection gap %s", (total / n).Round(time.Millisecond), (gaps / n).Round(time.Millisecond))
}

func TestDriver_RunOnceAdoption(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	art := makeArtifact(t, map[string]string{"gate": ""})
	// The run waits until the test removes the gate, so it is surely still
	// running when driver a goes away.
	spec := targettest.Spec("tool1", "job", slipway.OneOff, slipway.RunSpec{
		Command: "echo job-started; while test -e gate; do sleep 0.05; done; exit 5",
	}, art)
	a := newDriver(t, dir)
	errc := make(chan error, 1)
	go func() {
		_, err := a.RunOnce(context.Background(), spec, "r1")
		errc <- err
	}()
	runJSON := filepath.Join(dir, "tool1", "job", "runs", "r1.json")
	waitFor(t, "the run to start", func() bool { _, err := os.Stat(runJSON); return err == nil })
	if err := a.Detach(t.Context()); err != nil {
		t.Fatalf("Detach() error: %v", err)
	}
	if err := <-errc; err == nil {
		t.Fatalf("RunOnce() on a detached driver returned no error")
	}

	b := newDriver(t, dir)
	resc := make(chan target.RunResult, 1)
	go func() {
		res, err := b.RunOnce(t.Context(), spec, "r1")
		if err != nil {
			t.Errorf("RunOnce(adopted) error: %v", err)
		}
		resc <- res
	}()
	if err := os.Remove(filepath.Join(art.Dir, "gate")); err != nil {
		t.Fatal(err)
	}
	res := <-resc
	if res.ExitCode != 5 {
		t.Errorf("RunOnce(adopted).ExitCode = %d, want 5 (%q)", res.ExitCode, res.LogTail)
	}
	if n := strings.Count(res.LogTail, "job-started"); n != 1 {
		t.Errorf("the job ran %d times, want 1:\n%s", n, res.LogTail)
	}
	// And once more: the recorded result.
	if res, err := b.RunOnce(t.Context(), spec, "r1"); err != nil || res.ExitCode != 5 {
		t.Errorf("RunOnce(finished run ID) = %+v, %v; want exit code 5", res, err)
	}
}

func TestDriver_RestoreStartsWhatDied(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	art := makeArtifact(t, nil)
	spec := targettest.Spec("tool1", "worker", slipway.Continuous, slipway.RunSpec{Command: "exec sleep 300"}, art)
	a := newDriver(t, dir)
	targettest.MustApply(t, a, spec)
	pids, pgids := a.Procs("tool1", "worker")
	if err := a.Detach(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-pgids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the process to die", func() bool { return !localexec.GroupAlive(pgids[0]) })

	b := newDriver(t, dir)
	if st, ok, _ := b.Status(t.Context(), "tool1", "worker"); !ok || st.State != "stopped" {
		t.Errorf("Status(dead while no server ran) = %+v, %v; want stopped", st, ok)
	}
	if err := b.Restore(t.Context(), []target.Spec{spec}); err != nil {
		t.Fatalf("Restore() error: %v", err)
	}
	targettest.MustWaitHealthy(t, b, "tool1", "worker")
	if got, _ := b.Procs("tool1", "worker"); got[0] == 0 || got[0] == pids[0] {
		t.Errorf("pid after Restore = %d, want a new process", got[0])
	}
}

func TestDriver_Concurrent(t *testing.T) {
	t.Parallel()
	d := newDriver(t, t.TempDir())
	art := makeArtifact(t, nil)
	specs := []target.Spec{
		targettest.Spec("tool1", "c", slipway.Continuous, slipway.RunSpec{Command: "exec sleep 300", Replicas: 2}, art),
		targettest.Spec("tool1", "c", slipway.Continuous, slipway.RunSpec{Command: "exec sleep 301"}, art),
		targettest.Spec("tool1", "c", slipway.Scheduled, slipway.RunSpec{Command: "true", Schedule: "@hourly"}, art),
	}
	ctx := t.Context()
	done := make(chan struct{})
	for g := range 6 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 10 {
				switch (g + i) % 5 {
				case 0, 1, 2:
					if _, err := d.Apply(ctx, specs[(g+i)%3]); err != nil {
						t.Errorf("Apply() error: %v", err)
					}
				case 3:
					if err := d.Remove(ctx, "tool1", "c"); err != nil {
						t.Errorf("Remove() error: %v", err)
					}
				case 4:
					_, _, _ = d.Status(ctx, "tool1", "c")
					_, _ = d.List(ctx, "tool1")
				}
			}
		}()
	}
	for range 6 {
		<-done
	}
	targettest.MustApply(t, d, specs[0])
	pids, pgids := d.Procs("tool1", "c")
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for i, pid := range pids {
		if !processGone(pid) || localexec.GroupAlive(pgids[i]) {
			t.Errorf("process %d still runs after Stop", pid)
		}
	}
}
