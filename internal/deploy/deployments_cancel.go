package deploy

import (
	"context"
	"fmt"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// DeploymentCancel cancels a pending or running deployment (id may be
// "latest"): steps not started are cancelled, running builds are killed,
// health waits and one-off runs stop, and the deployment ends cancelled
// once its running steps have stopped, typically well within a second.
// Components already applied stay as they are. Returns the deployment,
// cancelling or cancelled; ENotFound when there is none; EConflict when it
// is already final.
func (s *Deployments) DeploymentCancel(ctx context.Context, tool, id string) (slipway.Deployment, error) {
	d, err := s.lookup(ctx, tool, id)
	if err != nil {
		return slipway.Deployment{}, err
	}
	var ok bool
	err = s.eng.tx(ctx, d.ID, func(tx txn) error {
		if _, err := tx.DeploymentLock(ctx, tool, d.ID); err != nil {
			return err
		}
		var err error
		ok, err = tx.DeploymentUpdateStatus(ctx, store.DeploymentStatusUpdate{
			Tool: tool, ID: d.ID, Status: slipway.DeploymentCancelling, LongStatus: "Cancelling: stopping the running steps",
			UpdatedAt: s.now(), IfStatusIn: []slipway.DeploymentStatus{slipway.DeploymentPending, slipway.DeploymentRunning},
		})
		if err != nil || !ok {
			return err
		}
		if err := s.eng.emit(ctx, tx, d.ID, "deployment", "", string(slipway.DeploymentCancelling), "Cancelling: stopping the running steps"); err != nil {
			return err
		}
		cur, err := tx.DeploymentGet(ctx, tool, d.ID)
		if err != nil {
			return err
		}
		all, err := tx.StepList(ctx, d.ID)
		if err != nil {
			return err
		}
		if len(all) == 0 {
			return s.eng.finishTx(ctx, tx, cur, slipway.DeploymentCancelled, "Deployment was cancelled before it started")
		}
		return s.eng.progress(ctx, tx, cur, all)
	})
	if err != nil {
		return slipway.Deployment{}, fmt.Errorf("cancel %s: %w", d.ID, err)
	}
	if !ok {
		cur, err := s.store.DeploymentGet(ctx, tool, d.ID)
		if err != nil {
			return slipway.Deployment{}, fmt.Errorf("cancel %s: %w", d.ID, err)
		}
		return slipway.Deployment{}, slipway.Errorf(slipway.EConflict, "Deployment can't be cancelled, its status is %s", cur.Status)
	}
	s.eng.cancelRunning(d.ID, errCancelled)
	if d.Flow != "" {
		s.cancelChildren(ctx, d)
	}
	return s.DeploymentGet(ctx, tool, d.ID)
}
