// Package localbuild is the local [build.Builder]: it checks a commit out
// into a directory on this machine, detects the app's stack, builds it with
// the toolchains installed here, and keeps the result as a content-addressed
// directory that a local target runs.
//
// # Layout
//
// Under [Config.Dir]:
//
//	builds/<key>/                         a finished artifact: the app's files plus what the build made
//	builds/<key>/.slipway/artifact.json   its completion marker and record (stack, processes, commit, durations)
//	builds/<key>.log                      the log of the last build of <key> (rotated by size: <key>.log.1)
//	.tmp/<key>/                           a build in progress (discarded if it fails or the process dies)
//	.locks/<key>.lock                     flocked while <key> builds
//	.cache/{go-build,gomod,npm,pip,home}  shared toolchain caches and the builds' HOME
//
// A build is made in .tmp/<key>/ and renamed to builds/<key>/ once
// complete, so builds/<key>/ with its marker is always a whole artifact.
// Concurrent builds of one key, in this process or in another sharing Dir,
// build once: the others wait and get the result.
//
// # Stacks
//
// The first match decides:
//
//   - go.mod: go. `CGO_ENABLED=0 go build -trimpath -o .bin/app .` with
//     GOFLAGS=-mod=mod and GOTOOLCHAIN=local. Default process: web: .bin/app.
//   - package.json: node. `npm ci` when package-lock.json exists, else
//     `npm install`, with --omit=dev --no-audit --no-fund. Default process:
//     web: npm start.
//   - requirements.txt or pyproject.toml: python. `python3 -m venv .venv`,
//     then `.venv/bin/pip install -r requirements.txt` when that file has
//     lines other than comments. When pip fails because the package index is
//     unreachable the build fails saying so. Default process (when app.py
//     exists): web: .venv/bin/python app.py.
//   - anything else: static. The files are used as they are; no default
//     process.
//
// # Custom build step
//
// If the repository has an executable file .slipway/build, it runs after
// the stack's build, in the app directory, with the build's environment
// plus SLIPWAY_STACK, SLIPWAY_COMMIT and SLIPWAY_REPOSITORY. It may write a
// Procfile. A .slipway/build that is not executable is ignored, with a
// warning in the log.
//
// # Processes
//
// A Procfile ("name: command" lines; blank lines and lines starting with #
// are skipped) gives the process types, whatever the stack. Without one, the
// stack's default web process is used. Commands run in the artifact
// directory.
//
// Build commands run in their own process group with the build's context:
// cancelling it kills the whole group and leaves no artifact.
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

	"slipway.dev/slipway/internal/flock"
	"slipway.dev/slipway/internal/logfile"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/slipway"
)

// Version identifies how this package builds; it is part of every build key.
// Bump it when a change makes builds come out differently.
const Version = "localbuild/1"

// DefaultTimeout is the default limit of one build.
const DefaultTimeout = 30 * time.Minute

// Config configures a [Builder].
type Config struct {
	// Dir holds builds/<key>/ (finished artifacts), builds/<key>.log, temp
	// work under .tmp and the default caches. Required.
	Dir string
	// GoCache is GOCACHE for builds; default Dir/.cache/go-build.
	GoCache string
	// GoModCache is GOMODCACHE for builds; default Dir/.cache/gomod.
	GoModCache string
	// NpmCache is npm's cache for builds; default Dir/.cache/npm.
	NpmCache string
	// Timeout limits each build; default DefaultTimeout.
	Timeout time.Duration
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
	cache := filepath.Join(dir, ".cache")
	cfg.GoCache = cmp.Or(cfg.GoCache, filepath.Join(cache, "go-build"))
	cfg.GoModCache = cmp.Or(cfg.GoModCache, filepath.Join(cache, "gomod"))
	cfg.NpmCache = cmp.Or(cfg.NpmCache, filepath.Join(cache, "npm"))
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	if cfg.Env == nil {
		cfg.Env = defaultEnv(os.Environ())
	}
	for _, d := range []string{
		filepath.Join(dir, "builds"), filepath.Join(dir, ".tmp"), filepath.Join(dir, ".locks"),
		filepath.Join(cache, "home"), filepath.Join(cache, "pip"),
		cfg.GoCache, cfg.GoModCache, cfg.NpmCache,
	} {
		if err := os.MkdirAll(d, 0o755); err != nil {
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

// LogPath returns builds/<key>.log under [Config.Dir].
func (b *Builder) LogPath(key string) string {
	return filepath.Join(b.cfg.Dir, "builds", key+".log")
}

func (b *Builder) artifactDir(key string) string { return filepath.Join(b.cfg.Dir, "builds", key) }

var keyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

func checkKey(key string) error {
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
	BuiltAt    time.Time         `json:"built_at"`
	// DurationsMS are the durations of the build's phases in milliseconds:
	// checkout, build, total.
	DurationsMS map[string]int64 `json:"durations_ms"`
}

const markerPath = ".slipway/artifact.json"

// Lookup returns the finished artifact with this key. ok is false when
// builds/<key>/ has none (a directory without the completion marker does
// not count).
func (b *Builder) Lookup(_ context.Context, key string) (slipway.Artifact, bool, error) {
	if err := checkKey(key); err != nil {
		return slipway.Artifact{}, false, err
	}
	dir := b.artifactDir(key)
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
// [Builder.LogPath] and to req.Log. A failed or cancelled build leaves no
// artifact; its error ends with the tail of the failing command's output.
func (b *Builder) Build(ctx context.Context, req build.Request) (slipway.Artifact, error) {
	if err := checkKey(req.Key); err != nil {
		return slipway.Artifact{}, err
	}
	log := logWriter(req.Log)
	for {
		if a, ok, err := b.Lookup(ctx, req.Key); err != nil || ok {
			if ok {
				fmt.Fprintf(log, "==> using the existing build %s\n", req.Key)
			}
			return a, err
		}
		b.mu.Lock()
		if f, ok := b.flights[req.Key]; ok {
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
		b.flights[req.Key] = f
		b.mu.Unlock()

		f.art, f.err = b.buildLocked(ctx, req)
		f.leaderGone = f.err != nil && ctx.Err() != nil
		b.mu.Lock()
		delete(b.flights, req.Key)
		b.mu.Unlock()
		close(f.done)
		return f.art, f.err
	}
}

// buildLocked builds req holding the key's file lock, unless another process
// built it meanwhile.
func (b *Builder) buildLocked(ctx context.Context, req build.Request) (slipway.Artifact, error) {
	unlock, err := flock.Lock(ctx, filepath.Join(b.cfg.Dir, ".locks", req.Key+".lock"))
	if err != nil {
		return slipway.Artifact{}, fmt.Errorf("lock build %s: %w", req.Key, err)
	}
	defer unlock()
	if a, ok, err := b.Lookup(ctx, req.Key); err != nil || ok {
		return a, err
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	return b.build(ctx, req)
}

// build makes the artifact. The caller holds the key's locks.
func (b *Builder) build(ctx context.Context, req build.Request) (a slipway.Artifact, err error) {
	start := time.Now()
	final := b.artifactDir(req.Key)
	work := filepath.Join(b.cfg.Dir, ".tmp", req.Key)
	// Left by a crash: a half-made build, or an artifact without marker.
	for _, d := range []string{work, final} {
		if err := os.RemoveAll(d); err != nil {
			return a, fmt.Errorf("remove stale %s: %w", d, err)
		}
	}
	logFile, err := logfile.NewRotatingWriter(b.LogPath(req.Key),
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
	fmt.Fprintf(log, "repository: %s\nref: %s\ncommit: %s\nkey: %s\n", req.Repository, req.Ref, req.Commit, req.Key)
	fmt.Fprintf(log, "==> checkout %s\n", req.Commit)
	if err := b.src.Checkout(ctx, req.Repository, req.Commit, work); err != nil {
		return a, fmt.Errorf("checkout: %w", err)
	}
	checkedOut := time.Now()

	stack := detect(work)
	fmt.Fprintf(log, "stack: %s\n", stack.name)
	procs, err := readProcfile(work)
	if err != nil {
		return a, err
	}
	s := &session{ctx: ctx, dir: work, log: log, env: b.env(req, stack.name)}
	fmt.Fprintf(log, "==> build (%s)\n", stack.name)
	if err := stack.build(s); err != nil {
		return a, err
	}
	custom, err := runCustomStep(s)
	if err != nil {
		return a, err
	}
	if custom {
		// The custom step may have written or changed the Procfile.
		if procs, err = readProcfile(work); err != nil {
			return a, err
		}
	}
	if procs == nil {
		procs = stack.defaults(work)
	}
	if stack.name == "python" {
		if err := relocateVenv(filepath.Join(work, ".venv"), work, final); err != nil {
			return a, err
		}
	}
	built := time.Now()
	fmt.Fprintf(log, "==> processes\n")
	for _, name := range sortedKeys(procs) {
		fmt.Fprintf(log, "%s: %s\n", name, procs[name])
	}

	r := record{
		Key: req.Key, Stack: stack.name, Processes: procs,
		Repository: req.Repository, Ref: req.Ref, Commit: req.Commit,
		Builder: Version, CustomStep: custom, BuiltAt: built.UTC(),
		DurationsMS: map[string]int64{
			"checkout": checkedOut.Sub(start).Milliseconds(),
			"build":    built.Sub(checkedOut).Milliseconds(),
			"total":    time.Since(start).Milliseconds(),
		},
	}
	if err := writeRecord(work, r); err != nil {
		return a, err
	}
	if err := ctx.Err(); err != nil {
		return a, err
	}
	if err := os.Rename(work, final); err != nil {
		return a, fmt.Errorf("store build: %w", err)
	}
	fmt.Fprintf(log, "==> built %s in %s\n", req.Key, time.Since(start).Round(time.Millisecond))
	return slipway.Artifact{Key: req.Key, Dir: final, Stack: stack.name, Processes: procs}, nil
}

func writeRecord(dir string, r record) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(dir, markerPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", markerPath, err)
	}
	f, err := os.Create(p)
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
