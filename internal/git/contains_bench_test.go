package git_test

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"testing"

	"slipway.dev/slipway/internal/git"
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

// BenchmarkContains answers "is the first commit in the tip?" (the whole
// history between them) and "is the tip in the first commit?" on a
// linear history made with git fast-import, with the mirror made: what
// `releases is-live` asks per release. Uncached is a new client's first
// answer (git walks the commit-graph); cached is a client's later one.
func BenchmarkContains(b *testing.B) {
	n := benchCommits(b)
	repo := slipwaytest.GitRepo(b, map[string]string{"a": "0"})
	var stream bytes.Buffer
	for i := 1; i <= n; i++ {
		content := strconv.Itoa(i)
		fmt.Fprintf(&stream, "commit refs/heads/main\nmark :%d\ncommitter Bench <b@example.org> %d +0000\ndata 4\nc%03d\n", i, 1700000000+i, i%1000)
		if i == 1 {
			fmt.Fprintf(&stream, "from refs/heads/main^0\n")
		}
		fmt.Fprintf(&stream, "M 644 inline a\ndata %d\n%s\n\n", len(content), content)
	}
	repo.GitInput(b, stream.Bytes(), "fast-import", "--quiet", "--force")
	repo.Git(b, "reset", "-q", "--hard", "main")
	tip := repo.Head(b)
	first := repo.Git(b, "rev-list", "--max-parents=0", "HEAD")
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
