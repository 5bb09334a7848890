package slipway_test

import (
	"strings"
	"testing"

	"slipway.dev/slipway/internal/slipway"
)

// Ensure commits are grouped by the documented rule: a Changelog trailer,
// else the Conventional Commits prefix, else git's revert subject, else
// Other; merges by their request's title; breaking changes apart.
func TestClassifyCommit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		c        slipway.Commit
		section  slipway.NoteSection
		typ      string
		scope    string
		title    string
		breaking bool
		reverts  string
	}{
		{"feat", slipway.Commit{Subject: "feat: add x"}, slipway.SectionFeatures, "feat", "", "add x", false, ""},
		{"scoped fix", slipway.Commit{Subject: "fix(api): handle y"}, slipway.SectionFixes, "fix", "api", "handle y", false, ""},
		{"upper-case type", slipway.Commit{Subject: "Perf: faster"}, slipway.SectionPerformance, "perf", "", "faster", false, ""},
		{"chore, docs, refactor, ci", slipway.Commit{Subject: "ci: cache"}, slipway.SectionBuild, "ci", "", "cache", false, ""},
		{"bang is breaking", slipway.Commit{Subject: "feat(db)!: drop v1"}, slipway.SectionBreaking, "feat", "db", "drop v1", true, ""},
		{"footer is breaking", slipway.Commit{Subject: "refactor: y", Body: "text\n\nBREAKING CHANGE: z"}, slipway.SectionBreaking, "refactor", "", "y", true, ""},
		{"hyphen footer", slipway.Commit{Subject: "fix: y", Body: "BREAKING-CHANGE: z"}, slipway.SectionBreaking, "fix", "", "y", true, ""},
		{"unknown type", slipway.Commit{Subject: "wibble: y"}, slipway.SectionOther, "wibble", "", "y", false, ""},
		{"no prefix", slipway.Commit{Subject: "Update README"}, slipway.SectionOther, "", "", "Update README", false, ""},
		{"a colon without a type", slipway.Commit{Subject: "note: see: this"}, slipway.SectionOther, "note", "", "see: this", false, ""},
		{"the trailer wins", slipway.Commit{Subject: "chore: bump", Trailers: []slipway.Trailer{{"Changelog", "security"}}}, slipway.SectionSecurity, "security", "", "bump", false, ""},
		{"GitLab's categories", slipway.Commit{Subject: "Add x", Trailers: []slipway.Trailer{{"changelog", "Added"}}}, slipway.SectionFeatures, "added", "", "Add x", false, ""},
		{"an unknown trailer value", slipway.Commit{Subject: "feat: x", Trailers: []slipway.Trailer{{"Changelog", "misc"}}}, slipway.SectionOther, "misc", "", "x", false, ""},
		{"the last trailer", slipway.Commit{Subject: "x", Trailers: []slipway.Trailer{{"Changelog", "fixed"}, {"Changelog", "removed"}}}, slipway.SectionRemovals, "removed", "", "x", false, ""},
		{"git's revert", slipway.Commit{Subject: `Revert "feat: add x"`, Body: "This reverts commit 0123456789abcdef0123456789abcdef01234567."},
			slipway.SectionReverts, "", "", `Revert "feat: add x"`, false, "0123456789abcdef0123456789abcdef01234567"},
		{"a revert: prefix", slipway.Commit{Subject: "revert: x", Body: "This reverts commit abcdef1."}, slipway.SectionReverts, "revert", "", "x", false, "abcdef1"},
		{"a GitHub merge", slipway.Commit{Subject: "Merge pull request #12 from me/x", Body: "feat(ui): dark mode\n\nmore", Parents: []string{"a", "b"}},
			slipway.SectionFeatures, "feat", "ui", "dark mode", false, ""},
		{"a git merge without a body", slipway.Commit{Subject: "Merge branch 'x'", Parents: []string{"a", "b"}}, slipway.SectionOther, "", "", "Merge branch 'x'", false, ""},
		{"not a merge: the subject stays", slipway.Commit{Subject: "Merge branch 'x'", Body: "fix: y"}, slipway.SectionOther, "", "", "Merge branch 'x'", false, ""},
	} {
		got := slipway.ClassifyCommit(tt.c)
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
		{"https://gitlab.wikimedia.org/repos/cloud/toolforge/jobs-api.git", "https://gitlab.wikimedia.org/repos/cloud/toolforge/jobs-api",
			"https://gitlab.wikimedia.org/repos/cloud/toolforge/jobs-api/-/commit/" + sha, "https://gitlab.wikimedia.org/repos/cloud/toolforge/jobs-api/-/compare/" + old + "..." + sha},
		{"https://gitlab.com/g/sub/p", "https://gitlab.com/g/sub/p", "", ""},
		{"https://gitlab.example.org:8443/g/p.git", "https://gitlab.example.org:8443/g/p", "", ""},
		{"ssh://git@gitlab.example.org:2222/g/p.git", "https://gitlab.example.org/g/p", "", ""},
		{"https://codeberg.org/o/r.git", "https://codeberg.org/o/r", "https://codeberg.org/o/r/commit/" + sha, "https://codeberg.org/o/r/compare/" + old + "..." + sha},
		{"https://forgejo.example.org/o/r", "https://forgejo.example.org/o/r", "", ""},
		{"https://gerrit.wikimedia.org/r/mediawiki/core.git", "https://gerrit.wikimedia.org/r/plugins/gitiles/mediawiki/core",
			"https://gerrit.wikimedia.org/r/plugins/gitiles/mediawiki/core/+/" + sha, "https://gerrit.wikimedia.org/r/plugins/gitiles/mediawiki/core/+log/" + old + ".." + sha},
		{"https://gerrit.wikimedia.org/r/p/operations/puppet", "https://gerrit.wikimedia.org/r/plugins/gitiles/operations/puppet", "", ""},
		{"ssh://someone@gerrit.wikimedia.org:29418/mediawiki/core", "https://gerrit.wikimedia.org/r/plugins/gitiles/mediawiki/core", "", ""},
		{"file:///srv/repo", "", "", ""},
		{"/srv/repo", "", "", ""},
		{"https://git.example.org/o/r.git", "", "", ""},
		{"https://github.com/o/<script>", "", "", ""},
		{"https://github.com/../r", "", "", ""},
	} {
		w, ok := slipway.RepoWebOf(tt.repo)
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
	md := slipway.ReleaseNotesMarkdown(slipway.ReleaseNotes{Tool: "t", Environment: "production", Components: []slipway.ComponentNotes{{
		Component: "web", Change: slipway.NotesAdded, To: slipway.Release{Seq: 2, Commit: sha},
		Commits: []slipway.NoteCommit{slipway.ClassifyCommit(slipway.Commit{Hash: sha, Subject: "fix: [click](https://evil.example) <img src=x> *x*\n# h"})},
	}}})
	for _, bad := range []string{"[click](", " <img", " *x*", "\n# h"} {
		if strings.Contains(md, bad) {
			t.Errorf("the Markdown has %q unescaped:\n%s", bad, md)
		}
	}
}
