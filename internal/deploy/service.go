package deploy

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/metrics"
	"slipway.dev/slipway/internal/runner"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/target"
	"slipway.dev/slipway/internal/toolconfig"
)

// Resolver resolves git refs to commits (the git adapter).
type Resolver interface {
	// ResolveAll resolves several refs of one repository at once.
	ResolveAll(ctx context.Context, repository string, refs []string) (map[string]string, error)
}

// Enqueuer puts jobs on the durable queue in a store transaction (the
// runner), and wakes workers for them once the transaction committed.
type Enqueuer interface {
	EnqueueTx(ctx context.Context, tx runner.SQLTx, jobs ...runner.Job) error
	Wake(ctx context.Context, jobs ...runner.Job)
}

// Config holds the service's knobs. Zero values mean the defaults.
type Config struct {
	Logger *slog.Logger
	// NowFunc returns the current time; default time.Now.
	NowFunc func() time.Time
	// BuildSlots bounds concurrent builds on this server (default: number
	// of CPUs).
	BuildSlots int
	// ToolBuildSlots bounds concurrent builds of one tool (default:
	// BuildSlots, i.e. no tighter bound).
	ToolBuildSlots int
	// BuildTimeout bounds one build (default 30m).
	BuildTimeout time.Duration
	// HealthTimeout bounds the wait for a continuous component to become
	// healthy (default 2m).
	HealthTimeout time.Duration
	// OneOffTimeout bounds a one-off run without its own timeout (default 1h).
	OneOffTimeout time.Duration
	// DeploymentTimeout bounds a whole deployment from its creation, queue
	// time included (default 1h, as Toolforge): running steps are stopped
	// and the deployment ends timed_out.
	DeploymentTimeout time.Duration
	// ResolveTimeout bounds resolving all refs of a deployment, above the
	// git adapter's own limits (default 15m; git's connect, low-speed and
	// overall timeouts say sooner, and more precisely, why a remote does
	// not answer).
	ResolveTimeout time.Duration
	// KeepDeployments is how many deployments per tool are kept (default 25,
	// as Toolforge).
	KeepDeployments int
	// AllowLocalRepos permits file:// and local-path repositories (the
	// embedded default; off on shared servers): to the admin anywhere, to
	// tools inside LocalRepoDirs only.
	AllowLocalRepos bool
	// LocalRepoDirs are the directories (resolved by
	// localrepo.ResolveDirs) whose repositories a tool's own config may
	// name; configs the admin creates may name any local repository.
	LocalRepoDirs []string
	// Credentials seals the credentials taken out of repository URLs and
	// source_urls (see secrets.go). Nil: a URL with a credential is refused.
	Credentials CredentialSealer
	// AllowImages permits prebuilt `image:` components (Kubernetes targets).
	AllowImages bool
	// TransientFunc reports whether an error of git, a builder or a target
	// is worth retrying (a network failure, a failed process spawn) rather
	// than permanent (an unknown ref, a build that fails). Default: none is.
	TransientFunc func(error) bool
	// Attempts is how often a transient failure is tried in all before the
	// step fails (default 4); RetryBackoff is the first wait between
	// attempts, doubling each time (default 500ms).
	Attempts     int
	RetryBackoff time.Duration
	// NoQueue turns queueing off: a deployment requested while another of
	// the same tool is unfinished is refused with Toolforge's 409 instead of
	// waiting behind it.
	NoQueue bool
	// RecheckInterval is how often an event watcher re-reads the store when
	// it hears nothing (changes made by another replica); default 1s.
	RecheckInterval time.Duration
	// ToolEnv returns the environment every process of a tool gets (its
	// envvars, TOOL_DEPLOY_TOKEN among them) with their fingerprints, read
	// when a component is (re)started and when a deployment is planned. An
	// error fails what needed it: nothing starts without its envvars. Nil:
	// none.
	ToolEnv func(ctx context.Context, tool string) (slipway.ToolEnv, error)
	// ConfigFetcher fetches the configs that a source_url points at (see
	// source.go). When nil, configs with a source_url are refused.
	ConfigFetcher ConfigFetcher
	// Metrics records deployments, steps and builds (see metrics.go).
	// Default nil: nothing is recorded.
	Metrics *metrics.Metrics
	// Limits bound what each tool may ask for (see limits.go); zero fields
	// take slipway.DefaultLimits' values.
	Limits slipway.Limits
	// DiskCheck, when set, is asked before each build: an error (the data
	// directory's filesystem is under its free-space floor) refuses the
	// build, whose record and step fail with the error's message.
	DiskCheck func() error
}

// Service runs Slipway's deployments. It serves the API (configs,
// deployments, events) and implements [runner.Handler] for the durable
// jobs that advance a deployment.
type Service struct {
	store    store.Store
	source   Resolver
	builder  build.Builder
	target   target.Driver
	enqueuer Enqueuer
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

// NewService returns a service over its collaborators. Call SetEnqueuer
// before the first deployment is created.
func NewService(st store.Store, src Resolver, b build.Builder, tg target.Driver, cfg Config) *Service {
	cfg.BuildSlots = cmp.Or(cfg.BuildSlots, runtime.NumCPU())
	cfg.ToolBuildSlots = cmp.Or(cfg.ToolBuildSlots, cfg.BuildSlots)
	cfg.BuildTimeout = cmp.Or(cfg.BuildTimeout, 30*time.Minute)
	cfg.HealthTimeout = cmp.Or(cfg.HealthTimeout, 2*time.Minute)
	cfg.OneOffTimeout = cmp.Or(cfg.OneOffTimeout, time.Hour)
	cfg.DeploymentTimeout = cmp.Or(cfg.DeploymentTimeout, time.Hour)
	cfg.Attempts = cmp.Or(cfg.Attempts, 4)
	cfg.RetryBackoff = cmp.Or(cfg.RetryBackoff, 500*time.Millisecond)
	if cfg.TransientFunc == nil {
		cfg.TransientFunc = func(error) bool { return false }
	}
	cfg.ResolveTimeout = cmp.Or(cfg.ResolveTimeout, 15*time.Minute)
	cfg.KeepDeployments = cmp.Or(cfg.KeepDeployments, 25)
	cfg.RecheckInterval = cmp.Or(cfg.RecheckInterval, time.Second)
	cfg.Limits = cfg.Limits.WithDefaults()
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := cfg.NowFunc
	if now == nil {
		now = time.Now
	}
	return &Service{
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

// toolSlots returns the build slots of a tool.
func (s *Service) toolSlots(tool string) chan struct{} {
	s.toolMu.Lock()
	defer s.toolMu.Unlock()
	ch, ok := s.perTool[tool]
	if !ok {
		ch = make(chan struct{}, s.cfg.ToolBuildSlots)
		s.perTool[tool] = ch
	}
	return ch
}

// SetEnqueuer sets the queue that deployments are put on. The runner and
// the service refer to each other, so one of them is wired after creation.
func (s *Service) SetEnqueuer(e Enqueuer) { s.enqueuer = e }

// Interface guards.
var _ runner.Handler = (*Service)(nil)

// ConfigPut stores a new version of a tool's config and returns it, with
// warnings to show. When cfg has a source_url, the config fetched from there
// is what is stored and returned. Credentials in its URLs are taken out and
// stored sealed (see secrets.go); the config stored and returned has
// https://***@host/… instead. The actor of ctx ([slipway.ActorFrom]) is
// recorded as the version's creator. Returns EInvalid when the config uses
// what this server does not allow, EForbidden when it names a local
// repository that the actor may not, and EInvalid wrapping
// [slipway.ErrSourceURL] when the source_url cannot be fetched or holds no
// valid config; then nothing is stored.
func (s *Service) ConfigPut(ctx context.Context, tool string, cfg slipway.ToolConfig) (slipway.ToolConfig, []string, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.ToolConfig{}, nil, err
	}
	actor := slipway.ActorFrom(ctx)
	sp, warnings, err := s.prepare(ctx, tool, cfg)
	if err != nil {
		return slipway.ToolConfig{}, nil, err
	}
	cfg = sp.cfg
	if err := s.checkAllowed(cfg); err != nil {
		return slipway.ToolConfig{}, nil, err
	}
	if err := toolconfig.CheckLimits(cfg, s.cfg.Limits); err != nil {
		return slipway.ToolConfig{}, nil, err // unwrapped: the caller locates its problems
	}
	if err := s.checkLocalRepos(cfg, actor); err != nil {
		return slipway.ToolConfig{}, nil, err
	}
	now := s.now()
	err = s.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.ToolEnsure(ctx, tool, now); err != nil {
			return err
		}
		if _, err := tx.ConfigCreateBy(ctx, tool, cfg.Raw, actor, now); err != nil {
			return err
		}
		return s.putCredentialsTx(ctx, tx, tool, sp, true)
	})
	if err != nil {
		return slipway.ToolConfig{}, nil, fmt.Errorf("store config of %s: %w", tool, err)
	}
	return cfg, warnings, nil
}

// checkAllowed rejects repositories and build kinds this server is not
// configured for, naming the component.
func (s *Service) checkAllowed(cfg slipway.ToolConfig) error {
	var problems []string
	for _, name := range cfg.Names() {
		c := cfg.Components[name]
		switch {
		case c.Build.Image != "" && !s.cfg.AllowImages:
			problems = append(problems, fmt.Sprintf("components.%s.build.image: prebuilt images need a Kubernetes target; this server runs local processes, so build from a repository instead", name))
		case c.Build.Source != nil && !s.cfg.AllowLocalRepos && isLocalRepo(c.Build.Source.Repository):
			problems = append(problems, fmt.Sprintf("components.%s.build.repository: local repositories (%s) are not allowed on this server; use an http, https or git URL", name, c.Build.Source.Repository))
		}
	}
	if len(problems) > 0 {
		return &slipway.Error{Code: slipway.EInvalid, Message: strings.Join(problems, "\n")}
	}
	return nil
}

func isLocalRepo(repo string) bool {
	return strings.HasPrefix(repo, "file://") || strings.HasPrefix(repo, "/")
}

// ConfigGet returns a tool's current config. Returns ENotFound when there
// is none.
func (s *Service) ConfigGet(ctx context.Context, tool string) (slipway.ToolConfig, error) {
	sc, err := s.store.ConfigGetLatest(ctx, tool)
	if err != nil {
		return slipway.ToolConfig{}, notFound(err, "No configuration found for tool: %s", tool)
	}
	return parseStored(sc.Raw)
}

// ConfigDelete deletes a tool's config (deployed components keep running)
// and returns what was deleted. Returns ENotFound when there is none.
func (s *Service) ConfigDelete(ctx context.Context, tool string) (slipway.ToolConfig, error) {
	var sc store.StoredConfig
	err := s.store.InTx(ctx, func(tx store.Tx) error {
		var err error
		if sc, err = tx.ConfigDelete(ctx, tool, s.now()); err != nil {
			return err
		}
		_, err = tx.RepoCredentialPrune(ctx, tool, nil) // no config names them any more
		return err
	})
	if err != nil {
		return slipway.ToolConfig{}, notFound(err, "No configuration found for tool: %s", tool)
	}
	return parseStored(sc.Raw)
}

// parseStored parses a config that was valid when stored, maybe by an
// older Slipway with fewer rules (toolconfig.ParseStored).
func parseStored(raw []byte) (slipway.ToolConfig, error) {
	res, err := toolconfig.ParseStored(raw)
	if err != nil {
		return slipway.ToolConfig{}, fmt.Errorf("parse stored config: %w", err)
	}
	return res.Config, nil
}

// notFound turns a store.ErrNotFound into an ENotFound error with the given
// user-facing message, and passes other errors on.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, store.ErrNotFound) {
		return &slipway.Error{Code: slipway.ENotFound, Message: fmt.Sprintf(format, args...), Err: err}
	}
	return err
}

// DeploymentCreate creates a deployment of the tool's current config and
// queues it. It returns at once; the deployment runs in the background.
// A config with a source_url is fetched again first (and stored when it
// changed). Returns ENotFound when the tool has no config, EInvalid wrapping
// [slipway.ErrSourceURL] when the source_url fails (nothing is created).
func (s *Service) DeploymentCreate(ctx context.Context, tool string, opts slipway.DeployOptions) (slipway.Deployment, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.Deployment{}, err
	}
	if s.enqueuer == nil {
		return slipway.Deployment{}, errors.New("deploy: no enqueuer set")
	}
	actor := slipway.ActorFrom(ctx)
	remote, err := s.refreshSource(ctx, tool, actor)
	if err != nil {
		return slipway.Deployment{}, err
	}
	return s.create(ctx, tool, opts, "", func(tx store.Tx, now time.Time) (int, json.RawMessage, error) {
		sc, err := s.configForDeployTx(ctx, tx, tool, remote, actor, now)
		if err != nil {
			return 0, nil, err
		}
		return sc.Version, sc.Raw, nil
	})
}

// create records a new pending deployment of tool with the config config
// returns (in the creating transaction) and enqueues it: queued behind
// the tool's active deployment, superseding any other waiting one.
// rollbackOf is the deployment a rollback deploys again.
func (s *Service) create(ctx context.Context, tool string, opts slipway.DeployOptions, rollbackOf string,
	config func(store.Tx, time.Time) (int, json.RawMessage, error),
) (slipway.Deployment, error) {
	now := s.now()
	var superseded []string
	d := slipway.Deployment{
		ID: slipway.NewDeploymentID(now), Tool: tool, CreatedAt: now, UpdatedAt: now,
		Description: opts.Description, ForceBuild: opts.ForceBuild, ForceRun: opts.ForceRun,
		Trigger: cmp.Or(opts.Trigger, "api"), Actor: opts.Actor, RollbackOf: rollbackOf,
		Status: slipway.DeploymentPending, LongStatus: "Waiting to start",
	}
	err := s.tx(ctx, d.ID, func(tx store.Tx) error {
		// Which deployment of the tool runs and which waits is decided
		// under the tool's lock: of two creates at once, the second sees
		// the first and supersedes it.
		superseded = superseded[:0]
		if err := tx.ToolLock(ctx, tool, now); err != nil {
			return err
		}
		version, raw, err := config(tx, now)
		if err != nil {
			return err
		}
		if err := s.checkDeployable(version, raw); err != nil {
			return err
		}
		d.ConfigVersion, d.ToolConfig = version, raw
		// Oldest first: the head runs, the rest wait.
		active, err := tx.DeploymentListUnfinished(ctx, tool)
		if err != nil {
			return err
		}
		if len(active) > 0 && s.cfg.NoQueue {
			return slipway.Errorf(slipway.EConflict, "There's already %d running, the limit is 1. Wait for it to finish for now.", len(active))
		}
		// Latest wins: the new deployment waits behind the head (the oldest
		// unfinished one) and replaces whatever was waiting there before it.
		for i, old := range active {
			if i == 0 {
				d.LongStatus = "Queued behind " + old.ID
				continue
			}
			if err := s.finishTx(ctx, tx, old, slipway.DeploymentCancelled, "Superseded by "+d.ID); err != nil {
				return err
			}
			superseded = append(superseded, old.ID)
		}
		if err := tx.DeploymentCreate(ctx, d); err != nil {
			return err
		}
		s.observeCreated(tx, d)
		if err := s.emit(ctx, tx, d.ID, "deployment", "", string(d.Status), d.LongStatus); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, runner.Job{Tool: tool, DeploymentID: d.ID})
	})
	if err != nil {
		return slipway.Deployment{}, fmt.Errorf("create deployment of %s: %w", tool, err)
	}
	for _, id := range superseded {
		s.events.notify(id) // their watchers see the end
	}
	return s.DeploymentGet(ctx, tool, d.ID)
}

// DeploymentPlan returns what a deployment of the tool's current config
// would do, step by step with the reason for each, without storing or
// changing anything: refs are resolved and live state read, as for a real
// deployment. The result has no ID and status pending. A config with a
// source_url is planned as fetched from there (its version is 0 when that
// is not what is stored). Returns ENotFound when the tool has no config,
// EInvalid wrapping [slipway.ErrSourceURL] when the source_url fails.
func (s *Service) DeploymentPlan(ctx context.Context, tool string, opts slipway.DeployOptions) (slipway.Deployment, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.Deployment{}, err
	}
	sc, err := s.store.ConfigGetLatest(ctx, tool)
	if err != nil {
		return slipway.Deployment{}, notFound(err, "No configuration found for tool: %s", tool)
	}
	cfg, err := parseStored(sc.Raw)
	if err != nil {
		return slipway.Deployment{}, err
	}
	sp, version, err := s.planSource(ctx, tool, splitConfig{cfg: cfg}, sc.Version)
	if err != nil {
		return slipway.Deployment{}, err
	}
	if err := s.checkDeployable(version, sp.cfg.Raw); err != nil {
		return slipway.Deployment{}, err
	}
	// The stored version is planned as its creator's; a remote version that
	// differs would be stored as the actor's.
	actor := slipway.ActorFrom(ctx)
	scope := slipway.SourceScope{Tool: tool, Admin: sc.CreatedByAdmin, Pending: sp.creds}
	if version == 0 {
		if err := s.checkLocalRepos(sp.cfg, actor); err != nil {
			return slipway.Deployment{}, err
		}
		scope.Admin = actor.Admin
	}
	return s.plan(slipway.WithSourceScope(ctx, scope), tool, version, sp.cfg, opts)
}

// DeploymentPlanConfig is [Service.DeploymentPlan] for a config that is
// not stored: what deploying cfg would do. Nothing is stored. Returns
// EInvalid when cfg uses what this server does not allow.
func (s *Service) DeploymentPlanConfig(ctx context.Context, tool string, cfg slipway.ToolConfig, opts slipway.DeployOptions) (slipway.Deployment, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.Deployment{}, err
	}
	sp, err := s.splitCredentials(ctx, tool, cfg, nil)
	if err != nil {
		return slipway.Deployment{}, err
	}
	sp, _, err = s.planSource(ctx, tool, sp, 0)
	if err != nil {
		return slipway.Deployment{}, err
	}
	if err := s.checkAllowed(sp.cfg); err != nil {
		return slipway.Deployment{}, err
	}
	if err := toolconfig.CheckLimits(sp.cfg, s.cfg.Limits); err != nil {
		return slipway.Deployment{}, err // unwrapped: the caller locates its problems
	}
	actor := slipway.ActorFrom(ctx)
	if err := s.checkLocalRepos(sp.cfg, actor); err != nil {
		return slipway.Deployment{}, err
	}
	// Nothing is stored: the credentials that came with cfg are used from
	// the scope.
	ctx = slipway.WithSourceScope(ctx, slipway.SourceScope{Tool: tool, Admin: actor.Admin, Pending: sp.creds})
	return s.plan(ctx, tool, 0, sp.cfg, opts)
}

func (s *Service) plan(ctx context.Context, tool string, version int, cfg slipway.ToolConfig, opts slipway.DeployOptions) (slipway.Deployment, error) {
	now := s.now()
	d := slipway.Deployment{
		Tool: tool, CreatedAt: now, UpdatedAt: now, Description: opts.Description,
		ConfigVersion: version, ToolConfig: cfg.Raw, ForceBuild: opts.ForceBuild, ForceRun: opts.ForceRun,
		Trigger: cmp.Or(opts.Trigger, "api"), Actor: opts.Actor, Status: slipway.DeploymentPending,
	}
	in, err := s.planInput(ctx, d, cfg)
	if err == nil {
		d.Steps, err = Plan(in)
	}
	if err != nil {
		if ctx.Err() != nil {
			return slipway.Deployment{}, err
		}
		return slipway.Deployment{}, &slipway.Error{Code: slipway.EInvalid, Message: "Cannot plan: " + err.Error(), Err: err}
	}
	d.LongStatus = "Plan only, nothing was changed: " + summarize(d.Steps)
	madeBy, err := s.buildsMadeBy(ctx, tool)
	if err != nil {
		return slipway.Deployment{}, err
	}
	d.Builds, d.Runs = buildsAndRuns(d, cfg, d.Steps, madeBy)
	return d, nil
}

// DeploymentList returns the tool's deployments, oldest first.
func (s *Service) DeploymentList(ctx context.Context, tool string) ([]slipway.Deployment, error) {
	ds, err := s.store.DeploymentList(ctx, tool)
	if err != nil {
		return nil, fmt.Errorf("list deployments of %s: %w", tool, err)
	}
	madeBy, err := s.buildsMadeBy(ctx, tool)
	if err != nil {
		return nil, err
	}
	// One read for every deployment's steps, not one per deployment.
	steps, err := s.store.StepListTool(ctx, tool)
	if err != nil {
		return nil, fmt.Errorf("list deployments of %s: %w", tool, err)
	}
	// Deployments of one config version share its snapshot: parse each
	// snapshot once.
	parsed := map[string]slipway.ToolConfig{}
	parse := func(raw []byte) (slipway.ToolConfig, error) {
		if cfg, ok := parsed[string(raw)]; ok {
			return cfg, nil
		}
		cfg, err := parseStored(raw)
		if err == nil {
			parsed[string(raw)] = cfg
		}
		return cfg, err
	}
	out := make([]slipway.Deployment, 0, len(ds))
	for _, d := range ds {
		full, err := withSteps(d, steps[d.ID], madeBy, parse)
		if err != nil {
			return nil, err
		}
		out = append(out, full)
	}
	return out, nil
}

// DeploymentGet returns one deployment with its plan; id may be "latest".
// Returns ENotFound when there is no such deployment.
func (s *Service) DeploymentGet(ctx context.Context, tool, id string) (slipway.Deployment, error) {
	d, err := s.lookup(ctx, tool, id)
	if err != nil {
		return slipway.Deployment{}, err
	}
	madeBy, err := s.buildsMadeBy(ctx, tool)
	if err != nil {
		return slipway.Deployment{}, err
	}
	return s.complete(ctx, d, madeBy)
}

func (s *Service) lookup(ctx context.Context, tool, id string) (slipway.Deployment, error) {
	if id == slipway.DeploymentIDLatest {
		d, err := s.store.DeploymentLatest(ctx, tool)
		return d, notFound(err, "No deployments found for tool: %s", tool)
	}
	d, err := s.store.DeploymentGet(ctx, tool, id)
	return d, notFound(err, "Deployment %s not found for tool %s", id, tool)
}

// buildsMadeBy returns, by build key, the ID of the tool's newest
// successful attempt at that key: the build a reusing step points at.
func (s *Service) buildsMadeBy(ctx context.Context, tool string) (map[string]string, error) {
	list, err := s.store.BuildList(ctx, tool) // newest first
	if err != nil {
		return nil, fmt.Errorf("builds of %s: %w", tool, err)
	}
	out := map[string]string{}
	for _, b := range list {
		if _, seen := out[b.Key]; !seen && b.Status == slipway.BuildSuccessful {
			out[b.Key] = b.ID
		}
	}
	return out, nil
}

// complete fills in a deployment's steps and its Toolforge-shaped builds
// and runs, which are derived from the steps; madeBy is [buildsMadeBy]'s.
func (s *Service) complete(ctx context.Context, d slipway.Deployment, madeBy map[string]string) (slipway.Deployment, error) {
	steps, err := s.store.StepList(ctx, d.ID)
	if err != nil {
		return d, fmt.Errorf("steps of %s: %w", d.ID, err)
	}
	return withSteps(d, steps, madeBy, parseStored)
}

// withSteps returns d with its steps and the Toolforge build and run
// entries derived from them; parse parses its config snapshot.
func withSteps(d slipway.Deployment, steps []slipway.Step, madeBy map[string]string, parse func([]byte) (slipway.ToolConfig, error)) (slipway.Deployment, error) {
	if steps == nil {
		steps = []slipway.Step{}
	}
	d.Steps = steps
	cfg, err := parse(d.ToolConfig)
	if err != nil {
		return d, err
	}
	d.Builds, d.Runs = buildsAndRuns(d, cfg, steps, madeBy)
	return d, nil
}

// buildsAndRuns derives Toolforge's per-component build and run entries of
// d. Once d is final nothing of it is pending: a component without a step
// (the deployment failed before its plan existed, or was cancelled while
// queued) is skipped, or cancelled, with the deployment's reason. A build
// step's build_id is the deployment's attempt at its key, or for a reused
// build the attempt that made it (madeBy, by key).
func buildsAndRuns(d slipway.Deployment, cfg slipway.ToolConfig, steps []slipway.Step, madeBy map[string]string) (map[string]slipway.DeploymentBuild, map[string]slipway.DeploymentRun) {
	byKey := make(map[string]slipway.Step, len(steps))
	for _, st := range steps {
		byKey[st.Key] = st
	}
	builds := make(map[string]slipway.DeploymentBuild, len(cfg.Components))
	runs := make(map[string]slipway.DeploymentRun, len(cfg.Components))
	for _, name := range cfg.Names() {
		c := cfg.Components[name]
		b := slipway.DeploymentBuild{BuildID: slipway.BuildIDNotYet, BuildStatus: slipway.BuildPending, BuildImage: slipway.BuildImageNotYet}
		switch bs, ok := byKey[slipway.StepKey(slipway.StepBuild, name)]; {
		case c.Build.ReuseFrom != "":
			b.BuildID, b.BuildStatus = slipway.BuildIDNotNeeded, slipway.BuildSkipped
			b.BuildLongStatus = "Component re-uses build from " + c.Build.ReuseFrom
			if ps, ok := byKey[slipway.StepKey(slipway.StepBuild, c.Build.ReuseFrom)]; ok && ps.State.Satisfied() {
				b.BuildImage = "builds/" + ps.BuildKey
			}
		case c.Build.Image != "":
			b.BuildID, b.BuildStatus, b.BuildImage = slipway.BuildIDNotNeeded, slipway.BuildSkipped, c.Build.Image
			b.BuildLongStatus = "Prebuilt image"
		case ok:
			b.BuildID = buildAttempt(bs.BuildKey, d.ID)
			switch {
			case d.ID == "": // a plan only: no attempt will be made of it
				b.BuildID = slipway.BuildIDNotYet
				if bs.Action == slipway.ActionReuse {
					b.BuildID = cmp.Or(madeBy[bs.BuildKey], bs.BuildKey)
				}
			case bs.Action == slipway.ActionReuse:
				// Reused: the attempt that made it, when its record is
				// kept; the key itself otherwise.
				b.BuildID = cmp.Or(madeBy[bs.BuildKey], bs.BuildKey)
			}
			b.BuildStatus = buildStatus(bs.State)
			b.BuildLongStatus = cmp.Or(bs.Detail, bs.Reason)
			if bs.State.Satisfied() {
				b.BuildImage = "builds/" + bs.BuildKey
			}
		}
		builds[name] = b
		r := slipway.DeploymentRun{RunStatus: slipway.RunPending}
		if rs, ok := byKey[slipway.StepKey(slipway.StepRun, name)]; ok {
			r.RunStatus = runStatus(rs.State)
			r.RunLongStatus = cmp.Or(rs.Detail, rs.Reason)
		}
		runs[name] = r
	}
	for _, st := range steps {
		if st.Kind == slipway.StepPrune {
			runs[st.Component] = slipway.DeploymentRun{RunStatus: runStatus(st.State), RunLongStatus: cmp.Or(st.Detail, "to be removed: "+st.Reason)}
		}
	}
	if d.Status.Final() {
		settleUnplanned(d, builds, runs)
	}
	return builds, runs
}

// settleUnplanned gives the builds and runs of a final deployment that
// are still pending (they have no step) their final state and the reason.
func settleUnplanned(d slipway.Deployment, builds map[string]slipway.DeploymentBuild, runs map[string]slipway.DeploymentRun) {
	why := d.LongStatus
	if why == "" {
		why = "the deployment ended " + string(d.Status)
	}
	for name, b := range builds {
		if b.BuildStatus != slipway.BuildPending {
			continue
		}
		b.BuildID = slipway.BuildIDNotNeeded
		if d.Status == slipway.DeploymentCancelled {
			b.BuildStatus, b.BuildLongStatus = slipway.BuildCancelled, "Not built: "+why
		} else {
			b.BuildStatus, b.BuildLongStatus = slipway.BuildSkipped, "Not built: "+why
		}
		builds[name] = b
	}
	for name, r := range runs {
		if r.RunStatus == slipway.RunPending {
			runs[name] = slipway.DeploymentRun{RunStatus: slipway.RunSkipped, RunLongStatus: "Not run: " + why}
		}
	}
}

func buildStatus(s slipway.StepState) slipway.BuildStatus {
	switch s {
	case slipway.StepPending:
		return slipway.BuildPending
	case slipway.StepRunning:
		return slipway.BuildRunning
	case slipway.StepDone:
		return slipway.BuildSuccessful
	case slipway.StepUnchanged, slipway.StepSkipped:
		return slipway.BuildSkipped
	case slipway.StepFailed, slipway.StepTimedOut:
		return slipway.BuildFailed
	case slipway.StepCancelled:
		return slipway.BuildCancelled
	}
	return slipway.BuildUnknown
}

func runStatus(s slipway.StepState) slipway.RunStatus {
	switch s {
	case slipway.StepPending, slipway.StepRunning:
		return slipway.RunPending
	case slipway.StepDone:
		return slipway.RunSuccessful
	case slipway.StepUnchanged, slipway.StepSkipped, slipway.StepCancelled:
		return slipway.RunSkipped
	case slipway.StepFailed, slipway.StepTimedOut:
		return slipway.RunFailed
	}
	return slipway.RunUnknown
}

// DeploymentEvents calls fn for each event of a deployment with Seq > after,
// in order, waiting for new ones. It returns nil after the event that makes
// the deployment final, or ctx's error.
func (s *Service) DeploymentEvents(ctx context.Context, tool, id string, after int64, fn func(slipway.Event) error) error {
	d, err := s.lookup(ctx, tool, id)
	if err != nil {
		return err
	}
	for {
		woken := s.events.wait(d.ID)
		evs, err := s.store.EventList(ctx, d.ID, after, 0)
		if err != nil {
			return fmt.Errorf("events of %s: %w", d.ID, err)
		}
		for _, e := range evs {
			if err := fn(e); err != nil {
				return err
			}
			after = e.Seq
			if e.Kind == "deployment" && slipway.DeploymentStatus(e.State).Final() {
				return nil
			}
		}
		if len(evs) == 0 {
			// A deployment that is final with all events delivered (or whose
			// events were pruned) has nothing more to say.
			cur, err := s.store.DeploymentGet(ctx, tool, d.ID)
			if err != nil {
				return notFound(err, "Deployment %s not found for tool %s", d.ID, tool)
			}
			if cur.Status.Final() {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-woken:
		case <-time.After(s.cfg.RecheckInterval):
		}
	}
}

// emit appends an event in tx.
func (s *Service) emit(ctx context.Context, tx store.Tx, deploymentID, kind, step, state, msg string) error {
	_, err := tx.EventAppend(ctx, slipway.Event{DeploymentID: deploymentID, Time: s.now(), Kind: kind, Step: step, State: state, Message: msg})
	if err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	return nil
}
