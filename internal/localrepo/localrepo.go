// Package localrepo decides whether a tool may build from a local
// repository (a file:// URL or an absolute path): only from inside the
// directories the server's --local-repo-dirs names, judged on the real
// path, after symlinks and ".." are resolved. The admin may build from
// anywhere the server can read; that decision is the caller's.
//
// Git looks for a repository at a path under several names (path/.git,
// path, path.git/.git, path.git) and follows a .git file ("gitdir: …"), so
// every one of them that exists must resolve inside an allowed directory
// too. What a repository inside an allowed directory refers to in turn
// (objects/info/alternates) is not followed: an allowed directory must not
// be writable by the tools, which SECURITY.md says.
package localrepo

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Path returns the local path a repository names and whether it is local
// at all: an absolute path, or a file:// URL.
func Path(repository string) (string, bool) {
	switch {
	case strings.HasPrefix(repository, "/"):
		return repository, true
	case len(repository) >= 7 && strings.EqualFold(repository[:7], "file://"):
		u, err := url.Parse(repository)
		if err != nil || u.Path == "" {
			return strings.TrimPrefix(repository[7:], "localhost"), true
		}
		return u.Path, true
	}
	return "", false
}

// ErrOutside is wrapped by the errors of [Check] for a repository that is
// not inside an allowed directory.
var ErrOutside = errors.New("outside the directories tools may build from")

// ResolveDirs returns the allowed directories with symlinks resolved,
// failing for one that does not exist or is not a directory.
func ResolveDirs(dirs []string) ([]string, error) {
	out := make([]string, 0, len(dirs))
	for _, d := range dirs {
		if !filepath.IsAbs(d) {
			return nil, fmt.Errorf("%s: not an absolute path", d)
		}
		real, err := filepath.EvalSymlinks(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d, err)
		}
		if fi, err := os.Stat(real); err != nil {
			return nil, fmt.Errorf("%s: %w", d, err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("%s: not a directory", d)
		}
		out = append(out, real)
	}
	return out, nil
}

// Check returns nil when the local repository lies strictly inside one of
// dirs (which [ResolveDirs] resolved), else an error wrapping
// [ErrOutside] that names the path it resolves to, or the reason it cannot
// be resolved. repository is an absolute path or a file:// URL.
func Check(repository string, dirs []string) error {
	p, ok := Path(repository)
	if !ok {
		return fmt.Errorf("%s is not a local repository", repository)
	}
	if len(dirs) == 0 {
		return fmt.Errorf("%s: %w (none are allowed)", repository, ErrOutside)
	}
	real, err := filepath.EvalSymlinks(filepath.Clean(p))
	if err != nil {
		return fmt.Errorf("%s: %w: %w", repository, ErrOutside, err)
	}
	if !inside(real, dirs) {
		return fmt.Errorf("%s resolves to %s, %w", repository, real, ErrOutside)
	}
	// The other names git tries, and a .git file's target.
	for _, cand := range []string{real + "/.git", real + ".git/.git", real + ".git"} {
		fi, err := os.Lstat(cand)
		if err != nil {
			continue
		}
		target, err := filepath.EvalSymlinks(cand)
		if err != nil {
			return fmt.Errorf("%s: %s cannot be resolved: %w: %w", repository, cand, ErrOutside, err)
		}
		if !inside(target, dirs) {
			return fmt.Errorf("%s: git would read %s, which resolves to %s, %w", repository, cand, target, ErrOutside)
		}
		if fi.Mode().IsRegular() || (fi.Mode()&os.ModeSymlink != 0 && isRegular(target)) {
			if err := checkGitFile(repository, target, dirs); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkGitFile checks the target of a .git file ("gitdir: <path>").
func checkGitFile(repository, file string, dirs []string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("%s: read %s: %w", repository, file, err)
	}
	gitdir, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:")
	if !ok {
		return nil // not a git file: git will not use it
	}
	gitdir = strings.TrimSpace(gitdir)
	if !filepath.IsAbs(gitdir) {
		gitdir = filepath.Join(filepath.Dir(file), gitdir)
	}
	target, err := filepath.EvalSymlinks(gitdir)
	if err != nil {
		return fmt.Errorf("%s: the git directory %s that %s names cannot be resolved: %w: %w", repository, gitdir, file, ErrOutside, err)
	}
	if !inside(target, dirs) {
		return fmt.Errorf("%s: %s names the git directory %s, %w", repository, file, target, ErrOutside)
	}
	return nil
}

func isRegular(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// inside reports whether p lies strictly inside one of dirs.
func inside(p string, dirs []string) bool {
	for _, d := range dirs {
		if rel, err := filepath.Rel(d, p); err == nil && rel != "." && filepath.IsLocal(rel) {
			return true
		}
	}
	return false
}
