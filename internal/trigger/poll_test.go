package trigger_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/git"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/sqlite"
	"slipway.dev/slipway/internal/toolconfig"
	"slipway.dev/slipway/internal/trigger"
)

// storeDeployer stands in for the deploy service where polling meets it:
// configs parsed from the store as the service parses them, and
// DeploymentCreateIf running check in a real store transaction, whose
// failure writes nothing. It records the deployments made. (The real
// service's deployments are what poll.txtar covers.)
type storeDeployer struct {
	st  store.Store
	mu  sync.Mutex
	got []slipway.DeployOptions
}

func (d *storeDeployer) ConfigGet(ctx context.Context, tool string) (slipway.ToolConfig, error) {
	sc, err := d.st.ConfigGetLatest(ctx, tool)
	if err != nil {
		return slipway.ToolConfig{}, err
	}
	r, err := toolconfig.ParseStored(sc.Raw)
	return r.Config, err
}

func (d *storeDeployer) DeploymentCreateIf(ctx context.Context, tool string, opts slipway.DeployOptions,
	check func(context.Context, store.Queries, slipway.Deployment) error,
) (slipway.Deployment, error) {
	dep := slipway.Deployment{Tool: tool, ID: fmt.Sprintf("20261207-120000-poll%06d", d.count()+1)}
	err := d.st.InTx(ctx, func(tx store.Tx) error { return check(ctx, tx, dep) })
	if err != nil {
		return slipway.Deployment{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got = append(d.got, opts)
	return dep, nil
}

func (d *storeDeployer) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.got)
}

// pollSetup is a store, real repositories and the git adapter, and a
// clock the test moves.
type pollSetup struct {
	st    *sqlite.DB
	git   *git.Client
	dep   *storeDeployer
	now   time.Time
	clock func() time.Time
}

func newPollSetup(t testing.TB) *pollSetup {
	t.Helper()
	st := openStore(t)
	g, err := git.New(git.Config{CacheDir: t.TempDir(), AllowLocal: true})
	if err != nil {
		t.Fatal(err)
	}
	s := &pollSetup{st: st, git: g, dep: &storeDeployer{st: st}, now: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	s.clock = func() time.Time { return s.now }
	return s
}

// configure stores tool's config (as the admin, so that its local
// repositories may be read) from YAML.
func (s *pollSetup) configure(t testing.TB, tool, yaml string) {
	t.Helper()
	r, err := toolconfig.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config of %s: %v", tool, err)
	}
	if err := s.st.ToolEnsure(t.Context(), tool, s.now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.ConfigCreateBy(t.Context(), tool, r.Config.Raw, slipway.ActorInternal, s.now); err != nil {
		t.Fatal(err)
	}
}

// live records component of tool as live at commit.
func (s *pollSetup) live(t testing.TB, tool, component, commit string) {
	t.Helper()
	err := s.st.LiveRunPut(t.Context(), slipway.LiveRun{
		Tool: tool, Component: component, Type: slipway.Continuous, SpecHash: "h", BuildKey: "k", Commit: commit,
		DeploymentID: "20261207-110000-aaaaaaaaaa", AppliedAt: s.now,
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (s *pollSetup) poller() *trigger.Poller {
	return trigger.NewPoller(s.st, s.dep, s.git, trigger.PollConfig{Floor: time.Second, Now: s.clock})
}

// round moves the clock by d and polls what is due.
func (s *pollSetup) round(t *testing.T, p *trigger.Poller, d time.Duration) int {
	t.Helper()
	s.now = s.now.Add(d)
	n, err := p.PollDue(t.Context())
	if err != nil {
		t.Fatalf("PollDue: %v", err)
	}
	return n
}

func pollConfig(repo, interval string) string {
	return pollConfigURL("file://"+repo, interval)
}

// pollConfigURL is pollConfig for a repository URL.
func pollConfigURL(url, interval string) string {
	return `components:
  web:
    build: {repository: "` + url + `", ref: main}
    run: {command: web}
x-slipway:
  poll: {interval: ` + interval + `}
`
}

// A new commit deploys the tool once; nothing new deploys nothing; a new
// poller on the same store (a server restart) does not deploy it again,
// and deploys the next commit once.
func TestPoll_NewCommitDeploysOnce(t *testing.T) {
	t.Parallel()
	s := newPollSetup(t)
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "web: true\n"})
	s.configure(t, "acme", pollConfig(repo.Dir, "10s"))
	s.live(t, "acme", "web", repo.Head(t))

	p := s.poller()
	if err := p.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The first poll comes within one interval (spread by jitter): live at
	// the head, it deploys nothing.
	s.round(t, p, 11*time.Second)
	if n := s.dep.count(); n != 0 {
		t.Fatalf("%d deployments with nothing new, want 0", n)
	}
	c2 := repo.Commit(t, map[string]string{"a": "2"}, "two")
	s.round(t, p, 12*time.Second)
	if n := s.dep.count(); n != 1 {
		t.Fatalf("%d deployments after one new commit, want 1", n)
	}
	if o := s.dep.got[0]; o.Trigger != "poll" || !strings.Contains(o.Description, "web main@"+c2[:12]) {
		t.Errorf("deployment %+v; want trigger poll naming web main@%s", o, c2[:12])
	}
	for range 3 {
		s.round(t, p, 12*time.Second)
	}
	if n := s.dep.count(); n != 1 {
		t.Fatalf("%d deployments after more polls of the same commit, want 1", n)
	}

	// A restart: a new poller on the same store.
	p2 := s.poller()
	if err := p2.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.round(t, p2, 11*time.Second)
	if n := s.dep.count(); n != 1 {
		t.Fatalf("%d deployments after a restart with nothing new, want 1", n)
	}
	repo.Commit(t, map[string]string{"a": "3"}, "three")
	s.round(t, p2, 12*time.Second)
	s.round(t, p2, 12*time.Second)
	if n := s.dep.count(); n != 2 {
		t.Fatalf("%d deployments after a third commit, want 2", n)
	}
}

// Two servers polling the same store find the same new commit: one
// deployment.
func TestPoll_TwoServersDeployOnce(t *testing.T) {
	t.Parallel()
	s := newPollSetup(t)
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "web: true\n"})
	s.configure(t, "acme", pollConfig(repo.Dir, "10s"))
	s.live(t, "acme", "web", repo.Head(t))
	a, b := s.poller(), s.poller()
	for _, p := range []*trigger.Poller{a, b} {
		if err := p.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	s.round(t, a, 11*time.Second)
	repo.Commit(t, map[string]string{"a": "2"}, "two")
	s.now = s.now.Add(12 * time.Second)
	var wg sync.WaitGroup
	for _, p := range []*trigger.Poller{a, b} {
		wg.Go(func() {
			if _, err := p.PollDue(t.Context()); err != nil {
				t.Errorf("PollDue: %v", err)
			}
		})
	}
	wg.Wait()
	if n := s.dep.count(); n != 1 {
		t.Fatalf("%d deployments from two servers, want 1", n)
	}
}

// Many tools following few repositories: one ls-remote per repository
// and interval, whatever the number of tools; a failing repository backs
// off instead of being asked every interval.
func TestPoll_OneLsRemotePerRepository(t *testing.T) {
	t.Parallel()
	s := newPollSetup(t)
	var repos []*slipwaytest.Repo
	for range 3 {
		repos = append(repos, slipwaytest.GitRepo(t, map[string]string{"Procfile": "web: true\n"}))
	}
	for i := range 30 {
		s.configure(t, fmt.Sprintf("tool%02d", i), pollConfig(repos[i%3].Dir, "1m"))
	}
	s.configure(t, "broken", pollConfig("/nonexistent/repo", "1m"))
	p := s.poller()
	if err := p.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if groups, _ := p.Stats(); groups != 4 {
		t.Fatalf("%d repository groups for 3 repositories and a broken one, want 4", groups)
	}
	for range 10 { // ten minutes, a poll every 6 s of them
		for range 10 {
			s.round(t, p, 6*time.Second)
		}
	}
	_, calls := p.Stats()
	// 3 repositories × 10 minutes, give or take the jitter's last one, and
	// the broken one at 1, 2, 4, 8 minutes…: at most 4 in ten minutes.
	if calls < 27 || calls > 30+4 {
		t.Errorf("%d ls-remotes in 10 minutes for 3 good repositories and a broken one, want 27..34", calls)
	}
	if n := s.dep.count(); n != 0 {
		t.Errorf("%d deployments, want 0 (nothing live, nothing new)", n)
	}
}
