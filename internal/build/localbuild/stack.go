package localbuild

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/sandbox"
	"slipway.dev/slipway/internal/slipway"
)

// Stack is a kind of app the builder knows: the files that select it, the
// commands that build it and the processes it runs without a Procfile.
// [Stacks] lists them; the builder works from the same table (detection,
// commands, default processes), and `slipway help stacks` and the README
// describe it, so what they say is what the builder does.
type Stack struct {
	// Name is the stack's name in build logs and artifacts: go, node,
	// python or static.
	Name string
	// Files select the stack when any of them is a regular file at the
	// root of the app; none for static, the fallback.
	Files []string
	// Steps are the build commands, in the order they run, each in the
	// tool's sandbox with the app directory as working directory.
	Steps []Step
	// Env are the environment variables of its build commands that decide
	// how it builds ("CGO_ENABLED=0").
	Env []string
	// Processes are its default process types, used when the app has no
	// Procfile.
	Processes []Process
	// Note says more, for people; may be empty.
	Note string

	build func(*session) error
	// deps is the dependency environment builds may reuse, if any.
	deps *depsSpec
}

// Step is one build command of a stack.
type Step struct {
	// Command is the command line, as run.
	Command []string
	// When says when it runs, for people; empty: always.
	When string
}

// Process is a default process type of a stack.
type Process struct {
	Name, Command string
	// IfFile, when set, is the file the app must have for the process to
	// be defined.
	IfFile string
}

// The build commands of the stacks; the table and the build functions both
// use these, so that the table says what the builder runs.
var (
	goBuild        = []string{"go", "build", "-trimpath", "-o", ".bin/app", "."}
	npmCI          = []string{"npm", "ci", "--omit=dev", "--no-audit", "--no-fund"}
	npmInstall     = []string{"npm", "install", "--omit=dev", "--no-audit", "--no-fund"}
	venvWithoutPip = []string{"python3", "-m", "venv", "--without-pip", ".venv"} // ten times faster
	venvWithPip    = []string{"python3", "-m", "venv", ".venv"}
	pipInstall     = []string{".venv/bin/pip", "install", "--no-input", "--retries", "1", "-r", "requirements.txt"}
)

// When texts of the steps that depend on the app's files.
const (
	whenLockFile     = "package-lock.json exists"
	whenNoLockFile   = "there is no package-lock.json"
	whenRequirements = "requirements.txt lists packages"
	whenNoPackages   = "requirements.txt is absent or lists no packages"
)

// stacks are tried in order; the first whose files the app has is its
// stack, and the last, static, has none: it is the fallback.
var stacks = []Stack{
	{
		Name: "go", Files: []string{"go.mod"},
		Steps:     []Step{{Command: goBuild}},
		Env:       goStdEnv,
		Processes: []Process{{Name: "web", Command: ".bin/app"}},
		Note:      "The standard library is compiled once per host, outside the sandbox, and shared read-only with every tool's builds; what a tool's builds add stays in its own cache.",
		build:     buildGo,
	},
	{
		Name: "node", Files: []string{"package.json"},
		Steps:     []Step{{Command: npmCI, When: whenLockFile}, {Command: npmInstall, When: whenNoLockFile}},
		Processes: []Process{{Name: "web", Command: "npm start"}},
		Note:      "With a package-lock.json, node_modules of the tool's previous build is copied instead of running npm ci when package.json, the lock file, node and the build environment are unchanged.",
		build:     buildNode,
		deps:      nodeDeps,
	},
	{
		Name: "python", Files: []string{"requirements.txt", "pyproject.toml"},
		Steps: []Step{
			{Command: venvWithPip, When: whenRequirements},
			{Command: pipInstall, When: whenRequirements},
			{Command: venvWithoutPip, When: whenNoPackages},
		},
		Processes: []Process{{Name: "web", Command: ".venv/bin/python app.py", IfFile: "app.py"}},
		Note: "When pip cannot reach the package index, the build fails saying so. The .venv of the tool's previous build is copied " +
			"instead of made again when requirements.txt, python3 and the build environment are unchanged.",
		build: buildPython,
		deps:  pythonDeps,
	},
	{
		Name:  "static",
		Note:  "The files are used as they are.",
		build: func(*session) error { return nil },
	},
}

// Stacks returns the stacks the builder knows, in the order detection
// tries them; the last, static, is the fallback. The caller may change
// what it gets.
func Stacks() []Stack {
	out := make([]Stack, len(stacks))
	for i, s := range stacks {
		s.Files = slices.Clone(s.Files)
		s.Env = slices.Clone(s.Env)
		s.Processes = slices.Clone(s.Processes)
		steps := make([]Step, len(s.Steps))
		for j, st := range s.Steps {
			steps[j] = Step{Command: slices.Clone(st.Command), When: st.When}
		}
		s.Steps = steps
		out[i] = s
	}
	return out
}

// detect returns the stack of the app in tree.
func detect(tree *os.Root) Stack {
	for _, s := range stacks {
		for _, f := range s.Files {
			if exists(tree, f) {
				return s
			}
		}
	}
	return stacks[len(stacks)-1]
}

// defaults returns the stack's default processes for the app in tree.
func (s Stack) defaults(tree *os.Root) map[string]string {
	procs := map[string]string{}
	for _, p := range s.Processes {
		if p.IfFile == "" || exists(tree, p.IfFile) {
			procs[p.Name] = p.Command
		}
	}
	return procs
}

// exists reports whether name is a regular file in tree. The tree is the
// build's, made by the tool: its symlinks are never followed out of it (the
// server reads it as itself).
func exists(tree *os.Root, name string) bool {
	info, err := tree.Stat(name)
	return err == nil && info.Mode().IsRegular()
}

func buildGo(s *session) error {
	if err := s.b.seedGoCache(s.ctx, s.tool, s.log); err != nil {
		fmt.Fprintf(s.log, "warning: the standard library cache was not used: %v\n", err)
	}
	return s.runCommand(goBuild)
}

func buildNode(s *session) error {
	if s.depsReused {
		return nil
	}
	if exists(s.tree, "package-lock.json") {
		return s.runCommand(npmCI)
	}
	return s.runCommand(npmInstall)
}

func buildPython(s *session) error {
	if s.depsReused {
		return nil
	}
	needPip, err := hasRequirements(s.tree, "requirements.txt")
	if err != nil {
		return err
	}
	if !needPip {
		return s.runCommand(venvWithoutPip)
	}
	if err := s.runCommand(venvWithPip); err != nil {
		return err
	}
	err = s.runCommand(pipInstall)
	var ce *commandError
	if errors.As(err, &ce) && indexUnreachable(ce.output) {
		return fmt.Errorf("PyPI (or the configured package index) is unreachable from this server, "+
			"so the packages in requirements.txt cannot be installed; use only the standard library, or vendor the packages: %w", err)
	}
	return err
}

// hasRequirements reports whether the requirements file name in tree lists
// anything (lines other than blanks and comments).
func hasRequirements(tree *os.Root, name string) (bool, error) {
	data, err := tree.ReadFile(name)
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

// CustomStep is the app's own build step: when the app has it as an
// executable file, it runs after the stack's build, in the app directory,
// with the build's environment plus [StepEnv]. It may write a Procfile.
const CustomStep = ".slipway/build"

// StepEnv are the variables the custom build step gets beyond the build's
// environment: the stack's name, the commit and the repository built.
var StepEnv = []string{envStack, envCommit, envRepository}

const (
	envStack      = "SLIPWAY_STACK"
	envCommit     = "SLIPWAY_COMMIT"
	envRepository = "SLIPWAY_REPOSITORY"
)

// runCustomStep runs [CustomStep] when it is an executable file and
// reports whether it ran.
func runCustomStep(s *session) (bool, error) {
	info, err := s.tree.Lstat(filepath.FromSlash(CustomStep))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case !info.Mode().IsRegular():
		fmt.Fprintf(s.log, "warning: %s is not a regular file; skipped\n", CustomStep)
		return false, nil
	case info.Mode().Perm()&0o111 == 0:
		fmt.Fprintf(s.log, "warning: %s is not executable; skipped (chmod +x it and commit)\n", CustomStep)
		return false, nil
	}
	fmt.Fprintf(s.log, "==> custom build step\n")
	return true, s.run("./" + CustomStep)
}

// relocateVenv rewrites the paths the venv in tree (at venv) recorded for
// the build directory from to the artifact directory to, so that its
// scripts work after the rename.
func relocateVenv(tree *os.Root, venv, from, to string) error {
	if _, err := tree.Stat(venv); err != nil {
		return nil //nolint:nilerr // no venv (a custom step may remove it)
	}
	var files []string
	if d, err := tree.Open(filepath.Join(venv, "bin")); err == nil {
		names, _ := d.Readdirnames(-1)
		_ = d.Close()
		for _, n := range names {
			files = append(files, filepath.Join(venv, "bin", n))
		}
	}
	files = append(files, filepath.Join(venv, "pyvenv.cfg"))
	old, repl := []byte(from), []byte(to)
	for _, p := range files {
		info, err := tree.Lstat(p)
		if err != nil || !info.Mode().IsRegular() || info.Size() > 1<<20 {
			continue
		}
		data, err := tree.ReadFile(p)
		if err != nil {
			return fmt.Errorf("relocate venv: %w", err)
		}
		if !bytes.Contains(data, old) {
			continue
		}
		if err := tree.WriteFile(p, bytes.ReplaceAll(data, old, repl), info.Mode().Perm()); err != nil {
			return fmt.Errorf("relocate venv: %w", err)
		}
	}
	return nil
}

// session is one build's running state.
type session struct {
	ctx  context.Context //nolint:containedctx // the build's own lifetime
	b    *Builder
	tool string
	tree *os.Root // the build directory, for the server's own reads
	log  io.Writer
	env  map[string]string
	// ask: the commands may ask questions (the request's AskEnv is in
	// env), and get the slipway binary.
	ask bool
	// mounts are the build directory (at /app) and the tool's cache (at
	// /cache), writable.
	mounts []sandbox.Mount
	// depsReused: the stack's dependency directory was copied from an
	// earlier build (see deps.go); its step does not run.
	depsReused bool
}

// session prepares the sandboxed session of req's build in work: the
// tool's caches, and the environment that points at them.
func (b *Builder) session(ctx context.Context, req build.Request, stack, work string, tree *os.Root, log io.Writer) (*session, error) {
	cache := b.cacheDir(req.Tool)
	for _, d := range []string{cache, filepath.Join(cache, "home"), filepath.Join(cache, "tmp")} {
		if err := b.cfg.Sandbox.PrepareDir(req.Tool, d); err != nil {
			return nil, fmt.Errorf("build cache of %s: %w", req.Tool, err)
		}
	}
	mounts := []sandbox.Mount{
		{Source: work, Target: sandbox.AppDir, Writable: true},
		{Source: cache, Target: cacheMount, Writable: true},
	}
	in := b.cfg.Sandbox.Inside(mounts[1])
	return &session{
		ctx: ctx, b: b, tool: req.Tool, tree: tree, log: log,
		env: b.env(req, stack, in), mounts: mounts, ask: len(req.AskEnv) > 0,
	}, nil
}

// cacheMount is where a tool's build cache is seen from inside.
const cacheMount = "/cache"

// cacheDir returns the tool's build cache on the host.
func (b *Builder) cacheDir(tool string) string { return filepath.Join(b.cfg.Dir, "cache", tool) }

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

// run runs a command in the build directory, in the tool's sandbox,
// logging it and its output. Its process tree (session and cgroup) is
// killed when the build's context is done, and once it ends.
func (s *session) run(name string, args ...string) error {
	display := strings.Join(append([]string{name}, args...), " ")
	fmt.Fprintf(s.log, "$ %s\n", display)
	tail := &tailBuffer{max: tailSize}
	out := io.MultiWriter(s.log, tail)
	words := make([]string, 0, 1+len(args))
	for _, w := range append([]string{name}, args...) {
		words = append(words, shellQuote(w))
	}
	cmd, err := s.b.cfg.Sandbox.Command(s.ctx, sandbox.Process{
		Tool:    s.tool,
		Unit:    "build-" + randomID(),
		Command: "exec " + strings.Join(words, " "),
		Env:     s.env,
		Dir:     s.b.cfg.Sandbox.Inside(s.mounts[0]),
		Mounts:  s.mounts,
		Limits:  s.b.cfg.Limits,
		Stdout:  out,
		Stderr:  out,
		Ask:     s.ask,
	})
	if err != nil {
		return fmt.Errorf("%s: %w", display, err)
	}
	// Children that escaped the tree may hold the output open: stop
	// waiting for them soon after the kill.
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	oom := cmd.Cgroup.OOMKilled()
	cmd.Cgroup.Kill()
	cmd.Cgroup.Remove()
	if err == nil {
		return nil
	}
	if ctxErr := s.ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return fmt.Errorf("%s: build timed out: %w", display, ctxErr)
		}
		return fmt.Errorf("%s: %w", display, ctxErr)
	}
	if oom {
		err = fmt.Errorf("%s (the build was killed): %w", slipway.OutOfMemory(s.b.cfg.Limits.MemoryBytes), err)
	}
	return &commandError{command: display, err: err, output: tail.String()}
}

// runCommand runs the command line cmd (see run).
func (s *session) runCommand(cmd []string) error { return s.run(cmd[0], cmd[1:]...) }

// shellQuote quotes s as one sh word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// randomID returns 12 random hex characters.
func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
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

// env returns the environment of req's build commands, whose cache is
// at cache (as they see it).
func (b *Builder) env(req build.Request, stack, cache string) map[string]string {
	env := map[string]string{}
	for _, kv := range b.cfg.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	if p, ok := env["PATH"]; ok || b.cfg.Sandbox.Enabled() {
		env["PATH"] = b.cfg.Sandbox.Path(p)
	}
	maps.Copy(env, map[string]string{
		"HOME":                          cache + "/home",
		"TMPDIR":                        cache + "/tmp",
		"GOCACHE":                       cache + "/go-build",
		"GOMODCACHE":                    cache + "/gomod",
		"npm_config_cache":              cache + "/npm",
		"npm_config_update_notifier":    "false",
		"npm_config_fund":               "false",
		"npm_config_audit":              "false",
		"PIP_CACHE_DIR":                 cache + "/pip",
		"PIP_DISABLE_PIP_VERSION_CHECK": "1",
		"PIP_NO_INPUT":                  "1",
		envStack:                        stack,
		envCommit:                       req.Commit,
		envRepository:                   req.Repository,
	})
	for _, kv := range goStdEnv { // as the standard library cache was compiled
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	maps.Copy(env, req.AskEnv)
	return env
}

// readProcfile parses the Procfile of tree. It returns nil when there is
// none.
func readProcfile(tree *os.Root) (map[string]string, error) {
	f, err := tree.Open("Procfile")
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
