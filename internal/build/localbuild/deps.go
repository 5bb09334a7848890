package localbuild

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/sandbox"
)

// Dependency environments. A build of a Python or Node app spends most of
// its time making the same .venv or node_modules as the build before it:
// a push changes the app's code far more often than its dependencies. So
// a stack names the directory its dependency step makes and the files that
// decide it, and a build whose fingerprint (those files' content, the
// interpreter's binary, the build environment, the builder's version)
// equals an earlier build's of the same tool copies that build's
// directory instead of running the step. Only a sealed artifact that
// passes its seal check, of the same tool, made without a custom build
// step (which may have changed the directory), is a source; the copy is a
// copy, never a hard link, so nothing the new build does reaches the old
// artifact.

// depsSpec is a stack's dependency environment.
type depsSpec struct {
	// Dir is the directory the dependency step makes, relative to the app.
	Dir string
	// Inputs are the app's files whose content decides Dir (an absent file
	// counts as absent).
	Inputs []string
	// Interpreter is the command whose binary the directory was made
	// with (a venv links to its python).
	Interpreter string
	// Applies, when set, says whether the app's tree can reuse at all
	// (npm install without a lock file resolves anew each time).
	Applies func(tree *os.Root) bool
	// Relocate rewrites paths the directory recorded of the build
	// directory it was made in (from) for the one it is copied to (to).
	Relocate func(tree *os.Root, dir, from, to string) error
}

// depsFingerprint returns the fingerprint of the dependency environment
// the build in s would make for spec, or "" when it cannot tell (then
// nothing is reused, and the build runs its step).
func depsFingerprint(s *session, stack Stack, spec *depsSpec) string {
	if spec.Applies != nil && !spec.Applies(s.tree) {
		return ""
	}
	h := sha256.New()
	field := func(v string) { writeField(h, v) }
	field("deps/1")
	field(Version)
	field(stack.Name)
	field(spec.Dir)
	for _, in := range spec.Inputs {
		data, err := s.tree.ReadFile(in)
		switch {
		case errors.Is(err, os.ErrNotExist):
			field(in + ": absent")
		case err != nil:
			return ""
		default:
			sum := sha256.Sum256(data)
			field(in + ": " + hex.EncodeToString(sum[:]))
		}
	}
	bin, ok := interpreterIdentity(s.env["PATH"], spec.Interpreter)
	if !ok {
		return ""
	}
	field(bin)
	// The build's environment (index URLs, proxies, the stack's flags),
	// except what names this one build.
	var env []string
	for k, v := range s.env {
		if k == envCommit || k == envRepository || strings.HasPrefix(k, "SLIPWAY_ASK") {
			continue
		}
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	for _, kv := range env {
		field(kv)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// interpreterIdentity names the binary command resolves to on path (the
// sandbox sees the host's system directories at the same paths): its real
// path, size and modification time, which an upgrade changes.
func interpreterIdentity(path, command string) (string, bool) {
	if command == "" {
		return "", true
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, command)
		info, err := os.Stat(p)
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			continue
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return "", false
		}
		return fmt.Sprintf("%s %s %d %d", command, real, info.Size(), info.ModTime().UnixNano()), true
	}
	return "", false
}

// reuseDeps copies spec.Dir from the newest sealed artifact of the tool
// whose record has fingerprint fp into the build tree at work, and returns
// that artifact's key ("" when there is none: the build runs its step).
// A failure to copy leaves no partial directory and is not an error of
// the build: it says so and builds the directory itself.
func (b *Builder) reuseDeps(s *session, req build.Request, stack Stack, spec *depsSpec, fp, work string) string {
	if fp == "" {
		return ""
	}
	key := b.depsSource(req, stack.Name, fp)
	if key == "" {
		return ""
	}
	a, ok, err := b.Lookup(s.ctx, req.Tool, key)
	if err != nil || !ok {
		fmt.Fprintf(s.log, "==> not reusing %s of build %s: %v\n", spec.Dir, key, cmp.Or(err, errors.New("it is gone")))
		return ""
	}
	start := time.Now()
	dst := filepath.Join(work, spec.Dir)
	err = copyTree(filepath.Join(a.Dir, spec.Dir), dst)
	if err == nil {
		err = b.cfg.Sandbox.GiveTree(req.Tool, dst)
	}
	if err == nil && spec.Relocate != nil {
		from := b.cfg.Sandbox.Inside(sandbox.Mount{Source: a.Dir, Target: sandbox.AppDir})
		to := b.cfg.Sandbox.Inside(sandbox.Mount{Source: work, Target: sandbox.AppDir})
		if from != to {
			err = spec.Relocate(s.tree, spec.Dir, from, to)
		}
	}
	if err != nil {
		_ = os.RemoveAll(dst)
		fmt.Fprintf(s.log, "==> not reusing %s of build %s: %v\n", spec.Dir, key, err)
		return ""
	}
	fmt.Fprintf(s.log, "==> reusing %s of build %s (%s, the interpreter and the build environment unchanged; copied in %s)\n",
		spec.Dir, key, strings.Join(spec.Inputs, ", "), time.Since(start).Round(time.Millisecond))
	return key
}

// depsSource returns the key of the tool's newest finished build of stack
// whose dependency fingerprint is fp and that ran no custom step, or "".
func (b *Builder) depsSource(req build.Request, stack, fp string) string {
	dir := filepath.Dir(b.artifactDir(req.Tool, req.Key))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var best string
	var bestAt time.Time
	for _, e := range entries {
		if !e.IsDir() || e.Name() == req.Key || checkKey(req.Tool, e.Name()) != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name(), markerPath))
		if err != nil {
			continue
		}
		var r record
		if json.Unmarshal(data, &r) != nil || r.Deps != fp || r.CustomStep || r.Stack != stack || r.Tool != req.Tool {
			continue
		}
		if best == "" || r.BuiltAt.After(bestAt) {
			best, bestAt = e.Name(), r.BuiltAt
		}
	}
	return best
}

// copyTree copies the tree at src (directories, regular files with their
// permission bits, symlinks as symlinks) to dst, which must not exist,
// through an os.Root on each side: nothing outside either is read or
// written, and no symlink is followed.
func copyTree(src, dst string) error {
	from, err := os.OpenRoot(src)
	if err != nil {
		return err
	}
	defer from.Close()
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	to, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer to.Close()
	return fs.WalkDir(from.FS(), ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch mode := info.Mode(); {
		case rel == ".":
			return to.Chmod(".", mode.Perm()|0o700)
		case mode.IsDir():
			return to.Mkdir(rel, mode.Perm()|0o700)
		case mode&fs.ModeSymlink != 0:
			link, err := from.Readlink(rel)
			if err != nil {
				return err
			}
			return to.Symlink(link, rel)
		case mode.IsRegular():
			return copyFile(from, to, rel, mode.Perm())
		default:
			return nil // sockets, fifos: not part of an environment
		}
	})
}

func copyFile(from, to *os.Root, rel string, perm fs.FileMode) error {
	in, err := from.Open(rel)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := to.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// hasLockFile: npm ci installs exactly the lock file; without one npm
// resolves versions anew, so there is nothing to reuse.
func hasLockFile(tree *os.Root) bool { return exists(tree, "package-lock.json") }

// pythonDeps and nodeDeps are the dependency environments of the stacks.
var (
	pythonDeps = &depsSpec{Dir: ".venv", Inputs: []string{"requirements.txt"}, Interpreter: "python3", Relocate: relocateVenv}
	nodeDeps   = &depsSpec{Dir: "node_modules", Inputs: []string{"package.json", "package-lock.json"}, Interpreter: "node", Applies: hasLockFile}
)
