package localbuild

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"slipway.dev/slipway/internal/build"
)

// stack is a kind of app the builder knows how to build.
type stack struct {
	name     string
	build    func(s *session) error
	defaults func(dir string) map[string]string // processes without a Procfile
}

var stacks = []struct {
	files []string // any of them selects the stack
	stack stack
}{
	{[]string{"go.mod"}, stack{"go", buildGo, func(string) map[string]string {
		return map[string]string{"web": ".bin/app"}
	}}},
	{[]string{"package.json"}, stack{"node", buildNode, func(string) map[string]string {
		return map[string]string{"web": "npm start"}
	}}},
	{[]string{"requirements.txt", "pyproject.toml"}, stack{"python", buildPython, func(dir string) map[string]string {
		if exists(filepath.Join(dir, "app.py")) {
			return map[string]string{"web": ".venv/bin/python app.py"}
		}
		return map[string]string{}
	}}},
}

var static = stack{"static", func(*session) error { return nil }, func(string) map[string]string {
	return map[string]string{}
}}

// detect returns the stack of the app in dir.
func detect(dir string) stack {
	for _, s := range stacks {
		for _, f := range s.files {
			if exists(filepath.Join(dir, f)) {
				return s.stack
			}
		}
	}
	return static
}

func exists(p string) bool {
	info, err := os.Stat(p)
	return err == nil && info.Mode().IsRegular()
}

func buildGo(s *session) error {
	return s.run("go", "build", "-trimpath", "-o", ".bin/app", ".")
}

func buildNode(s *session) error {
	cmd := "install"
	if exists(filepath.Join(s.dir, "package-lock.json")) {
		cmd = "ci"
	}
	return s.run("npm", cmd, "--omit=dev", "--no-audit", "--no-fund")
}

func buildPython(s *session) error {
	req := filepath.Join(s.dir, "requirements.txt")
	needPip, err := hasRequirements(req)
	if err != nil {
		return err
	}
	args := []string{"-m", "venv"}
	if !needPip {
		args = append(args, "--without-pip") // ten times faster
	}
	if err := s.run("python3", append(args, ".venv")...); err != nil {
		return err
	}
	if !needPip {
		return nil
	}
	err = s.run(".venv/bin/pip", "install", "--no-input", "--retries", "1", "-r", "requirements.txt")
	var ce *commandError
	if errors.As(err, &ce) && indexUnreachable(ce.output) {
		return fmt.Errorf("PyPI (or the configured package index) is unreachable from this server, "+
			"so the packages in requirements.txt cannot be installed; use only the standard library, or vendor the packages: %w", err)
	}
	return err
}

// hasRequirements reports whether the requirements file at p lists
// anything (lines other than blanks and comments).
func hasRequirements(p string) (bool, error) {
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read requirements.txt: %w", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			return true, nil
		}
	}
	return false, nil
}

// indexUnreachable reports whether pip's output says it could not reach
// the package index.
func indexUnreachable(output string) bool {
	for _, s := range []string{
		"Failed to establish a new connection", "NewConnectionError", "Name or service not known",
		"Temporary failure in name resolution", "Network is unreachable", "ConnectTimeoutError",
		"ProxyError", "Max retries exceeded",
	} {
		if strings.Contains(output, s) {
			return true
		}
	}
	return false
}

// runCustomStep runs .slipway/build when it is an executable file and
// reports whether it ran.
func runCustomStep(s *session) (bool, error) {
	p := filepath.Join(s.dir, ".slipway", "build")
	info, err := os.Lstat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case !info.Mode().IsRegular():
		fmt.Fprintf(s.log, "warning: .slipway/build is not a regular file; skipped\n")
		return false, nil
	case info.Mode().Perm()&0o111 == 0:
		fmt.Fprintf(s.log, "warning: .slipway/build is not executable; skipped (chmod +x it and commit)\n")
		return false, nil
	}
	fmt.Fprintf(s.log, "==> custom build step\n")
	return true, s.run("./.slipway/build")
}

// relocateVenv rewrites the paths the venv in venv recorded for the build
// directory from to the artifact directory to, so that its scripts work
// after the rename.
func relocateVenv(venv, from, to string) error {
	if _, err := os.Stat(venv); err != nil {
		return nil //nolint:nilerr // no venv (a custom step may remove it)
	}
	var files []string
	if entries, err := os.ReadDir(filepath.Join(venv, "bin")); err == nil {
		for _, e := range entries {
			files = append(files, filepath.Join(venv, "bin", e.Name()))
		}
	}
	files = append(files, filepath.Join(venv, "pyvenv.cfg"))
	old, repl := []byte(from), []byte(to)
	for _, p := range files {
		info, err := os.Lstat(p)
		if err != nil || !info.Mode().IsRegular() || info.Size() > 1<<20 {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("relocate venv: %w", err)
		}
		if !bytes.Contains(data, old) {
			continue
		}
		//nolint:gosec // G703: p is venv/bin/<entry> or venv/pyvenv.cfg in the build's own directory, and a regular file (Lstat above), not a symlink
		if err := os.WriteFile(p, bytes.ReplaceAll(data, old, repl), info.Mode().Perm()); err != nil {
			return fmt.Errorf("relocate venv: %w", err)
		}
	}
	return nil
}

// session is one build's running state.
type session struct {
	ctx context.Context //nolint:containedctx // the build's own lifetime
	dir string
	log io.Writer
	env []string
}

// tailSize is how much of a failing command's output its error keeps.
const tailSize = 4096

// commandError is a failed build command with the end of its output.
type commandError struct {
	command string
	err     error
	output  string
}

func (e *commandError) Error() string {
	out := strings.TrimSpace(e.output)
	if out == "" {
		return e.command + ": " + e.err.Error()
	}
	return e.command + ": " + e.err.Error() + "; output:\n" + out
}

func (e *commandError) Unwrap() error { return e.err }

// run runs a command in the build directory, logging it and its output. It
// runs in its own process group, all of which is killed when the build's
// context is done.
func (s *session) run(name string, args ...string) error {
	display := strings.Join(append([]string{name}, args...), " ")
	fmt.Fprintf(s.log, "$ %s\n", display)
	tail := &tailBuffer{max: tailSize}
	out := io.MultiWriter(s.log, tail)
	cmd := exec.CommandContext(s.ctx, name, args...)
	cmd.Dir = s.dir
	cmd.Env = s.env
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Children that escaped the group may hold the output open: stop
	// waiting for them soon after the kill.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctxErr := s.ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return fmt.Errorf("%s: build timed out: %w", display, ctxErr)
		}
		return fmt.Errorf("%s: %w", display, ctxErr)
	}
	return &commandError{command: display, err: err, output: tail.String()}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

// passEnv are the variables of the server's environment builds see by
// default.
var passEnv = []string{
	"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
	"http_proxy", "https_proxy", "no_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE",
	"GOROOT", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOINSECURE",
	"npm_config_registry", "NPM_CONFIG_REGISTRY",
	"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_FIND_LINKS", "PIP_CERT", "PIP_DEFAULT_TIMEOUT",
}

func defaultEnv(environ []string) []string {
	var env []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if slices.Contains(passEnv, k) {
			env = append(env, kv)
		}
	}
	return env
}

// env returns the environment of req's build commands.
func (b *Builder) env(req build.Request, stack string) []string {
	cache := filepath.Join(b.cfg.Dir, ".cache")
	env := slices.Clone(b.cfg.Env)
	return append(env,
		"HOME="+filepath.Join(cache, "home"),
		"GOCACHE="+b.cfg.GoCache,
		"GOMODCACHE="+b.cfg.GoModCache,
		"GOFLAGS=-mod=mod -buildvcs=false",
		"GOTOOLCHAIN=local",
		"CGO_ENABLED=0",
		"npm_config_cache="+b.cfg.NpmCache,
		"npm_config_update_notifier=false",
		"npm_config_fund=false",
		"npm_config_audit=false",
		"PIP_CACHE_DIR="+filepath.Join(cache, "pip"),
		"PIP_DISABLE_PIP_VERSION_CHECK=1",
		"PIP_NO_INPUT=1",
		"SLIPWAY_STACK="+stack,
		"SLIPWAY_COMMIT="+req.Commit,
		"SLIPWAY_REPOSITORY="+req.Repository,
	)
}

// readProcfile parses dir/Procfile. It returns nil when there is none.
func readProcfile(dir string) (map[string]string, error) {
	f, err := os.Open(filepath.Join(dir, "Procfile"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read Procfile: %w", err)
	}
	defer f.Close()
	return parseProcfile(f)
}

// parseProcfile parses "name: command" lines, skipping blank lines and
// comments. A process name is letters, digits, "_" and "-".
func parseProcfile(r io.Reader) (map[string]string, error) {
	procs := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, command, ok := strings.Cut(line, ":")
		name, command = strings.TrimSpace(name), strings.TrimSpace(command)
		switch {
		case !ok || command == "" || !validProcessName(name):
			return nil, fmt.Errorf("Procfile line %d: %q: want \"name: command\" with a name of letters, digits, _ or -", n, line) //nolint:staticcheck // Procfile is a proper name
		case procs[name] != "":
			return nil, fmt.Errorf("Procfile line %d: process %q is defined twice", n, name) //nolint:staticcheck // Procfile is a proper name
		}
		procs[name] = command
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read Procfile: %w", err)
	}
	return procs, nil
}

func validProcessName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_' && r != '-' {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
