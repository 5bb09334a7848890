package git_test

import (
	"errors"
	"path/filepath"
	"testing"

	"slipway.dev/slipway/internal/git"
	"slipway.dev/slipway/internal/slipwaytest"
)

// Ensure a fetch into a mirror is refused while the disk check fails
// (resolving a SHA and checking a commit out both fetch), with the check's
// error in the chain, while resolving a branch (ls-remote, no fetch) goes
// on.
func TestClient_DiskCheck(t *testing.T) {
	t.Parallel()
	repo := slipwaytest.GitRepo(t, map[string]string{"README": "one\n"})
	head := repo.Head(t)
	low := errors.New("not enough free disk space on /srv: 80 MiB free, the floor is 1 GiB; free some space or lower --min-free-disk")
	c, err := git.New(git.Config{CacheDir: t.TempDir(), AllowLocal: true, DiskCheck: func() error { return low }})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Resolve(t.Context(), repo.URL, "main"); err != nil || got != head {
		t.Errorf("Resolve(main) = %q, %v; want %s (no fetch needed)", got, err, head)
	}
	if _, err := c.Resolve(t.Context(), repo.URL, head[:7]); !errors.Is(err, low) {
		t.Errorf("Resolve(short SHA) = %v; want the disk check's error", err)
	}
	if err := c.Checkout(t.Context(), repo.URL, head, filepath.Join(t.TempDir(), "app")); !errors.Is(err, low) {
		t.Errorf("Checkout = %v; want the disk check's error", err)
	}
}
