package git_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/git"
	"slipway.dev/slipway/internal/slipwaytest"
)

// Ensure a release branch is created once at its commit (a retry is
// fine), never forced over a branch moved by someone else; a cherry-pick
// onto it is pushed, names the picked commit (-x) and is found by
// CherryPick; a conflicting pick changes nothing and names the files.
func TestReleaseBranch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := newClient(t, true)
	repo := slipwaytest.GitRepo(t, map[string]string{"a": "1\n", "c": "one\n"})
	base := repo.Head(t)
	repo.Commit(t, map[string]string{"c": "one\ntwo\n"}, "feat: two")
	fix := repo.Commit(t, map[string]string{"a": "1\nfix\n"}, "fix: a")
	conflicting := repo.Commit(t, map[string]string{"c": "one\ntwo\nthree\n"}, "fix: three")

	start := time.Now()
	if err := c.PushBranch(ctx, repo.URL, "release/1.0", base, ""); err != nil {
		t.Fatal(err)
	}
	t.Logf("first push (mirror fetched): %v", time.Since(start))
	start = time.Now()
	if err := c.PushBranch(ctx, repo.URL, "release/1.0", base, ""); err != nil {
		t.Fatalf("retried push: %v", err)
	}
	if got := strings.TrimSpace(repo.Git(t, "rev-parse", "release/1.0")); got != base {
		t.Fatalf("release/1.0 = %s, want %s", got, base)
	}
	if err := c.PushBranch(ctx, repo.URL, "release/1.0", fix, ""); !errors.Is(err, git.ErrBranchMoved) {
		t.Fatalf("push over an existing branch: %v, want ErrBranchMoved", err)
	}

	t.Logf("retried push: %v", time.Since(start))
	start = time.Now()
	picked, err := c.CherryPickOnto(ctx, repo.URL, "release/1.0", fix, base)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cherry-pick and push: %v", time.Since(start))
	if got := strings.TrimSpace(repo.Git(t, "rev-parse", "release/1.0")); got != picked {
		t.Fatalf("release/1.0 = %s, want the pick %s", got, picked)
	}
	if msg := repo.Git(t, "log", "-1", "--format=%B", picked); !strings.Contains(msg, "(cherry picked from commit "+fix+")") {
		t.Fatalf("pick message %q does not name %s", msg, fix)
	}
	if parent := strings.TrimSpace(repo.Git(t, "rev-parse", picked+"^")); parent != base {
		t.Fatalf("pick's parent %s, want %s", parent, base)
	}
	cp, err := c.CherryPick(ctx, repo.URL, fix, picked)
	if err != nil || cp.Commit != picked {
		t.Fatalf("CherryPick(fix, pick) = %+v, %v; want the pick", cp, err)
	}

	if _, err := c.CherryPickOnto(ctx, repo.URL, "release/1.0", conflicting, picked); !errors.Is(err, git.ErrPickConflict) || !strings.Contains(err.Error(), "conflicts in c") {
		t.Fatalf("conflicting pick: %v, want ErrPickConflict naming c", err)
	}
	// Picking the same commit onto the same base again makes the same
	// commit (within the committer date's second) or a sibling of it:
	// either way the branch is at neither base nor the new pick, so the
	// push is a retry (nil) or refused, never forced.
	if again, err := c.CherryPickOnto(ctx, repo.URL, "release/1.0", fix, base); err == nil && again != picked || err != nil && !errors.Is(err, git.ErrBranchMoved) {
		t.Fatalf("pick again onto base: %s, %v; want the same pick or ErrBranchMoved", again, err)
	}
	// A pick onto a branch someone else moved is refused.
	other := repo.Commit(t, map[string]string{"d": "new\n"}, "fix: d")
	repo.Git(t, "branch", "-f", "release/1.0", conflicting)
	if _, err := c.CherryPickOnto(ctx, repo.URL, "release/1.0", other, picked); !errors.Is(err, git.ErrBranchMoved) {
		t.Fatalf("pick onto a moved branch: %v, want ErrBranchMoved", err)
	}
	if got := strings.TrimSpace(repo.Git(t, "rev-parse", "release/1.0")); got != conflicting {
		t.Fatalf("release/1.0 = %s after a refused pick, want %s (where it was moved)", got, conflicting)
	}
	for _, bad := range []string{"", "-x", "a..b", "a b", "release/"} {
		if err := c.PushBranch(ctx, repo.URL, bad, base, ""); err == nil {
			t.Errorf("branch %q accepted", bad)
		}
	}
}
