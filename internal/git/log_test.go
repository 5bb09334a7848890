package git_test

import (
	"slices"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/git"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

// Ensure FirstParentLog lists what `git log --first-parent to ^from`
// lists on a real history with a merge (the merge, not the branch's
// commits), a cherry-pick, a revert and a rewritten branch, with subjects,
// bodies, trailers and authors as git reads them, and names commits the
// repository lacks.
func TestFirstParentLog(t *testing.T) {
	t.Parallel()
	c := newClient(t, true)
	repo := slipwaytest.GitRepo(t, map[string]string{"a": "1"})
	base := repo.Head(t)
	repo.Git(t, "checkout", "-q", "-b", "feature")
	branchWork := repo.Commit(t, map[string]string{"f": "1"}, "feat(api): add the feature")
	repo.Commit(t, map[string]string{"f": "2"}, "wip")
	repo.Git(t, "checkout", "-q", "main")
	fix := repo.Commit(t, map[string]string{"a": "2"}, "fix: the bug")
	repo.Git(t, "merge", "-q", "--no-ff", "-m", "Merge pull request #12 from me/feature", "-m", "feat(api): add the feature", "feature")
	merged := repo.Head(t)
	repo.Git(t, "checkout", "-q", "-b", "release", base)
	repo.Git(t, "cherry-pick", "-x", fix)
	picked := repo.Head(t)
	repo.Git(t, "checkout", "-q", "main")
	repo.Git(t, "revert", "--no-edit", fix)
	reverted := repo.Head(t)
	trailed := repo.Commit(t, map[string]string{"s": "1"}, "harden the login\n\nA longer body.\n\nBREAKING CHANGE: sessions end\nChangelog: security\nSigned-off-by: A Person <a@example.org>")
	// The mirror has fetched trailed (as a deployment of it would have)
	// when main is rewritten from the merge on (a force push): it keeps
	// the commits the branch no longer has.
	if _, err := c.FirstParentLog(t.Context(), repo.URL, "", trailed, 1); err != nil {
		t.Fatal(err)
	}
	repo.Git(t, "reset", "-q", "--hard", merged)
	rewritten := repo.Commit(t, map[string]string{"r": "1"}, "feat: the rewritten history")

	hashes := func(l slipway.CommitLog) []string {
		var out []string
		for _, cm := range l.Commits {
			out = append(out, cm.Hash)
		}
		return out
	}
	for _, tt := range []struct {
		name     string
		from, to string
	}{
		{"a merge: the merge and main's own commits", base, merged},
		{"the whole history", "", trailed},
		{"the revert and the trailers", merged, trailed},
		{"a cherry-pick's branch", base, picked},
		{"the cherry-pick against main", picked, trailed},
		{"a force push: the new commits", trailed, rewritten},
		{"a force push: the old ones", rewritten, trailed},
		{"a rollback", trailed, merged},
		{"nothing", merged, merged},
	} {
		got, err := c.FirstParentLog(t.Context(), repo.URL, tt.from, tt.to, 0)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		args := []string{"log", "--first-parent", "--format=%H", tt.to}
		if tt.from != "" {
			args = append(args, "^"+tt.from)
		}
		var want []string
		if out := repo.Git(t, args...); out != "" {
			want = strings.Split(out, "\n")
		}
		if !slices.Equal(hashes(got), want) || got.Truncated || len(got.Missing) > 0 {
			t.Errorf("%s: %v (truncated %v, missing %v), git says %v", tt.name, hashes(got), got.Truncated, got.Missing, want)
		}
	}

	l, err := c.FirstParentLog(t.Context(), repo.URL, base, trailed, 0)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(hashes(l), branchWork) {
		t.Errorf("the branch's own commit %s is listed: first-parent lists the merge only", branchWork[:7])
	}
	byHash := map[string]slipway.Commit{}
	for _, cm := range l.Commits {
		byHash[cm.Hash] = cm
	}
	if m := byHash[merged]; m.Subject != "Merge pull request #12 from me/feature" || m.Body != "feat(api): add the feature" || len(m.Parents) != 2 ||
		m.Parents[0] != fix || m.Author != "Slipway Test" || m.AuthorEmail != "test@slipway.invalid" || m.AuthoredAt.IsZero() {
		t.Errorf("the merge = %+v", m)
	}
	if r := byHash[reverted]; r.Subject != `Revert "fix: the bug"` || !strings.Contains(r.Body, "This reverts commit "+fix) {
		t.Errorf("the revert = %+v", r)
	}
	want := []slipway.Trailer{{Key: "BREAKING CHANGE", Value: "sessions end"}, {Key: "Changelog", Value: "security"}, {Key: "Signed-off-by", Value: "A Person <a@example.org>"}}
	if tr := byHash[trailed]; tr.Subject != "harden the login" || !slices.Equal(tr.Trailers, want) && !slices.Equal(tr.Trailers, want[1:]) {
		t.Errorf("the trailers of %q = %+v, want %+v (as git parses them)", tr.Subject, tr.Trailers, want)
	}

	// Bounded: the newest ones, and said so.
	if l, err := c.FirstParentLog(t.Context(), repo.URL, "", trailed, 2); err != nil || len(l.Commits) != 2 || !l.Truncated || l.Commits[0].Hash != trailed {
		t.Errorf("limit 2: %v, %v", l, err)
	}
	// A commit the repository does not have, even after a fetch.
	gone := strings.Repeat("ab", 20)
	if l, err := c.FirstParentLog(t.Context(), repo.URL, gone, trailed, 0); err != nil || !slices.Equal(l.Missing, []string{gone}) || len(l.Commits) != 0 {
		t.Errorf("a missing from: %+v, %v", l, err)
	}
	if _, err := c.FirstParentLog(t.Context(), repo.URL, base, "abc123", 0); err == nil {
		t.Error("a short SHA: no error")
	}
	// A commit made after the mirror was, fetched.
	repo.Git(t, "checkout", "-q", "main")
	later := repo.Commit(t, map[string]string{"l": "1"}, "docs: later")
	if l, err := c.FirstParentLog(t.Context(), repo.URL, rewritten, later, 0); err != nil || !slices.Equal(hashes(l), []string{later}) {
		t.Errorf("a later commit: %+v, %v", l, err)
	}
	if git.MaxLogCommits != 10_000 {
		t.Errorf("MaxLogCommits = %d", git.MaxLogCommits)
	}
}
