package slipway

import (
	"cmp"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// The sections of release notes, in the order they are shown.
const (
	SectionBreaking    NoteSection = "breaking"
	SectionFeatures    NoteSection = "feat"
	SectionFixes       NoteSection = "fix"
	SectionSecurity    NoteSection = "security"
	SectionPerformance NoteSection = "perf"
	SectionChanges     NoteSection = "changed"
	SectionDeprecated  NoteSection = "deprecated"
	SectionRemovals    NoteSection = "removed"
	SectionReverts     NoteSection = "revert"
	SectionRefactor    NoteSection = "refactor"
	SectionDocs        NoteSection = "docs"
	SectionTests       NoteSection = "test"
	SectionBuild       NoteSection = "build"
	SectionChores      NoteSection = "chore"
	SectionOther       NoteSection = "other"
)

// NoteSections lists the sections in the order notes show them.
var NoteSections = []NoteSection{
	SectionBreaking, SectionFeatures, SectionFixes, SectionSecurity, SectionPerformance, SectionChanges,
	SectionDeprecated, SectionRemovals, SectionReverts, SectionRefactor, SectionDocs, SectionTests,
	SectionBuild, SectionChores, SectionOther,
}

// Title is the section's heading.
func (s NoteSection) Title() string {
	switch s {
	case SectionBreaking:
		return "Breaking changes"
	case SectionFeatures:
		return "Features"
	case SectionFixes:
		return "Fixes"
	case SectionSecurity:
		return "Security"
	case SectionPerformance:
		return "Performance"
	case SectionChanges:
		return "Changes"
	case SectionDeprecated:
		return "Deprecations"
	case SectionRemovals:
		return "Removals"
	case SectionReverts:
		return "Reverts"
	case SectionRefactor:
		return "Refactoring"
	case SectionDocs:
		return "Documentation"
	case SectionTests:
		return "Tests"
	case SectionBuild:
		return "Build and CI"
	case SectionChores:
		return "Chores"
	case SectionOther:
	}
	return "Other changes"
}

// noteTypes maps a Conventional Commits type, or a Changelog trailer's
// value (GitLab's categories: added, fixed, changed, deprecated, removed,
// security, performance, other), lowercased, to its section.
var noteTypes = map[string]NoteSection{
	"feat": SectionFeatures, "feature": SectionFeatures, "added": SectionFeatures,
	"fix": SectionFixes, "fixed": SectionFixes, "bugfix": SectionFixes,
	"security": SectionSecurity,
	"perf":     SectionPerformance, "performance": SectionPerformance,
	"changed":    SectionChanges,
	"deprecated": SectionDeprecated, "deprecate": SectionDeprecated,
	"removed": SectionRemovals, "remove": SectionRemovals,
	"revert": SectionReverts, "reverted": SectionReverts,
	"refactor": SectionRefactor,
	"docs":     SectionDocs, "doc": SectionDocs,
	"test": SectionTests, "tests": SectionTests,
	"build": SectionBuild, "ci": SectionBuild,
	"chore": SectionChores, "style": SectionChores, "deps": SectionChores,
	"other":    SectionOther,
	"breaking": SectionBreaking,
}

var (
	// conventionalRE is a Conventional Commits subject: type(scope)!: text.
	conventionalRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_-]*)(?:\(([^()]*)\))?(!)?: +(\S.*)$`)
	// gitRevertRE is git's own revert subject.
	gitRevertRE = regexp.MustCompile(`^Revert "(.*)"$`)
	// revertsRE finds the commit git's revert message names.
	revertsRE = regexp.MustCompile(`(?m)^This reverts commit ([0-9a-f]{7,64})\b`)
	// breakingRE is a Conventional Commits breaking-change footer.
	breakingRE = regexp.MustCompile(`(?m)^BREAKING[ -]CHANGE: *\S`)
	// mergeSubjectRE is the subject git and the forges give a merge: the
	// merged request's title is then the body's first line.
	mergeSubjectRE = regexp.MustCompile(`^Merge (pull request #\d+ from |branch '|remote-tracking branch '|tag ')`)
)

// ClassifyCommit returns c as release notes list it. The rule:
//
//  1. A `Changelog:` trailer (any case; the last one) names the section:
//     a Conventional Commits type or one of GitLab's changelog
//     categories (added, fixed, changed, deprecated, removed, security,
//     performance, other). A value it does not know lists the commit
//     under Other, with the value as its type.
//  2. Otherwise the subject's Conventional Commits prefix,
//     `type(scope)!: text`, does (an unknown type: Other).
//  3. Otherwise git's own revert subject (`Revert "…"`) is a revert.
//  4. Everything else is Other: nothing is left out.
//
// A merge whose subject is git's or a forge's merge message ("Merge pull
// request #12 from …", "Merge branch '…'") is classified by the first line
// of its body instead (the request's title), when it has one: on a merge
// workflow the first-parent history is those merges. A breaking change
// (`type!:`, a `BREAKING CHANGE:` or `BREAKING-CHANGE:` footer, or
// `Changelog: breaking`) is listed under Breaking changes whatever its type.
func ClassifyCommit(c Commit) NoteCommit {
	n := NoteCommit{Commit: c, Title: c.Subject, Section: SectionOther}
	if len(c.Parents) > 1 && mergeSubjectRE.MatchString(c.Subject) {
		if first, _, _ := strings.Cut(strings.TrimSpace(c.Body), "\n"); strings.TrimSpace(first) != "" {
			n.Title = strings.TrimSpace(first)
		}
	}
	if m := conventionalRE.FindStringSubmatch(n.Title); m != nil {
		n.Type, n.Scope, n.Breaking, n.Title = strings.ToLower(m[1]), m[2], m[3] == "!", m[4]
		if s, ok := noteTypes[n.Type]; ok {
			n.Section = s
		}
	} else if gitRevertRE.MatchString(n.Title) {
		n.Section = SectionReverts
	}
	for _, t := range c.Trailers {
		if strings.EqualFold(t.Key, "Changelog") && t.Value != "" {
			n.Type = strings.ToLower(t.Value)
			n.Section = SectionOther
			if s, ok := noteTypes[n.Type]; ok {
				n.Section = s
			}
		}
	}
	if m := revertsRE.FindStringSubmatch(c.Body); m != nil {
		n.Reverts = m[1]
	}
	if breakingRE.MatchString(c.Body) || n.Section == SectionBreaking {
		n.Breaking = true
	}
	if n.Breaking {
		n.Section = SectionBreaking
	}
	return n
}

// RepoWeb is the web front of a repository on a forge whose URL scheme is
// known: it links commits and comparisons.
type RepoWeb struct {
	// URL is the repository's page.
	URL  string
	kind string
}

// The forges RepoWebOf knows.
const (
	forgeGitHub = "github"
	forgeGitLab = "gitlab"
	forgeGitea  = "gitea"
	forgeGerrit = "gerrit"
)

// repoPathRE is a repository path a link may carry.
var repoPathRE = regexp.MustCompile(`^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)+$`)

// RepoWebOf returns the web front of repository, a clone URL (https,
// http, ssh or scp-like git@host:path; a credential in it is dropped), and
// whether its host is one whose URLs are known:
//
//   - github.com: https://github.com/owner/repo, /commit/SHA, /compare/A...B;
//   - gitlab.com, gitlab.wikimedia.org and hosts named gitlab.*:
//     https://host/group/…/repo, /-/commit/SHA, /-/compare/A...B;
//   - codeberg.org, gitea.com and hosts named gitea.* or forgejo.*
//     (Gitea and Forgejo): /commit/SHA, /compare/A...B;
//   - gerrit.wikimedia.org (Gerrit's gitiles):
//     https://gerrit.wikimedia.org/r/plugins/gitiles/project, /+/SHA, /+log/A..B.
//
// A local repository (file://, a path) or any other host has none: a link
// guessed for an unknown forge would more often be wrong than right.
func RepoWebOf(repository string) (RepoWeb, bool) {
	host, path, ok := splitCloneURL(repository)
	if !ok {
		return RepoWeb{}, false
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	first, _, _ := strings.Cut(host, ".")
	kind := ""
	switch {
	case host == "github.com":
		kind = forgeGitHub
	case host == "gitlab.com" || first == "gitlab":
		kind = forgeGitLab
	case host == "codeberg.org" || host == "gitea.com" || first == "gitea" || first == "forgejo":
		kind = forgeGitea
	case host == "gerrit.wikimedia.org":
		kind = forgeGerrit
		// Clone URLs: /r/project, /r/p/project (old), or ssh's /project.
		path = strings.TrimPrefix(strings.TrimPrefix(path, "r/"), "p/")
	default:
		return RepoWeb{}, false
	}
	if !repoPathRE.MatchString(path) || strings.Contains(path, "..") {
		return RepoWeb{}, false
	}
	if kind == forgeGitHub && strings.Count(path, "/") != 1 {
		return RepoWeb{}, false
	}
	if kind == forgeGerrit {
		return RepoWeb{URL: "https://" + host + "/r/plugins/gitiles/" + path, kind: kind}, true
	}
	return RepoWeb{URL: "https://" + host + "/" + path, kind: kind}, true
}

// splitCloneURL returns the web host (an https URL's port kept, an ssh
// port dropped) and the path of a remote clone URL.
func splitCloneURL(repository string) (host, path string, ok bool) {
	if !strings.Contains(repository, "://") {
		// scp-like: [user@]host:path
		at := strings.LastIndex(repository, "@")
		h, p, found := strings.Cut(repository[at+1:], ":")
		if !found || h == "" || strings.Contains(h, "/") {
			return "", "", false
		}
		return strings.ToLower(h), p, true
	}
	u, err := url.Parse(repository)
	if err != nil || u.Host == "" {
		return "", "", false
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "http":
		host = strings.ToLower(u.Host)
		if p := u.Port(); p == "443" || p == "80" {
			host = strings.ToLower(u.Hostname())
		}
	case "ssh", "git+ssh", "ssh+git", "git":
		host = strings.ToLower(u.Hostname())
	default:
		return "", "", false
	}
	return host, u.Path, true
}

// CommitURL returns the page of commit.
func (w RepoWeb) CommitURL(commit string) string {
	switch w.kind {
	case forgeGitLab:
		return w.URL + "/-/commit/" + commit
	case forgeGerrit:
		return w.URL + "/+/" + commit
	case "":
		return ""
	}
	return w.URL + "/commit/" + commit
}

// CompareURL returns the page of the changes from one commit to another.
func (w RepoWeb) CompareURL(from, to string) string {
	switch w.kind {
	case forgeGitLab:
		return w.URL + "/-/compare/" + from + "..." + to
	case forgeGerrit:
		return w.URL + "/+log/" + from + ".." + to
	case "":
		return ""
	}
	return w.URL + "/compare/" + from + "..." + to
}

// ReleaseNotesMarkdown renders notes as Markdown: per component, its two
// releases, then its commits by section, newest first within a section;
// commits link to the forge when the repository's is known. Text from
// commits is escaped, so that a subject cannot inject markup or links.
func ReleaseNotesMarkdown(notes ReleaseNotes) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Release notes: %s, %s\n", mdEscape(notes.Tool), mdEscape(notes.Environment))
	if len(notes.Components) == 0 {
		b.WriteString("\nNo releases to compare.\n")
		return b.String()
	}
	var unchanged []string
	for _, cn := range notes.Components {
		if cn.Change == NotesUnchanged {
			unchanged = append(unchanged, fmt.Sprintf("%s (release %d, %s)", mdEscape(cn.Component), cn.To.Seq, shortCode(cn.To.Commit)))
			continue
		}
		writeComponentNotes(&b, cn)
	}
	if len(unchanged) > 0 {
		fmt.Fprintf(&b, "\nUnchanged: %s.\n", strings.Join(unchanged, ", "))
	}
	return b.String()
}

// writeComponentNotes writes one component's notes.
func writeComponentNotes(b *strings.Builder, cn ComponentNotes) {
	from := "nothing"
	if cn.From.Seq != 0 {
		from = fmt.Sprintf("release %d", cn.From.Seq)
	}
	fmt.Fprintf(b, "\n## %s: %s → release %d\n\n", mdEscape(cn.Component), from, cn.To.Seq)
	web, _ := RepoWebOf(cn.Repository)
	link := func(commit string) string {
		if u := web.CommitURL(commit); u != "" {
			return "[" + shortCode(commit) + "](" + u + ")"
		}
		return shortCode(commit)
	}
	span := shortCode(cn.From.Commit) + " → " + shortCode(cn.To.Commit)
	if u := web.CompareURL(cn.From.Commit, cn.To.Commit); u != "" && cn.From.Commit != "" && cn.To.Commit != "" {
		span += " ([compare](" + u + "))"
	}
	switch cn.Change {
	case NotesChanged:
		fmt.Fprintf(b, "%s, %s.\n", plural(len(cn.Commits), "commit"), span)
	case NotesRolledBack:
		fmt.Fprintf(b, "> **Rolled back.** Release %d runs %s, an ancestor of release %d's %s: it takes out %s.\n",
			cn.To.Seq, link(cn.To.Commit), cn.From.Seq, link(cn.From.Commit), plural(len(cn.Removed), "commit"))
	case NotesRewritten:
		base := "they share no commit among the ones looked at"
		if cn.Base != "" {
			base = "since their last shared commit " + link(cn.Base)
		}
		fmt.Fprintf(b, "> **History rewritten.** Release %d's commit %s is not an ancestor of release %d's %s: the branch was "+
			"rewritten between them (a force push). Listed: %s of release %d that release %d does not have, %s; "+
			"then the %s of release %d that release %d no longer has.\n",
			cn.From.Seq, link(cn.From.Commit), cn.To.Seq, link(cn.To.Commit),
			plural(len(cn.Commits), "first-parent commit"), cn.To.Seq, cn.From.Seq, base,
			plural(len(cn.Removed), "commit"), cn.From.Seq, cn.To.Seq)
	case NotesAdded:
		if cn.To.Commit == "" {
			b.WriteString("A new component, running a prebuilt image.\n")
		} else {
			fmt.Fprintf(b, "A new component, at %s.\n", link(cn.To.Commit))
		}
	case NotesRemoved:
		fmt.Fprintf(b, "Removed from the environment by release %d.\n", cn.To.Seq)
	case NotesUnknown:
		fmt.Fprintf(b, "%s\n", mdEscape(cmp.Or(cn.Note, "No history to compare.")))
	case NotesUnchanged: // listed apart
	case CutDiverged: // cut notes only (CutNotesMarkdown)
	}
	if cn.Note != "" && cn.Change != NotesUnknown {
		fmt.Fprintf(b, "\n%s\n", mdEscape(cn.Note))
	}
	if cn.Truncated {
		fmt.Fprintf(b, "\n> Only the newest %d commits of a list are shown: the span is longer.\n", maxListed(cn))
	}
	writeSections(b, cn.Commits, link)
	if len(cn.Removed) > 0 {
		fmt.Fprintf(b, "\n### No longer included\n\n")
		for _, c := range cn.Removed {
			writeCommitLine(b, c, link)
		}
	}
}

// maxListed is the longer of a component's two lists.
func maxListed(cn ComponentNotes) int { return max(len(cn.Commits), len(cn.Removed)) }

// writeSections writes commits grouped by section, in NoteSections order.
func writeSections(b *strings.Builder, commits []NoteCommit, link func(string) string) {
	for _, s := range NoteSections {
		first := true
		for _, c := range commits {
			if c.Section != s {
				continue
			}
			if first {
				fmt.Fprintf(b, "\n### %s\n\n", s.Title())
				first = false
			}
			writeCommitLine(b, c, link)
		}
	}
}

// writeCommitLine writes one commit as a list item.
func writeCommitLine(b *strings.Builder, c NoteCommit, link func(string) string) {
	b.WriteString("- ")
	if c.Scope != "" {
		fmt.Fprintf(b, "**%s:** ", mdEscape(c.Scope))
	}
	b.WriteString(mdEscape(c.Title))
	fmt.Fprintf(b, " (%s", link(c.Hash))
	if c.Section == SectionBreaking && c.Type != "" && c.Type != "breaking" {
		fmt.Fprintf(b, ", %s", mdEscape(c.Type))
	}
	if c.Reverts != "" {
		fmt.Fprintf(b, ", reverts %s", link(c.Reverts))
	}
	b.WriteString(")")
	if c.Author != "" {
		fmt.Fprintf(b, " by %s", mdEscape(c.Author))
	}
	b.WriteString("\n")
}

// shortCode is a commit's first 12 hex digits as code, or "none".
func shortCode(commit string) string {
	if commit == "" {
		return "none"
	}
	return "`" + commit[:min(len(commit), 12)] + "`"
}

// plural is "1 commit", "2 commits".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// mdEscaper backslash-escapes the characters that make Markdown markup or
// HTML, and folds line breaks.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", `\<`, ">", `\>`,
	"#", `\#`, "|", `\|`, "~", `\~`, "!", `\!`, "\r", " ", "\n", " ",
)

// mdEscape makes s plain text in Markdown.
func mdEscape(s string) string { return mdEscaper.Replace(s) }
