package localexec_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
	"slipway.dev/slipway/internal/target/localexec"
	"slipway.dev/slipway/internal/target/targettest"
)

// load sends requests through the proxy to host without pause until
// stopped, counting them and the failed ones (any transport error or
// non-200).
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	first      []string // the first failures
	bodies     map[string]int
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startLoad(t *testing.T, proxy *httptest.Server, host string, workers int) *load {
	t.Helper()
	l := &load{stop: make(chan struct{}), bodies: map[string]int{}}
	client := &http.Client{Timeout: 10 * time.Second}
	for range workers {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, proxy.URL+"/", nil)
				req.Host = host
				resp, err := client.Do(req)
				msg := ""
				if err != nil {
					msg = err.Error()
				} else {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						msg = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
					} else {
						l.mu.Lock()
						l.bodies[strings.Fields(string(b))[0]]++
						l.mu.Unlock()
					}
				}
				if msg == "" {
					l.ok.Add(1)
					continue
				}
				l.failed.Add(1)
				l.mu.Lock()
				if len(l.first) < 5 {
					l.first = append(l.first, msg)
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

func (l *load) end() (ok, failed int64, first []string) {
	close(l.stop)
	l.wg.Wait()
	return l.ok.Load(), l.failed.Load(), l.first
}

// version returns the artifact of an app that answers "<version> <port>".
func version(t testing.TB, v string) slipway.Artifact {
	art := makeArtifact(t, map[string]string{"server.py": strings.Replace(targettest.ServerPy,
		`("hello %s %s\n" % (os.environ.get("COMPONENT"), os.environ.get("PORT")))`,
		`("`+v+` %s\n" % os.environ.get("PORT"))`, 1)})
	art.Processes = map[string]string{"web": "python3 server.py"}
	return art
}

// Ensure replacing a published component never fails a request: new
// replicas start beside the old ones, take traffic once healthy, and the
// old ones are drained; with one replica and with two; and a version
// that crashes at start, or never answers, is stopped while the old one
// goes on serving.
func TestDriver_SurgeZeroDowntime(t *testing.T) {
	t.Parallel()
	for _, replicas := range []int{1, 2} {
		t.Run(fmt.Sprintf("replicas=%d", replicas), func(t *testing.T) {
			t.Parallel()
			d := newDriver(t, t.TempDir())
			proxy := httptest.NewServer(d.Proxy())
			defer proxy.Close()
			run := webRun
			run.Replicas = replicas
			tool := fmt.Sprintf("surge%d", replicas)
			targettest.MustApply(t, d, targettest.Spec(tool, "web", slipway.Continuous, run, version(t, "v0")))
			targettest.MustWaitHealthy(t, d, tool, "web")
			l := startLoad(t, proxy, tool+".localhost", 2)
			for i := 1; i <= 3; i++ {
				v := fmt.Sprintf("v%d", i)
				before := l.ok.Load()
				targettest.MustApply(t, d, targettest.Spec(tool, "web", slipway.Continuous, run, version(t, v)))
				targettest.MustWaitHealthy(t, d, tool, "web")
				// Traffic has moved: the next answers come from v.
				waitFor(t, "answers from "+v, func() bool {
					l.mu.Lock()
					defer l.mu.Unlock()
					return l.bodies[v] > 0
				})
				if l.ok.Load() == before {
					t.Errorf("no request was answered during the replacement by %s", v)
				}
			}
			pidsBefore, _ := d.Procs(tool, "web")
			for _, bad := range []string{"echo crashing; exit 1", "exec sleep 300"} {
				badRun := run
				badRun.Command = bad
				targettest.MustApply(t, d, targettest.Spec(tool, "web", slipway.Continuous, badRun, version(t, "bad")))
				ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
				_, err := d.WaitHealthy(ctx, tool, "web")
				cancel()
				if _, ok := errors.AsType[*target.KeptError](err); !ok {
					t.Fatalf("WaitHealthy(%q) = %v, want a KeptError", bad, err)
				}
			}
			ok, failed, first := l.end()
			t.Logf("%d replicas: %d requests answered, %d failed", replicas, ok, failed)
			if failed > 0 {
				t.Errorf("%d of %d requests failed during the replacements; first: %q", failed, ok+failed, first)
			}
			if pids, _ := d.Procs(tool, "web"); fmt.Sprint(pids) != fmt.Sprint(pidsBefore) {
				t.Errorf("processes after the bad versions = %v, want the kept ones %v", pids, pidsBefore)
			}
			if l.bodies["bad"] > 0 {
				t.Errorf("%d requests reached the bad version", l.bodies["bad"])
			}
		})
	}
}

// Ensure a rollout in progress survives a crash of the server: the next
// server adopts both generations, and the rollout goes on to promote the
// new one (or is abandoned), never leaving two generations running.
func TestDriver_SurgeAcrossCrash(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := newDriver(t, dir)
	targettest.MustApply(t, a, targettest.Spec("crashy", "web", slipway.Continuous, webRun, version(t, "v0")))
	targettest.MustWaitHealthy(t, a, "crashy", "web")
	old, _ := a.Procs("crashy", "web")
	slow := webRun
	slow.Command = "sleep 1; exec python3 server.py" // healthy only after the crash
	spec := targettest.Spec("crashy", "web", slipway.Continuous, slow, version(t, "v1"))
	targettest.MustApply(t, a, spec)
	if err := a.Detach(t.Context()); err != nil {
		t.Fatal(err)
	}

	b := newDriver(t, dir)
	if res := targettest.MustApply(t, b, spec); !res.Changed || !strings.Contains(res.Message, "in progress") {
		t.Errorf("Apply(the spec of the adopted rollout) = %+v, want it in progress", res)
	}
	targettest.MustWaitHealthy(t, b, "crashy", "web")
	st := targettest.WaitStatus(t, b, "crashy", "web", "running")
	if st.BuildKey != spec.Artifact.Key {
		t.Errorf("Status().BuildKey = %s, want the new %s", st.BuildKey, spec.Artifact.Key)
	}
	waitFor(t, "the old generation to stop", func() bool { return processGone(old[0]) })
}

// Ensure an app that listens on a fixed port instead of $PORT is reported
// at once (within a few seconds, not at the startup timeout), saying
// where it listens and which port it must use.
func TestDriver_WrongPortSaidAtOnce(t *testing.T) {
	t.Parallel()
	t.Run("unconfined", func(t *testing.T) { t.Parallel(); testWrongPort(t, newDriver(t, t.TempDir())) })
	t.Run("sandboxed", func(t *testing.T) { t.Parallel(); testWrongPort(t, newSandboxedDriver(t, t.TempDir())) })
}

func testWrongPort(t *testing.T, d *localexec.Driver) {
	fixed := freePort(t)
	run := slipway.RunSpec{Command: "exec python3 -m http.server " + strconv.Itoa(fixed) + " --bind 127.0.0.1", Port: 8000, HealthCheckHTTP: "/"}
	targettest.MustApply(t, d, targettest.Spec("fixed", "web", slipway.Continuous, run, makeArtifact(t, nil)))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err := d.WaitHealthy(ctx, "fixed", "web")
	if err == nil || ctx.Err() != nil {
		t.Fatalf("WaitHealthy(app on a fixed port) = %v (ctx %v), want a prompt error", err, ctx.Err())
	}
	port := d.Ports("fixed", "web")[0]
	for _, want := range []string{"listens on 127.0.0.1:" + strconv.Itoa(fixed), "its port is " + strconv.Itoa(port), "$PORT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// freePort returns a loopback port free now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Ensure a tool's processes reach its components by a stable address,
// $SLIPWAY_<COMPONENT>_URL, which keeps working across a replacement of
// the component and a restart of the server (the processes that have it
// keep it).
func TestDriver_ServiceAddress(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := newDriver(t, dir)
	api := func(v string) target.Spec {
		return targettest.Spec("svc", "my-api", slipway.Continuous, webRun, version(t, v))
	}
	ask := func(d *localexec.Driver, runID string) string {
		t.Helper()
		probe := `python3 -c 'import os, urllib.request; print(os.environ["SLIPWAY_MY_API_URL"], urllib.request.urlopen(os.environ["SLIPWAY_MY_API_URL"] + "/").read().decode().split()[0])'`
		res, err := d.RunOnce(t.Context(), targettest.Spec("svc", "ask", slipway.OneOff, slipway.RunSpec{Command: probe}, makeArtifact(t, nil)), runID)
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("RunOnce = %+v, %v", res, err)
		}
		return strings.TrimSpace(res.LogTail[strings.LastIndex(res.LogTail, "\n")+1:])
	}
	targettest.MustApply(t, d, api("v0"))
	targettest.MustWaitHealthy(t, d, "svc", "my-api")
	first := ask(d, "run-1")
	url, got, _ := strings.Cut(first, " ")
	if !strings.HasPrefix(url, "http://127.0.0.1:") || got != "v0" {
		t.Fatalf("the one-off saw %q, want the service URL and v0", first)
	}
	targettest.MustApply(t, d, api("v1"))
	targettest.MustWaitHealthy(t, d, "svc", "my-api")
	if again := ask(d, "run-2"); again != url+" v1" {
		t.Errorf("after the replacement the one-off saw %q, want %q", again, url+" v1")
	}
	if err := d.Detach(t.Context()); err != nil {
		t.Fatal(err)
	}
	b := newDriver(t, dir)
	if err := b.Restore(t.Context(), []target.Spec{api("v1")}); err != nil {
		t.Fatal(err)
	}
	if again := ask(b, "run-3"); again != url+" v1" {
		t.Errorf("after a restart of the server the one-off saw %q, want %q", again, url+" v1")
	}
}

// Ensure a component's stop_grace_period, not the driver's StopTimeout,
// is what a process that ignores SIGTERM gets before SIGKILL.
func TestDriver_StopGracePeriod(t *testing.T) {
	t.Parallel()
	d, err := localexec.New(localexec.Config{Dir: t.TempDir(), StopTimeout: 30 * time.Second, HealthyAfter: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Stop(context.Background()) }()
	run := slipway.RunSpec{Command: `trap '' TERM; while :; do sleep 0.1; done`, StopGracePeriod: 1}
	targettest.MustApply(t, d, targettest.Spec("grace", "stubborn", slipway.Continuous, run, makeArtifact(t, nil)))
	targettest.MustWaitHealthy(t, d, "grace", "stubborn")
	pids, _ := d.Procs("grace", "stubborn")
	start := time.Now()
	if err := d.Remove(t.Context(), "grace", "stubborn"); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took < 900*time.Millisecond || took > 15*time.Second {
		t.Errorf("Remove of a process ignoring SIGTERM took %s, want about its 1s grace period (not the 30s default)", took)
	}
	if !processGone(pids[0]) {
		t.Errorf("process %d still runs", pids[0])
	}
}

// Ensure a shutdown of the driver gives a process StopTimeout at most,
// whatever grace its component asks for: no tool holds the server's
// shutdown for long.
func TestDriver_StopCapsGrace(t *testing.T) {
	t.Parallel()
	d, err := localexec.New(localexec.Config{Dir: t.TempDir(), StopTimeout: time.Second, HealthyAfter: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	run := slipway.RunSpec{Command: `trap '' TERM; while :; do sleep 0.1; done`, StopGracePeriod: 3600}
	targettest.MustApply(t, d, targettest.Spec("grace", "stubborn", slipway.Continuous, run, makeArtifact(t, nil)))
	targettest.MustWaitHealthy(t, d, "grace", "stubborn")
	pids, _ := d.Procs("grace", "stubborn")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := d.Stop(ctx); err != nil {
		t.Fatalf("Stop() = %v: the stubborn process held the shutdown", err)
	}
	if !processGone(pids[0]) {
		t.Errorf("process %d still runs after Stop", pids[0])
	}
}
