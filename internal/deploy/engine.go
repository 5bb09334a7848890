package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/runner"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/target"
)

// Engine advances deployments: it implements [runner.Handler] for the
// durable jobs that start a deployment and run its steps, and owns what
// those share with the application services ([Deployments], [Builds],
// [Jobs]) in this process: the transaction helper that wakes workers and
// watchers after a commit ([Engine.tx]), the event broker, the registry of
// running steps that a cancel stops, and the build and one-off slots.
type Engine struct {
	store    store.Store
	source   Resolver
	builder  build.Builder
	target   target.Driver
	enqueuer Enqueuer
	notifier Notifier
	cfg      Config
	logger   *slog.Logger
	now      func() time.Time
	slots    chan struct{}
	toolMu   sync.Mutex
	perTool  map[string]chan struct{}
	events   *broker
	running  *runningSteps
	// oneOffs holds the one-off runs going on per tool (see limits.go).
	oneOffs *oneOffSlots

	// test holds the knobs of the concurrency tests, zero otherwise.
	test struct {
		// noLocks makes advance read its deployment without locking it,
		// to show what the lock prevents.
		noLocks bool
		// beforeCommit runs at the end of advance's transaction.
		beforeCommit func()
	}
}

// NewEngine returns an engine over its collaborators. Call SetEnqueuer
// before the first deployment is created.
func NewEngine(st store.Store, src Resolver, b build.Builder, tg target.Driver, cfg Config) *Engine {
	cfg = cfg.withDefaults()
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := cfg.NowFunc
	if now == nil {
		now = time.Now
	}
	return &Engine{
		store: st, source: src, builder: b, target: tg, cfg: cfg,
		logger:  logger.With("component", "deploy"),
		now:     func() time.Time { return now().UTC() },
		slots:   make(chan struct{}, cfg.BuildSlots),
		perTool: map[string]chan struct{}{},
		events:  newBroker(),
		running: newRunningSteps(),
		oneOffs: newOneOffSlots(cfg.Limits.Quota.ConcurrentOneOffs),
	}
}

// SetEnqueuer sets the queue that deployments are put on. The runner and
// the engine refer to each other, so one of them is wired after creation.
func (e *Engine) SetEnqueuer(q Enqueuer) { e.enqueuer = q }

// Interface guards.
var _ runner.Handler = (*Engine)(nil)

// toolSlots returns the build slots of a tool.
func (e *Engine) toolSlots(tool string) chan struct{} {
	e.toolMu.Lock()
	defer e.toolMu.Unlock()
	ch, ok := e.perTool[tool]
	if !ok {
		ch = make(chan struct{}, e.cfg.ToolBuildSlots)
		e.perTool[tool] = ch
	}
	return ch
}

// retryAfterError asks the runner to try a job again later without counting a
// failure (a deployment queued behind another one).
type retryAfterError time.Duration

func (r retryAfterError) Error() string { return "retry after " + time.Duration(r).String() }

func (r retryAfterError) RetryAfter() time.Duration { return time.Duration(r) }

// queuedRecheck is how long a deployment waiting behind another waits
// before its start job looks again. The finishing deployment makes the job
// due at once (finishTx); this is the fallback for a start job that was
// running at that moment.
const queuedRecheck = 5 * time.Second

// standaloneSlots returns the build slots a build started outside
// deployments takes, in order: one of its tool's, then one of the
// server's, as a deployment's build.
func (e *Engine) standaloneSlots(tool string) []chan struct{} {
	return []chan struct{}{e.toolSlots(tool), e.slots}
}

// ready returns an error unless deployments can be queued (SetEnqueuer
// was called).
func (e *Engine) ready() error {
	if e.enqueuer == nil {
		return errors.New("deploy: no enqueuer set")
	}
	return nil
}

// Causes of a step's work context ending, besides the server stopping.
var (
	errStepTimeout       = errors.New("step timed out")
	errCancelled         = errors.New("deployment cancelled")
	errBuildCancelled    = errors.New("build cancelled by request")
	errDeploymentTimeout = errors.New("deployment timed out")
)

// StartDeployment is the first job of a deployment: it resolves refs,
// plans, records the plan and enqueues the steps that can start. Running it
// again after a crash is safe: a recorded plan is reused.
func (e *Engine) StartDeployment(ctx context.Context, tool, id string) error {
	d, err := e.store.DeploymentGet(ctx, tool, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile
	} else if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	if d.Status.Final() {
		return nil
	}
	steps, err := e.store.StepList(ctx, id)
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	if len(steps) > 0 {
		// Planned before a crash: make sure what is due is queued.
		return e.advance(ctx, d, nil)
	}
	if d.Status == slipway.DeploymentCancelling {
		return e.finish(ctx, d, slipway.DeploymentCancelled, "Deployment was cancelled before it started")
	}
	if deadline := d.CreatedAt.Add(e.cfg.DeploymentTimeout); !e.now().Before(deadline) {
		return e.finish(ctx, d, slipway.DeploymentTimedOut, fmt.Sprintf("Timed out after %s before it could start", e.cfg.DeploymentTimeout))
	}
	// One active deployment per environment of a tool: wait for older
	// ones to finish.
	unfinished, err := e.store.DeploymentListUnfinished(ctx, tool)
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	for _, u := range unfinished {
		if u.ID != id && sameEnvironment(u, d) && (u.CreatedAt.Before(d.CreatedAt) || (u.CreatedAt.Equal(d.CreatedAt) && u.ID < id)) {
			// The finishing deployment starts this one's job again
			// (finishTx); looking again later is only the fallback.
			return retryAfterError(queuedRecheck)
		}
	}
	if d.Flow != "" {
		return e.startFlow(ctx, d)
	}
	if err := e.setStatus(ctx, d, slipway.DeploymentRunning, "Resolving sources and planning", slipway.NotifyDeploymentStarted); err != nil {
		return err
	}
	cfg, env, err := deploymentConfig(d)
	if err != nil {
		return e.finish(ctx, d, slipway.DeploymentFailed, "Invalid stored config: "+err.Error())
	}
	pctx, cancel := context.WithDeadline(ctx, d.CreatedAt.Add(e.cfg.DeploymentTimeout))
	defer cancel()
	pctx = e.scopeOf(pctx, tool, d.ConfigVersion)
	var in PlanInput
	err = e.retry(pctx, func(note string) {
		_ = e.setStatus(ctx, d, slipway.DeploymentRunning, "Resolving sources ("+note+")", "") // best effort: a progress note
	}, func() error {
		var err error
		in, err = e.planInput(pctx, d, cfg, env)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("start %s: %w", id, err) // shutdown: retry at next start
		}
		return e.finish(ctx, d, slipway.DeploymentFailed, err.Error())
	}
	steps, err = Plan(in)
	if err != nil {
		return e.finish(ctx, d, slipway.DeploymentFailed, "Plan: "+err.Error())
	}
	return e.advance(ctx, d, steps)
}

// planInput gathers what Plan needs: resolved refs (one ls-remote per
// repository, in parallel), live state and the builds that exist.
func (e *Engine) planInput(ctx context.Context, d slipway.Deployment, cfg slipway.ToolConfig, environment slipway.Environment) (PlanInput, error) {
	in := PlanInput{
		DeploymentID: d.ID, Config: cfg, BuilderVersion: e.builder.Version(),
		ForceBuild: d.ForceBuild, ForceRun: d.ForceRun,
		Commits: map[SourceRef]string{}, Built: map[string]bool{}, Corrupt: map[string]bool{}, Live: map[string]slipway.LiveRun{},
	}
	if d.RollbackOf != "" || d.RollbackRelease != 0 {
		// A rollback runs the builds of the deployment it goes back to, or
		// of the releases live after the release it goes back to: their
		// commits are known, nothing is resolved.
		var pins map[string]slipway.Step
		if d.RollbackRelease != 0 {
			_, state, err := e.releaseState(ctx, d.Tool, d.RollbackRelease)
			if err != nil {
				return in, err
			}
			pins = releasePins(state, cfg)
		} else {
			var err error
			if pins, err = e.rollbackPins(ctx, d.RollbackOf); err != nil {
				return in, err
			}
		}
		in.Pinned = map[string]string{}
		for name, st := range pins {
			if src := cfg.Components[name].Build.Source; src != nil {
				in.Commits[SourceRef{src.Repository, src.Ref}] = st.Commit
				in.Pinned[name] = st.BuildKey
			}
		}
	}
	if len(d.Pins) > 0 {
		// A promotion runs the builds live upstream when it was created:
		// their commits are known, nothing is resolved or built.
		in.Pinned, in.PinnedBy = map[string]string{}, "promotion from "+d.PromotedFrom
		for name, p := range d.Pins {
			if src := cfg.Components[name].Build.Source; src != nil {
				in.Commits[SourceRef{src.Repository, src.Ref}] = p.Commit
				in.Pinned[name] = p.BuildKey
			}
		}
	}
	refs := map[string][]string{} // repository → refs
	for _, name := range cfg.Names() {
		src := cfg.Components[name].Build.Source
		if src == nil || in.Pinned[name] != "" {
			continue
		}
		if _, known := in.Commits[SourceRef{src.Repository, src.Ref}]; !known && !slices.Contains(refs[src.Repository], src.Ref) {
			refs[src.Repository] = append(refs[src.Repository], src.Ref)
		}
	}
	rctx, cancel := context.WithTimeoutCause(ctx, e.cfg.ResolveTimeout,
		fmt.Errorf("resolving the refs took longer than %s (the resolve timeout): %w", e.cfg.ResolveTimeout, context.DeadlineExceeded))
	defer cancel()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	for repo, rs := range refs {
		wg.Go(func() {
			got, err := e.source.ResolveAll(rctx, repo, rs)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("resolve %s: %w", repo, err))
				return
			}
			for _, ref := range rs {
				in.Commits[SourceRef{repo, ref}] = got[ref]
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return in, errors.Join(errs...)
	}
	live, err := e.store.LiveRunList(ctx, d.Instance())
	if err != nil {
		return in, fmt.Errorf("live state: %w", err)
	}
	for _, r := range live {
		in.Live[r.Component] = r
	}
	if in.Unhealthy, err = e.unhealthy(ctx, d.Instance(), live); err != nil {
		return in, err
	}
	env, err := e.toolEnv(ctx, d.Tool, environment)
	if err != nil {
		return in, err
	}
	in.Env = env.Fingerprints
	for _, name := range cfg.Names() {
		src := cfg.Components[name].Build.Source
		if src == nil {
			continue
		}
		key := cmp.Or(in.Pinned[name], slipway.BuildKey(src.Repository, in.Commits[SourceRef{src.Repository, src.Ref}], in.BuilderVersion, slipway.SourceBuildSettings(*src)...))
		_, ok, err := e.builder.Lookup(ctx, d.Tool, key)
		switch {
		case errors.Is(err, build.ErrCorrupt):
			in.Corrupt[key] = true
		case err != nil:
			return in, fmt.Errorf("look up build %s: %w", key, err)
		case ok:
			in.Built[key] = true
		}
	}
	return in, nil
}

// unhealthy returns, by component, why a live continuous or scheduled
// component is not running as it should, from what the target reports:
// the plan applies those again.
func (e *Engine) unhealthy(ctx context.Context, tool string, live []slipway.LiveRun) (map[string]string, error) {
	statuses, err := e.target.List(ctx, tool)
	if err != nil {
		return nil, fmt.Errorf("what runs: %w", err)
	}
	byName := make(map[string]target.Status, len(statuses))
	for _, st := range statuses {
		byName[st.Component] = st
	}
	out := map[string]string{}
	for _, r := range live {
		st, ok := byName[r.Component]
		switch {
		case r.Type == slipway.OneOff:
		case !ok || st.State == target.StateStopped:
			out[r.Component] = "not running"
		case r.Type == slipway.Scheduled && st.State != target.StateScheduled:
			out[r.Component] = "not scheduled (" + string(st.State) + ")"
		case r.Type != slipway.Continuous:
		case st.State == target.StateCrashLoop || st.State == target.StateFailed:
			out[r.Component] = string(st.State) + " (" + st.Message + ")"
		case st.Replicas == 0:
			out[r.Component] = "no replica up (" + st.Message + ")"
		case st.SpecHash != r.SpecHash || st.BuildKey != r.BuildKey:
			out[r.Component] = "runs another version than recorded (build " + st.BuildKey + ")"
		}
	}
	return out, nil
}

// rollbackPins returns, by component, the builds deployment id ran: the
// commit and build key of each of its build steps.
func (e *Engine) rollbackPins(ctx context.Context, id string) (map[string]slipway.Step, error) {
	steps, err := e.store.StepList(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("steps of %s: %w", id, err)
	}
	pins := map[string]slipway.Step{}
	for _, st := range steps {
		if st.Kind == slipway.StepBuild && st.BuildKey != "" {
			pins[st.Component] = st
		}
	}
	return pins, nil
}

// scopeOf returns ctx with the source scope of a stored config version of
// tool: the tool, and whether the admin created that version.
func (e *Engine) scopeOf(ctx context.Context, tool string, version int) context.Context {
	sc := slipway.SourceScope{Tool: tool}
	if version > 0 {
		if c, err := e.store.ConfigGet(ctx, tool, version); err == nil {
			sc.Admin = c.CreatedByAdmin
		}
	}
	return slipway.WithSourceScope(ctx, sc)
}
