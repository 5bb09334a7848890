package localbuild_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/build/localbuild"
	"slipway.dev/slipway/internal/git"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

// goStdCache is the standard library cache of the developer's machine,
// shared so that test builds do not compile the standard library again.
var goStdCache = sync.OnceValue(func() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "slipway", "go-std")
})

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

type testBundle struct {
	dir     string
	git     *git.Client
	builder *localbuild.Builder
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	g, err := git.New(git.Config{CacheDir: t.TempDir(), AllowLocal: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return &testBundle{dir: dir, git: g, builder: newBuilder(t, dir, g)}
}

func newBuilder(t *testing.T, dir string, g *git.Client) *localbuild.Builder {
	t.Helper()
	b, err := localbuild.New(localbuild.Config{Dir: dir, GoStdCache: goStdCache()}, g)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func request(repo *slipwaytest.Repo, commit string) build.Request {
	return build.Request{
		Tool: "tool", Component: "web", Repository: repo.URL, Ref: "main", Commit: commit,
		Key: slipway.BuildKey(repo.URL, commit, localbuild.Version),
	}
}

// output runs command in dir and returns its trimmed combined output.
func output(t *testing.T, dir, command string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "sh", "-c", command)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", command, err, out)
	}
	return strings.TrimSpace(string(out))
}

// assertNoArtifact fails unless neither the artifact nor its work
// directory exists.
func assertNoArtifact(t *testing.T, dir, key string) {
	t.Helper()
	for _, p := range []string{filepath.Join(dir, "builds", "tool", key), filepath.Join(dir, ".tmp", "tool", key)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after a failed build (stat: %v)", p, err)
		}
	}
}

// readLog returns the whole log of the tool's build attempt.
func readLog(t *testing.T, b *localbuild.Builder, tool, attempt string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := b.Logs(t.Context(), tool, attempt, build.LogOptions{}, &buf); err != nil {
		t.Fatalf("Logs(%s): %v", attempt, err)
	}
	return buf.Bytes()
}

func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s is not installed", name)
	}
}

func TestBuilder_Stacks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		tool      string
		files     map[string]string
		stack     string
		processes map[string]string
		run       string // a command run in the artifact, and its output
		want      string
	}{
		{
			name: "Go",
			tool: "go",
			files: map[string]string{
				"go.mod":  "module example.com/app\n\ngo 1.22\n",
				"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from go\") }\n",
			},
			stack:     "go",
			processes: map[string]string{"web": ".bin/app"},
			run:       ".bin/app",
			want:      "hello from go",
		},
		{
			name: "StaticWithProcfile",
			files: map[string]string{
				"index.html": "<h1>hi</h1>\n",
				"Procfile":   "# processes\nweb: python3 -m http.server $PORT\n\nworker:   ./work.sh --loop\n",
				"work.sh":    "#!/bin/sh\necho working\n",
			},
			stack:     "static",
			processes: map[string]string{"web": "python3 -m http.server $PORT", "worker": "./work.sh --loop"},
			run:       "./work.sh",
			want:      "working",
		},
		{
			name: "PythonStdlib",
			tool: "python3",
			files: map[string]string{
				"requirements.txt": "# only the standard library\n\n",
				"app.py":           "import sys\nprint('hello from python', sys.prefix == sys.base_prefix)\n",
			},
			stack:     "python",
			processes: map[string]string{"web": ".venv/bin/python app.py"},
			run:       ".venv/bin/python app.py",
			want:      "hello from python False", // runs inside the venv
		},
		{
			name: "NodeWithoutDependencies",
			tool: "npm",
			files: map[string]string{
				"package.json": `{"name": "app", "version": "1.0.0", "private": true, "scripts": {"start": "node server.js"}}` + "\n",
				"server.js":    "console.log('hello from node')\n",
			},
			stack:     "node",
			processes: map[string]string{"web": "npm start"},
			run:       "node server.js",
			want:      "hello from node",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.tool != "" {
				requireTool(t, tt.tool)
			}
			tb := setup(t)
			repo := slipwaytest.GitRepo(t, tt.files)
			req := request(repo, repo.Head(t))
			var log bytes.Buffer
			req.Log = &log

			a, err := tb.builder.Build(t.Context(), req)
			if err != nil {
				t.Fatalf("Build: %v\nlog:\n%s", err, log.String())
			}
			if !digestRE.MatchString(a.Digest) {
				t.Errorf("Digest = %q, want sha256:<64 hex>", a.Digest)
			}
			want := slipway.Artifact{
				Key: req.Key, Dir: filepath.Join(tb.dir, "builds", "tool", req.Key),
				Stack: tt.stack, Processes: tt.processes, Digest: a.Digest,
			}
			if diff := cmp.Diff(want, a); diff != "" {
				t.Errorf("Build (-want +got):\n%s", diff)
			}
			if got := output(t, a.Dir, tt.run); got != tt.want {
				t.Errorf("%s printed %q, want %q", tt.run, got, tt.want)
			}

			got, ok, err := tb.builder.Lookup(t.Context(), "tool", req.Key)
			if err != nil || !ok {
				t.Fatalf("Lookup = %v, %v; want the artifact", ok, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Lookup (-want +got):\n%s", diff)
			}
			fileLog := readLog(t, tb.builder, "tool", req.Key)
			if !bytes.Equal(fileLog, log.Bytes()) {
				t.Errorf("log file and req.Log differ:\nfile:\n%s\nreq.Log:\n%s", fileLog, log.String())
			}
			for _, s := range []string{repo.URL, req.Commit, "stack: " + tt.stack} {
				if !bytes.Contains(fileLog, []byte(s)) {
					t.Errorf("log lacks %q:\n%s", s, fileLog)
				}
			}
			if _, err := os.Stat(filepath.Join(tb.dir, ".tmp", "tool", req.Key)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("work directory left behind: %v", err)
			}
		})
	}
}

func TestBuilder_PythonVenvRelocated(t *testing.T) {
	t.Parallel()
	requireTool(t, "python3")
	tb := setup(t)
	repo := slipwaytest.GitRepo(t, map[string]string{"pyproject.toml": "[project]\nname = \"app\"\n", "main.py": "print(1)\n"})
	req := request(repo, repo.Head(t))
	a, err := tb.builder.Build(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{}, a.Processes); diff != "" {
		t.Errorf("processes without app.py (-want +got):\n%s", diff)
	}
	cfg, err := os.ReadFile(filepath.Join(a.Dir, ".venv", "pyvenv.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(cfg, []byte(".tmp")) {
		t.Errorf("pyvenv.cfg still names the work directory:\n%s", cfg)
	}
}

// counterRepo returns a repository whose .slipway/build appends a line to a
// file, and that file: its line count is the number of builds.
func counterRepo(t *testing.T) (*slipwaytest.Repo, string) {
	t.Helper()
	counter := filepath.Join(t.TempDir(), "count")
	repo := slipwaytest.GitRepo(t, map[string]string{
		"index.html":     "hi\n",
		".slipway/build": fmt.Sprintf("#!/bin/sh\necho built >> %q\necho custom step ran\n", counter),
	})
	return repo, counter
}

func builds(t *testing.T, counter string) int {
	t.Helper()
	b, err := os.ReadFile(counter)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "built\n")
}

func TestBuilder_CacheHit(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	repo, counter := counterRepo(t)
	req := request(repo, repo.Head(t))
	var first bytes.Buffer
	req.Log = &first
	a1, err := tb.builder.Build(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first.String(), "custom step ran") {
		t.Errorf("first build log lacks the custom step's output:\n%s", first.String())
	}

	var second bytes.Buffer
	req.Log = &second
	// A fresh Builder on the same directory stands for a restarted server.
	for _, b := range []*localbuild.Builder{tb.builder, newBuilder(t, tb.dir, tb.git)} {
		a2, err := b.Build(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a1, a2); diff != "" {
			t.Errorf("cached artifact differs (-first +cached):\n%s", diff)
		}
	}
	if n := builds(t, counter); n != 1 {
		t.Errorf("built %d times, want 1", n)
	}
	if strings.Contains(second.String(), "$ ") || !strings.Contains(second.String(), "using the existing build") {
		t.Errorf("cache hit log:\n%s", second.String())
	}
}

func TestBuilder_CompileError(t *testing.T) {
	t.Parallel()
	requireTool(t, "go")
	tb := setup(t)
	repo := slipwaytest.GitRepo(t, map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() { undefinedThing() }\n",
	})
	req := request(repo, repo.Head(t))
	_, err := tb.builder.Build(t.Context(), req)
	if err == nil {
		t.Fatal("Build succeeded, want a compile error")
	}
	if !strings.Contains(err.Error(), "undefined: undefinedThing") {
		t.Errorf("error lacks the compiler's output: %v", err)
	}
	assertNoArtifact(t, tb.dir, req.Key)
	if _, ok, err := tb.builder.Lookup(t.Context(), "tool", req.Key); ok || err != nil {
		t.Errorf("Lookup after failure = %v, %v; want not found", ok, err)
	}
	if log := readLog(t, tb.builder, "tool", req.Key); !bytes.Contains(log, []byte("undefinedThing")) {
		t.Errorf("log lacks the compile error:\n%s", log)
	}
}

func TestBuilder_BadProcfile(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "web: ./serve\nthis line is bad\n"})
	req := request(repo, repo.Head(t))
	_, err := tb.builder.Build(t.Context(), req)
	if err == nil || !strings.Contains(err.Error(), "Procfile line 2") || !strings.Contains(err.Error(), "this line is bad") {
		t.Errorf("Build error = %v, want one naming Procfile line 2", err)
	}
	assertNoArtifact(t, tb.dir, req.Key)
}

func TestBuilder_PythonDependenciesUnreachable(t *testing.T) {
	t.Parallel()
	requireTool(t, "python3")
	if testing.Short() {
		t.Skip("creates a venv with pip (seconds)")
	}
	tb := setup(t)
	repo := slipwaytest.GitRepo(t, map[string]string{"requirements.txt": "# deps\nslipway-no-such-package-xyz==1.0\n", "app.py": "print(1)\n"})
	req := request(repo, repo.Head(t))
	_, err := tb.builder.Build(t.Context(), req)
	if err == nil {
		t.Fatal("Build succeeded, want a pip failure")
	}
	if !strings.Contains(err.Error(), "no-such-package") {
		t.Errorf("error lacks pip's output: %v", err)
	}
	if strings.Contains(err.Error(), "Failed to establish a new connection") && !strings.Contains(err.Error(), "PyPI (or the configured package index) is unreachable from this server") {
		t.Errorf("pip could not connect, but the error does not say the index is unreachable: %v", err)
	}
	assertNoArtifact(t, tb.dir, req.Key)
}

func TestBuilder_DiscardsHalfMadeBuild(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	repo := slipwaytest.GitRepo(t, map[string]string{"index.html": "hi\n"})
	req := request(repo, repo.Head(t))
	// A crash left a work directory and an artifact directory without its
	// completion marker.
	for _, d := range []string{filepath.Join(tb.dir, ".tmp", "tool", req.Key), filepath.Join(tb.dir, "builds", "tool", req.Key)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "junk"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, err := tb.builder.Lookup(t.Context(), "tool", req.Key); ok || err != nil {
		t.Fatalf("Lookup of a half-made build = %v, %v; want not found", ok, err)
	}
	a, err := tb.builder.Build(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(a.Dir, "junk")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("junk survived the rebuild: %v", err)
	}
	if _, err := os.Stat(filepath.Join(a.Dir, "index.html")); err != nil {
		t.Error(err)
	}
}

func TestBuilder_InvalidKey(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	for _, key := range []string{"", "../x", "a/b", ".hidden"} {
		if _, _, err := tb.builder.Lookup(t.Context(), "tool", key); err == nil {
			t.Errorf("Lookup(%q) succeeded, want error", key)
		}
		if _, err := tb.builder.Build(t.Context(), build.Request{Key: key}); err == nil {
			t.Errorf("Build(key %q) succeeded, want error", key)
		}
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		<-tick.C
	}
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces, the state follows the
	// last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestBuilder_CancelKillsBuild(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The sleep is a grandchild of the build: only a group kill reaches it.
	repo := slipwaytest.GitRepo(t, map[string]string{
		".slipway/build": fmt.Sprintf("#!/bin/sh\nsleep 60 &\necho $! > %q.new\nmv %q.new %q\nwait\n", pidFile, pidFile, pidFile),
	})
	req := request(repo, repo.Head(t))
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := tb.builder.Build(ctx, req)
		errc <- err
	}()

	var pid int
	waitFor(t, 30*time.Second, "the build script to start", func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	if !alive(pid) {
		t.Fatalf("sleep %d is not running", pid)
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Build error = %v, want context.Canceled", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Build did not return within 3s of cancel")
	}
	waitFor(t, 2*time.Second, fmt.Sprintf("process %d to die", pid), func() bool { return !alive(pid) })
	assertNoArtifact(t, tb.dir, req.Key)
}

// signalWriter closes seen the first time the text written to it contains
// want.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		select {
		case <-w.seen:
		default:
			close(w.seen)
		}
	}
	return len(p), nil
}

func TestBuilder_WaiterBuildsWhenLeaderCancels(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	repo := slipwaytest.GitRepo(t, map[string]string{
		".slipway/build": fmt.Sprintf("#!/bin/sh\necho $$ > %q.new\nmv %q.new %q\nexec sleep 60\n", pidFile, pidFile, pidFile),
	})
	req := request(repo, repo.Head(t))
	readPID := func() int {
		b, _ := os.ReadFile(pidFile)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return pid
	}

	leaderCtx, cancelLeader := context.WithCancel(t.Context())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := tb.builder.Build(leaderCtx, req)
		leaderErr <- err
	}()
	waitFor(t, 30*time.Second, "the leader's build to start", func() bool { return readPID() != 0 })
	first := readPID()

	waiterCtx, cancelWaiter := context.WithCancel(t.Context())
	defer cancelWaiter()
	waiterLog := &signalWriter{want: "waiting for the build", seen: make(chan struct{})}
	waiterReq := req
	waiterReq.Log = waiterLog
	waiterErr := make(chan error, 1)
	go func() {
		_, err := tb.builder.Build(waiterCtx, waiterReq)
		waiterErr <- err
	}()
	select {
	case <-waiterLog.seen:
	case <-time.After(10 * time.Second):
		t.Fatal("second Build did not wait for the first")
	}

	cancelLeader()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Errorf("leader Build error = %v, want context.Canceled", err)
	}
	// The waiter still wants the build: it starts it again.
	waitFor(t, 30*time.Second, "the waiter's build to start", func() bool {
		pid := readPID()
		return pid != 0 && pid != first
	})
	cancelWaiter()
	if err := <-waiterErr; !errors.Is(err, context.Canceled) {
		t.Errorf("waiter Build error = %v, want context.Canceled", err)
	}
	assertNoArtifact(t, tb.dir, req.Key)
}
