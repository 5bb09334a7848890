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

// DeploymentRollback creates a deployment of exactly the config and the
// builds of an earlier successful deployment of tool: to, or when empty
// the successful deployment before the latest successful one. Its builds
// are reused, never rebuilt, and its refs are not resolved again; it is
// planned against what runs like any deployment, so what is already that
// version is unchanged. The tool's stored config is left as it is: the
// next ordinary deployment deploys it again (roll forward).
//
// Returns ENotFound when there is no such deployment (or none to go back
// to), EInvalid when to did not succeed, and EConflict naming the builds
// that were pruned since (nothing is created then).
func (s *Deployments) DeploymentRollback(ctx context.Context, tool, to string, opts slipway.DeployOptions) (slipway.Deployment, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.Deployment{}, err
	}
	if err := s.eng.ready(); err != nil {
		return slipway.Deployment{}, err
	}
	src, err := s.rollbackSource(ctx, tool, to, cmp.Or(opts.Environment, slipway.DefaultEnvironment))
	if err != nil {
		return slipway.Deployment{}, err
	}
	pins, err := s.eng.rollbackPins(ctx, src.ID)
	if err != nil {
		return slipway.Deployment{}, err
	}
	if err := s.checkPins(ctx, tool, src.ID, pins); err != nil {
		return slipway.Deployment{}, err
	}
	opts.ForceBuild = false
	opts.Description = cmp.Or(opts.Description, "Rollback to "+src.ID)
	opts.Environment = cmp.Or(src.Environment, slipway.DefaultEnvironment)
	return s.create(ctx, tool, opts, origin{rollbackOf: src.ID}, func(store.Tx, time.Time) (int, json.RawMessage, error) {
		return src.ConfigVersion, src.ToolConfig, nil
	})
}

// checkPins returns EConflict naming the builds of pins that are gone (a
// rollback to what: a deployment ID, or "release N").
func (s *Deployments) checkPins(ctx context.Context, tool, what string, pins map[string]slipway.Step) error {
	var gone []string
	for _, name := range slices.Sorted(maps.Keys(pins)) {
		p := pins[name]
		_, ok, err := lookupArtifact(ctx, s.builder, tool, p.BuildKey)
		switch {
		case errors.Is(err, build.ErrCorrupt):
			gone = append(gone, fmt.Sprintf("%s (commit %s, build %s: %v)", name, short(p.Commit), p.BuildKey, err))
		case err != nil:
			return fmt.Errorf("roll back %s to %s: look up build %s: %w", tool, what, p.BuildKey, err)
		case !ok:
			gone = append(gone, fmt.Sprintf("%s (commit %s, build %s)", name, short(p.Commit), p.BuildKey))
		}
	}
	if len(gone) > 0 {
		return slipway.Errorf(slipway.EConflict,
			"Cannot roll back to %s: its builds of %s were pruned since. Deploy those commits again to rebuild them.",
			what, strings.Join(gone, ", "))
	}
	return nil
}

// rollbackSource returns the deployment a rollback goes back to.
func (s *Deployments) rollbackSource(ctx context.Context, tool, to, env string) (slipway.Deployment, error) {
	if to != "" && to != slipway.DeploymentIDLatest {
		d, err := s.lookup(ctx, tool, to)
		if err != nil {
			return d, err
		}
		if d.Status != slipway.DeploymentSuccessful {
			return d, slipway.Errorf(slipway.EInvalid, "Cannot roll back to %s: it is %s; only a successful deployment can be deployed again.", d.ID, d.Status)
		}
		if d.Flow != "" {
			return d, slipway.Errorf(slipway.EInvalid, "Cannot roll back to %s: it is a run of flow %s, which deploys nothing itself; roll back to one of its steps' deployments.", d.ID, d.Flow)
		}
		return d, nil
	}
	ds, err := s.store.DeploymentList(ctx, tool)
	if err != nil {
		return slipway.Deployment{}, fmt.Errorf("deployments of %s: %w", tool, err)
	}
	var ok []slipway.Deployment // newest first
	for _, d := range slices.Backward(ds) {
		if d.Status == slipway.DeploymentSuccessful && sameEnvironment(d, slipway.Deployment{Environment: env}) {
			ok = append(ok, d)
		}
	}
	if to == slipway.DeploymentIDLatest && len(ok) > 0 {
		return ok[0], nil
	}
	if len(ok) < 2 {
		return slipway.Deployment{}, slipway.Errorf(slipway.ENotFound,
			"Tool %s has %d successful %s: there is no earlier one to roll back to.", tool, len(ok), pluralize(len(ok), "deployment"))
	}
	return ok[1], nil
}
