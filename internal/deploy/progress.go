package deploy

import (
	"context"
	"errors"
	"fmt"

	"slipway.dev/slipway/internal/runner"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// advance records a deployment's progress in one transaction: it runs the
// given writes, creates the plan when steps is not nil, skips the
// dependants of failed steps, enqueues the steps whose needs are all
// satisfied, and finishes the deployment when every step is final.
//
// It takes the deployment's lock first (the store's concurrency contract):
// two steps finishing at once record their outcomes one after the other,
// and the second sees the first's, so a step needing both is started.
func (e *Engine) advance(ctx context.Context, d slipway.Deployment, steps []slipway.Step, writes ...func(txn) error) error {
	err := e.tx(ctx, d.ID, func(tx txn) error {
		lock := tx.DeploymentLock
		if e.test.noLocks {
			lock = tx.DeploymentGet
		}
		cur, err := lock(ctx, d.Tool, d.ID)
		if errors.Is(err, store.ErrNotFound) {
			return nil // deleted meanwhile: nothing is left to record
		} else if err != nil {
			return err
		}
		for _, w := range writes {
			if err := w(tx); err != nil {
				return err
			}
		}
		if cur.Status.Final() {
			return nil
		}
		if steps != nil {
			if err := tx.StepsCreate(ctx, steps); err != nil {
				return err
			}
			for _, st := range steps {
				if st.State.Final() {
					if err := e.emit(ctx, tx, d.ID, "step", st.Key, string(st.State), st.Detail); err != nil {
						return err
					}
				}
			}
			e.observePlanned(tx, steps)
			msg := fmt.Sprintf("Deploying: %s", summarize(steps))
			if d.Flow != "" {
				msg = flowPlanMessage(d, steps)
			}
			if _, err := tx.DeploymentUpdateStatus(ctx, store.DeploymentStatusUpdate{Tool: d.Tool, ID: d.ID, Status: slipway.DeploymentRunning, LongStatus: msg, UpdatedAt: e.now()}); err != nil {
				return err
			}
			if err := e.emit(ctx, tx, d.ID, "plan", "", string(slipway.DeploymentRunning), msg); err != nil {
				return err
			}
		}
		all, err := tx.StepList(ctx, d.ID)
		if err != nil {
			return err
		}
		if err := e.progress(ctx, tx, cur, all); err != nil {
			return err
		}
		if e.test.beforeCommit != nil {
			e.test.beforeCommit()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("deployment %s: record progress: %w", d.ID, err)
	}
	return nil
}

// progress is the scheduling rule, applied inside a transaction.
func (e *Engine) progress(ctx context.Context, tx txn, d slipway.Deployment, all []slipway.Step) error {
	dec := Schedule(all, d.Status == slipway.DeploymentCancelling)
	index := make(map[string]int, len(all))
	for i, st := range all {
		index[st.Key] = i
	}
	now := e.now()
	for _, set := range dec.Settle {
		st := &all[index[set.Key]]
		if _, err := e.updateStep(ctx, tx, store.StepUpdate{
			DeploymentID: d.ID, Key: st.Key, State: set.State, Detail: set.Reason, Attempt: st.Attempt,
			StartedAt: st.StartedAt, FinishedAt: now, IfStateIn: []slipway.StepState{slipway.StepPending, slipway.StepWaiting},
		}); err != nil {
			return err
		}
		st.State, st.Detail, st.FinishedAt = set.State, set.Reason, now
	}
	if !dec.Final {
		due := make([]runner.Job, len(dec.Due))
		for i, key := range dec.Due {
			due[i] = runner.Job{Tool: d.Tool, DeploymentID: d.ID, Key: key}
		}
		return e.enqueue(ctx, tx, due...)
	}
	status, long := outcomeOf(d, all)
	return e.finishTx(ctx, tx, d, status, long)
}

// outcomeOf decides a finished deployment's status and long status.
func outcomeOf(d slipway.Deployment, all []slipway.Step) (slipway.DeploymentStatus, string) {
	// A step cancelled while the deployment is not (a build cancelled on
	// its own) fails the deployment, as a cancelled build does on Toolforge.
	var first *slipway.Step
	for i := range all {
		st := &all[i]
		if st.State == slipway.StepFailed || st.State == slipway.StepTimedOut || st.State == slipway.StepCancelled {
			if first == nil || st.FinishedAt.Before(first.FinishedAt) {
				first = st
			}
		}
	}
	switch {
	case d.Status == slipway.DeploymentCancelling:
		var done, stopped int
		for _, st := range all {
			switch st.State {
			case slipway.StepDone:
				done++
			case slipway.StepCancelled:
				stopped++
			default:
			}
		}
		return slipway.DeploymentCancelled, fmt.Sprintf("Deployment was cancelled: %d steps cancelled, %d done before the cancel (what they applied stays)", stopped, done)
	case first != nil && first.State == slipway.StepCancelled:
		return slipway.DeploymentFailed, fmt.Sprintf("%s %s was cancelled: %s", first.Kind, first.Component, first.Detail)
	case first != nil && first.State == slipway.StepTimedOut:
		return slipway.DeploymentTimedOut, fmt.Sprintf("%s %s timed out: %s", first.Kind, first.Component, first.Detail)
	case first != nil:
		return slipway.DeploymentFailed, fmt.Sprintf("%s %s failed: %s", first.Kind, first.Component, first.Detail)
	}
	if d.Flow != "" {
		return slipway.DeploymentSuccessful, fmt.Sprintf("Flow %s done: %d %s", d.Flow, len(all), pluralize(len(all), "step"))
	}
	return slipway.DeploymentSuccessful, "All components deployed: " + summarize(all)
}

// summarize counts what a plan does: "1 to build, 2 to run, 0 to remove,
// 3 unchanged", with "1 to ask" when gates will ask (an unasked gate is
// not counted).
func summarize(steps []slipway.Step) string {
	var builds, runs, prunes, gates, unchanged int
	for _, st := range steps {
		switch {
		case st.State == slipway.StepUnchanged:
			if st.Kind != slipway.StepGate {
				unchanged++
			}
		case st.Kind == slipway.StepBuild:
			builds++
		case st.Kind == slipway.StepRun:
			runs++
		case st.Kind == slipway.StepPrune:
			prunes++
		case st.Kind == slipway.StepGate:
			gates++
		}
	}
	ask := ""
	if gates > 0 {
		ask = fmt.Sprintf(", %d to ask", gates)
	}
	return fmt.Sprintf("%d to build, %d to run%s, %d to remove, %d unchanged", builds, runs, ask, prunes, unchanged)
}

// finish ends a deployment outside any step (it failed before planning).
func (e *Engine) finish(ctx context.Context, d slipway.Deployment, status slipway.DeploymentStatus, long string) error {
	return e.tx(ctx, d.ID, func(tx txn) error {
		if _, err := tx.DeploymentLock(ctx, d.Tool, d.ID); err != nil {
			return ignoreNotFound(err)
		}
		return e.finishTx(ctx, tx, d, status, long)
	})
}

// ignoreNotFound returns nil for a store.ErrNotFound (a deployment deleted
// meanwhile has nothing left to record), and err otherwise.
func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

func (e *Engine) finishTx(ctx context.Context, tx txn, d slipway.Deployment, status slipway.DeploymentStatus, long string) error {
	now := e.now()
	ok, err := tx.DeploymentUpdateStatus(ctx, store.DeploymentStatusUpdate{
		Tool: d.Tool, ID: d.ID, Status: status, LongStatus: long, FinishedAt: now, UpdatedAt: now,
		IfStatusIn: []slipway.DeploymentStatus{slipway.DeploymentPending, slipway.DeploymentRunning, slipway.DeploymentCancelling},
	})
	if err != nil || !ok {
		return err
	}
	if err := e.emit(ctx, tx, d.ID, "deployment", "", string(status), long); err != nil {
		return err
	}
	if err := e.closeQuestions(ctx, tx, d, status); err != nil {
		return err
	}
	if ev := finishedEvent(d, status); ev != "" {
		n := d
		n.Status, n.LongStatus, n.FinishedAt = status, long, now
		if err := e.outbox(ctx, tx, slipway.Notification{Event: ev, Tool: d.Tool, Deployment: &n}); err != nil {
			return err
		}
	}
	if d.Parent != "" {
		if err := e.settleParent(ctx, tx, d, status, long); err != nil {
			return fmt.Errorf("flow run %s: %w", d.Parent, err)
		}
	}
	e.observeFinished(tx, status)
	if status == slipway.DeploymentSuccessful {
		if err := e.watchAfterSuccess(ctx, tx, d); err != nil {
			return fmt.Errorf("auto-rollback watch: %w", err)
		}
	}
	if _, err := tx.DeploymentPrune(ctx, d.Tool, e.cfg.KeepDeployments); err != nil {
		return fmt.Errorf("prune old deployments: %w", err)
	}
	return e.startSuccessor(ctx, tx, d)
}

// startSuccessor enqueues the start job of the deployment of d's tool that
// waited for d, in the transaction that finishes d. Its callers hold the
// tool's lock, so a deployment created at the same moment is either seen
// here or sees d finished.
func (e *Engine) startSuccessor(ctx context.Context, tx txn, d slipway.Deployment) error {
	unfinished, err := tx.DeploymentListUnfinished(ctx, d.Tool)
	if err != nil {
		return fmt.Errorf("start the next deployment: %w", err)
	}
	for _, u := range unfinished { // oldest first
		if u.ID != d.ID && sameEnvironment(u, d) {
			return e.enqueue(ctx, tx, runner.Job{Tool: u.Tool, DeploymentID: u.ID})
		}
	}
	return nil
}

// setStatus moves a deployment to an in-progress status, notifying ev
// unless it is "".
func (e *Engine) setStatus(ctx context.Context, d slipway.Deployment, status slipway.DeploymentStatus, long string, ev slipway.NotifyEvent) error {
	return e.tx(ctx, d.ID, func(tx txn) error {
		ok, err := tx.DeploymentUpdateStatus(ctx, store.DeploymentStatusUpdate{
			Tool: d.Tool, ID: d.ID, Status: status, LongStatus: long, UpdatedAt: e.now(),
			IfStatusIn: []slipway.DeploymentStatus{slipway.DeploymentPending, slipway.DeploymentRunning},
		})
		if err != nil || !ok {
			return err
		}
		if err := e.emit(ctx, tx, d.ID, "deployment", "", string(status), long); err != nil || ev == "" {
			return err
		}
		d.Status, d.LongStatus = status, long
		return e.outbox(ctx, tx, slipway.Notification{Event: ev, Tool: d.Tool, Deployment: &d})
	})
}

// updateStep changes a step in tx and, when the change applied, appends
// the event that says so: every change of a step is an event.
func (e *Engine) updateStep(ctx context.Context, tx txn, u store.StepUpdate) (bool, error) {
	ok, err := tx.StepUpdate(ctx, u)
	if err != nil || !ok {
		return ok, err
	}
	e.observeStep(tx, u)
	return true, e.emit(ctx, tx, u.DeploymentID, "step", u.Key, string(u.State), u.Detail)
}

// emit appends an event in tx.
func (e *Engine) emit(ctx context.Context, tx txn, deploymentID, kind, step, state, msg string) error {
	_, err := tx.EventAppend(ctx, slipway.Event{DeploymentID: deploymentID, Time: e.now(), Kind: kind, Step: step, State: state, Message: msg})
	if err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	return nil
}
