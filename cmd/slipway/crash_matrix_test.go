package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"slipway.dev/slipway/internal/pgtest"
)

// TestCrashMatrix starts randomized deployments of several tools (5–8
// components each, random wait_for, some configs with a build that fails)
// and kills the server with SIGKILL at random moments, restarting it on the
// same data directory each time. At the end every deployment must be final
// with the status its config deserves (failed exactly when it includes the
// failing build), no process may have been started twice for one
// generation, every one-off ran exactly once per deployment that ran it,
// and no process of the tools may outlive the final clean stop.
//
// It runs on each store: SQLite in the data directory, and PostgreSQL
// (the server then finds the killed server's node in the database, dead
// because its process is gone, and rescues its jobs).
//
// SLIPWAY_CRASH_DEPLOYMENTS sets the number of deployments on each store
// (default a sample: 16 on SQLite and 8 on PostgreSQL, make test's run;
// `make test/crash` runs 200 on each). SLIPWAY_CRASH_SEED replays a run.
func TestCrashMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real server many times; skipped with -short")
	}
	for _, tool := range []string{"git", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make deps installs it): %v", tool, err)
		}
	}
	t.Run("sqlite", func(t *testing.T) { crashMatrix(t, "", envInt(t, "SLIPWAY_CRASH_DEPLOYMENTS", 16)) })
	t.Run("postgres", func(t *testing.T) { crashMatrix(t, pgtest.Schema(t), envInt(t, "SLIPWAY_CRASH_DEPLOYMENTS", 8)) })
}

// crashMatrix is TestCrashMatrix with n deployments on the store that
// database names ("": SQLite).
func crashMatrix(t *testing.T, database string, n int) {
	seed := uint64(envInt(t, "SLIPWAY_CRASH_SEED", int(time.Now().UnixNano()%1_000_000)))
	t.Logf("deployments=%d seed=%d (SLIPWAY_CRASH_SEED=%d replays this run)", n, seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	m := newMatrix(t)
	m.database = database
	tools := []string{"alpha", "beta", "gamma"}
	for _, tool := range tools {
		m.newTool(tool, 5+rng.IntN(4), rng)
	}
	m.startServer()

	type want struct {
		tool, id string
		fail     bool
	}
	var created []want
	kills := 0
	for i := range n {
		tool := tools[rng.IntN(len(tools))]
		if rng.IntN(2) == 0 {
			m.commit(tool, i)
		}
		withBad := rng.IntN(4) == 0
		m.cli("components", "config", "create", m.config(tool, withBad), "--tool", tool)
		out := m.cli("components", "deployment", "create", "--json", "--tool", tool)
		var env struct {
			Data struct {
				ID string `json:"deploy_id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(out, &env); err != nil || env.Data.ID == "" {
			t.Fatalf("deployment create: %v\n%s", err, out)
		}
		created = append(created, want{tool, env.Data.ID, withBad})
		// A kill after a third of the deployments, at random, and after the
		// last when none came before: a small sample still crashes.
		if rng.IntN(3) == 0 || (i == n-1 && kills == 0) {
			time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
			m.kill()
			kills++
			m.startServer()
		}
		// Half of the time let it finish, so that not every deployment is
		// superseded by the next request for its tool (latest wins).
		if rng.IntN(2) == 0 {
			m.waitFinal(tool, env.Data.ID, time.Minute)
		}
	}

	// Wait for every deployment to end, then check each one.
	deadline := time.Now().Add(10 * time.Minute)
	results := map[string]string{}
	for i, w := range created {
		for {
			d := m.deployment(w.tool, w.id)
			if s, _ := d["status"].(string); s != "pending" && s != "running" && s != "cancelling" {
				results[w.id] = s
				want := "successful"
				if w.fail {
					want = "failed"
				}
				long, _ := d["long_status"].(string)
				// Latest wins: a queued deployment is superseded by a newer
				// one of the same tool, and says by which.
				if by, ok := strings.CutPrefix(long, "Superseded by "); ok && s == "cancelled" {
					want = "cancelled"
					later := false
					for _, x := range created[i+1:] {
						later = later || (x.id == by && x.tool == w.tool)
					}
					if !later {
						t.Errorf("deployment %s of %s was superseded by %s, which is not a later deployment of the same tool", w.id, w.tool, by)
					}
				}
				if s != want {
					t.Errorf("deployment %s of %s ended %s (%v), want %s", w.id, w.tool, s, d["long_status"], want)
				}
				checkSteps(t, w.id, d)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("deployment %s of %s not final after 10 minutes: %v", w.id, w.tool, d["long_status"])
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	counts := map[string]int{}
	for _, s := range results {
		counts[s]++
	}
	t.Logf("deployments=%d kills=%d results=%v", len(created), kills, counts)

	m.checkStarts()
	m.checkOneOffs()
	m.stopServer()
	m.checkNoOrphans()
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// waitFinal waits until a deployment is final, or for at most max.
func (m *matrix) waitFinal(tool, id string, max time.Duration) {
	m.t.Helper()
	for end := time.Now().Add(max); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if s, _ := m.deployment(tool, id)["status"].(string); s != "pending" && s != "running" && s != "cancelling" {
			return
		}
	}
}

// checkSteps asserts that a final deployment has only final steps.
func checkSteps(t *testing.T, id string, d map[string]any) {
	t.Helper()
	steps, _ := d["steps"].([]any)
	for _, s := range steps {
		st, _ := s.(map[string]any)
		if state, _ := st["state"].(string); state == "pending" || state == "running" {
			t.Errorf("deployment %s is %v but step %v is %s", id, d["status"], st["key"], state)
		}
	}
}

// matrix is the crash matrix's world: repositories, configs, a server.
type matrix struct {
	t      *testing.T
	dir    string
	data   string
	bin    string
	server *exec.Cmd
	// database is the server's --database ("": SQLite).
	database string
	url      string
	token    string
	comps    map[string][]component
}

type component struct {
	name, typ, build string // build: "source" or a reuse_from target
	waitFor          []string
}

func newMatrix(t *testing.T) *matrix {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(slipwayBinary(t), "slipway")
	m := &matrix{t: t, dir: dir, data: filepath.Join(dir, "data"), bin: bin, comps: map[string][]component{}}
	t.Cleanup(func() {
		if m.server != nil {
			_ = m.server.Process.Kill()
			_ = m.server.Wait()
		}
	})
	m.writeRepo("bad", map[string]string{"Procfile": "web: exit 1\n", ".slipway/build": "#!/bin/sh\necho 'this build fails on purpose' >&2\nexit 1\n"})
	return m
}

func (m *matrix) git(repo string, args ...string) {
	m.t.Helper()
	c := exec.CommandContext(m.t.Context(), "git", append([]string{"-c", "user.name=matrix", "-c", "user.email=m@invalid", "-c", "commit.gpgsign=false"}, args...)...)
	c.Dir = filepath.Join(m.dir, "repos", repo)
	c.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+m.dir)
	if out, err := c.CombinedOutput(); err != nil {
		m.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func (m *matrix) writeRepo(name string, files map[string]string) {
	m.t.Helper()
	root := filepath.Join(m.dir, "repos", name)
	for f, content := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			m.t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			m.t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		m.git(name, "init", "-q", "-b", "main")
	}
	m.git(name, "add", "-A")
	m.git(name, "commit", "-q", "--allow-empty", "-m", "update")
}

// newTool makes a repository and a random DAG of components for tool.
func (m *matrix) newTool(tool string, count int, rng *rand.Rand) {
	m.writeRepo(tool, map[string]string{
		"Procfile": "web: exec python3 -m http.server \"$PORT\" --bind 127.0.0.1\n" +
			"job: echo \"$COMPONENT\" >> \"$HOME/oneoff.log\"\n",
		".slipway/build": "#!/bin/sh\nsleep 0.2\n",
		"index.html":     "v0\n",
	})
	comps := make([]component, count)
	for i := range comps {
		c := component{name: fmt.Sprintf("c%d", i), typ: "continuous", build: "source"}
		if i > 0 && rng.IntN(3) > 0 {
			c.build = "c0"
		}
		if i == count-1 {
			c.typ = "one-off"
		}
		for j := range i {
			if rng.IntN(4) == 0 && comps[j].typ == "continuous" {
				c.waitFor = append(c.waitFor, comps[j].name)
			}
		}
		comps[i] = c
	}
	m.comps[tool] = comps
}

func (m *matrix) commit(tool string, i int) {
	m.writeRepo(tool, map[string]string{"index.html": fmt.Sprintf("v%d\n", i)})
}

// config writes the tool's config, with the failing component or not, and
// returns its path.
func (m *matrix) config(tool string, withBad bool) string {
	var b strings.Builder
	b.WriteString("components:\n")
	for _, c := range m.comps[tool] {
		fmt.Fprintf(&b, "  %s:\n    component_type: %s\n", c.name, c.typ)
		if c.build == "source" {
			fmt.Fprintf(&b, "    build: {repository: \"file://%s\", ref: main}\n", filepath.Join(m.dir, "repos", tool))
		} else {
			fmt.Fprintf(&b, "    build: {reuse_from: %s}\n", c.build)
		}
		if c.typ == "one-off" {
			b.WriteString("    run: {command: job}\n")
		} else {
			b.WriteString("    run: {command: web, port: 8000}\n")
		}
		if len(c.waitFor) > 0 {
			fmt.Fprintf(&b, "    wait_for: [%s]\n", strings.Join(c.waitFor, ", "))
		}
	}
	if withBad {
		fmt.Fprintf(&b, "  bad:\n    build: {repository: \"file://%s\", ref: main}\n    run: {command: web, port: 8000}\n", filepath.Join(m.dir, "repos", "bad"))
	}
	path := filepath.Join(m.dir, tool+".yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		m.t.Fatal(err)
	}
	return path
}

func (m *matrix) startServer() {
	m.t.Helper()
	_ = os.Remove(filepath.Join(m.data, "server.json")) // left by a killed server
	c := exec.CommandContext(context.WithoutCancel(m.t.Context()), m.bin, "server", "--data", m.data,
		"--listen", "127.0.0.1:0", "--proxy-listen", "127.0.0.1:0", "--keep-deployments", "1000",
		// Up to 8 components a tool, more than Toolforge's quotas allow.
		"--quota-continuous", "20", "--quota-scheduled", "20", "--quota-one-off", "20", "--quota-replicas", "40",
		"--quota-memory", "64Gi", "--quota-cpu", "40")
	c.Env = append(os.Environ(), "SLIPWAY_DATA="+m.data, "SLIPWAY_DATABASE="+m.database)
	logs := &lockedBuffer{}
	c.Stdout, c.Stderr = logs, logs
	if err := c.Start(); err != nil {
		m.t.Fatal(err)
	}
	m.server = c
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(filepath.Join(m.data, "server.json"))
		if err == nil {
			var info struct {
				URL string `json:"url"`
			}
			if json.Unmarshal(b, &info) == nil && info.URL != "" {
				token, _ := os.ReadFile(filepath.Join(m.data, "admin-token"))
				m.url, m.token = info.URL, strings.TrimSpace(string(token))
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.t.Fatalf("server did not start:\n%s", logs.String())
}

// lockedBuffer collects a process's output while the test may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (m *matrix) kill() {
	m.t.Helper()
	if err := m.server.Process.Signal(syscall.SIGKILL); err != nil {
		m.t.Fatal(err)
	}
	_ = m.server.Wait()
	m.server = nil
}

func (m *matrix) stopServer() {
	m.t.Helper()
	if err := m.server.Process.Signal(os.Interrupt); err != nil {
		m.t.Fatal(err)
	}
	if err := m.server.Wait(); err != nil {
		m.t.Fatalf("server stop: %v", err)
	}
	m.server = nil
}

// cli runs the CLI against the current server; a failure to reach it
// (killed a moment ago) is retried.
func (m *matrix) cli(args ...string) []byte {
	m.t.Helper()
	for attempt := 0; ; attempt++ {
		c := exec.CommandContext(m.t.Context(), m.bin, args...)
		c.Env = append(os.Environ(), "SLIPWAY_DATA="+m.data)
		var stderr bytes.Buffer
		c.Stderr = &stderr
		out, err := c.Output()
		if err == nil {
			return out
		}
		if attempt == 20 {
			m.t.Fatalf("slipway %v: %v\n%s%s", args, err, out, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (m *matrix) deployment(tool, id string) map[string]any {
	m.t.Helper()
	for {
		req, err := http.NewRequestWithContext(m.t.Context(), http.MethodGet, m.url+"/components/v1/tool/"+tool+"/deployment/"+id, nil)
		if err != nil {
			m.t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+m.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			m.t.Fatal(err)
		}
		var env struct {
			Data map[string]any `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&env)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			// Polling faster than the server allows: wait as told, as a
			// well-behaved client does.
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			time.Sleep(time.Duration(max(wait, 1)) * time.Second)
			continue
		}
		if err != nil || resp.StatusCode != http.StatusOK {
			m.t.Fatalf("GET deployment %s: %d %v", id, resp.StatusCode, err)
		}
		return env.Data
	}
}

var startMarker = regexp.MustCompile(`--- started pid \d+ \(generation (\d+)\)`)

// checkStarts asserts that no replica was started twice for one
// generation: a doubled start is what a crash between spawning a process
// and recording it would cause.
func (m *matrix) checkStarts() {
	m.t.Helper()
	logs, _ := filepath.Glob(filepath.Join(m.data, "run", "*", "*", "*.log"))
	total := 0
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			m.t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, match := range startMarker.FindAllStringSubmatch(string(b), -1) {
			total++
			if seen[match[1]] {
				m.t.Errorf("%s: generation %s started twice:\n%s", l, match[1], b)
			}
			seen[match[1]] = true
		}
	}
	m.t.Logf("process starts checked: %d in %d logs", total, len(logs))
}

// checkOneOffs asserts that each tool's one-off ran exactly once for every
// deployment whose plan ran it.
func (m *matrix) checkOneOffs() {
	m.t.Helper()
	for tool, comps := range m.comps {
		oneOff := comps[len(comps)-1].name
		out := m.cli("components", "deployment", "list", "--json", "--tool", tool)
		var env struct {
			Data struct {
				Deployments []struct {
					Steps []struct{ Key, State, Action string } `json:"steps"`
				} `json:"deployments"`
			} `json:"data"`
		}
		if err := json.Unmarshal(out, &env); err != nil {
			m.t.Fatal(err)
		}
		want := 0
		for _, d := range env.Data.Deployments {
			for _, s := range d.Steps {
				if s.Key == "run:"+oneOff && s.State == "done" {
					want++
				}
			}
		}
		b, _ := os.ReadFile(filepath.Join(m.data, "tools", tool, "home", "oneoff.log"))
		if got := strings.Count(string(b), "\n"); got != want {
			m.t.Errorf("%s: one-off %s ran %d times, want %d (once per deployment that ran it)", tool, oneOff, got, want)
		}
	}
}

// checkNoOrphans asserts that no process of the tools outlived the server.
func (m *matrix) checkNoOrphans() {
	m.t.Helper()
	needle := []byte("HOME=" + filepath.Join(m.data, "tools"))
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(env, needle) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		m.t.Errorf("orphan process %d left after the server stopped: %s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
