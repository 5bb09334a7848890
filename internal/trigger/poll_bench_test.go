package trigger_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"slipway.dev/slipway/internal/git"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/trigger"
)

// TestMain serves git repositories over smart HTTP when the benchmark
// starts this test binary as its git server (a process of its own, so
// that the server's CPU is not counted as the poller's).
func TestMain(m *testing.M) {
	if root := os.Getenv(gitServerEnv); root != "" {
		os.Exit(serveGit(root))
	}
	os.Exit(m.Run())
}

const gitServerEnv = "SLIPWAY_TEST_GIT_HTTP_ROOT"

// serveGit serves the repositories under root on a loopback port, which
// it prints, until its standard input closes.
func serveGit(root string) int {
	g, err := slipwaytest.NewGitHTTP(root, filepath.Join(root, ".home"), "", "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
	return 0
}

// gitServer starts this test binary as a git HTTP server of root's
// repositories and returns its base URL; it stops with the benchmark.
func gitServer(b *testing.B, root string) string {
	b.Helper()
	if err := os.MkdirAll(filepath.Join(root, ".home"), 0o700); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0]) // this test binary, stopped by closing its stdin
	cmd.Env = append(os.Environ(), gitServerEnv+"="+root)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("git server: %v", err)
	}
	return "http://" + strings.TrimSpace(addr)
}

// cpuTime is the CPU time this process and its waited-for children (the
// git processes) used so far.
func cpuTime(b *testing.B) (self, children time.Duration) {
	b.Helper()
	var s, c syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &s); err != nil {
		b.Fatal(err)
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &c); err != nil {
		b.Fatal(err)
	}
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(s.Utime) + tv(s.Stime), tv(c.Utime) + tv(c.Stime)
}

// BenchmarkPoll is issue 15's polling load: 1,000 tools following 100
// distinct repositories (real ones, asked with the real git adapter) at a
// 1-minute interval, the repositories local (transport=file) or served
// by git http-backend in another process (transport=http), their refs
// listed natively (lister=native, the server's way) or by git ls-remote
// (lister=ls-remote, the way before). Each iteration is one minute on the
// poller's clock, walked in 1-second ticks as Run does, configs read
// again every 10 s. It reports the ls-remotes (repository listings) a
// minute (goal: at most 100) and the CPU time this process and its git
// children used, as a share of one core over that minute (goal: under
// 5%); %core-git is the children's part (the git server's CPU is not
// counted).
func BenchmarkPoll(b *testing.B) {
	for _, transport := range []string{"file", "http"} {
		b.Run("transport="+transport, func(b *testing.B) {
			s := newPollSetup(b)
			urls := pollRepos(b, transport)
			for i := range pollTools {
				tool := fmt.Sprintf("tool%04d", i)
				s.configure(b, tool, pollConfigURL(urls[i%len(urls)], "1m"))
				s.live(b, tool, "web", "0000000000000000000000000000000000000001"[:40])
			}
			for _, lister := range []string{"ls-remote", "native"} {
				b.Run("lister="+lister, func(b *testing.B) {
					g, err := git.New(git.Config{CacheDir: b.TempDir(), AllowLocal: true, LsRemoteOnly: lister == "ls-remote"})
					if err != nil {
						b.Fatal(err)
					}
					benchmarkPoll(b, s, g, len(urls))
				})
			}
		})
	}
}

const pollTools, pollRepoCount = 1000, 100

// pollRepos makes the benchmark's repositories and returns their URLs.
func pollRepos(b *testing.B, transport string) []string {
	b.Helper()
	root := b.TempDir()
	base := ""
	if transport == "http" {
		base = gitServer(b, root)
	}
	var urls []string
	for i := range pollRepoCount {
		repo := slipwaytest.GitRepo(b, map[string]string{"Procfile": "web: true\n"})
		if transport == "file" {
			urls = append(urls, "file://"+repo.Dir)
			continue
		}
		name := fmt.Sprintf("r%03d", i)
		if err := os.Symlink(repo.Dir, filepath.Join(root, name)); err != nil {
			b.Fatal(err)
		}
		urls = append(urls, base+"/"+name)
	}
	return urls
}

func benchmarkPoll(b *testing.B, s *pollSetup, g *git.Client, repos int) {
	s.git = g
	p := trigger.NewPoller(s.st, s.dep, s.git, trigger.PollConfig{Floor: time.Minute, Now: s.clock})
	// Warm-up: the first minute records every component's baseline (they
	// are "live" at another commit, so the first sight deploys each once).
	minute := func() {
		for sec := range 60 {
			if sec%10 == 0 {
				if err := p.Refresh(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			s.now = s.now.Add(time.Second)
			if _, err := p.PollDue(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
	}
	minute()
	minute()
	deployed := s.dep.count()
	_, before := p.Stats()
	self0, git0 := cpuTime(b)
	b.ResetTimer()
	for b.Loop() {
		minute()
	}
	b.StopTimer()
	self1, git1 := cpuTime(b)
	_, after := p.Stats()
	perMinute := float64(after-before) / float64(b.N)
	share := func(d time.Duration) float64 { return 100 * d.Seconds() / float64(b.N) / 60 }
	b.ReportMetric(perMinute, "ls-remote/min")
	b.ReportMetric(share(self1-self0+git1-git0), "%core")
	b.ReportMetric(share(git1-git0), "%core-git")
	if s.dep.count() != deployed {
		b.Errorf("%d deployments with no new commit", s.dep.count()-deployed)
	}
	if perMinute > float64(repos)*1.1 {
		b.Errorf("%.1f ls-remotes a minute for %d repositories", perMinute, repos)
	}
}
