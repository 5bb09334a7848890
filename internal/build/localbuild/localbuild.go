// Package localbuild is the local [build.Builder]: it checks a commit out
// into a directory on this machine, detects the app's stack, builds it with
// the toolchains installed here, and keeps the result as a content-addressed
// directory that a local target runs.
//
// # Layout
//
// Under [Config.Dir], per tool (artifacts belong to the tool that built
// them; two tools never share one):
//
//	builds/<tool>/<key>/                         a finished artifact: the app's files plus what the build made
//	builds/<tool>/<key>/.slipway/artifact.json   its completion marker and record (stack, processes, commit, durations)
//	builds/<tool>/<key>.seal                     its digest and metadata fingerprint (see below)
//	builds/<tool>/<attempt>.log                  the log of a build attempt (rotated by size: <attempt>.log.1);
//	                                             <key>.log for builds recorded before attempts
//	.tmp/<tool>/<key>/                           a build in progress (discarded if it fails or the process dies)
//	.locks/<tool>/<key>.lock                     flocked while <key> builds
//	cache/<tool>/{go-build,gomod,npm,pip,home}   the tool's own toolchain caches and its builds' HOME
//
// A build is made in .tmp/<tool>/<key>/ and renamed to builds/<tool>/<key>/
// once complete, so a directory with its marker is always a whole artifact.
// Concurrent builds of one key of a tool, in this process or in another
// sharing Dir, build once: the others wait and get the result.
//
// # Sandbox and integrity
//
// The server checks the commit out (outside the sandbox) and gives the
// directory to the tool's uid; every build command then runs in the tool's
// sandbox ([Config.Sandbox]) with the build directory at /app, its caches
// at /cache and the build limits. Nothing else of the host's data is there,
// in particular no other tool's cache: a build cannot poison what another
// tool builds. Before the rename the builder records the artifact's
// digest (sha256 over every file's path, mode and content) in its seal;
// every later use checks it — cheaply, by a fingerprint of the files'
// inodes, sizes and change times, and by hashing again when that differs —
// and an artifact that changed is built again, saying why. Runs see the
// artifact read-only.
//
// Go builds start warm: the standard library is compiled once, outside the
// sandbox, into [Config.GoStdCache] (trusted code), and hard-linked into each
// tool's own Go build cache when that is made; what a tool's builds add
// stays in its own cache.
//
// # Stacks
//
// [Stacks] is the table of the stacks the builder knows: the files that
// select each (the first match decides: go.mod, then package.json, then
// requirements.txt or pyproject.toml, else static), its build commands and
// its default processes. The builder works from it, and `slipway help
// stacks` prints it.
//
// # Custom build step
//
// If the repository has an executable file .slipway/build ([CustomStep]),
// it runs after the stack's build, in the app directory, with the build's
// environment plus SLIPWAY_STACK, SLIPWAY_COMMIT and SLIPWAY_REPOSITORY
// ([StepEnv]). It may write a Procfile. A .slipway/build that is not
// executable is ignored, with a warning in the log.
//
// # Processes
//
// A Procfile ("name: command" lines; blank lines and lines starting with #
// are skipped) gives the process types, whatever the stack. Without one, the
// stack's default web process is used. Commands run in the artifact
// directory.
//
// Build commands run in their own process tree (session and cgroup) with
// the build's context: cancelling it kills the whole tree and leaves no
// artifact.
package localbuild

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/flock"
	"slipway.dev/slipway/internal/logfile"
	"slipway.dev/slipway/internal/sandbox"
	"slipway.dev/slipway/internal/slipway"
)

// Version identifies how this package builds; it is part of every build key.
// Bump it when a change makes builds come out differently.
const Version = "localbuild/2"

// DefaultTimeout is the default limit of one build.
const DefaultTimeout = 30 * time.Minute

// Config configures a [Builder].
type Config struct {
	// Dir holds the artifacts, logs, seals, temp work and the tools'
	// caches (see the package doc). Required.
	Dir string
	// GoStdCache is a Go build cache, shared by every server of the host,
	// holding the standard library as builds compile it; empty: none, each
	// tool compiles it into its own cache once.
	GoStdCache string
	// Timeout limits each build; default DefaultTimeout.
	Timeout time.Duration
	// Sandbox confines build commands; default a sandbox that is off.
	Sandbox *sandbox.Sandbox
	// Limits bound each build command's process tree.
	Limits sandbox.Limits
	// LogMaxSize and LogMaxFiles bound each build log: past LogMaxSize
	// bytes it is rotated, keeping LogMaxFiles files in all (see
	// internal/logfile); defaults 10 MiB × 2.
	LogMaxSize  int64
	LogMaxFiles int
	// Env is the environment builds start from ("KEY=value"). Nil means
	// the variables of this process's environment that toolchains need
	// (PATH, locale, proxies, certificates, GOPROXY and friends, package
	// index settings) and nothing else, so server secrets stay out of
	// builds.
	Env []string
}

// Checkouter writes the tree of a commit of a repository into dst, which
// must not exist or be empty. *git.Client satisfies it.
type Checkouter interface {
	Checkout(ctx context.Context, repository, commit, dst string) error
}

// Builder is the local builder. It is safe for concurrent use.
type Builder struct {
	cfg Config
	src Checkouter

	mu      sync.Mutex
	flights map[string]*flight

	goStdMu   sync.Mutex
	goStdDone bool
}

// New returns a Builder keeping its builds in cfg.Dir and checking out
// sources with src.
func New(cfg Config, src Checkouter) (*Builder, error) {
	if cfg.Dir == "" {
		return nil, errors.New("localbuild: Dir is required")
	}
	if src == nil {
		return nil, errors.New("localbuild: a Checkouter is required")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("localbuild: %w", err)
	}
	cfg.Dir = dir
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	if cfg.Env == nil {
		cfg.Env = defaultEnv(os.Environ())
	}
	if cfg.Sandbox == nil {
		cfg.Sandbox = sandbox.Unconfined()
	}
	for _, d := range []string{"builds", ".tmp", ".locks", "cache"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("localbuild: %w", err)
		}
	}
	return &Builder{cfg: cfg, src: src, flights: map[string]*flight{}}, nil
}

// Interface guards
var _ build.Builder = (*Builder)(nil)

// flight is a build in progress that other callers may wait for.
type flight struct {
	done       chan struct{}
	art        slipway.Artifact
	err        error
	leaderGone bool // the building caller gave up: waiters should retry
}

// Version returns [Version].
func (b *Builder) Version() string { return Version }

// logPath returns builds/<tool>/<attempt>.log under [Config.Dir].
func (b *Builder) logPath(tool, attempt string) string {
	return filepath.Join(b.cfg.Dir, "builds", tool, attempt+".log")
}

func (b *Builder) artifactDir(tool, key string) string {
	return filepath.Join(b.cfg.Dir, "builds", tool, key)
}

func (b *Builder) sealPath(tool, key string) string {
	return filepath.Join(b.cfg.Dir, "builds", tool, key+".seal")
}

func (b *Builder) workDir(tool, key string) string {
	return filepath.Join(b.cfg.Dir, ".tmp", tool, key)
}

func (b *Builder) lockPath(tool, key string) string {
	return filepath.Join(b.cfg.Dir, ".locks", tool, key+".lock")
}

var keyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// checkKey checks a tool name and a build key, which become path names.
func checkKey(tool, key string) error {
	if !slipway.ValidName(tool) {
		return fmt.Errorf("invalid tool name %q", tool)
	}
	if !keyRE.MatchString(key) || strings.Contains(key, "..") {
		return fmt.Errorf("invalid build key %q", key)
	}
	return nil
}

// record is the content of .slipway/artifact.json.
type record struct {
	Key        string            `json:"key"`
	Stack      string            `json:"stack"`
	Processes  map[string]string `json:"processes"`
	Repository string            `json:"repository"`
	Ref        string            `json:"ref,omitempty"`
	Commit     string            `json:"commit"`
	Builder    string            `json:"builder"`
	CustomStep bool              `json:"custom_step,omitempty"`
	// Deps is the fingerprint of the stack's dependency directory (see
	// deps.go); DepsFrom the build it was copied from, if it was.
	Deps     string    `json:"deps,omitempty"`
	DepsFrom string    `json:"deps_from,omitempty"`
	BuiltAt  time.Time `json:"built_at"`
	Tool     string    `json:"tool"`
	// DurationsMS are the durations of the build's phases in milliseconds:
	// checkout, build, total.
	DurationsMS map[string]int64 `json:"durations_ms"`
}

const markerPath = ".slipway/artifact.json"

// Lookup returns the tool's finished artifact with this key. ok is false
// when builds/<tool>/<key>/ has none (a directory without the completion
// marker does not count). An artifact whose content does not match its
// seal is an error wrapping [build.ErrCorrupt].
func (b *Builder) Lookup(_ context.Context, tool, key string) (slipway.Artifact, bool, error) {
	if err := checkKey(tool, key); err != nil {
		return slipway.Artifact{}, false, err
	}
	a, ok, err := b.readMarker(tool, key)
	if err != nil || !ok {
		return a, ok, err
	}
	s, err := checkSeal(a.Dir, b.sealPath(tool, key))
	if err != nil {
		return slipway.Artifact{}, false, fmt.Errorf("build %s of %s: %w: %w", key, tool, build.ErrCorrupt, err)
	}
	a.Digest = s.Digest
	return a, true, nil
}

// readMarker reads the artifact's completion marker.
func (b *Builder) readMarker(tool, key string) (slipway.Artifact, bool, error) {
	dir := b.artifactDir(tool, key)
	data, err := os.ReadFile(filepath.Join(dir, markerPath))
	if errors.Is(err, os.ErrNotExist) {
		return slipway.Artifact{}, false, nil
	}
	if err != nil {
		return slipway.Artifact{}, false, fmt.Errorf("lookup build %s: %w", key, err)
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return slipway.Artifact{}, false, fmt.Errorf("lookup build %s: read %s: %w", key, markerPath, err)
	}
	return slipway.Artifact{Key: key, Dir: dir, Stack: r.Stack, Processes: r.Processes}, true, nil
}

// Build builds req.Commit of req.Repository into builds/<req.Key>/ and
// returns the artifact, or returns the existing artifact when the key is
// already built. Concurrent calls for one key build once. The output goes to
// the attempt's log ([Builder.Logs]) and to req.Log. A failed or cancelled build leaves no
// artifact; its error ends with the tail of the failing command's output.
func (b *Builder) Build(ctx context.Context, req build.Request) (slipway.Artifact, error) {
	if err := checkKey(req.Tool, req.Key); err != nil {
		return slipway.Artifact{}, err
	}
	if err := checkKey(req.Tool, cmp.Or(req.Attempt, req.Key)); err != nil {
		return slipway.Artifact{}, fmt.Errorf("attempt: %w", err)
	}
	log := logWriter(req.Log)
	flightKey := req.Tool + "/" + req.Key
	for {
		if a, ok, err := b.Lookup(ctx, req.Tool, req.Key); (err != nil && !errors.Is(err, build.ErrCorrupt)) || ok {
			if ok {
				fmt.Fprintf(log, "==> using the existing build %s\n", req.Key)
			}
			return a, err
		}
		b.mu.Lock()
		if f, ok := b.flights[flightKey]; ok {
			b.mu.Unlock()
			fmt.Fprintf(log, "==> waiting for the build of %s already in progress\n", req.Key)
			select {
			case <-f.done:
			case <-ctx.Done():
				return slipway.Artifact{}, fmt.Errorf("wait for build %s: %w", req.Key, ctx.Err())
			}
			if f.leaderGone && ctx.Err() == nil {
				continue // its caller cancelled it; we still want it
			}
			return f.art, f.err
		}
		f := &flight{done: make(chan struct{})}
		b.flights[flightKey] = f
		b.mu.Unlock()

		f.art, f.err = b.buildLocked(ctx, req, log)
		f.leaderGone = f.err != nil && ctx.Err() != nil
		b.mu.Lock()
		delete(b.flights, flightKey)
		b.mu.Unlock()
		close(f.done)
		return f.art, f.err
	}
}

// buildLocked builds req holding the key's file lock, unless another process
// built it meanwhile. A cached artifact that fails its digest check is
// built again, the reason in the log.
func (b *Builder) buildLocked(ctx context.Context, req build.Request, log io.Writer) (slipway.Artifact, error) {
	unlock, err := b.lock(ctx, req.Tool, req.Key)
	if err != nil {
		return slipway.Artifact{}, fmt.Errorf("lock build %s: %w", req.Key, err)
	}
	defer unlock()
	a, ok, err := b.Lookup(ctx, req.Tool, req.Key)
	switch {
	case errors.Is(err, build.ErrCorrupt):
		fmt.Fprintf(log, "==> rebuilding: %v\n", err)
		if err := b.removeLocked(req.Tool, req.Key); err != nil {
			return slipway.Artifact{}, err
		}
	case err != nil || ok:
		return a, err
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	return b.build(ctx, req, err)
}

// lock takes the file lock of a tool's key.
func (b *Builder) lock(ctx context.Context, tool, key string) (func(), error) {
	p := b.lockPath(tool, key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	return flock.Lock(ctx, p)
}

// build makes the artifact; rebuilt, when not nil, says why a cached one
// was discarded. The caller holds the key's locks.
func (b *Builder) build(ctx context.Context, req build.Request, rebuilt error) (a slipway.Artifact, err error) {
	start := time.Now()
	final := b.artifactDir(req.Tool, req.Key)
	work := b.workDir(req.Tool, req.Key)
	// Left by a crash: a half-made build, or an artifact without marker.
	for _, d := range []string{work, final} {
		if err := os.RemoveAll(d); err != nil {
			return a, fmt.Errorf("remove stale %s: %w", d, err)
		}
	}
	for _, d := range []string{filepath.Dir(work), filepath.Dir(final)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return a, err
		}
	}
	logFile, err := logfile.NewRotatingWriter(b.logPath(req.Tool, cmp.Or(req.Attempt, req.Key)),
		cmp.Or(b.cfg.LogMaxSize, logfile.DefaultMaxSize), cmp.Or(b.cfg.LogMaxFiles, logfile.DefaultBuildMaxFiles))
	if err != nil {
		return a, fmt.Errorf("create build log: %w", err)
	}
	defer logFile.Close()
	log := logWriter(logFile, req.Log)
	defer func() {
		if err != nil {
			_ = os.RemoveAll(work)
			fmt.Fprintf(log, "==> build failed after %s: %v\n", time.Since(start).Round(time.Millisecond), err)
		}
	}()

	fmt.Fprintf(log, "==> slipway %s\n", Version)
	if rebuilt != nil {
		fmt.Fprintf(log, "rebuilding: %v\n", rebuilt)
	}
	fmt.Fprintf(log, "repository: %s\nref: %s\ncommit: %s\nkey: %s\n", req.Repository, req.Ref, req.Commit, req.Key)
	fmt.Fprintf(log, "==> checkout %s\n", req.Commit)
	if err := b.src.Checkout(ctx, req.Repository, req.Commit, work); err != nil {
		return a, fmt.Errorf("checkout: %w", err)
	}
	if err := b.cfg.Sandbox.GiveTree(req.Tool, work); err != nil {
		return a, fmt.Errorf("give the build directory to the tool: %w", err)
	}
	checkedOut := time.Now()

	tree, err := os.OpenRoot(work)
	if err != nil {
		return a, err
	}
	defer tree.Close()
	stack := detect(tree)
	fmt.Fprintf(log, "stack: %s\n", stack.Name)
	procs, err := readProcfile(tree)
	if err != nil {
		return a, err
	}
	s, err := b.session(ctx, req, stack.Name, work, tree, log)
	if err != nil {
		return a, err
	}
	var depsKey, depsFrom string
	if stack.deps != nil {
		depsKey = depsFingerprint(s, stack, stack.deps)
		depsFrom = b.reuseDeps(s, req, stack, stack.deps, depsKey, work)
		s.depsReused = depsFrom != ""
	}
	fmt.Fprintf(log, "==> build (%s)\n", stack.Name)
	if err := stack.build(s); err != nil {
		return a, err
	}
	custom, err := runCustomStep(s)
	if err != nil {
		return a, err
	}
	if custom {
		// The custom step may have written or changed the Procfile.
		if procs, err = readProcfile(tree); err != nil {
			return a, err
		}
	}
	if procs == nil {
		procs = stack.defaults(tree)
	}
	// Paths the build recorded are those it saw: the same as runs see in
	// the sandbox (/app), the host's own otherwise.
	from := b.cfg.Sandbox.Inside(sandbox.Mount{Source: work, Target: sandbox.AppDir})
	to := b.cfg.Sandbox.Inside(sandbox.Mount{Source: final, Target: sandbox.AppDir})
	if stack.Name == "python" && from != to {
		if err := relocateVenv(tree, ".venv", from, to); err != nil {
			return a, err
		}
	}
	built := time.Now()
	fmt.Fprintf(log, "==> processes\n")
	for _, name := range sortedKeys(procs) {
		fmt.Fprintf(log, "%s: %s\n", name, procs[name])
	}

	r := record{
		Key: req.Key, Stack: stack.Name, Processes: procs,
		Repository: req.Repository, Ref: req.Ref, Commit: req.Commit,
		Builder: Version, CustomStep: custom, BuiltAt: built.UTC(), Tool: req.Tool,
		Deps: depsKey, DepsFrom: depsFrom,
		DurationsMS: map[string]int64{
			"checkout": checkedOut.Sub(start).Milliseconds(),
			"build":    built.Sub(checkedOut).Milliseconds(),
			"total":    time.Since(start).Milliseconds(),
		},
	}
	if err := writeRecord(tree, r); err != nil {
		return a, err
	}
	if err := ctx.Err(); err != nil {
		return a, err
	}
	// Nothing of the build runs any more (each command's tree was killed
	// when it ended): the content is final. Seal it, then make it the
	// artifact.
	sl, err := sealTree(work, b.sealPath(req.Tool, req.Key))
	if err != nil {
		return a, fmt.Errorf("seal build: %w", err)
	}
	if err := os.Rename(work, final); err != nil {
		return a, fmt.Errorf("store build: %w", err)
	}
	fmt.Fprintf(log, "==> built %s (%s) in %s\n", req.Key, sl.Digest, time.Since(start).Round(time.Millisecond))
	return slipway.Artifact{Key: req.Key, Dir: final, Stack: stack.Name, Processes: procs, Digest: sl.Digest}, nil
}

// writeRecord writes the completion marker into the build tree, replacing
// whatever the build left at its path.
func writeRecord(tree *os.Root, r record) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := tree.MkdirAll(filepath.Dir(markerPath), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", markerPath, err)
	}
	_ = tree.Remove(markerPath) // a file or link the build left there; absent is fine
	f, err := tree.OpenFile(markerPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", markerPath, err)
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync() // the marker must not be renamed into place empty
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", markerPath, err)
	}
	return nil
}

// logWriter returns a writer to all of ws (nil ones skipped) that never
// fails: a broken log must not break the build.
func logWriter(ws ...io.Writer) io.Writer {
	var out multiWriter
	for _, w := range ws {
		if w != nil {
			out = append(out, w)
		}
	}
	return &lockedWriter{w: out}
}

type multiWriter []io.Writer

func (m multiWriter) Write(p []byte) (int, error) {
	for _, w := range m {
		_, _ = w.Write(p)
	}
	return len(p), nil
}

// lockedWriter serializes writes: build output and Builder messages may
// come from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
