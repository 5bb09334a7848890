package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// RunStep executes one step and records its outcome together with the
// steps it unblocks. Running it again for a finished step does nothing; for
// a step that was running when the server died it converges again (every
// action is idempotent).
func (e *Engine) RunStep(ctx context.Context, tool, id, key string) error {
	d, err := e.store.DeploymentGet(ctx, tool, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("step %s of %s: %w", key, id, err)
	}
	st, err := e.store.StepGet(ctx, id, key)
	if err != nil {
		return fmt.Errorf("step %s of %s: %w", key, id, err)
	}
	if st.State.Final() || d.Status.Final() {
		return nil
	}
	if d.Status == slipway.DeploymentCancelling {
		// This job is the step's own: whether the step is still pending or
		// was running when a server stopped, nobody else will settle it.
		return e.advance(ctx, d, nil, func(tx txn) error {
			_, err := e.updateStep(ctx, tx, store.StepUpdate{
				DeploymentID: id, Key: key, State: slipway.StepCancelled, Detail: "The deployment was cancelled",
				Attempt: st.Attempt, StartedAt: st.StartedAt, FinishedAt: e.now(),
				IfStateIn: []slipway.StepState{slipway.StepPending, slipway.StepRunning},
			})
			return err
		})
	}
	cfg, in, err := deploymentConfig(d)
	if err != nil {
		return err
	}
	switch st.Kind {
	case slipway.StepGate:
		return e.openGate(ctx, d, cfg, st)
	case slipway.StepDeploy, slipway.StepPromote:
		return e.runChildStep(ctx, d, cfg, st)
	case slipway.StepNotify:
		return e.runNotifyStep(ctx, d, cfg, st)
	case slipway.StepBuild, slipway.StepRun, slipway.StepPrune, slipway.StepOneOff:
		// Executed below.
	}
	deadline, err := e.deadline(ctx, d)
	if err != nil {
		return err
	}
	if st.Kind == slipway.StepBuild {
		if wait, err := e.waitBuildSlot(ctx, d, st, deadline); err != nil || wait {
			return err
		}
	}
	st.Attempt++
	st.State = slipway.StepRunning
	st.StartedAt = e.now()
	claimed := false
	err = e.tx(ctx, id, func(tx txn) error {
		var err error
		claimed, err = e.updateStep(ctx, tx, store.StepUpdate{
			DeploymentID: id, Key: key, State: st.State, Detail: runningDetail(st), Attempt: st.Attempt,
			StartedAt: st.StartedAt, IfStateIn: []slipway.StepState{slipway.StepPending, slipway.StepRunning},
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("step %s of %s: mark running: %w", key, id, err)
	}
	if !claimed {
		return nil // settled meanwhile (skipped or cancelled)
	}

	// The step's work can be cancelled by a cancel request and ends at the
	// deployment's deadline; a server stop cancels ctx itself.
	work, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	unregister := e.running.add(id, key, cancel)
	defer unregister()
	// A cancel request that came between reading the deployment and
	// registering did not reach this step, and one taken by another
	// server never reaches this one's registry: the store says it. A
	// build cancel settles an unregistered step in the store.
	watched := make(chan struct{}, 2)
	go func() {
		defer func() { watched <- struct{}{} }()
		e.watchCancel(work, tool, id, key, cancel)
	}()
	go func() {
		defer func() { watched <- struct{}{} }()
		e.watchDeadline(work, d, deadline, cancel)
	}()
	out := e.execute(work, d, cfg, in, st)
	cancel(nil)
	<-watched
	<-watched
	if out.interrupted != nil {
		// The server is stopping: leave the step running; the job is
		// retried (and the step converges again) at the next start.
		return fmt.Errorf("step %s of %s: interrupted: %w", key, id, out.interrupted)
	}
	st.State, st.Detail, st.FinishedAt = out.state, out.detail, e.now()
	return e.advance(ctx, d, nil, func(tx txn) error {
		if st.Kind == slipway.StepBuild {
			if err := tx.BuildLeaseRelease(ctx, id, key); err != nil {
				return err
			}
		}
		ok, err := e.updateStep(ctx, tx, store.StepUpdate{
			DeploymentID: id, Key: key, State: st.State, Detail: st.Detail, Attempt: st.Attempt,
			StartedAt: st.StartedAt, FinishedAt: st.FinishedAt,
			IfStateIn: []slipway.StepState{slipway.StepRunning},
		})
		switch {
		case err != nil || !ok:
			return err
		case out.live != nil:
			if err := tx.LiveRunPut(ctx, *out.live); err != nil {
				return err
			}
			return e.release(ctx, tx, d, st, out.live, slipway.ReleaseApplied)
		case out.removed:
			if err := tx.LiveRunDelete(ctx, d.Instance(), st.Component); err != nil {
				return err
			}
			return e.release(ctx, tx, d, st, nil, slipway.ReleaseRemoved)
		}
		return nil
	})
}

// buildSlotRecheck is how long a build step waiting for a slot of its
// tool waits before it looks again; its job is snoozed meanwhile and holds
// no worker.
const buildSlotRecheck = time.Second

// waitBuildSlot takes a build slot of d's tool for build step st, counted
// across every server sharing the store (the tool's --tool-build-slots),
// and reports wait when there is none: the step says so, stays pending,
// and its job looks again after buildSlotRecheck. A deployment past its
// deadline waits no more: the step runs and times out.
func (e *Engine) waitBuildSlot(ctx context.Context, d slipway.Deployment, st slipway.Step, deadline time.Time) (wait bool, err error) {
	if !e.now().Before(deadline) {
		return false, nil
	}
	ok, held, err := e.store.BuildLeaseTake(ctx, d.Tool, d.ID, st.Key, e.cfg.ToolBuildSlots, e.now())
	if err != nil {
		return false, fmt.Errorf("step %s of %s: %w", st.Key, d.ID, err)
	}
	if ok {
		return false, nil
	}
	detail := fmt.Sprintf("waiting for a build slot: %d of the tool's %d are building", held, e.cfg.ToolBuildSlots)
	if st.State == slipway.StepPending && st.Detail != detail {
		_ = e.tx(ctx, d.ID, func(tx txn) error { // best effort: a progress note
			_, err := e.updateStep(ctx, tx, store.StepUpdate{
				DeploymentID: d.ID, Key: st.Key, State: slipway.StepPending, Detail: detail, Attempt: st.Attempt,
				IfStateIn: []slipway.StepState{slipway.StepPending},
			})
			return err
		})
	}
	return true, retryAfterError(buildSlotRecheck)
}

// watchDeadline ends work with errDeploymentTimeout at the deployment's
// deadline. The deadline moves while the deployment waits for answers
// (time spent waiting does not count), so when it comes it is computed
// again, and the watch goes on if it moved.
func (e *Engine) watchDeadline(work context.Context, d slipway.Deployment, deadline time.Time, cancel context.CancelCauseFunc) {
	for {
		t := time.NewTimer(max(deadline.Sub(e.now()), 0))
		select {
		case <-work.Done():
			t.Stop()
			return
		case <-t.C:
		}
		next, err := e.deadline(work, d)
		if err != nil {
			next = deadline // the store is unreachable: keep the one known
		}
		if !next.After(e.now()) {
			cancel(errDeploymentTimeout)
			return
		}
		deadline = next
	}
}

// watchCancel cancels a running step's work when the store says its
// deployment is cancelling (errCancelled) or the step was settled by a
// build cancel (errBuildCancelled): at once, then whenever the
// deployment's watchers are woken (a change committed here, or heard from
// another server) and at least every RecheckInterval, until work ends.
// The registry of running steps is the fast path of the server that
// takes a cancel request; this is the path that works from any server
// sharing the store.
func (e *Engine) watchCancel(work context.Context, tool, id, key string, cancel context.CancelCauseFunc) {
	t := time.NewTicker(e.cfg.RecheckInterval)
	defer t.Stop()
	for {
		woken := e.changed(id) // before the reads: a change after them wakes
		if cur, err := e.store.DeploymentGet(work, tool, id); err == nil && cur.Status == slipway.DeploymentCancelling {
			cancel(errCancelled)
			return
		}
		if cur, err := e.store.StepGet(work, id, key); err == nil && cur.State.Final() {
			cancel(errBuildCancelled)
			return
		}
		select {
		case <-work.Done():
			return
		case <-woken:
		case <-t.C:
		}
	}
}

// stepNote returns a function that records progress of a running step
// (its detail, and an event), best effort.
func (e *Engine) stepNote(ctx context.Context, st slipway.Step) func(string) {
	return func(note string) {
		detail := runningDetail(st) + ": " + note
		_ = e.tx(ctx, st.DeploymentID, func(tx txn) error { // best effort: a progress note
			_, err := e.updateStep(ctx, tx, store.StepUpdate{
				DeploymentID: st.DeploymentID, Key: st.Key, State: slipway.StepRunning, Detail: detail,
				Attempt: st.Attempt, StartedAt: st.StartedAt, IfStateIn: []slipway.StepState{slipway.StepRunning},
			})
			return err
		})
	}
}

func runningDetail(st slipway.Step) string {
	verb := map[slipway.StepKind]string{slipway.StepBuild: "building", slipway.StepRun: "starting", slipway.StepPrune: "removing", slipway.StepOneOff: "running"}[st.Kind]
	if st.Attempt > 1 {
		return fmt.Sprintf("%s (attempt %d)", verb, st.Attempt)
	}
	return verb
}

// release records, in the transaction that makes it live (or removes the
// component), the release of step st of d: the fact that "is commit X
// live, and since when?" is answered from, kept when d is pruned.
func (e *Engine) release(ctx context.Context, tx txn, d slipway.Deployment, st slipway.Step, live *slipway.LiveRun, outcome slipway.ReleaseOutcome) error {
	r := slipway.Release{
		Tool: d.Tool, Environment: cmp.Or(d.Environment, slipway.DefaultEnvironment), Component: st.Component, DeploymentID: d.ID,
		ConfigVersion: d.ConfigVersion, AppliedAt: e.now(), Outcome: outcome, Actor: d.Actor,
	}
	if live != nil {
		r.BuildKey, r.Commit, r.SpecHash, r.AppliedAt = live.BuildKey, live.Commit, live.SpecHash, live.AppliedAt
	}
	_, err := tx.ReleaseAppend(ctx, r)
	return err
}
