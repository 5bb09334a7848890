package git_test

import (
	"errors"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/git"
	"slipway.dev/slipway/internal/slipwaytest"
)

// Ensure Contains answers as `git merge-base --is-ancestor` does on a
// real history with a branch, a merge, a cherry-pick and a revert, and
// fetches commits made after the mirror was created.
func TestContains(t *testing.T) {
	t.Parallel()
	c := newClient(t, true)
	repo := slipwaytest.GitRepo(t, map[string]string{"a": "1"})
	base := repo.Head(t)
	repo.Git(t, "checkout", "-q", "-b", "feature")
	feature := repo.Commit(t, map[string]string{"f": "1"}, "feature work")
	repo.Git(t, "checkout", "-q", "main")
	fix := repo.Commit(t, map[string]string{"a": "2"}, "fix")
	repo.Git(t, "merge", "-q", "--no-ff", "-m", "merge feature", "feature")
	merged := repo.Head(t)
	repo.Git(t, "checkout", "-q", "-b", "release", base)
	repo.Git(t, "cherry-pick", "-x", fix)
	picked := repo.Head(t)
	repo.Git(t, "checkout", "-q", "main")
	repo.Git(t, "revert", "--no-edit", fix)
	reverted := repo.Head(t)

	for _, tt := range []struct {
		name        string
		commit, tip string
		want        bool
	}{
		{"the tip itself", merged, merged, true},
		{"the base, in the merge", base, merged, true},
		{"the feature, in the merge", feature, merged, true},
		{"the fix, in the merge", fix, merged, true},
		{"the merge, not in the feature", merged, feature, false},
		{"the fix, not in the cherry-pick's branch (another commit)", fix, picked, false},
		{"the fix, in its revert's history", fix, reverted, true},
	} {
		got, err := c.Contains(t.Context(), repo.URL, tt.commit, tt.tip)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got != tt.want {
			t.Errorf("%s: Contains = %v, want %v", tt.name, got, tt.want)
		}
		want := repo.GitOK(t, "merge-base", "--is-ancestor", tt.commit, tt.tip)
		if got != want {
			t.Errorf("%s: Contains = %v, git says %v", tt.name, got, want)
		}
	}
	// A commit made after the mirror exists is fetched.
	later := repo.Commit(t, map[string]string{"b": "1"}, "later")
	if ok, err := c.Contains(t.Context(), repo.URL, reverted, later); err != nil || !ok {
		t.Errorf("a new commit: %v, %v", ok, err)
	}
	if ok, err := c.Contains(t.Context(), repo.URL, strings.Repeat("ab", 20), later); err != nil || ok {
		t.Errorf("a commit the repository does not have: %v, %v; want false", ok, err)
	}
	if _, err := c.Contains(t.Context(), repo.URL, later, strings.Repeat("cd", 20)); !errors.Is(err, git.ErrRefNotFound) {
		t.Errorf("a tip the repository does not have: %v, want ErrRefNotFound", err)
	}
	if _, err := c.Contains(t.Context(), repo.URL, "abc123", later); !errors.Is(err, git.ErrRefNotFound) {
		t.Errorf("a short commit: %v, want ErrRefNotFound", err)
	}
}
