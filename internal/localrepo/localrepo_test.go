package localrepo_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"slipway.dev/slipway/internal/localrepo"
)

func TestPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/srv/git/x":                 "/srv/git/x",
		"file:///srv/git/x":          "/srv/git/x",
		"FILE:///srv/git/x":          "/srv/git/x",
		"file://localhost/srv/git/x": "/srv/git/x",
	} {
		if got, ok := localrepo.Path(in); !ok || got != want {
			t.Errorf("Path(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"https://example.org/x.git", "git://h/x", "relative/x"} {
		if _, ok := localrepo.Path(in); ok {
			t.Errorf("Path(%q) is local", in)
		}
	}
}

// TestCheck builds a directory tree with every way out that git could
// take and checks each.
func TestCheck(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mk := func(p string) string {
		t.Helper()
		p = filepath.Join(root, p)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	allowed := mk("allowed")
	mk("allowed/repo/.git")
	secret := mk("secret/.git")
	// A worktree whose .git is a symlink out; one whose .git is a git file
	// naming a directory out; one whose "name.git" sibling leads out.
	mk("allowed/linked")
	if err := os.Symlink(secret, filepath.Join(allowed, "linked", ".git")); err != nil {
		t.Fatal(err)
	}
	mk("allowed/gitfile")
	if err := os.WriteFile(filepath.Join(allowed, "gitfile", ".git"), []byte("gitdir: ../../secret/.git\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mk("allowed/inner-gitfile/.realgit")
	if err := os.WriteFile(filepath.Join(allowed, "inner-gitfile", ".git"), []byte("gitdir: .realgit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mk("allowed/bare")
	if err := os.Symlink(secret, filepath.Join(allowed, "bare.git")); err != nil {
		t.Fatal(err)
	}
	dirs, err := localrepo.ResolveDirs([]string{allowed})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		repo string
		ok   bool
	}{
		{filepath.Join(allowed, "repo"), true},
		{"file://" + filepath.Join(allowed, "repo"), true},
		{filepath.Join(allowed, "inner-gitfile"), true},
		{allowed + "/repo/../repo", true},
		{allowed + "/../secret", false},
		{allowed, false},
		{filepath.Join(allowed, "linked"), false},
		{filepath.Join(allowed, "gitfile"), false},
		{filepath.Join(allowed, "bare"), false},
		{filepath.Join(allowed, "missing"), false},
		{filepath.Join(root, "secret"), false},
	} {
		err := localrepo.Check(tt.repo, dirs)
		if tt.ok != (err == nil) {
			t.Errorf("Check(%s) = %v, want ok %v", tt.repo, err, tt.ok)
		}
		if err != nil && !errors.Is(err, localrepo.ErrOutside) {
			t.Errorf("Check(%s) = %v, not ErrOutside", tt.repo, err)
		}
	}
	if err := localrepo.Check(filepath.Join(allowed, "repo"), nil); !errors.Is(err, localrepo.ErrOutside) {
		t.Errorf("Check with no allowed directories = %v", err)
	}
	if _, err := localrepo.ResolveDirs([]string{filepath.Join(root, "nope")}); err == nil {
		t.Error("ResolveDirs of a missing directory: no error")
	}
	if _, err := localrepo.ResolveDirs([]string{"relative"}); err == nil {
		t.Error("ResolveDirs of a relative path: no error")
	}
}
