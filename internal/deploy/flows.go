package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// Flows is the application service of a tool's flows (httpapi's
// FlowsService): it lists them with their latest runs and starts runs. A
// run is a deployment (its Flow set), read, watched and cancelled through
// [Deployments] like any other.
type Flows struct{ app }

// NewFlows returns the flows service over eng.
func NewFlows(eng *Engine) *Flows { return &Flows{newApp(eng)} }

// FlowList returns the flows of the tool's current config, in its order,
// each with its latest runs (newest first, at most
// [slipway.FlowRunsListed]). ENotFound when the tool has no config.
func (s *Flows) FlowList(ctx context.Context, tool string) ([]slipway.FlowStatus, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return nil, err
	}
	cfg, err := (&Deployments{s.app}).ConfigGet(ctx, tool)
	if err != nil {
		return nil, err
	}
	ds, err := s.store.DeploymentList(ctx, tool)
	if err != nil {
		return nil, fmt.Errorf("deployments of %s: %w", tool, err)
	}
	out := make([]slipway.FlowStatus, 0, len(cfg.Flows))
	for _, f := range cfg.Flows {
		fs := slipway.FlowStatus{Flow: f, Runs: []slipway.Deployment{}}
		for _, d := range slices.Backward(ds) {
			if d.Flow == f.Name && len(fs.Runs) < slipway.FlowRunsListed {
				fs.Runs = append(fs.Runs, d)
			}
		}
		out = append(out, fs)
	}
	return out, nil
}

// FlowRun starts a run of the tool's flow name with the tool's current
// config (a source_url is fetched again first, as for a deployment) and
// returns it, pending: a deployment whose steps are the flow's. It queues
// behind an unfinished run of the same flow, and replaces a run that was
// already waiting there (latest wins), as deployments do per environment.
// EInvalid for a malformed name; ENotFound when the tool has no config or
// its config no such flow (naming those it has).
func (s *Flows) FlowRun(ctx context.Context, tool, name string, opts slipway.DeployOptions) (slipway.Deployment, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.Deployment{}, err
	}
	if !slipway.ValidFlowName(name) {
		return slipway.Deployment{}, slipway.Errorf(slipway.EInvalid, "flow: %q is not a flow name: a lowercase letter then up to %d lowercase letters, digits or dashes", name, slipway.MaxFlowName-1)
	}
	if err := s.eng.ready(); err != nil {
		return slipway.Deployment{}, err
	}
	deps := &Deployments{s.app}
	cfg, err := deps.ConfigGet(ctx, tool)
	if err != nil {
		return slipway.Deployment{}, err
	}
	if _, ok := cfg.Flow(name); !ok {
		return slipway.Deployment{}, noFlow(tool, cfg, name)
	}
	actor := slipway.ActorFrom(ctx)
	remote, err := deps.refreshSource(ctx, tool, actor)
	if err != nil {
		return slipway.Deployment{}, err
	}
	opts.Environment, opts.ForceBuild, opts.ForceRun = "", false, false
	if opts.Description == "" {
		opts.Description = "Run of flow " + name
	}
	// The flow is checked again in the creating transaction, against the
	// version the run records (create: checkFlow).
	return deps.create(ctx, tool, opts, origin{flow: name}, func(tx store.Tx, now time.Time) (int, json.RawMessage, error) {
		sc, err := deps.configForDeployTx(ctx, tx, tool, remote, actor, now)
		if err != nil {
			return 0, nil, err
		}
		return sc.Version, sc.Raw, nil
	})
}
