package sandbox_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"slipway.dev/slipway/internal/sandbox"
)

// newSandbox returns a real sandbox, or skips when this host cannot run one
// (make deps installs bubblewrap; the uid-per-tool checks need root).
func newSandbox(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed (make deps installs it)")
	}
	dir := t.TempDir()
	sb, err := sandbox.New(t.Context(), sandbox.Config{Dir: filepath.Join(dir, "sandbox"), Name: testName(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	t.Cleanup(sb.Close)
	return sb
}

// testName names the cgroups of one test's sandbox apart from those of
// the tests running beside it.
func testName(t *testing.T) string {
	return "test-" + strconv.Itoa(os.Getpid()) + "-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
}

// run runs command as tool with an app directory and a home, and returns
// its output and error.
func run(t *testing.T, sb *sandbox.Sandbox, p sandbox.Process) (string, error) {
	t.Helper()
	var out strings.Builder
	p.Stdout, p.Stderr = &out, &out
	cmd, err := sb.Command(t.Context(), p)
	if err != nil {
		t.Fatalf("command: %v", err)
	}
	err = cmd.Run()
	cmd.Cgroup.Remove()
	return out.String(), err
}

// toolDirs makes an app directory (owned by the server, like an artifact)
// and a home (the tool's) for tool.
func toolDirs(t *testing.T, sb *sandbox.Sandbox, tool string) (app, home string) {
	t.Helper()
	root := t.TempDir()
	app, home = filepath.Join(root, "app"), filepath.Join(root, "home")
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "hello.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := sb.PrepareDir(tool, home); err != nil {
		t.Fatal(err)
	}
	return app, home
}

// Ensure a sandboxed process sees its app read-only, its home and /tmp
// writable, runs as its tool's uid without privileges, and sees neither
// the host's processes nor files outside its mounts.
func TestSandbox_Confines(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	if !sb.Enabled() {
		t.Fatal("sandbox off")
	}
	app, home := toolDirs(t, sb, "alpha")
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s3cr3t"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `
cat /app/hello.txt
echo x >/app/new 2>/dev/null && echo "app writable" || echo "app read-only"
echo x >"$HOME/new" && echo "home writable"
echo x >/tmp/new && echo "tmp writable"
echo "home=$HOME"
echo "uid=$(id -u) gid=$(id -g) groups=$(id -G) user=$(id -un)"
grep -E '^(NoNewPrivs|CapEff|CapBnd):' /proc/self/status
echo "procs=$(ls /proc | grep -c '^[0-9]')"
test -e ` + secret + ` && echo "secret visible" || echo "secret hidden"
test -s /etc/shadow && echo "shadow visible" || echo "shadow hidden"
kill -0 1 2>/dev/null; echo "pid1=$?"
hostname
unshare -U true 2>/dev/null && echo "new user namespace made" || echo "user namespaces refused"
unshare -r true 2>/dev/null && echo "root in a user namespace" || echo "root refused"
`
	out, err := run(t, sb, sandbox.Process{
		Tool: "alpha", Command: script, Dir: sandbox.AppDir, Home: home,
		Mounts: []sandbox.Mount{{Source: app, Target: sandbox.AppDir}},
		Env:    map[string]string{"PATH": sb.Path(os.Getenv("PATH"))},
	})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	uid, err := sb.UID("alpha")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"hello", "app read-only", "home writable", "tmp writable", "home=/data/project/alpha",
		"secret hidden", "shadow hidden", "alpha", "user namespaces refused", "root refused",
		"NoNewPrivs:\t1", "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000",
	}
	if os.Geteuid() == 0 {
		want = append(want, "uid="+strconv.Itoa(uid)+" gid="+strconv.Itoa(uid)+" groups="+strconv.Itoa(uid)+" user=tools.alpha")
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	// The shell, its subshells and the commands: a handful, not the host's.
	if n := procsLine(t, out); n > 8 {
		t.Errorf("the sandbox sees %d processes:\n%s", n, out)
	}
}

func procsLine(t *testing.T, out string) int {
	t.Helper()
	for line := range strings.SplitSeq(out, "\n") {
		if v, ok := strings.CutPrefix(line, "procs="); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no procs= line in:\n%s", out)
	return 0
}

// Ensure two tools get different uids, kept across a new Sandbox on the
// same directory.
func TestSandbox_UIDsPerTool(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("a uid per tool needs root")
	}
	dir := t.TempDir()
	cfg := sandbox.Config{Mode: sandbox.Bubblewrap, Dir: dir, Name: testName(t), Limits: "none", Logger: slog.New(slog.DiscardHandler)}
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed")
	}
	sb, err := sandbox.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := sb.UID("a")
	b, _ := sb.UID("b")
	a2, _ := sb.UID("a")
	if a == b || a != a2 || a < sandbox.DefaultUIDBase {
		t.Fatalf("uids a=%d b=%d a again=%d", a, b, a2)
	}
	sb2, err := sandbox.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := sb2.UID("b"); got != b {
		t.Errorf("b after reopen = %d, want %d", got, b)
	}
	if c, _ := sb2.UID("c"); c == a || c == b {
		t.Errorf("c = %d reuses a uid of a or b", c)
	}
}

// Ensure a process over its memory limit is killed, and that the kill is
// known to be for memory.
func TestSandbox_MemoryLimit(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	if !strings.HasPrefix(sb.LimitsBackend(), "cgroup") {
		t.Skipf("no cgroup limits here: %s", sb.Describe())
	}
	app, home := toolDirs(t, sb, "hog")
	var out strings.Builder
	cmd, err := sb.Command(t.Context(), sandbox.Process{
		Tool: "hog", Unit: "mem-1", Dir: sandbox.AppDir, Home: home,
		Command: `python3 -c "b = bytearray(b'x' * (300 << 20)); print('allocated')"`,
		Mounts:  []sandbox.Mount{{Source: app, Target: sandbox.AppDir}},
		Env:     map[string]string{"PATH": sb.Path(os.Getenv("PATH"))},
		Limits:  sandbox.Limits{MemoryBytes: 64 << 20},
		Stdout:  &out, Stderr: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Run()
	defer cmd.Cgroup.Remove()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 137 || strings.Contains(out.String(), "allocated") {
		t.Fatalf("run = %v, want exit status 137 (SIGKILL)\n%s", err, out.String())
	}
	if !cmd.Cgroup.OOMKilled() {
		t.Errorf("the cgroup does not report the OOM kill")
	}
	if got := cmd.Cgroup.Limits.String(); !strings.Contains(got, "memory 64Mi") {
		t.Errorf("limits = %q", got)
	}
}

// Ensure a fork bomb stops at the pids limit.
func TestSandbox_PidsLimit(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	if !strings.HasPrefix(sb.LimitsBackend(), "cgroup") {
		t.Skipf("no cgroup limits here: %s", sb.Describe())
	}
	app, home := toolDirs(t, sb, "forky")
	cmd, err := sb.Command(context.WithoutCancel(t.Context()), sandbox.Process{
		Tool: "forky", Unit: "pids-1", Dir: sandbox.AppDir, Home: home,
		Command: `bomb() { bomb | bomb & }; bomb; sleep 60`,
		Mounts:  []sandbox.Mount{{Source: app, Target: sandbox.AppDir}},
		Env:     map[string]string{"PATH": sb.Path(os.Getenv("PATH"))},
		Limits:  sandbox.Limits{Pids: 20},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sandbox.Kill(cmd.Process.Pid, cmd.Cgroup)
		_ = cmd.Wait()
		cmd.Cgroup.Remove()
	}()
	var events string
	for _, d := range cmd.Cgroup.Dirs {
		if _, err := os.Stat(filepath.Join(d, "pids.events")); err == nil {
			events = filepath.Join(d, "pids.events")
		}
	}
	if events == "" {
		t.Fatalf("no pids controller in %v", cmd.Cgroup.Dirs)
	}
	// The kernel counts the forks it refused at the limit.
	waitFor(t, func() bool {
		b, _ := os.ReadFile(events)
		n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(string(b), "max ")))
		return n > 0
	})
	if n := len(cmd.Cgroup.Procs()); n > 20 {
		t.Errorf("%d processes in the cgroup, the limit is 20", n)
	}
}

// Ensure the status file gets the command's exit status, and Terminate
// reaches the app (not bubblewrap), whose exit ends the sandbox.
func TestSandbox_StatusAndTerminate(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	app, home := toolDirs(t, sb, "term")
	statusPath := filepath.Join(t.TempDir(), "status")
	status, err := os.Create(statusPath)
	if err != nil {
		t.Fatal(err)
	}
	defer status.Close()
	logPath := filepath.Join(t.TempDir(), "log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	ready := filepath.Join(home, "ready")
	cmd, err := sb.Command(context.WithoutCancel(t.Context()), sandbox.Process{
		Tool: "term", Unit: "term-1", Dir: sandbox.AppDir, Home: home, Marker: "(test)",
		Command: `trap 'echo got TERM; exit 7' TERM; touch "$HOME/ready"; while :; do sleep 0.05; done`,
		Mounts:  []sandbox.Mount{{Source: app, Target: sandbox.AppDir}},
		Env:     map[string]string{"PATH": sb.Path(os.Getenv("PATH"))},
		Stdout:  log, Stderr: log, StatusFile: status,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Cgroup.Remove()
	waitFor(t, func() bool { _, err := os.Stat(ready); return err == nil })
	sandbox.Terminate(cmd.Process.Pid, cmd.Cgroup)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("wait = %v, want exit status 7", err)
	}
	b, _ := os.ReadFile(logPath)
	if !strings.Contains(string(b), "got TERM") || !strings.Contains(string(b), "--- started pid "+strconv.Itoa(cmd.Process.Pid)+" (test)") {
		t.Errorf("log:\n%s", b)
	}
	code, ok := sandbox.ReadStatus(statusPath)
	if !ok || code != 7 {
		t.Errorf("status file: %d %v", code, ok)
	}
	// The namespace's last processes die with bubblewrap's init; the
	// kernel lets go of them a moment later.
	waitFor(t, func() bool { return len(cmd.Cgroup.Procs()) == 0 })
	if err := syscall.Kill(cmd.Process.Pid, 0); err == nil {
		t.Errorf("leader %d still alive", cmd.Process.Pid)
	}
}

// waitFor polls cond; the condition is a file another process writes, with
// nothing to wait on but the file system.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Ensure the rlimit backend, the last resort, still bounds memory: an
// allocation over the limit fails in the process (no OOM kill to report).
func TestSandbox_RlimitMemory(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed")
	}
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit is not installed")
	}
	dir := t.TempDir()
	sb, err := sandbox.New(t.Context(), sandbox.Config{Dir: dir, Name: testName(t), Limits: "rlimit", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if sb.LimitsBackend() != "rlimit" || !strings.Contains(sb.Describe(), "last resort") {
		t.Fatalf("backend %s: %s", sb.LimitsBackend(), sb.Describe())
	}
	app, home := toolDirs(t, sb, "hog")
	out, err := run(t, sb, sandbox.Process{
		Tool: "hog", Unit: "mem-1", Dir: sandbox.AppDir, Home: home,
		Command: `python3 -c "b = bytearray(b'x' * (300 << 20)); print('allocated')"`,
		Mounts:  []sandbox.Mount{{Source: app, Target: sandbox.AppDir}},
		Env:     map[string]string{"PATH": sb.Path(os.Getenv("PATH"))},
		Limits:  sandbox.Limits{MemoryBytes: 64 << 20},
	})
	if err == nil || strings.Contains(out, "allocated") || !strings.Contains(out, "MemoryError") {
		t.Fatalf("run = %v, want a MemoryError\n%s", err, out)
	}
}

// Ensure the sandbox works for a server that is not root: bubblewrap then
// maps the server's uid in a user namespace. The test runs
// TestSandbox_Confines again as nobody.
func TestSandbox_Rootless(t *testing.T) {
	t.Parallel()
	if os.Getenv("SLIPWAY_TEST_ROOTLESS") != "" {
		t.Skip("already rootless")
	}
	if os.Geteuid() != 0 {
		t.Skip("the other tests of this package run rootless already")
	}
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed")
	}
	// Not t.TempDir(): its parent is root's alone.
	dir, err := os.MkdirTemp("", "slipway-rootless-") //nolint:usetesting // nobody must reach it: t.TempDir()'s parent is root's alone
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		bin, "-test.run=^TestSandbox_Confines$", "-test.count=1", "-test.v")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir, "SLIPWAY_TEST_ROOTLESS=1"}
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestSandbox_Confines") {
		t.Fatalf("rootless run: %v\n%s", err, out)
	}
}

// Ensure PrepareDir never follows what a tool left where the directory
// should be: a symlink to a host directory is replaced, and the host
// directory keeps its mode and owner.
func TestSandbox_PrepareDirReplacesSymlink(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	host := t.TempDir()
	if err := os.Chmod(host, 0o755); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	link := filepath.Join(cache, "home")
	if err := os.Symlink(host, link); err != nil {
		t.Fatal(err)
	}
	if err := sb.PrepareDir("sly", link); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(link)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("PrepareDir left %v, %v; want a directory 0700", fi, err)
	}
	hi, err := os.Stat(host)
	if err != nil || hi.Mode().Perm() != 0o755 {
		t.Fatalf("the host directory changed: %v, %v", hi.Mode(), err)
	}
	if st, ok := hi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		t.Errorf("the host directory now belongs to %d", st.Uid)
	}
}
