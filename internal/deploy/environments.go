package deploy

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// origin says where a new deployment's builds come from besides its own
// config: the deployment a rollback deploys again, or the upstream
// environment and builds of a promotion. Zero for an ordinary deployment.
type origin struct {
	// rollbackOf is the deployment whose builds a rollback runs again
	// (for a rollback to a release, the deployment that made it).
	rollbackOf string
	// release is, for a rollback to a release, that release.
	release      int64
	promotedFrom string
	pins         map[string]slipway.Pin
	// created, when set, runs in the creating transaction once the
	// deployment is written (an auto-rollback records itself on the
	// deployment it rolls back).
	created func(tx txn, d slipway.Deployment) error
	// flow is, for a run of a flow, its name; parent and parentStep are,
	// for a deployment a flow run's step makes, that run and step.
	flow, parent, parentStep string
}

// sameEnvironment reports whether a and b go to the same environment (of
// the same tool), which is also the queue they wait in. A flow run is in
// no environment: it queues with the runs of its own flow only, and is
// never taken for a deployment of an environment (the latest one, the
// one to promote or roll back to).
func sameEnvironment(a, b slipway.Deployment) bool {
	return a.Flow == b.Flow && cmp.Or(a.Environment, slipway.DefaultEnvironment) == cmp.Or(b.Environment, slipway.DefaultEnvironment)
}

// unfinishedIn returns the tool's unfinished deployments in the queue of
// like (its environment, or its flow for a flow run), oldest first.
func unfinishedIn(ctx context.Context, q store.Queries, tool string, like slipway.Deployment) ([]slipway.Deployment, error) {
	all, err := q.DeploymentListUnfinished(ctx, tool)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(d slipway.Deployment) bool {
		return !sameEnvironment(d, like)
	}), nil
}

// deploymentConfig returns the config d deploys, as its environment runs
// it (overrides applied), and that environment.
func deploymentConfig(d slipway.Deployment) (slipway.ToolConfig, slipway.Environment, error) {
	cfg, err := parseStored(d.ToolConfig)
	if err != nil {
		return cfg, slipway.Environment{}, err
	}
	name := cmp.Or(d.Environment, slipway.DefaultEnvironment)
	env, ok := cfg.Environment(name)
	if !ok {
		return cfg, env, fmt.Errorf("the config of deployment %s has no environment %q", d.ID, name)
	}
	return cfg.ForEnvironment(env), env, nil
}

// deployEnvironment returns the environment a new deployment of tool's
// config raw goes to: want, or the config's entry environment. EInvalid
// when the config has no such environment; EForbidden for a direct
// deployment (neither a promotion nor a rollback) to a production
// environment that takes its builds from upstream.
func deployEnvironment(tool string, raw json.RawMessage, want string, o origin) (string, error) {
	cfg, err := parseStored(raw)
	if err != nil {
		return "", err
	}
	name := cmp.Or(want, cfg.EntryEnvironment())
	env, ok := cfg.Environment(name)
	if !ok {
		return "", slipway.Errorf(slipway.EInvalid, "environment: tool %s has no environment %q; its environments: %s", tool, name, environmentNames(cfg))
	}
	if inst := slipway.InstanceName(tool, name); !slipway.ValidName(inst) {
		return "", slipway.Errorf(slipway.EInvalid, "environment: %s runs as %q, longer than %d characters: use a shorter environment name", name, inst, slipway.MaxNameLength)
	}
	switch {
	case o.promotedFrom != "" && env.Upstream != o.promotedFrom:
		return "", slipway.Errorf(slipway.EConflict, "environment %s takes promotions from %q, not %q (the config changed)", name, env.Upstream, o.promotedFrom)
	case o.promotedFrom == "" && o.rollbackOf == "" && env.Production && env.Upstream != "" && !env.AllowDirect:
		return "", slipway.Errorf(slipway.EForbidden,
			"Environment %s is a production environment: it runs only builds that were live and healthy in %s. Promote them (slipway promote %s), or set x-slipway.environments.%s.allow_direct: true to allow direct deployments.",
			name, env.Upstream, name, name)
	}
	return name, nil
}

// environmentNames lists cfg's environments, comma-separated.
func environmentNames(cfg slipway.ToolConfig) string {
	var names []string
	for _, e := range cfg.EnvironmentList() {
		names = append(names, e.Name)
	}
	return strings.Join(names, ", ")
}

// EnvironmentList returns the tool's environments in promotion order,
// each with what runs there now and its latest deployment. ENotFound when
// the tool has no config.
func (s *Deployments) EnvironmentList(ctx context.Context, tool string) ([]slipway.EnvironmentStatus, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return nil, err
	}
	cfg, err := s.ConfigGet(ctx, tool)
	if err != nil {
		return nil, err
	}
	ds, err := s.store.DeploymentList(ctx, tool)
	if err != nil {
		return nil, fmt.Errorf("deployments of %s: %w", tool, err)
	}
	var out []slipway.EnvironmentStatus
	for _, env := range cfg.EnvironmentList() {
		es := slipway.EnvironmentStatus{Environment: env, Instance: slipway.InstanceName(tool, env.Name)}
		live, err := s.store.LiveRunList(ctx, es.Instance)
		if err != nil {
			return nil, fmt.Errorf("live state of %s: %w", es.Instance, err)
		}
		unhealthy, err := s.eng.unhealthy(ctx, es.Instance, live)
		if err != nil {
			return nil, err
		}
		for _, r := range live {
			es.Live = append(es.Live, slipway.LiveComponent{
				Component: r.Component, BuildKey: r.BuildKey, Commit: r.Commit,
				DeploymentID: r.DeploymentID, AppliedAt: r.AppliedAt, Unhealthy: unhealthy[r.Component],
			})
		}
		for _, d := range slices.Backward(ds) {
			if sameEnvironment(d, slipway.Deployment{Environment: env.Name}) {
				es.LatestDeployment, es.LatestStatus = d.ID, d.Status
				break
			}
		}
		out = append(out, es)
	}
	return out, nil
}

// Promote creates a deployment of environment env that runs exactly the
// builds live and healthy in its upstream environment, with the config
// version the upstream's latest successful deployment ran: nothing is
// resolved or built. EInvalid when env has no upstream; EConflict when
// the upstream is not ready (a deployment in progress, a component
// unhealthy or not live, a build pruned), with the reason.
func (s *Deployments) Promote(ctx context.Context, tool, env string, opts slipway.DeployOptions) (slipway.Deployment, error) {
	return s.promote(ctx, tool, env, opts, origin{})
}

// promote is [Deployments.Promote] with o's parent (a flow run's step).
func (s *Deployments) promote(ctx context.Context, tool, env string, opts slipway.DeployOptions, o origin) (slipway.Deployment, error) {
	if err := s.eng.ready(); err != nil {
		return slipway.Deployment{}, err
	}
	src, pins, err := s.promotion(ctx, tool, env)
	if err != nil {
		return slipway.Deployment{}, err
	}
	opts.Environment, opts.ForceBuild = env, false
	opts.Description = cmp.Or(opts.Description, "Promotion of "+src.ID+" from "+src.Environment)
	o.promotedFrom, o.pins = src.Environment, pins
	return s.create(ctx, tool, opts, o, func(store.Tx, time.Time) (int, json.RawMessage, error) {
		return src.ConfigVersion, src.ToolConfig, nil
	})
}

// PromotePlan returns what [Deployments.Promote] would do, without
// storing anything: the plan, and per component the commits that would
// come and go and the config differences.
func (s *Deployments) PromotePlan(ctx context.Context, tool, env string, opts slipway.DeployOptions) (slipway.Promotion, error) {
	src, pins, err := s.promotion(ctx, tool, env)
	if err != nil {
		return slipway.Promotion{}, err
	}
	d := slipway.Deployment{
		Tool: tool, Environment: env, PromotedFrom: src.Environment, Pins: pins,
		ConfigVersion: src.ConfigVersion, ToolConfig: src.ToolConfig, Description: opts.Description,
		Trigger: cmp.Or(opts.Trigger, "api"), Actor: opts.Actor, Status: slipway.DeploymentPending,
	}
	envCfg, target, err := deploymentConfig(d)
	if err != nil {
		return slipway.Promotion{}, err
	}
	pctx := s.eng.scopeOf(ctx, tool, src.ConfigVersion)
	planned, err := s.planDeployment(pctx, d, envCfg, target)
	if err != nil {
		return slipway.Promotion{}, err
	}
	p := slipway.Promotion{From: src.Environment, To: env, Source: src.ID, Plan: planned}
	live, err := s.store.LiveRunList(ctx, d.Instance())
	if err != nil {
		return p, fmt.Errorf("live state of %s: %w", d.Instance(), err)
	}
	byName := map[string]slipway.LiveRun{}
	for _, r := range live {
		byName[r.Component] = r
	}
	for _, name := range slices.Sorted(maps.Keys(pins)) {
		pin, cur := pins[name], byName[name]
		c := slipway.PromotionChange{Component: name, FromCommit: cur.Commit, ToCommit: pin.Commit, FromBuild: cur.BuildKey, ToBuild: pin.BuildKey}
		if src := envCfg.Components[name].Build.Source; src != nil && cur.Commit != "" && cur.Commit != pin.Commit {
			c.New, c.Removed, c.Truncated, err = s.source.Between(pctx, src.Repository, cur.Commit, pin.Commit, maxPromotionCommits)
			if err != nil {
				return p, fmt.Errorf("commits of %s between %s and %s: %w", name, short(cur.Commit), short(pin.Commit), err)
			}
		}
		p.Changes = append(p.Changes, c)
	}
	p.ConfigChanges = configChanges(byName, envCfg)
	return p, nil
}

// maxPromotionCommits bounds the commits a promotion's diff lists per
// component and direction.
const maxPromotionCommits = 200

// configChanges says, per component, how the config env would run
// differs from what runs in the environment now: the run fields whose
// values differ, added and removed components.
func configChanges(live map[string]slipway.LiveRun, cfg slipway.ToolConfig) []slipway.ConfigChange {
	var out []slipway.ConfigChange
	for _, name := range cfg.Names() {
		c := cfg.Components[name]
		r, ok := live[name]
		switch {
		case !ok:
			out = append(out, slipway.ConfigChange{Component: name, Change: "added"})
		case r.SpecHash != c.SpecHash():
			out = append(out, slipway.ConfigChange{Component: name, Change: "changed", Fields: slipway.RunDiff(r.Spec, c)})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(live)) {
		if _, ok := cfg.Components[name]; !ok {
			out = append(out, slipway.ConfigChange{Component: name, Change: "removed"})
		}
	}
	return out
}

// promotion returns the deployment of env's upstream whose config a
// promotion to env deploys, and the builds it pins: those live and
// healthy upstream.
func (s *Deployments) promotion(ctx context.Context, tool, env string) (slipway.Deployment, map[string]slipway.Pin, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.Deployment{}, nil, err
	}
	if err := slipway.ValidateEnvironmentName("environment", env); err != nil {
		return slipway.Deployment{}, nil, err
	}
	cfg, err := s.ConfigGet(ctx, tool)
	if err != nil {
		return slipway.Deployment{}, nil, err
	}
	target, ok := cfg.Environment(env)
	switch {
	case !ok:
		return slipway.Deployment{}, nil, slipway.Errorf(slipway.ENotFound, "Tool %s has no environment %q; its environments: %s.", tool, env, environmentNames(cfg))
	case target.Upstream == "":
		return slipway.Deployment{}, nil, slipway.Errorf(slipway.EInvalid, "Environment %s has no upstream to promote from: deploy to it instead.", env)
	}
	up := target.Upstream
	ds, err := s.store.DeploymentList(ctx, tool)
	if err != nil {
		return slipway.Deployment{}, nil, fmt.Errorf("deployments of %s: %w", tool, err)
	}
	var src slipway.Deployment
	for _, d := range slices.Backward(ds) { // newest first
		if !sameEnvironment(d, slipway.Deployment{Environment: up}) {
			continue
		}
		if !d.Status.Final() {
			return d, nil, slipway.Errorf(slipway.EConflict, "Cannot promote to %s: %s has a deployment in progress (%s). Promote once it has finished.", env, up, d.ID)
		}
		if d.Status == slipway.DeploymentSuccessful {
			src = d
			break
		}
	}
	if src.ID == "" {
		return src, nil, slipway.Errorf(slipway.EConflict, "Cannot promote to %s: %s has no successful deployment to promote.", env, up)
	}
	src.Environment = up
	instance := slipway.InstanceName(tool, up)
	live, err := s.store.LiveRunList(ctx, instance)
	if err != nil {
		return src, nil, fmt.Errorf("live state of %s: %w", instance, err)
	}
	unhealthy, err := s.eng.unhealthy(ctx, instance, live)
	if err != nil {
		return src, nil, err
	}
	srcCfg, err := parseStored(src.ToolConfig)
	if err != nil {
		return src, nil, err
	}
	byName := map[string]slipway.LiveRun{}
	for _, r := range live {
		byName[r.Component] = r
	}
	pins := map[string]slipway.Pin{}
	var problems []string
	for _, name := range srcCfg.Names() {
		if srcCfg.Components[name].Build.Source == nil {
			continue // reuse_from follows its source; an image is no build
		}
		r, ok := byName[name]
		switch {
		case !ok:
			problems = append(problems, name+" is not live in "+up)
		case unhealthy[name] != "":
			problems = append(problems, name+" is unhealthy in "+up+": "+unhealthy[name])
		default:
			pins[name] = slipway.Pin{BuildKey: r.BuildKey, Commit: r.Commit}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(pins)) {
		_, ok, err := lookupArtifact(ctx, s.builder, tool, pins[name].BuildKey)
		switch {
		case errors.Is(err, build.ErrCorrupt):
			problems = append(problems, fmt.Sprintf("the build of %s (%s) failed its digest check: %v", name, pins[name].BuildKey, err))
		case err != nil:
			return src, nil, fmt.Errorf("look up build %s: %w", pins[name].BuildKey, err)
		case !ok:
			problems = append(problems, fmt.Sprintf("the build of %s (%s) was pruned", name, pins[name].BuildKey))
		}
	}
	if len(problems) > 0 {
		return src, nil, slipway.Errorf(slipway.EConflict, "Cannot promote %s to %s: %s.", up, env, strings.Join(problems, "; "))
	}
	return src, pins, nil
}
