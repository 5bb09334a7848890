package deploy

import (
	"context"
	"fmt"

	"slipway.dev/slipway/internal/slipway"
)

// errDeleted is the cause given to the running steps of a deployment that
// is deleted.
var errDeleted = fmt.Errorf("%w: the deployment was deleted", errCancelled)

// DeploymentDelete deletes a deployment's record (its steps and events
// too) and returns it as it was. Builds and live components stay, as in
// Toolforge.
//
// Toolforge deletes the record of a running deployment and leaves its task
// running, orphaned. Slipway stops that work instead: the running steps are
// cancelled (builds killed, health waits and one-offs stopped) and their
// jobs find no deployment and end, and a deployment queued behind it
// starts. "latest" is not accepted: deleting needs a deployment ID.
func (s *Deployments) DeploymentDelete(ctx context.Context, tool, id string) (slipway.Deployment, error) {
	if id == slipway.DeploymentIDLatest {
		return slipway.Deployment{}, slipway.Errorf(slipway.EInvalid,
			"Deleting needs a deployment ID, not %q: list them with GET …/deployment", id)
	}
	d, err := s.DeploymentGet(ctx, tool, id)
	if err != nil {
		return slipway.Deployment{}, err
	}
	err = s.eng.tx(ctx, d.ID, func(tx txn) error {
		return notFound(tx.DeploymentDelete(ctx, tool, d.ID), "Deployment %s not found for tool %s", id, tool)
	})
	if err != nil {
		return slipway.Deployment{}, fmt.Errorf("delete %s: %w", d.ID, err)
	}
	if !d.Status.Final() {
		s.eng.cancelRunning(d.ID, errDeleted)
	}
	return d, nil
}
