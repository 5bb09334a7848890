package trigger_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/trigger"
)

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
// 1-minute interval. Each iteration is one minute on the poller's clock,
// walked in 1-second ticks as Run does, configs read again every 10 s. It
// reports the ls-remotes a minute (goal: at most 100) and the CPU time
// they and the poller used, this process and its git children, as a share
// of one core over that minute (goal: under 5%).
func BenchmarkPoll(b *testing.B) {
	const tools, repos = 1000, 100
	s := newPollSetup(b)
	var dirs []string
	for range repos {
		dirs = append(dirs, slipwaytest.GitRepo(b, map[string]string{"Procfile": "web: true\n"}).Dir)
	}
	for i := range tools {
		tool := fmt.Sprintf("tool%04d", i)
		s.configure(b, tool, pollConfig(dirs[i%repos], "1m"))
		s.live(b, tool, "web", "0000000000000000000000000000000000000001"[:40])
	}
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
	if perMinute > repos*1.1 {
		b.Errorf("%.1f ls-remotes a minute for %d repositories", perMinute, repos)
	}
}
