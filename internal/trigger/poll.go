package trigger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"slipway.dev/slipway/internal/metrics"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// PollDeployer is what polling needs of the deploy service.
type PollDeployer interface {
	// ConfigGet returns the tool's current config.
	ConfigGet(ctx context.Context, tool string) (slipway.ToolConfig, error)
	// DeploymentCreateIf creates a deployment, running check in the
	// creating transaction; nothing is created when check fails.
	DeploymentCreateIf(ctx context.Context, tool string, opts slipway.DeployOptions,
		check func(ctx context.Context, q store.Queries, d slipway.Deployment) error) (slipway.Deployment, error)
}

// Resolver resolves refs of a repository with one ref listing (the git
// adapter: native for http(s) and local repositories, git ls-remote
// otherwise), with the credentials and rules of the context's
// [slipway.SourceScope].
type Resolver interface {
	ResolveAll(ctx context.Context, repository string, refs []string) (map[string]string, error)
}

// PollConfig holds the settings of [NewPoller].
type PollConfig struct {
	// Floor is the shortest interval the server polls at, whatever a
	// config asks; default 1m.
	Floor time.Duration
	// Refresh is how often the tools' configs are read again (a config
	// that polls nothing is not parsed); default 10s.
	Refresh time.Duration
	// MaxBackoff bounds the wait after failures; default 30m.
	MaxBackoff time.Duration
	// Concurrency is how many repositories are asked at once; default 4.
	Concurrency int
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Metrics counts the repositories asked; nil: none.
	Metrics *metrics.Metrics
}

// Poller deploys tools whose polled refs got new commits. It asks each
// distinct repository once per interval, whatever the number of tools
// and components that follow it: one ls-remote answers every ref of it.
type Poller struct {
	st     store.Store
	deploy PollDeployer
	git    Resolver
	cfg    PollConfig
	log    *slog.Logger

	mu     sync.Mutex
	groups map[groupKey]*group
	tools  map[string]*polledTool
	// seen holds, by tool and component, the ref and commit the store's
	// poll state was last known to hold: an observation that matches
	// costs no query.
	seen        map[string]string
	lastRefresh time.Time
	// lsRemotes counts the repository queries made (Stats).
	lsRemotes int
}

// NewPoller returns a poller over st's tools.
func NewPoller(st store.Store, d PollDeployer, git Resolver, cfg PollConfig) *Poller {
	cfg.Floor = cmp.Or(cfg.Floor, time.Minute)
	cfg.Refresh = cmp.Or(cfg.Refresh, 10*time.Second)
	cfg.MaxBackoff = cmp.Or(cfg.MaxBackoff, 30*time.Minute)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, 4)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Poller{st: st, deploy: d, git: git, cfg: cfg, log: cmp.Or(cfg.Logger, slog.Default()), groups: map[groupKey]*group{}, seen: map[string]string{}}
}

// groupKey is one repository as polling asks it: a public URL once for
// every tool; a URL with a tool's credential (https://***@…) once per
// tool, with that tool's credential; a local repository once per kind of
// config (the admin's, or a tool's under the server's allowed directories).
type groupKey struct {
	repo  string
	tool  string
	admin bool
}

// member is one polled component's ref.
type member struct {
	tool, component, ref string
	interval             time.Duration
}

// group is a repository and the refs polled in it.
type group struct {
	key      groupKey
	members  []member
	interval time.Duration
	next     time.Time
	failures int
	lastErr  string
}

// jitter returns a random duration in [0, d/10].
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d/10 + 1) //nolint:gosec // G404: spreading polls needs no secret randomness
}

// polledTool is what a tool's config version asks polling for, cached
// until the tool's newest config version changes.
type polledTool struct {
	version int
	members []member
	keys    []groupKey // parallel to members
}

// Refresh reads the tools' configs again and rebuilds the groups: one
// query for every tool's newest config version, and a config read and
// parsed only when its version changed (a config that polls nothing is
// not parsed at all). A group that already existed keeps its schedule and
// its failures.
func (p *Poller) Refresh(ctx context.Context) error {
	versions, err := p.st.ConfigVersions(ctx)
	if err != nil {
		return fmt.Errorf("poll: config versions: %w", err)
	}
	p.mu.Lock()
	cache := p.tools
	p.mu.Unlock()
	next := make(map[string]*polledTool, len(versions))
	for tool, v := range versions {
		if c := cache[tool]; c != nil && c.version == v {
			next[tool] = c
			continue
		}
		t, err := p.readTool(ctx, tool, v)
		if err != nil {
			return err
		}
		next[tool] = t
	}
	now := p.cfg.Now()
	groups := map[groupKey]*group{}
	for _, t := range next {
		for i, m := range t.members {
			key := t.keys[i]
			g := groups[key]
			if g == nil {
				g = &group{key: key, interval: m.interval}
				groups[key] = g
			}
			g.interval = min(g.interval, m.interval)
			g.members = append(g.members, m)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, g := range groups {
		slices.SortFunc(g.members, func(a, b member) int {
			return cmp.Or(cmp.Compare(a.tool, b.tool), cmp.Compare(a.component, b.component))
		})
		if old := p.groups[key]; old != nil {
			g.next, g.failures, g.lastErr = old.next, old.failures, old.lastErr
			if soon := now.Add(g.interval); g.failures == 0 && soon.Before(g.next) {
				g.next = soon // the interval shrank
			}
		} else {
			g.next = now.Add(rand.N(g.interval + 1)) //nolint:gosec // G404: spreading the first polls over an interval
		}
	}
	p.groups, p.tools, p.lastRefresh = groups, next, now
	return nil
}

// readTool reads what version v of tool's config asks polling for.
func (p *Poller) readTool(ctx context.Context, tool string, v int) (*polledTool, error) {
	t := &polledTool{version: v}
	stored, err := p.st.ConfigGetLatest(ctx, tool)
	if errors.Is(err, store.ErrNotFound) {
		return t, nil // deleted
	}
	if err != nil {
		return nil, fmt.Errorf("poll: config of %s: %w", tool, err)
	}
	if !strings.Contains(string(stored.Raw), `"poll"`) {
		return t, nil // cheap: most configs poll nothing and are not parsed
	}
	cfg, err := p.deploy.ConfigGet(ctx, tool)
	if err != nil {
		p.log.WarnContext(ctx, "poll: config", "tool", tool, "error", err.Error())
		return t, nil
	}
	pl := cfg.Policy.Poll
	if pl == nil {
		return t, nil
	}
	interval := max(pl.Interval, p.cfg.Floor)
	for _, name := range pl.Polled(cfg) {
		src := cfg.Components[name].Build.Source
		if src == nil {
			continue
		}
		key := groupKey{repo: src.Repository}
		switch {
		case strings.Contains(src.Repository, "***@"):
			key.tool = tool
		case isLocal(src.Repository):
			key.admin = stored.CreatedByAdmin
		}
		t.members = append(t.members, member{tool: tool, component: name, ref: src.Ref, interval: interval})
		t.keys = append(t.keys, key)
	}
	return t, nil
}

// isLocal reports whether a repository is on this machine (file:// or a
// path).
func isLocal(repo string) bool {
	return strings.HasPrefix(repo, "file://") || strings.HasPrefix(repo, "/")
}

// Stats says what the poller does: the groups (distinct repositories
// asked) and the ls-remotes made so far.
func (p *Poller) Stats() (groups, lsRemotes int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.groups), p.lsRemotes
}

// observation is a polled ref's commit, found in one round.
type observation struct {
	member
	commit string
}

// PollDue asks the repositories whose time has come, at most
// Concurrency at once, and deploys the tools whose refs moved. It returns
// how many repositories it asked.
func (p *Poller) PollDue(ctx context.Context) (int, error) {
	now := p.cfg.Now()
	p.mu.Lock()
	var due []*group
	for _, g := range p.groups {
		if !now.Before(g.next) {
			due = append(due, g)
		}
	}
	p.mu.Unlock()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen []observation
		sem  = make(chan struct{}, p.cfg.Concurrency)
	)
	for _, g := range due {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			obs := p.ask(ctx, g)
			mu.Lock()
			seen = append(seen, obs...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seen) == 0 {
		return len(due), nil
	}
	byTool := map[string][]observation{}
	for _, o := range seen {
		byTool[o.tool] = append(byTool[o.tool], o)
	}
	var errs []error
	for _, tool := range slices.Sorted(func(yield func(string) bool) {
		for t := range byTool {
			if !yield(t) {
				return
			}
		}
	}) {
		if err := p.act(ctx, tool, byTool[tool]); err != nil {
			errs = append(errs, err)
		}
	}
	return len(due), errors.Join(errs...)
}

// ask lists one group's repository's refs and schedules its next one.
func (p *Poller) ask(ctx context.Context, g *group) []observation {
	refs := make([]string, 0, len(g.members))
	for _, m := range g.members {
		if !slices.Contains(refs, m.ref) {
			refs = append(refs, m.ref)
		}
	}
	scope := slipway.SourceScope{Tool: g.members[0].tool, Admin: g.key.admin}
	got, err := p.git.ResolveAll(slipway.WithSourceScope(ctx, scope), g.key.repo, refs)
	now := p.cfg.Now()
	p.cfg.Metrics.Polled(err == nil || len(got) > 0)
	p.mu.Lock()
	p.lsRemotes++
	if err != nil && len(got) == 0 {
		g.failures++
		wait := min(g.interval<<min(g.failures, 16), p.cfg.MaxBackoff)
		g.next = now.Add(wait + jitter(wait))
		msg := err.Error()
		repeated := msg == g.lastErr
		g.lastErr = msg
		p.mu.Unlock()
		if !repeated {
			p.log.WarnContext(ctx, "poll: ask repository", "repository", slipway.RedactURL(g.key.repo), "failures", g.failures, "next_in", wait.String(), "error", msg)
		}
		return nil
	}
	g.failures, g.lastErr = 0, ""
	g.next = now.Add(g.interval + jitter(g.interval))
	p.mu.Unlock()
	if err != nil {
		p.log.WarnContext(ctx, "poll: some refs did not resolve", "repository", slipway.RedactURL(g.key.repo), "error", err.Error())
	}
	out := make([]observation, 0, len(g.members))
	for _, m := range g.members {
		if c, ok := got[m.ref]; ok {
			out = append(out, observation{member: m, commit: c})
		}
	}
	return out
}

// errMoved aborts a deployment whose poll state another server (or an
// earlier round) advanced first.
var errMoved = errors.New("the poll state moved meanwhile")

// act compares a tool's observed commits with what polling last saw, and
// records or deploys. A component polled for the first time (or whose ref
// changed) is compared with the commit it runs: the same is recorded as
// seen, another deploys; one that is not live is only recorded. Every
// moved component of the tool goes into one deployment, whose creating
// transaction advances their states: a commit deploys once.
func (p *Poller) act(ctx context.Context, tool string, obs []observation) error {
	p.mu.Lock()
	obs = slices.DeleteFunc(slices.Clone(obs), func(o observation) bool {
		return p.seen[seenKey(o.tool, o.component)] == o.ref+"\x00"+o.commit
	})
	p.mu.Unlock()
	if len(obs) == 0 {
		return nil
	}
	states, err := p.st.PollStateList(ctx, tool)
	if err != nil {
		return fmt.Errorf("poll %s: %w", tool, err)
	}
	byComp := map[string]store.PollState{}
	for _, s := range states {
		byComp[s.Component] = s
	}
	var live map[string]string // component → commit, read when needed
	now := p.cfg.Now()
	type move struct {
		from string
		next store.PollState
	}
	var moves []move
	for _, o := range obs {
		st, known := byComp[o.component]
		next := store.PollState{Tool: tool, Component: o.component, Ref: o.ref, Commit: o.commit, SeenAt: now}
		if known && st.Ref == o.ref {
			if st.Commit != o.commit {
				moves = append(moves, move{st.Commit, next})
			} else {
				p.remember(next)
			}
			continue
		}
		if live == nil {
			if live, err = p.liveCommits(ctx, tool); err != nil {
				return err
			}
		}
		if c, ok := live[o.component]; ok && c != o.commit {
			moves = append(moves, move{st.Commit, next})
			continue
		}
		// Not live, or live at this commit: a baseline, nothing to deploy.
		ok, err := p.st.PollStateAdvance(ctx, st.Commit, next)
		if err != nil {
			return fmt.Errorf("poll %s: %w", tool, err)
		}
		if ok {
			p.remember(next)
		}
	}
	if len(moves) == 0 {
		return nil
	}
	var names, what []string
	for _, m := range moves {
		names = append(names, m.next.Component)
		what = append(what, m.next.Component+" "+shortRef(m.next.Ref)+"@"+m.next.Commit[:min(12, len(m.next.Commit))])
	}
	d, err := p.deploy.DeploymentCreateIf(
		slipway.WithActor(ctx, slipway.Actor{Name: "poll", Tool: tool}), tool,
		slipway.DeployOptions{Trigger: slipway.TriggerPoll, Actor: "poll", Description: "new commits polled: " + strings.Join(what, ", ")},
		func(ctx context.Context, q store.Queries, _ slipway.Deployment) error {
			for _, m := range moves {
				ok, err := q.PollStateAdvance(ctx, m.from, m.next)
				if err != nil {
					return err
				}
				if !ok {
					return errMoved
				}
			}
			return nil
		})
	switch {
	case errors.Is(err, errMoved):
		return nil // another server deployed it
	case err != nil:
		return fmt.Errorf("poll %s: deploy %s: %w", tool, strings.Join(names, ", "), err)
	}
	for _, m := range moves {
		p.remember(m.next)
	}
	p.log.InfoContext(ctx, "poll: new commits deployed", "tool", tool, "deployment", d.ID, "components", strings.Join(what, ", "))
	return nil
}

// seenKey is the key of [Poller.seen].
func seenKey(tool, component string) string { return tool + "\x00" + component }

// remember notes that the store's poll state holds st.
func (p *Poller) remember(st store.PollState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen[seenKey(st.Tool, st.Component)] = st.Ref + "\x00" + st.Commit
}

// liveCommits returns the commit each live component of the tool runs.
func (p *Poller) liveCommits(ctx context.Context, tool string) (map[string]string, error) {
	runs, err := p.st.LiveRunList(ctx, tool)
	if err != nil {
		return nil, fmt.Errorf("poll %s: live components: %w", tool, err)
	}
	out := make(map[string]string, len(runs))
	for _, r := range runs {
		if r.Commit != "" {
			out[r.Component] = r.Commit
		}
	}
	return out, nil
}

// Run polls until ctx ends: the configs are read every Refresh, and the
// repositories asked as they come due (checked every second at most).
func (p *Poller) Run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if p.cfg.Now().Sub(p.lastRefreshed()) >= p.cfg.Refresh {
			if err := p.Refresh(ctx); err != nil && ctx.Err() == nil {
				p.log.WarnContext(ctx, "poll: refresh", "error", err.Error())
			}
		}
		if _, err := p.PollDue(ctx); err != nil && ctx.Err() == nil {
			p.log.WarnContext(ctx, "poll", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (p *Poller) lastRefreshed() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastRefresh
}
