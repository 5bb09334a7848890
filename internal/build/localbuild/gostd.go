package localbuild

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"slipway.dev/slipway/internal/sandbox"
)

// goStdEnv is the environment the standard library is compiled with: what
// changes its cache keys. The sandboxed builds' environment takes it from
// here (see env), so that the two match.
var goStdEnv = []string{"CGO_ENABLED=0", "GOFLAGS=-mod=mod -buildvcs=false", "GOTOOLCHAIN=local"}

// prepareGoStd compiles the standard library into [Config.GoStdCache], as
// builds compile it (-trimpath, CGO_ENABLED=0), once per Builder: outside
// the sandbox, as the server, because it is the toolchain's own code. A
// warm cache makes this a check of a second or two; the first time on a
// host it takes as long as compiling the standard library.
func (b *Builder) prepareGoStd(ctx context.Context, log io.Writer) error {
	b.goStdMu.Lock()
	defer b.goStdMu.Unlock()
	if b.goStdDone {
		return nil
	}
	base := b.cfg.GoStdCache
	if err := os.MkdirAll(base, 0o700); err != nil {
		return err
	}
	home := filepath.Join(b.cfg.Dir, "cache", ".go-std-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "std")
	cmd.Env = append(append(hostEnv(b.cfg.Env), goStdEnv...), "GOCACHE="+base, "HOME="+home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build std: %w: %s", err, strings.TrimSpace(string(out)))
	}
	// Tools' caches link these files: nobody may change them.
	if err := chmodFiles(base, 0o444); err != nil {
		return fmt.Errorf("seal the standard library cache: %w", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		fmt.Fprintf(log, "==> compiled the Go standard library for builds once, in %s\n", took.Round(time.Second))
	}
	b.goStdDone = true
	return nil
}

// GoStdCold reports whether the standard library is still to be compiled
// into the standard library cache dir ([Config.GoStdCache]) as builds
// compile it, so that the next Go build takes a minute or so longer: the
// first on a host, or the first after the toolchain changed. It asks `go
// list` with the builds' settings, which compiles nothing (under a second);
// when that fails, or dir is "" (no shared cache), it reports false.
func GoStdCold(ctx context.Context, dir string) bool {
	if dir == "" {
		return false
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return true
	}
	cmd := exec.CommandContext(ctx, "go", "list", "-trimpath", "-f", "{{if .Stale}}stale{{end}}", "std")
	// As prepareGoStd compiles it (whose HOME has no go env file).
	cmd.Env = append(append(hostEnv(defaultEnv(os.Environ())), goStdEnv...), "GOCACHE="+dir, "GOENV=off")
	out, err := cmd.Output()
	return err == nil && strings.Contains(string(out), "stale")
}

// hostEnv returns the variables of env that the go command needs to run
// on the host.
func hostEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == "PATH" || strings.HasPrefix(k, "GO") || strings.Contains(strings.ToLower(k), "proxy") {
			out = append(out, kv)
		}
	}
	return out
}

// chmodFiles sets the mode of every regular file under dir, through an
// os.Root (symlinks are neither followed nor changed).
func chmodFiles(dir string, mode os.FileMode) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		return root.Chmod(p, mode)
	})
}

// seedGoCache gives a tool its own Go build cache, made the first time as
// hardlinks to the standard library cache (read-only files the server
// owns: the tool's builds can read them and add their own beside them, but
// change nothing another tool sees). The copy is put together where no
// tool's process can reach (the builder's .tmp), its directories given to
// the tool, and then renamed into the tool's cache.
func (b *Builder) seedGoCache(ctx context.Context, tool string, log io.Writer) error {
	if b.cfg.GoStdCache == "" {
		return nil
	}
	dst := filepath.Join(b.cacheDir(tool), "go-build")
	if _, err := os.Lstat(dst); err == nil {
		return nil
	}
	if err := b.prepareGoStd(ctx, log); err != nil {
		return err
	}
	b.goStdMu.Lock() // one seeding at a time: they share nothing else
	defer b.goStdMu.Unlock()
	if _, err := os.Lstat(dst); err == nil {
		return nil
	}
	uid, err := b.cfg.Sandbox.UID(tool)
	if err != nil {
		return err
	}
	tmp := filepath.Join(b.cfg.Dir, ".tmp", ".go-build-"+tool) // no tool name starts with a dot
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	err = linkTree(b.cfg.GoStdCache, tmp)
	if err == nil {
		// Directories are the tool's, so its go can add entries; the linked
		// files stay the server's.
		err = sandbox.ChownTree(tmp, uid, func(d fs.DirEntry) bool { return d.IsDir() })
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("seed the Go build cache of %s: %w", tool, err)
	}
	return nil
}

// linkTree makes dst a tree of the directories of the Go cache at src with
// its entries (not README or trim.txt) hard-linked. Both trees are the
// server's own: no tool can change them while this runs.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.Mkdir(target, 0o700)
		case d.Type().IsRegular() && rel != filepath.Base(rel): // entries, not README or trim.txt
			return os.Link(p, target) //nolint:gosec // G122: likewise, and src is the server's standard library cache
		}
		return nil
	})
}
