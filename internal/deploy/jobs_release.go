package deploy

import (
	"context"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// jobRelease appends, in tx, the release of a change the jobs API made to
// a component outside any deployment: live is what is live now, nil when
// the component was removed (a delete or a flush). No deployment made it,
// so its DeploymentID is empty (the API's deploy_id "", which `slipway
// releases` shows as "jobs API"); its actor is the caller; its config
// version is the component's previous release's (the config its build
// came from), which decides the scope its repository is read in.
//
// A restart appends nothing: it starts the same build with the same spec,
// so no other version becomes live.
func jobRelease(ctx context.Context, tx store.Tx, tool, component string, live *slipway.LiveRun, at time.Time) error {
	prev, err := tx.ReleaseList(ctx, store.ReleaseFilter{Tool: tool, Environment: slipway.DefaultEnvironment, Component: component, Limit: 1})
	if err != nil {
		return err
	}
	r := slipway.Release{
		Tool: tool, Environment: slipway.DefaultEnvironment, Component: component, AppliedAt: at,
		Outcome: slipway.ReleaseRemoved, Actor: slipway.ActorFrom(ctx).Name,
	}
	if len(prev) > 0 {
		r.ConfigVersion = prev[0].ConfigVersion
	}
	if live != nil {
		r.Outcome = slipway.ReleaseApplied
		r.BuildKey, r.Commit, r.SpecHash, r.AppliedAt = live.BuildKey, live.Commit, live.SpecHash, live.AppliedAt
	}
	_, err = tx.ReleaseAppend(ctx, r)
	return err
}
