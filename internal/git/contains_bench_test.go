package git_test

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/git"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

// benchCommits is the history's length: $SLIPWAY_BENCH_COMMITS, default
// 100,000 (the repository).
func benchCommits(b *testing.B) int {
	if s := os.Getenv("SLIPWAY_BENCH_COMMITS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2 {
			b.Fatalf("SLIPWAY_BENCH_COMMITS=%q: want a number of commits, at least 2", s)
		}
		return n
	}
	return 100_000
}

// linearHistory makes a repository whose main branch is n commits made
// with git fast-import, each changing one file, with Conventional Commits
// subjects (every seventh with a Changelog trailer); extra, when set, adds to
// the stream after each main commit i (its mark is :i). The commit-graph
// is written, as the mirror's fetches write it.
func linearHistory(b *testing.B, n int, extra func(stream *bytes.Buffer, i int)) *slipwaytest.Repo {
	repo := slipwaytest.GitRepo(b, map[string]string{"a": "0"})
	types := []string{"feat", "fix", "chore", "docs", "refactor(api)", "perf", "fix(ui)", "test", "ci", "feat!"}
	var stream bytes.Buffer
	for i := 1; i <= n; i++ {
		content := strconv.Itoa(i)
		msg := fmt.Sprintf("%s: change %d", types[i%len(types)], i)
		if i%7 == 0 {
			msg += "\n\nA body line.\n\nChangelog: fixed"
		}
		fmt.Fprintf(&stream, "commit refs/heads/main\nmark :%d\ncommitter Bench <b@example.org> %d +0000\ndata %d\n%s\n", i, 1700000000+i, len(msg), msg)
		if i == 1 {
			fmt.Fprintf(&stream, "from refs/heads/main^0\n")
		}
		fmt.Fprintf(&stream, "M 644 inline a\ndata %d\n%s\n", len(content), content)
		if extra != nil {
			extra(&stream, i)
		}
		stream.WriteString("\n")
	}
	repo.GitInput(b, stream.Bytes(), "fast-import", "--quiet", "--force")
	repo.Git(b, "reset", "-q", "--hard", "main")
	repo.Git(b, "commit-graph", "write", "--reachable")
	return repo
}

// BenchmarkContains answers "is the first commit in the tip?" (the whole
// history between them) and "is the tip in the first commit?" on a
// linear history made with git fast-import, with the mirror made: what
// `releases is-live` asks per release. Uncached is a new client's first
// answer (git walks the commit-graph); cached is a client's later one.
func BenchmarkContains(b *testing.B) {
	n := benchCommits(b)
	repo := linearHistory(b, n, nil)
	tip := repo.Head(b)
	first := repo.Git(b, "rev-list", "--max-parents=0", "HEAD")
	cache := b.TempDir()
	client := func() *git.Client {
		c, err := git.New(git.Config{CacheDir: cache, AllowLocal: true})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	c := client()
	if ok, err := c.Contains(b.Context(), repo.URL, first, tip); err != nil || !ok { // makes the mirror
		b.Fatalf("first in tip: %v, %v", ok, err)
	}
	for _, bc := range []struct {
		name         string
		commit, tip  string
		want, cached bool
	}{
		{"ancestor-uncached", first, tip, true, false},
		{"not-ancestor-uncached", tip, first, false, false},
		{"ancestor-cached", first, tip, true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if bc.cached { // the answer is cached before the clock starts
				if _, err := c.Contains(b.Context(), repo.URL, bc.commit, bc.tip); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				if !bc.cached {
					c = client() // the mirror stays, the answers' cache goes
				}
				if ok, err := c.Contains(b.Context(), repo.URL, bc.commit, bc.tip); err != nil || ok != bc.want {
					b.Fatalf("%v, %v", ok, err)
				}
			}
		})
	}
	b.ReportMetric(float64(n), "commits")
}

// BenchmarkCherryPick asks "is the fix cherry-picked into the tip?" on
// the history of BenchmarkContains, where the fix was made on a branch
// that forked from main git.MaxPickWalk commits before its tip, and main
// picked it right after the fork: the worst case within the bound, every
// patch since the fork is read. "beyond-bound" asks it of a fix forked
// from the root (the whole history since: only the newest MaxPickWalk
// commits are read, nothing is found, the answer says partial). Uncached
// is a new client's first answer (no patch-id cached: one diff-tree |
// patch-id pipeline over the range); cached is a client's later one.
func BenchmarkCherryPick(b *testing.B) {
	n := benchCommits(b)
	fork := max(1, n-git.MaxPickWalk)
	repo := linearHistory(b, n, func(stream *bytes.Buffer, i int) {
		if i == fork+1 { // main's pick of the fix: a new file
			stream.WriteString("M 644 inline fix\ndata 6\nfixed\n")
		}
	})
	tip := repo.Head(b)
	// The fix makes the change of main's commit fork+1 (a new file, and
	// file a as fork+1 has it) on a branch from commit fork.
	side := func(branch string, from string) string {
		a := strconv.Itoa(fork + 1)
		stream := fmt.Sprintf("commit refs/heads/%s\ncommitter Bench <b@example.org> 1600000000 +0000\ndata 4\nfix\nfrom %s\n"+
			"M 644 inline a\ndata %d\n%s\nM 644 inline fix\ndata 6\nfixed\n\n", branch, from, len(a), a)
		repo.GitInput(b, []byte(stream), "fast-import", "--quiet")
		return repo.Git(b, "rev-parse", branch)
	}
	first := repo.Git(b, "rev-list", "--max-parents=0", "HEAD")
	fix := side("fix", repo.Git(b, "rev-list", "--first-parent", "--skip", strconv.Itoa(n-fork), "-n", "1", "main"))
	rootFix := side("rootfix", first)
	pick := repo.Git(b, "rev-list", "--first-parent", "--skip", strconv.Itoa(n-fork-1), "-n", "1", "main")
	// A change made on a branch from fork and picked nowhere, and 200
	// releases of main since the fork (every 50th commit): what `releases
	// when` asks of a commit no release had.
	repo.GitInput(b, []byte("commit refs/heads/nopick\ncommitter Bench <b@example.org> 1600000000 +0000\ndata 7\nnopick\nfrom "+
		repo.Git(b, "rev-parse", "fix^")+"\nM 644 inline other\ndata 6\nother\n\n"), "fast-import", "--quiet")
	nopick := repo.Git(b, "rev-parse", "nopick")
	var releases []string
	for i, c := range strings.Fields(repo.Git(b, "rev-list", "--first-parent", "-n", "10000", "main")) {
		if i%50 == 0 {
			releases = append(releases, c)
		}
	}
	repo.Git(b, "commit-graph", "write", "--reachable")

	cache := b.TempDir()
	client := func() *git.Client {
		c, err := git.New(git.Config{CacheDir: cache, AllowLocal: true})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	c := client()
	if _, err := c.CherryPick(b.Context(), repo.URL, fix, tip); err != nil { // makes the mirror
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		commit string
		want   slipway.CherryPick
		cached bool
	}{
		{"found-uncached", fix, slipway.CherryPick{Commit: pick}, false},
		{"found-cached", fix, slipway.CherryPick{Commit: pick}, true},
		{"beyond-bound-uncached", rootFix, slipway.CherryPick{Partial: n-1 > git.MaxPickWalk}, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if bc.cached { // the answer is cached before the clock starts
				if _, err := c.CherryPick(b.Context(), repo.URL, bc.commit, tip); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				if !bc.cached {
					c = client() // the mirror stays, the caches go
				}
				if got, err := c.CherryPick(b.Context(), repo.URL, bc.commit, tip); err != nil || got != bc.want {
					b.Fatalf("%+v, %v; want %+v", got, err, bc.want)
				}
			}
		})
	}
	b.Run("when-200-releases-none-uncached", func(b *testing.B) {
		for b.Loop() {
			c = client()
			if may, err := c.MayHaveCherryPick(b.Context(), repo.URL, nopick, releases); err != nil || may {
				b.Fatalf("%v, %v; want none", may, err)
			}
		}
	})
	b.ReportMetric(float64(n), "commits")
}

// benchClient returns a function that makes a new client on one cache
// directory: the mirror stays, the answers' caches go.
func benchClient(b *testing.B) func() *git.Client {
	b.Helper()
	cache := b.TempDir()
	return func() *git.Client {
		c, err := git.New(git.Config{CacheDir: cache, AllowLocal: true})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
}

// BenchmarkNotes makes one component's release notes between two commits
// of the generated history, 200 and 5,000 first-parent commits apart, at
// its tip: what `releases notes` does per component (the log, the
// ancestry question, the grouping and the Markdown). Uncached is a new
// client's first answer (git reads the commits); cached a later one.
func BenchmarkNotes(b *testing.B) {
	n := benchCommits(b)
	repo := linearHistory(b, n, nil)
	tip := repo.Head(b)
	client := benchClient(b)
	notes := func(c *git.Client, from string, span int) {
		l, err := c.FirstParentLog(b.Context(), repo.URL, from, tip, 0)
		if err != nil || len(l.Commits) != span || l.Truncated {
			b.Fatalf("log: %d commits (truncated %v), %v; want %d", len(l.Commits), l.Truncated, err, span)
		}
		if ok, err := c.Contains(b.Context(), repo.URL, from, tip); err != nil || !ok {
			b.Fatalf("contains: %v, %v", ok, err)
		}
		cn := slipway.ComponentNotes{
			Component: "web", Change: slipway.NotesChanged,
			From: slipway.Release{Seq: 1, Commit: from}, To: slipway.Release{Seq: 2, Commit: tip},
			Commits: make([]slipway.NoteCommit, len(l.Commits)),
		}
		for i, cm := range l.Commits {
			cn.Commits[i] = slipway.ClassifyCommit(cm)
		}
		if md := slipway.ReleaseNotesMarkdown(slipway.ReleaseNotes{Tool: "bench", Environment: "production", Components: []slipway.ComponentNotes{cn}}); !strings.Contains(md, "### Breaking changes") {
			b.Fatalf("the notes lack breaking changes:\n%.500s", md)
		}
	}
	for _, span := range []int{200, 5000} {
		if span >= n {
			continue
		}
		from := repo.Git(b, "rev-parse", fmt.Sprintf("%s~%d", tip, span))
		notes(client(), from, span) // makes the mirror
		for _, cached := range []bool{false, true} {
			name := fmt.Sprintf("span-%d-uncached", span)
			if cached {
				name = fmt.Sprintf("span-%d-cached", span)
			}
			c := client()
			b.Run(name, func(b *testing.B) {
				if cached {
					notes(c, from, span) // once before the timed loop
				}
				for b.Loop() {
					if !cached {
						c = client()
					}
					notes(c, from, span)
				}
			})
		}
	}
	b.ReportMetric(float64(n), "commits")
}
