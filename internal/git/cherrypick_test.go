package git_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/git"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

// Ensure CherryPick finds a fix cherry-picked onto a release branch, as
// `git cherry` does (the same patch-id); does not match a cherry-pick
// whose conflict resolution changed the patch (git cherry does not
// either); names the revert of a pick; finds nothing for a merge; reads
// no further than its bound, and says so; and fetches commits made after
// the mirror.
func TestCherryPick(t *testing.T) {
	t.Parallel()
	c := newClient(t, true)
	repo := slipwaytest.GitRepo(t, map[string]string{"a": "1\n", "c": "one\n"})
	base := repo.Head(t)
	fix := repo.Commit(t, map[string]string{"a": "1\nfix\n"}, "fix a")
	repo.Commit(t, map[string]string{"c": "one\ntwo\n"}, "two")
	fix2 := repo.Commit(t, map[string]string{"c": "one\ntwo\nfix2\n"}, "fix c")
	repo.Git(t, "checkout", "-q", "-b", "feature")
	repo.Commit(t, map[string]string{"f": "1\n"}, "feature")
	repo.Git(t, "checkout", "-q", "main")
	repo.Git(t, "merge", "-q", "--no-ff", "-m", "merge feature", "feature")
	merge := repo.Head(t)

	repo.Git(t, "checkout", "-q", "-b", "release", base)
	repo.Git(t, "cherry-pick", "-x", fix)
	picked := repo.Head(t)
	// fix2's context ("two") is not on the release branch: the pick
	// conflicts, and its resolution makes another patch.
	if repo.GitOK(t, "cherry-pick", fix2) {
		t.Fatal("cherry-pick of fix2 did not conflict")
	}
	if err := os.WriteFile(filepath.Join(repo.Dir, "c"), []byte("one\nfix2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo.Git(t, "add", "c")
	repo.Git(t, "-c", "core.editor=true", "cherry-pick", "--continue")
	resolved := repo.Head(t)
	repo.Git(t, "revert", "--no-edit", picked)
	reverted := repo.Head(t)

	// gitCherry is git's own answer: whether tip has a commit with
	// commit's patch-id among those commit lacks.
	gitCherry := func(commit, tip string) bool {
		out := repo.Git(t, "cherry", tip, commit, commit+"^")
		return strings.HasPrefix(out, "- ")
	}
	for _, tt := range []struct {
		name        string
		commit, tip string
		want        slipway.CherryPick
	}{
		{"the fix, picked onto the release", fix, picked, slipway.CherryPick{Commit: picked}},
		{"the fix, picked, in a later release", fix, resolved, slipway.CherryPick{Commit: picked}},
		{"the fix, picked then reverted", fix, reverted, slipway.CherryPick{Commit: picked, RevertedBy: reverted}},
		{"fix2, picked with a conflict resolved", fix2, resolved, slipway.CherryPick{}},
		{"the pick, back on main (same patch as the fix)", picked, merge, slipway.CherryPick{Commit: fix}},
	} {
		got, err := c.CherryPick(t.Context(), repo.URL, tt.commit, tt.tip)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got != tt.want {
			t.Errorf("%s: CherryPick = %+v, want %+v", tt.name, got, tt.want)
		}
		if git := gitCherry(tt.commit, tt.tip); got.Commit != "" != git {
			t.Errorf("%s: CherryPick found %q, git cherry says equivalent: %v", tt.name, got.Commit, git)
		}
	}
	// The revert's patch is the pick's undone, as git computes it.
	undo := repo.GitInput(t, []byte(repo.Git(t, "diff", fix, fix+"^")+"\n"), "patch-id", "--stable")
	revert := repo.GitInput(t, []byte(repo.Git(t, "show", reverted)+"\n"), "patch-id", "--stable")
	if strings.Fields(undo)[0] != strings.Fields(revert)[0] {
		t.Errorf("git: the revert's patch-id %s is not the fix's reverse %s", revert, undo)
	}

	if got, err := c.CherryPick(t.Context(), repo.URL, merge, reverted); err != nil || got != (slipway.CherryPick{}) {
		t.Errorf("a merge commit (no patch of its own): %+v, %v; want nothing", got, err)
	}
	// Many tips at once: a pick in any of them (reverted or not) may be
	// there; none in any, none.
	for _, tt := range []struct {
		name   string
		commit string
		tips   []string
		want   bool
	}{
		{"the fix, picked in the release", fix, []string{merge, base, reverted}, true},
		{"fix2, whose pick changed the patch", fix2, []string{resolved, reverted, base}, false},
		{"a merge (no patch)", merge, []string{reverted}, false},
		{"no tips", fix, nil, false},
	} {
		got, err := c.MayHaveCherryPick(t.Context(), repo.URL, tt.commit, tt.tips)
		if err != nil || got != tt.want {
			t.Errorf("MayHaveCherryPick: %s: %v, %v; want %v", tt.name, got, err, tt.want)
		}
		any := false
		for _, tip := range tt.tips {
			if p, err := c.CherryPick(t.Context(), repo.URL, tt.commit, tip); err == nil && p.Commit != "" {
				any = true
			}
		}
		if any && !got {
			t.Errorf("MayHaveCherryPick: %s: false, but CherryPick finds one in a tip", tt.name)
		}
	}
	if got, err := newClient(t, true).MayHaveCherryPick(t.Context(), repo.URL, fix, []string{picked}); err != nil || !got {
		t.Errorf("MayHaveCherryPick on a new mirror: %v, %v; want true", got, err)
	}

	// The bound: from resolved, the newest commit is read, the pick is
	// beyond it.
	short := newClient(t, true)
	git.SetPickWalk(short, 1)
	if got, err := short.CherryPick(t.Context(), repo.URL, fix, resolved); err != nil || got != (slipway.CherryPick{Partial: true}) {
		t.Errorf("beyond the bound: %+v, %v; want nothing found, partial", got, err)
	}
	if got, err := short.CherryPick(t.Context(), repo.URL, fix, picked); err != nil || got != (slipway.CherryPick{Commit: picked}) {
		t.Errorf("within the bound: %+v, %v; want the pick", got, err)
	}
	if got, err := short.MayHaveCherryPick(t.Context(), repo.URL, fix2, []string{resolved}); err != nil || !got {
		t.Errorf("MayHaveCherryPick beyond the bound: %v, %v; want true (cannot tell)", got, err)
	}

	// A commit made after the mirror exists is fetched.
	repo.Git(t, "checkout", "-q", "-b", "release2", base)
	repo.Commit(t, map[string]string{"r": "2\n"}, "release 2")
	repo.Git(t, "cherry-pick", fix)
	later := repo.Head(t)
	if got, err := c.CherryPick(t.Context(), repo.URL, fix, later); err != nil || got.Commit != later {
		t.Errorf("a new pick: %+v, %v; want %s", got, err, later)
	}
	if got, err := c.CherryPick(t.Context(), repo.URL, strings.Repeat("ab", 20), later); err != nil || got != (slipway.CherryPick{}) {
		t.Errorf("a commit the repository does not have: %+v, %v; want nothing", got, err)
	}
	if _, err := c.CherryPick(t.Context(), repo.URL, fix, strings.Repeat("cd", 20)); !errors.Is(err, git.ErrRefNotFound) {
		t.Errorf("a tip the repository does not have: %v, want ErrRefNotFound", err)
	}
	if _, err := c.CherryPick(t.Context(), repo.URL, "abc123", later); !errors.Is(err, git.ErrRefNotFound) {
		t.Errorf("a short commit: %v, want ErrRefNotFound", err)
	}
}
