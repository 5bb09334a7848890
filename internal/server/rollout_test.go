package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

// The zero-downtime test's settings.
const (
	rolloutDeploys  = 5 // new commits deployed one after the other
	rolloutRestarts = 5 // restarts through the jobs API
	rolloutWorkers  = 2 // request loops per tool
	// rolloutRequestTimeout bounds one request of the loop: a request that
	// takes longer counts as failed.
	rolloutRequestTimeout = 5 * time.Second
	// rolloutPace is the pause between two requests of one loop: steady
	// traffic that leaves the 2-core CI machine room for the builds.
	rolloutPace = 10 * time.Millisecond
	// rolloutDeployTimeout bounds the wait for one deployment to end.
	rolloutDeployTimeout = 3 * time.Minute
)

// rolloutApp returns the files of a tool's app: a Python web server (no
// build step: the builder's static stack) answering GET / with
// "<tool> <version> <instance>" (instance: random, one per process) and
// GET /healthz with 200 on 127.0.0.1:$PORT, that
// finishes the requests it has on SIGTERM before exiting, as a
// well-behaved app does. With crash it exits 1 before listening.
func rolloutApp(tool, version string, crash bool) map[string]string {
	crashLine := ""
	if crash {
		crashLine = "print('crashing at start on purpose', flush=True)\nsys.exit(1)\n"
	}
	return map[string]string{"app.py": `import http.server
import os
import signal
import sys
import threading

BODY = (` + fmt.Sprintf("%q", tool+" "+version+" ") + ` + os.urandom(4).hex() + "\n").encode()
` + crashLine + `

class Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so a stop waits for no idle
    # keep-alive connection.
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        if self.path == "/":
            body = BODY
        elif self.path == "/healthz":
            body = b"ok\n"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
server.daemon_threads = False  # server_close waits for the requests in progress
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
print("serving", BODY.decode().strip(), flush=True)
server.serve_forever()
server.server_close()
print("stopped gracefully", flush=True)
`}
}

// rolloutConfig returns the config of a tool with one published
// continuous component, web, of replicas replicas, built from repoURL.
func rolloutConfig(repoURL string, replicas int) []byte {
	b, _ := json.Marshal(map[string]any{ // a map of strings and ints cannot fail to encode
		"config_version": "v1beta1",
		"components": map[string]any{
			"web": map[string]any{
				"component_type": "continuous",
				"build":          map[string]any{"repository": repoURL, "ref": "main"},
				"run": map[string]any{
					"command": "exec python3 app.py", "port": 8000, "health_check_http": "/healthz",
					"publish": "/", "replicas": replicas,
				},
			},
		},
	})
	return b
}

// load is a steady request loop against a tool's published component:
// rolloutWorkers goroutines, each sending one GET / after the other. A
// transport error, a timeout, a status other than 200 or a body that is
// not the tool's counts as failed.
type load struct {
	url, host, prefix string
	client            *http.Client
	cancel            context.CancelFunc
	wg                sync.WaitGroup
	stopOnce          sync.Once
	total, failed     atomic.Int64

	mu        sync.Mutex
	phase     string
	failures  []string        // the first few, with their phase
	byPhase   map[string]int  // failures by phase
	versions  map[string]int  // answers by version ("<tool> <version>")
	instances map[string]bool // the app processes that answered
	recent    map[string]bool // those since the last call of serving
}

// startLoad starts the loop against the proxy for tool; it is stopped
// when the test ends at the latest.
func startLoad(t *testing.T, s *servertest.Server, tool string) *load {
	t.Helper()
	pu, err := url.Parse(s.ProxyURL(tool))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	l := &load{
		// Straight to the proxy's loopback port, with the tool's Host:
		// no resolver is asked about <tool>.localhost.
		url: "http://127.0.0.1:" + pu.Port() + "/", host: pu.Host, prefix: tool + " ",
		client: &http.Client{Timeout: rolloutRequestTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: rolloutWorkers}},
		cancel: cancel, phase: "start", byPhase: map[string]int{}, versions: map[string]int{}, instances: map[string]bool{}, recent: map[string]bool{},
	}
	for range rolloutWorkers {
		l.wg.Add(1)
		go l.run(ctx)
	}
	t.Cleanup(l.stop)
	return l
}

func (l *load) run(ctx context.Context) {
	defer l.wg.Done()
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-pause.C:
		}
		body, status, err := l.get(ctx)
		if ctx.Err() != nil {
			return // stopped during the request: not counted
		}
		l.total.Add(1)
		l.mu.Lock()
		switch {
		case err != nil:
			l.fail(err.Error())
		case status != http.StatusOK || !strings.HasPrefix(body, l.prefix):
			l.fail(fmt.Sprintf("%d %q", status, truncate(body, 120)))
		default:
			version, instance := splitAnswer(body)
			l.versions[version]++
			l.instances[instance] = true
			l.recent[instance] = true
		}
		l.mu.Unlock()
		pause.Reset(rolloutPace)
	}
}

// fail counts a failed request; l.mu is held.
func (l *load) fail(what string) {
	l.failed.Add(1)
	l.byPhase[l.phase]++
	if len(l.failures) < 8 {
		l.failures = append(l.failures, fmt.Sprintf("%s (during %s, at %s)", what, l.phase, time.Now().Format("15:04:05.000")))
	}
}

func (l *load) get(ctx context.Context) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.url, nil)
	if err != nil {
		return "", 0, err
	}
	req.Host = l.host
	resp, err := l.client.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return string(b), resp.StatusCode, fmt.Errorf("read the answer: %w", err)
	}
	return string(b), resp.StatusCode, nil
}

// setPhase names what the test does now, for the failures' messages.
func (l *load) setPhase(p string) {
	l.mu.Lock()
	l.phase = p
	l.mu.Unlock()
}

// waitRequests waits until the loop has counted n more requests than
// before, so that traffic covers what just happened (and the time right
// after it).
func (l *load) waitRequests(t *testing.T, before, n int64) {
	t.Helper()
	servertest.Eventually(t, func() string {
		if got := l.total.Load() - before; got < n {
			return fmt.Sprintf("the request loop made %d requests, want %d", got, n)
		}
		return ""
	})
}

// stop stops the loop and waits for its goroutines.
func (l *load) stop() {
	l.stopOnce.Do(func() {
		l.cancel()
		l.wg.Wait()
		l.client.CloseIdleConnections()
	})
}

// report returns the failures and the answers seen.
func (l *load) report() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("failures by phase: %v\nfirst failures:\n  %s\nanswers: %v", l.byPhase, strings.Join(l.failures, "\n  "), l.versions)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// splitAnswer splits the app's answer into "<tool> <version>" and the
// instance.
func splitAnswer(body string) (version, instance string) {
	body = strings.TrimSpace(body)
	if i := strings.LastIndexByte(body, ' '); i > 0 {
		return body[:i], body[i+1:]
	}
	return body, ""
}

// serving waits until n different app processes answered the loop from
// now on (the replicas that get the traffic) and returns every process
// that has answered it so far.
func (l *load) serving(t *testing.T, n int) map[string]bool {
	t.Helper()
	l.mu.Lock()
	clear(l.recent)
	l.mu.Unlock()
	var seen map[string]bool
	servertest.Eventually(t, func() string {
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.recent) < n {
			return fmt.Sprintf("%d app processes answered the request loop, want %d", len(l.recent), n)
		}
		seen = maps.Clone(l.instances)
		return ""
	})
	return seen
}

// waitNewInstance waits until an app process that is not in old answers
// through the proxy: the restarted generation gets the traffic.
func (l *load) waitNewInstance(t *testing.T, old map[string]bool) {
	t.Helper()
	servertest.Eventually(t, func() string {
		body, err := l.getOnce(t.Context())
		if err != nil {
			return fmt.Sprintf("the proxy does not answer: %v", err)
		}
		if _, instance := splitAnswer(body); old[instance] {
			return fmt.Sprintf("the proxy still answers from a process of before the restart: %q", body)
		}
		return ""
	})
}

// getOnce returns the body of one GET / through the proxy, or why not.
func (l *load) getOnce(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, rolloutRequestTimeout)
	defer cancel()
	body, status, err := l.get(ctx)
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("status %d: %q", status, truncate(body, 120))
	}
	return strings.TrimSpace(body), nil
}

// waitServes waits until the proxy answers want (a new generation may
// take a moment to get all the traffic).
func (l *load) waitServes(t *testing.T, want string) {
	t.Helper()
	servertest.Eventually(t, func() string {
		body, err := l.getOnce(t.Context())
		if err != nil {
			return fmt.Sprintf("the proxy does not answer %q: %v", want, err)
		}
		if got, _ := splitAnswer(body); got != want {
			return fmt.Sprintf("the proxy answers %q, want %q", got, want)
		}
		return ""
	})
}

// deployFinal creates a deployment of tool and waits until it is final,
// whatever its outcome.
func deployFinal(t *testing.T, c *apiclient.Client, tool string) slipway.Deployment {
	t.Helper()
	env, err := c.DeploymentCreate(t.Context(), tool, false, false, "")
	if err != nil {
		t.Fatal(err)
	}
	d, err := env.Deployment()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(rolloutDeployTimeout)
	for !d.Status.Final() {
		if time.Now().After(deadline) {
			t.Fatalf("deployment %s of %s still %s after %s: %s", d.ID, tool, d.Status, rolloutDeployTimeout, d.LongStatus)
		}
		time.Sleep(150 * time.Millisecond) // polling a real server, bounded by the deadline
		if env, err = c.DeploymentGet(t.Context(), tool, d.ID); err != nil {
			t.Fatal(err)
		}
		if d, err = env.Deployment(); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// webJob returns the job web of tool, from jobs show.
func webJob(t *testing.T, c *apiclient.Client, tool string) apiclient.Job {
	t.Helper()
	env, err := c.JobGet(t.Context(), tool, "web", true)
	if err != nil {
		t.Fatal(err)
	}
	j, err := env.Job()
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// waitJobRunning waits until jobs show says web of tool is running: all
// its replicas up and healthy.
func waitJobRunning(t *testing.T, c *apiclient.Client, tool string) {
	t.Helper()
	servertest.Eventually(t, func() string {
		j := webJob(t, c, tool)
		if short := deref(j.StatusShort); short != "Running" {
			return fmt.Sprintf("job web of %s is %q: %s", tool, short, deref(j.StatusLong))
		}
		return ""
	})
}

// rolloutResult is what one tool's request loop counted.
type rolloutResult struct {
	tool            string
	replicas        int
	total, failed   int64
	versionsAnswers int
	processes       int // app processes that answered
}

// rollout deploys tool (web with replicas replicas) and then, under a
// steady request loop through the proxy, deploys rolloutDeploys new
// commits, restarts web rolloutRestarts times and deploys a commit that
// crashes at start. It returns what the loop counted; the caller checks.
func rollout(t *testing.T, s *servertest.Server, tool string, replicas int) (res rolloutResult) {
	c, ctx := s.Client, t.Context()
	res = rolloutResult{tool: tool, replicas: replicas}
	repo := slipwaytest.GitRepo(t, rolloutApp(tool, "v0", false))
	if _, err := c.ConfigCreate(ctx, tool, rolloutConfig(repo.URL, replicas)); err != nil {
		t.Fatal(err)
	}
	s.DeployTool(t, tool)
	l := startLoad(t, s, tool)
	defer func() {
		l.stop()
		res.total, res.failed = l.total.Load(), l.failed.Load()
		l.mu.Lock()
		res.versionsAnswers, res.processes = len(l.versions), len(l.instances)
		l.mu.Unlock()
	}()
	current := tool + " v0"
	l.waitServes(t, current)
	start := time.Now()

	// New commits, one deployment each.
	commit := repo.Head(t)
	for i := 1; i <= rolloutDeploys; i++ {
		version := fmt.Sprintf("v%d", i)
		commit = repo.Commit(t, rolloutApp(tool, version, false), version)
		l.setPhase("deployment of " + version)
		before := l.total.Load()
		s.DeployTool(t, tool)
		current = tool + " " + version
		l.waitServes(t, current)
		l.waitRequests(t, before, 2*rolloutWorkers)
	}

	// Restarts through the jobs API.
	for i := 1; i <= rolloutRestarts; i++ {
		l.setPhase(fmt.Sprintf("restart %d", i))
		old := l.serving(t, replicas)
		before := l.total.Load()
		env, err := c.JobRestart(ctx, tool, "web")
		if err != nil {
			t.Fatalf("restart %d: %v", i, err)
		}
		if i == 1 {
			t.Logf("%s: jobs restart says: %s", tool, bytes.TrimSpace(env.Raw))
		}
		l.waitNewInstance(t, old)
		waitJobRunning(t, c, tool)
		l.waitServes(t, current)
		l.waitRequests(t, before, 2*rolloutWorkers)
	}

	// A commit whose app exits 1 at start: the deployment fails and the
	// previous version keeps serving.
	repo.Commit(t, rolloutApp(tool, "v-crash", true), "crash at start")
	l.setPhase("deployment of a crashing commit")
	before := l.total.Load()
	d := deployFinal(t, c, tool)
	if d.Status != slipway.DeploymentFailed {
		t.Errorf("deployment %s of a commit that exits 1 at start: %s (%s); want failed", d.ID, d.Status, d.LongStatus)
	}
	l.setPhase("after the failed deployment")
	l.waitRequests(t, before, 2*rolloutWorkers)
	if body, err := l.getOnce(ctx); err != nil || !strings.HasPrefix(body, current+" ") {
		t.Errorf("after the failed deployment the proxy answers %q, %v; want %q (the previous version)", body, err, current)
	}
	kept := "kept " + commit[:7] + " running"
	var runDetail string
	for _, st := range d.Steps {
		if st.Kind == slipway.StepRun && st.Component == "web" {
			runDetail = fmt.Sprintf("%s: %s", st.State, st.Detail)
			if st.State != slipway.StepFailed || !strings.Contains(st.Detail, kept) {
				t.Errorf("run step of web in the failed deployment: %s; want failed with a detail saying %q", runDetail, kept)
			}
		}
	}
	if runDetail == "" {
		t.Errorf("the failed deployment has no run step for web: %+v", d.Steps)
	}
	checkJobRunsCommit(t, c, tool, commit)
	l.stop() // every request counted is checked
	t.Logf("%s (%d replicas): %d deployments, %d restarts and a failed deployment (run step %s) in %s",
		tool, replicas, rolloutDeploys, rolloutRestarts, strings.SplitN(runDetail, "\n", 2)[0], time.Since(start).Round(time.Millisecond))
	if n := l.failed.Load(); n != 0 {
		t.Errorf("%s: %d of %d requests through the proxy failed; %s", tool, n, l.total.Load(), l.report())
	}
	return res
}

// checkJobRunsCommit checks that jobs show and jobs list name commit, and
// its build, as what web of tool runs, healthy.
func checkJobRunsCommit(t *testing.T, c *apiclient.Client, tool, commit string) {
	t.Helper()
	ctx := t.Context()
	j := webJob(t, c, tool)
	image := deref(j.Build)
	key, ok := strings.CutPrefix(image, "builds/")
	if !ok {
		t.Errorf("jobs show web of %s: build %q, want builds/<key> (status %q: %s)", tool, image, deref(j.StatusShort), deref(j.StatusLong))
		return
	}
	// The build field names the artifact (its key); the builds API lists
	// the attempts that made it.
	env, err := c.BuildList(ctx, tool)
	if err != nil {
		t.Fatal(err)
	}
	builds, err := env.Builds()
	if err != nil {
		t.Fatal(err)
	}
	var b apiclient.Build
	for _, cand := range builds {
		if cand.Key == key && cand.Status == "BUILD_SUCCESS" {
			b = cand
			break
		}
	}
	if b.Commit != commit {
		t.Errorf("jobs show web of %s: runs %s, the build of commit %.7s (status %q: %s); want the build of the previous commit %.7s",
			tool, image, b.Commit, deref(j.StatusShort), deref(j.StatusLong), commit)
	}
	if j.Status == nil || deref(j.Status.Commit) != commit || j.Status.Healthy == nil || !*j.Status.Healthy {
		t.Errorf("jobs show web of %s: status %+v, want commit %.7s running, healthy", tool, j.Status, commit)
	}
	t.Logf("%s: jobs show web: %s, the build of commit %.7s, status %q: %s", tool, image, b.Commit, deref(j.StatusShort), deref(j.StatusLong))
	list, err := c.JobList(ctx, tool, true)
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := list.Jobs()
	if err != nil {
		t.Fatal(err)
	}
	for _, lj := range jobs {
		if lj.Name == "web" && deref(lj.Build) != image {
			t.Errorf("jobs list names %q for web of %s, jobs show %q", deref(lj.Build), tool, image)
		}
	}
}

// Ensure replacing a published continuous component is zero-downtime:
// with one replica and with two, under a steady request loop through the
// proxy, five deployments of new commits, five restarts through the jobs
// API and a deployment of a commit that exits 1 at start (which fails,
// the previous version serving on) lose no request.
func TestServer_ZeroDowntime(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real apps under load; skipped with -short")
	}
	for _, bin := range []string{"git", "python3"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (make deps installs it)", bin)
		}
	}
	// Not parallel: the package's parallel tests wait, so the timings are
	// this test's own.
	s := servertest.Start(t)
	tools := []struct {
		name     string
		replicas int
	}{{"rollout-one", 1}, {"rollout-two", 2}}
	results := make([]rolloutResult, len(tools))
	t.Run("tools", func(t *testing.T) {
		for i, tc := range tools {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				results[i] = rollout(t, s, tc.name, tc.replicas)
			})
		}
	})
	for _, r := range results {
		t.Logf("%s (%d replicas): %d requests through the proxy, %d failed; answered by %d versions, %d app processes",
			r.tool, r.replicas, r.total, r.failed, r.versionsAnswers, r.processes)
	}
}
