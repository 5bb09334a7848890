package slipway

import (
	"strings"
	"testing"
)

// Ensure commits are grouped by the documented rule: a Changelog trailer,
// else the Conventional Commits prefix, else git's revert subject, else
// Other; merges by their request's title; breaking changes apart.
func TestClassifyCommit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		c        Commit
		section  NoteSection
		typ      string
		scope    string
		title    string
		breaking bool
		reverts  string
	}{
		{"feat", Commit{Subject: "feat: add x"}, SectionFeatures, "feat", "", "add x", false, ""},
		{"scoped fix", Commit{Subject: "fix(api): handle y"}, SectionFixes, "fix", "api", "handle y", false, ""},
		{"upper-case type", Commit{Subject: "Perf: faster"}, SectionPerformance, "perf", "", "faster", false, ""},
		{"chore, docs, refactor, ci", Commit{Subject: "ci: cache"}, SectionBuild, "ci", "", "cache", false, ""},
		{"bang is breaking", Commit{Subject: "feat(db)!: drop v1"}, SectionBreaking, "feat", "db", "drop v1", true, ""},
		{"footer is breaking", Commit{Subject: "refactor: y", Body: "text\n\nBREAKING CHANGE: z"}, SectionBreaking, "refactor", "", "y", true, ""},
		{"hyphen footer", Commit{Subject: "fix: y", Body: "BREAKING-CHANGE: z"}, SectionBreaking, "fix", "", "y", true, ""},
		{"unknown type", Commit{Subject: "wibble: y"}, SectionOther, "wibble", "", "y", false, ""},
		{"no prefix", Commit{Subject: "Update README"}, SectionOther, "", "", "Update README", false, ""},
		{"a colon without a type", Commit{Subject: "note: see: this"}, SectionOther, "note", "", "see: this", false, ""},
		{"the trailer wins", Commit{Subject: "chore: bump", Trailers: []Trailer{{Key: "Changelog", Value: "security"}}}, SectionSecurity, "security", "", "bump", false, ""},
		{"GitLab's categories", Commit{Subject: "Add x", Trailers: []Trailer{{Key: "changelog", Value: "Added"}}}, SectionFeatures, "added", "", "Add x", false, ""},
		{"an unknown trailer value", Commit{Subject: "feat: x", Trailers: []Trailer{{Key: "Changelog", Value: "misc"}}}, SectionOther, "misc", "", "x", false, ""},
		{"the last trailer", Commit{Subject: "x", Trailers: []Trailer{{Key: "Changelog", Value: "fixed"}, {Key: "Changelog", Value: "removed"}}}, SectionRemovals, "removed", "", "x", false, ""},
		{
			"git's revert",
			Commit{Subject: `Revert "feat: add x"`, Body: "This reverts commit 0123456789abcdef0123456789abcdef01234567."},
			SectionReverts, "", "", `Revert "feat: add x"`, false, "0123456789abcdef0123456789abcdef01234567",
		},
		{"a revert: prefix", Commit{Subject: "revert: x", Body: "This reverts commit abcdef1."}, SectionReverts, "revert", "", "x", false, "abcdef1"},
		{
			"a GitHub merge",
			Commit{Subject: "Merge pull request #12 from me/x", Body: "feat(ui): dark mode\n\nmore", Parents: []string{"a", "b"}},
			SectionFeatures, "feat", "ui", "dark mode", false, "",
		},
		{"a git merge without a body", Commit{Subject: "Merge branch 'x'", Parents: []string{"a", "b"}}, SectionOther, "", "", "Merge branch 'x'", false, ""},
		{"not a merge: the subject stays", Commit{Subject: "Merge branch 'x'", Body: "fix: y"}, SectionOther, "", "", "Merge branch 'x'", false, ""},
	} {
		got := ClassifyCommit(tt.c)
		if got.Section != tt.section || got.Type != tt.typ || got.Scope != tt.scope || got.Title != tt.title || got.Breaking != tt.breaking || got.Reverts != tt.reverts {
			t.Errorf("%s: got section %q type %q scope %q title %q breaking %v reverts %q", tt.name, got.Section, got.Type, got.Scope, got.Title, got.Breaking, got.Reverts)
		}
	}
}

// Ensure web URLs are derived for the known forges' clone URLs, and for
// nothing else.
func TestRepoWebOf(t *testing.T) {
	t.Parallel()
	const sha, old = "0123456789abcdef0123456789abcdef01234567", "89abcdef0123456789abcdef0123456789abcdef"
	for _, tt := range []struct {
		repo, web, commit, compare string
	}{
		{"https://github.com/o/r.git", "https://github.com/o/r", "https://github.com/o/r/commit/" + sha, "https://github.com/o/r/compare/" + old + "..." + sha},
		{"git@github.com:o/r.git", "https://github.com/o/r", "https://github.com/o/r/commit/" + sha, ""},
		{"ssh://git@github.com/o/r", "https://github.com/o/r", "", ""},
		{"https://***@github.com/o/r", "https://github.com/o/r", "", ""},
		{"https://github.com/o/r/extra", "", "", ""},
		{
			"https://gitlab.wikimedia.org/repos/cloud/toolforge/jobs-api.git", "https://gitlab.wikimedia.org/repos/cloud/toolforge/jobs-api",
			"https://gitlab.wikimedia.org/repos/cloud/toolforge/jobs-api/-/commit/" + sha, "https://gitlab.wikimedia.org/repos/cloud/toolforge/jobs-api/-/compare/" + old + "..." + sha,
		},
		{"https://gitlab.com/g/sub/p", "https://gitlab.com/g/sub/p", "", ""},
		{"https://gitlab.example.org:8443/g/p.git", "https://gitlab.example.org:8443/g/p", "", ""},
		{"ssh://git@gitlab.example.org:2222/g/p.git", "https://gitlab.example.org/g/p", "", ""},
		{"https://codeberg.org/o/r.git", "https://codeberg.org/o/r", "https://codeberg.org/o/r/commit/" + sha, "https://codeberg.org/o/r/compare/" + old + "..." + sha},
		{"https://forgejo.example.org/o/r", "https://forgejo.example.org/o/r", "", ""},
		{
			"https://gerrit.wikimedia.org/r/mediawiki/core.git", "https://gerrit.wikimedia.org/r/plugins/gitiles/mediawiki/core",
			"https://gerrit.wikimedia.org/r/plugins/gitiles/mediawiki/core/+/" + sha, "https://gerrit.wikimedia.org/r/plugins/gitiles/mediawiki/core/+log/" + old + ".." + sha,
		},
		{"https://gerrit.wikimedia.org/r/p/operations/puppet", "https://gerrit.wikimedia.org/r/plugins/gitiles/operations/puppet", "", ""},
		{"ssh://someone@gerrit.wikimedia.org:29418/mediawiki/core", "https://gerrit.wikimedia.org/r/plugins/gitiles/mediawiki/core", "", ""},
		{"file:///srv/repo", "", "", ""},
		{"/srv/repo", "", "", ""},
		{"https://git.example.org/o/r.git", "", "", ""},
		{"https://github.com/o/<script>", "", "", ""},
		{"https://github.com/../r", "", "", ""},
	} {
		w, ok := RepoWebOf(tt.repo)
		if w.URL != tt.web || ok != (tt.web != "") {
			t.Errorf("RepoWebOf(%q) = %q, %v; want %q", tt.repo, w.URL, ok, tt.web)
		}
		if tt.commit != "" && w.CommitURL(sha) != tt.commit {
			t.Errorf("%s: commit URL %q, want %q", tt.repo, w.CommitURL(sha), tt.commit)
		}
		if tt.compare != "" && w.CompareURL(old, sha) != tt.compare {
			t.Errorf("%s: compare URL %q, want %q", tt.repo, w.CompareURL(old, sha), tt.compare)
		}
		if !ok && (w.CommitURL(sha) != "" || w.CompareURL(old, sha) != "") {
			t.Errorf("%s: links without a web front", tt.repo)
		}
	}
}

// Ensure the Markdown escapes commit text: a subject cannot add a link,
// HTML or a heading.
func TestReleaseNotesMarkdown_Escapes(t *testing.T) {
	t.Parallel()
	sha := strings.Repeat("ab", 20)
	md := ReleaseNotesMarkdown(ReleaseNotes{Tool: "t", Environment: "production", Components: []ComponentNotes{{
		Component: "web", Change: NotesAdded, To: Release{Seq: 2, Commit: sha},
		Commits: []NoteCommit{ClassifyCommit(Commit{Hash: sha, Subject: "fix: [click](https://evil.example) <img src=x> *x*\n# h"})},
	}}})
	for _, bad := range []string{"[click](", " <img", " *x*", "\n# h"} {
		if strings.Contains(md, bad) {
			t.Errorf("the Markdown has %q unescaped:\n%s", bad, md)
		}
	}
}

// Ensure the Markdown says what each kind of change is, links commits and
// the comparison on a known forge, and says when a list was cut.
func TestReleaseNotesMarkdown_Changes(t *testing.T) {
	t.Parallel()
	a, b := strings.Repeat("a", 40), strings.Repeat("b", 40)
	md := ReleaseNotesMarkdown(ReleaseNotes{Tool: "t", Environment: "staging", Components: []ComponentNotes{
		{
			Component: "web", Change: NotesChanged, Repository: "https://github.com/o/r.git", Truncated: true,
			From: Release{Seq: 1, Commit: a}, To: Release{Seq: 4, Commit: b},
			Commits: []NoteCommit{ClassifyCommit(Commit{Hash: b, Subject: "perf(db): faster", Author: "Ann"})},
		},
		{Component: "api", Change: NotesUnchanged, From: Release{Seq: 2, Commit: a}, To: Release{Seq: 5, Commit: a}},
		{Component: "img", Change: NotesUnknown, From: Release{Seq: 2}, To: Release{Seq: 5}, Note: "It runs a prebuilt image."},
		{Component: "old", Change: NotesRemoved, From: Release{Seq: 2, Commit: a}, To: Release{Seq: 6}},
		{Component: "new", Change: NotesAdded, To: Release{Seq: 6, Commit: b}, Repository: "git@gitlab.com:g/p.git"},
	}})
	for _, want := range []string{
		"# Release notes: t, staging\n",
		"## web: release 1 → release 4\n\n1 commit, `aaaaaaaaaaaa` → `bbbbbbbbbbbb` ([compare](https://github.com/o/r/compare/" + a + "..." + b + ")).\n",
		"> Only the newest 1 commits of a list are shown",
		"### Performance\n\n- **db:** faster ([`bbbbbbbbbbbb`](https://github.com/o/r/commit/" + b + ")) by Ann\n",
		"## img: release 2 → release 5\n\nIt runs a prebuilt image.\n",
		"## old: release 2 → release 6\n\nRemoved from the environment by release 6.\n",
		"## new: nothing → release 6\n\nA new component, at [`bbbbbbbbbbbb`](https://gitlab.com/g/p/-/commit/" + b + ").\n",
		"\nUnchanged: api (release 5, `aaaaaaaaaaaa`).\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown lacks %q:\n%s", want, md)
		}
	}
}
