package deploy

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"slipway.dev/slipway/internal/runner"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/toolconfig"
)

// Deployments is the application service of configs and deployments
// (httpapi.Service): it stores configs, creates, plans, rolls back, cancels
// and deletes deployments, and reads them and their events. The Engine
// runs what it creates.
type Deployments struct{ app }

// NewDeployments returns the deployments service over eng.
func NewDeployments(eng *Engine) *Deployments { return &Deployments{newApp(eng)} }

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
func (s *Deployments) ConfigPut(ctx context.Context, tool string, cfg slipway.ToolConfig) (slipway.ToolConfig, []string, error) {
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
func (s *Deployments) checkAllowed(cfg slipway.ToolConfig) error {
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
func (s *Deployments) ConfigGet(ctx context.Context, tool string) (slipway.ToolConfig, error) {
	sc, err := s.store.ConfigGetLatest(ctx, tool)
	if err != nil {
		return slipway.ToolConfig{}, notFound(err, "No configuration found for tool: %s", tool)
	}
	return parseStored(sc.Raw)
}

// ConfigDelete deletes a tool's config (deployed components keep running)
// and returns what was deleted. Returns ENotFound when there is none.
func (s *Deployments) ConfigDelete(ctx context.Context, tool string) (slipway.ToolConfig, error) {
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
func (s *Deployments) DeploymentCreate(ctx context.Context, tool string, opts slipway.DeployOptions) (slipway.Deployment, error) {
	return s.DeploymentCreateIf(ctx, tool, opts, nil)
}

// DeploymentCreateIf is [Deployments.DeploymentCreate] with check run in
// the creating transaction once the deployment is written: when it
// returns an error nothing is created and the error is returned. A
// trigger records what it acted on there, so that the deployment and its
// cause commit together or not at all.
func (s *Deployments) DeploymentCreateIf(ctx context.Context, tool string, opts slipway.DeployOptions,
	check func(ctx context.Context, q store.Queries, d slipway.Deployment) error,
) (slipway.Deployment, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.Deployment{}, err
	}
	if err := s.eng.ready(); err != nil {
		return slipway.Deployment{}, err
	}
	actor := slipway.ActorFrom(ctx)
	remote, err := s.refreshSource(ctx, tool, actor)
	if err != nil {
		return slipway.Deployment{}, err
	}
	var o origin
	if check != nil {
		o.created = func(tx txn, d slipway.Deployment) error { return check(ctx, tx, d) }
	}
	return s.create(ctx, tool, opts, o, func(tx store.Tx, now time.Time) (int, json.RawMessage, error) {
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
// o says whether it is a rollback or a promotion. It goes to
// opts.Environment, or the config's entry environment when that is empty.
func (s *Deployments) create(ctx context.Context, tool string, opts slipway.DeployOptions, o origin,
	config func(store.Tx, time.Time) (int, json.RawMessage, error),
) (slipway.Deployment, error) {
	d := s.newDeployment(tool, opts, o)
	var superseded []string
	err := s.eng.tx(ctx, d.ID, func(tx txn) error {
		var err error
		superseded, err = s.createTx(ctx, tx, &d, opts, o, config)
		return err
	})
	if err != nil {
		return slipway.Deployment{}, fmt.Errorf("create deployment of %s: %w", tool, err)
	}
	for _, id := range superseded {
		s.eng.notify(id) // their watchers see the end
	}
	return s.DeploymentGet(ctx, tool, d.ID)
}

// newDeployment is the pending deployment of tool that create records.
func (s *Deployments) newDeployment(tool string, opts slipway.DeployOptions, o origin) slipway.Deployment {
	now := s.now()
	return slipway.Deployment{
		ID: slipway.NewDeploymentID(now), Tool: tool, CreatedAt: now, UpdatedAt: now,
		Description: opts.Description, ForceBuild: opts.ForceBuild, ForceRun: opts.ForceRun,
		Trigger: cmp.Or(opts.Trigger, "api"), Actor: opts.Actor, RollbackOf: o.rollbackOf,
		RollbackRelease: o.release, PromotedFrom: o.promotedFrom, Pins: o.pins,
		Flow: o.flow, Parent: o.parent, ParentStep: o.parentStep,
		Status: slipway.DeploymentPending, LongStatus: "Waiting to start",
	}
}

// createTx records d (from newDeployment) in tx and enqueues it, as
// create does, and returns the deployments it superseded. A transaction
// that records something else makes a deployment with it (a flow run
// that a release cut starts) through this.
func (s *Deployments) createTx(ctx context.Context, tx txn, d *slipway.Deployment, opts slipway.DeployOptions, o origin,
	config func(store.Tx, time.Time) (int, json.RawMessage, error),
) ([]string, error) {
	tool, now := d.Tool, d.CreatedAt
	var superseded []string
	// Which deployment of the tool runs and which waits is decided
	// under the tool's lock: of two creates at once, the second sees
	// the first and supersedes it.
	if err := tx.ToolLock(ctx, tool, now); err != nil {
		return nil, err
	}
	version, raw, err := config(tx, now)
	if err != nil {
		return nil, err
	}
	if err := checkDeployable(s.cfg.Limits, version, raw); err != nil {
		return nil, err
	}
	d.ConfigVersion, d.ToolConfig = version, raw
	if o.flow != "" {
		// A flow run goes to no environment of its own (its steps'
		// deployments do): it is recorded as the default one's.
		d.Environment, err = slipway.DefaultEnvironment, checkFlow(tool, raw, o.flow)
	} else {
		d.Environment, err = deployEnvironment(tool, raw, opts.Environment, o)
	}
	if err != nil {
		return nil, err
	}
	// Oldest first: the head runs, the rest wait.
	active, err := unfinishedIn(ctx, tx, tool, *d)
	if err != nil {
		return nil, err
	}
	if len(active) > 0 && s.cfg.NoQueue {
		return nil, slipway.Errorf(slipway.EConflict, "There's already %d running, the limit is 1. Wait for it to finish for now.", len(active))
	}
	// Latest wins: the new deployment waits behind the head (the oldest
	// unfinished one) and replaces whatever was waiting there before it.
	for i, old := range active {
		if i == 0 {
			d.LongStatus = "Queued behind " + old.ID
			if q, waiting := strings.CutPrefix(old.LongStatus, "Waiting for an answer: "); waiting {
				// Never replaced while people read its question.
				d.LongStatus += ", which waits for an answer (" + q + "); answer or cancel it to go on"
			}
			continue
		}
		if err := s.eng.finishTx(ctx, tx, old, slipway.DeploymentCancelled, "Superseded by "+d.ID); err != nil {
			return nil, err
		}
		superseded = append(superseded, old.ID)
	}
	if err := tx.DeploymentCreate(ctx, *d); err != nil {
		return nil, err
	}
	if o.created != nil {
		if err := o.created(tx, *d); err != nil {
			return nil, err
		}
	}
	s.eng.observeCreated(tx, *d)
	if err := s.eng.emit(ctx, tx, d.ID, "deployment", "", string(d.Status), d.LongStatus); err != nil {
		return nil, err
	}
	return superseded, s.eng.enqueue(ctx, tx, runner.Job{Tool: tool, DeploymentID: d.ID})
}

// DeploymentPlan returns what a deployment of the tool's current config
// would do, step by step with the reason for each, without storing or
// changing anything: refs are resolved and live state read, as for a real
// deployment. The result has no ID and status pending. A config with a
// source_url is planned as fetched from there (its version is 0 when that
// is not what is stored). Returns ENotFound when the tool has no config,
// EInvalid wrapping [slipway.ErrSourceURL] when the source_url fails.
func (s *Deployments) DeploymentPlan(ctx context.Context, tool string, opts slipway.DeployOptions) (slipway.Deployment, error) {
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
	if err := checkDeployable(s.cfg.Limits, version, sp.cfg.Raw); err != nil {
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

// DeploymentPlanConfig is [Deployments.DeploymentPlan] for a config that is
// not stored: what deploying cfg would do. Nothing is stored. Returns
// EInvalid when cfg uses what this server does not allow.
func (s *Deployments) DeploymentPlanConfig(ctx context.Context, tool string, cfg slipway.ToolConfig, opts slipway.DeployOptions) (slipway.Deployment, error) {
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

func (s *Deployments) plan(ctx context.Context, tool string, version int, cfg slipway.ToolConfig, opts slipway.DeployOptions) (slipway.Deployment, error) {
	now := s.now()
	d := slipway.Deployment{
		Tool: tool, CreatedAt: now, UpdatedAt: now, Description: opts.Description,
		ConfigVersion: version, ToolConfig: cfg.Raw, ForceBuild: opts.ForceBuild, ForceRun: opts.ForceRun,
		Trigger: cmp.Or(opts.Trigger, "api"), Actor: opts.Actor, Status: slipway.DeploymentPending,
	}
	var err error
	if d.Environment, err = deployEnvironment(tool, cfg.Raw, opts.Environment, origin{}); err != nil {
		return slipway.Deployment{}, err
	}
	env, _ := cfg.Environment(d.Environment)
	return s.planDeployment(ctx, d, cfg.ForEnvironment(env), env)
}

// planDeployment plans d, of config cfg (as its environment runs it),
// without storing anything.
func (s *Deployments) planDeployment(ctx context.Context, d slipway.Deployment, cfg slipway.ToolConfig, env slipway.Environment) (slipway.Deployment, error) {
	tool := d.Tool
	in, err := s.eng.planInput(ctx, d, cfg, env)
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
