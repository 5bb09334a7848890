package deploy

import (
	"context"
	"fmt"
	"sync"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// runningSteps holds the cancel functions of the steps this process is
// executing, by deployment and step key, so that a cancel request (of a
// deployment or of one build) stops them at once.
//
// It is per process, the fast path: with several servers sharing the
// store, a running step also watches its deployment's status
// ([Service.watchCancel]) and stops within RecheckInterval of a cancel
// taken by another server.
type runningSteps struct {
	mu   sync.Mutex
	next int
	m    map[string]map[int]runningStep
}

// runningStep is one registered step.
type runningStep struct {
	key    string
	cancel context.CancelCauseFunc
}

func newRunningSteps() *runningSteps {
	return &runningSteps{m: map[string]map[int]runningStep{}}
}

// add registers the cancel function of step key of a deployment and
// returns its unregister.
func (r *runningSteps) add(deploymentID, key string, cancel context.CancelCauseFunc) func() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	id := r.next
	if r.m[deploymentID] == nil {
		r.m[deploymentID] = map[int]runningStep{}
	}
	r.m[deploymentID][id] = runningStep{key: key, cancel: cancel}
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.m[deploymentID], id)
		if len(r.m[deploymentID]) == 0 {
			delete(r.m, deploymentID)
		}
	}
}

// cancel stops every running step of a deployment with cause.
func (r *runningSteps) cancel(deploymentID string, cause error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.m[deploymentID] {
		st.cancel(cause)
	}
}

// cancelStep stops step key of a deployment with cause, and reports
// whether this process was running it.
func (r *runningSteps) cancelStep(deploymentID, key string, cause error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	found := false
	for _, st := range r.m[deploymentID] {
		if st.key == key {
			st.cancel(cause)
			found = true
		}
	}
	return found
}

// DeploymentCancel cancels a pending or running deployment (id may be
// "latest"): steps not started are cancelled, running builds are killed,
// health waits and one-off runs stop, and the deployment ends cancelled
// once its running steps have stopped, typically well within a second.
// Components already applied stay as they are. Returns the deployment,
// cancelling or cancelled; ENotFound when there is none; EConflict when it
// is already final.
func (s *Service) DeploymentCancel(ctx context.Context, tool, id string) (slipway.Deployment, error) {
	d, err := s.lookup(ctx, tool, id)
	if err != nil {
		return slipway.Deployment{}, err
	}
	var ok bool
	err = s.tx(ctx, d.ID, func(tx store.Tx) error {
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
		if err := s.emit(ctx, tx, d.ID, "deployment", "", string(slipway.DeploymentCancelling), "Cancelling: stopping the running steps"); err != nil {
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
			return s.finishTx(ctx, tx, cur, slipway.DeploymentCancelled, "Deployment was cancelled before it started")
		}
		return s.progress(ctx, tx, cur, all)
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
	s.running.cancel(d.ID, errCancelled)
	return s.DeploymentGet(ctx, tool, d.ID)
}
