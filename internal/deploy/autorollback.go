package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"slipway.dev/slipway/internal/runner"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/target"
)

// Auto-rollback. A tool whose config asks for it (x-slipway:
// auto_rollback: {window}) has every successful deployment that made
// components live, and is not itself a rollback, watched for the window:
// the transaction that finishes it schedules a River job
// (runner.Job{Watch}), which looks at the health of those components and
// snoozes until the next look (Config.AutoRollbackCheck) until the window
// ends. A server restarted within the window finds the job and goes on
// watching. When a component the deployment made live fails its health
// (crash loops, failed, not running), the job creates a rollback
// deployment to the release before the deployment ([Deployments.
// rollbackToRelease]) and records it on the deployment (RolledBackBy, and
// an event), in one transaction. It does nothing, and says so in the
// deployment's events, when a newer deployment of the tool was created
// meanwhile. A rollback deployment is never watched: no loop.

// autoRollbackActor is the actor of the rollback deployments that
// auto-rollback creates.
const autoRollbackActor = "slipway:auto-rollback"

// watchAfterSuccess schedules the auto-rollback watch of d, which tx
// finishes successful, when its config asks for one and d made components
// live that can fail their health afterwards (continuous and scheduled
// ones). A rollback is never watched.
func (e *Engine) watchAfterSuccess(ctx context.Context, tx txn, d slipway.Deployment) error {
	if d.RollbackOf != "" || d.RollbackRelease != 0 || d.Flow != "" {
		return nil // a rollback, or a flow run (its steps' deployments are watched)
	}
	ar, cfg := autoRollbackOf(d)
	if ar == nil {
		return nil
	}
	names, err := watchedComponents(ctx, tx, d, cfg)
	if err != nil || len(names) == 0 {
		return err
	}
	msg := fmt.Sprintf("auto-rollback: watching %s for %s", strings.Join(names, ", "), ar.Window)
	if err := e.emit(ctx, tx, d.ID, "log", "", "", msg); err != nil {
		return err
	}
	return e.enqueue(ctx, tx, runner.Job{Tool: d.Tool, DeploymentID: d.ID, Watch: true, At: e.now().Add(min(e.cfg.AutoRollbackCheck, ar.Window))})
}

// autoRollbackOf returns the auto-rollback policy of d's config snapshot
// (nil: none) and the config.
func autoRollbackOf(d slipway.Deployment) (*slipway.AutoRollback, slipway.ToolConfig) {
	cfg, err := parseStored(d.ToolConfig)
	if err != nil {
		return nil, cfg // it would not have deployed
	}
	return cfg.Policy.AutoRollback, cfg
}

// watchedComponents returns the continuous and scheduled components whose
// versions d made live, by name.
func watchedComponents(ctx context.Context, q store.Queries, d slipway.Deployment, cfg slipway.ToolConfig) ([]string, error) {
	rs, err := q.ReleaseList(ctx, store.ReleaseFilter{Tool: d.Tool, DeploymentID: d.ID})
	if err != nil {
		return nil, fmt.Errorf("releases of %s: %w", d.ID, err)
	}
	var names []string
	for _, r := range rs {
		if c, ok := cfg.Components[r.Component]; ok && r.Outcome == slipway.ReleaseApplied && c.Type != slipway.OneOff && !slices.Contains(names, r.Component) {
			names = append(names, r.Component)
		}
	}
	slices.Sort(names)
	return names, nil
}

// WatchDeployment is the auto-rollback watch job of a successful
// deployment: it stops when the deployment is gone, already rolled back,
// its window is over or a newer deployment was created; it rolls the
// deployment back when a component it made live fails its health; else it
// looks again after Config.AutoRollbackCheck.
func (e *Engine) WatchDeployment(ctx context.Context, tool, id string) error {
	d, err := e.store.DeploymentGet(ctx, tool, id)
	if errors.Is(err, store.ErrNotFound) {
		e.logger.InfoContext(ctx, "auto-rollback: deployment pruned, watch ends", "tool", tool, "deployment", id)
		return nil
	} else if err != nil {
		return fmt.Errorf("auto-rollback watch of %s: %w", id, err)
	}
	ar, cfg := autoRollbackOf(d)
	if ar == nil || d.RolledBackBy != "" || d.Status != slipway.DeploymentSuccessful || d.RollbackOf != "" || d.RollbackRelease != 0 {
		return nil // off, done, or a rollback: never rolled back itself
	}
	names, err := watchedComponents(ctx, e.store, d, cfg)
	if err != nil {
		return err
	}
	end := d.FinishedAt.Add(ar.Window)
	now := e.now()
	if !now.Before(end) {
		return e.note(ctx, d, fmt.Sprintf("auto-rollback: the window of %s is over, %s stayed healthy: watch ends", ar.Window, strings.Join(names, ", ")))
	}
	if newer, err := e.newerDeployment(ctx, e.store, d); err != nil {
		return err
	} else if newer != "" {
		return e.note(ctx, d, "auto-rollback: a newer deployment, "+newer+", was created: watch ends, nothing rolled back")
	}
	failure, err := e.healthFailure(ctx, d, names)
	if err != nil {
		return err
	}
	if failure != "" {
		return e.autoRollback(ctx, d, failure)
	}
	return retryAfterError(min(e.cfg.AutoRollbackCheck, end.Sub(now)))
}

// note appends a log event to d (final already: it changes no state).
func (e *Engine) note(ctx context.Context, d slipway.Deployment, msg string) error {
	e.logger.InfoContext(ctx, "auto-rollback", "tool", d.Tool, "deployment", d.ID, "note", msg)
	return e.tx(ctx, d.ID, func(tx txn) error { return e.emit(ctx, tx, d.ID, "log", "", "", msg) })
}

// newerDeployment returns the ID of a deployment of d's tool to d's
// environment created after d, or "".
func (e *Engine) newerDeployment(ctx context.Context, q store.Queries, d slipway.Deployment) (string, error) {
	ds, err := q.DeploymentList(ctx, d.Tool)
	if err != nil {
		return "", fmt.Errorf("deployments of %s: %w", d.Tool, err)
	}
	for _, u := range slices.Backward(ds) { // newest first
		if u.ID != d.ID && sameEnvironment(u, d) && (u.CreatedAt.After(d.CreatedAt) || (u.CreatedAt.Equal(d.CreatedAt) && u.ID > d.ID)) {
			return u.ID, nil
		}
	}
	return "", nil
}

// healthFailure returns why the first of the components d made live (names)
// that still runs d's version fails its health, with how long after it
// went live ("web crash-looping 34s after going live"), or "".
func (e *Engine) healthFailure(ctx context.Context, d slipway.Deployment, names []string) (string, error) {
	live, err := e.store.LiveRunList(ctx, d.Instance())
	if err != nil {
		return "", fmt.Errorf("live components of %s: %w", d.Instance(), err)
	}
	statuses, err := e.target.List(ctx, d.Instance())
	if err != nil {
		return "", fmt.Errorf("what runs of %s: %w", d.Instance(), err)
	}
	byName := map[string]target.Status{}
	for _, st := range statuses {
		byName[st.Component] = st
	}
	for _, r := range live {
		if !slices.Contains(names, r.Component) || r.DeploymentID != d.ID {
			continue // not this deployment's version any more
		}
		st, ok := byName[r.Component]
		if why := failing(r, st, ok); why != "" {
			after := e.now().Sub(r.AppliedAt).Round(time.Second)
			return fmt.Sprintf("%s %s %s after going live", r.Component, why, after), nil
		}
	}
	return "", nil
}

// failing says how a live component fails its health from what the
// target reports, or "": crash looping, failed, not running, or (a
// scheduled one) no longer scheduled. A replica between two restarts is
// not a failure yet: the target calls it a crash loop when it keeps
// exiting.
func failing(r slipway.LiveRun, st target.Status, ok bool) string {
	switch {
	case !ok || st.State == target.StateStopped:
		return "not running"
	case st.State == target.StateCrashLoop:
		return "crash-looping"
	case st.State == target.StateFailed:
		return "failed"
	case r.Type == slipway.Scheduled && st.State != target.StateScheduled:
		return "not scheduled (" + string(st.State) + ")"
	}
	return ""
}

// notRolledBackError says why an auto-rollback, decided, was not created
// after all (checked again under the tool's lock).
type notRolledBackError struct{ why string }

func (e notRolledBackError) Error() string { return e.why }

// autoRollback rolls d back to the release before it, because of failure;
// what it did, or why it did not, is an event of d.
func (e *Engine) autoRollback(ctx context.Context, d slipway.Deployment, failure string) error {
	reason := "auto-rollback: " + failure
	first, err := e.store.ReleaseList(ctx, store.ReleaseFilter{Tool: d.Tool, DeploymentID: d.ID})
	if err != nil {
		return fmt.Errorf("releases of %s: %w", d.ID, err)
	}
	if len(first) == 0 {
		return nil
	}
	oldest := first[len(first)-1]
	prev, err := e.store.ReleaseList(ctx, store.ReleaseFilter{Tool: d.Tool, Environment: oldest.Environment, Before: oldest.Seq, Limit: 1})
	if err != nil {
		return fmt.Errorf("release before %s: %w", d.ID, err)
	}
	if len(prev) == 0 {
		return e.note(ctx, d, reason+"; there is no release before this deployment to roll back to")
	}
	s := &Deployments{newApp(e)}
	rb, err := s.rollbackToRelease(ctx, d.Tool, prev[0].Seq,
		slipway.DeployOptions{Description: reason, Trigger: "auto-rollback", Actor: autoRollbackActor},
		origin{created: func(tx txn, rb slipway.Deployment) error {
			if err := tx.DeploymentSetRolledBackBy(ctx, d.Tool, d.ID, rb.ID); err != nil {
				return err
			}
			return e.emit(ctx, tx, d.ID, "log", "", "", fmt.Sprintf("%s; rolled back by %s to release %d", reason, rb.ID, prev[0].Seq))
		}},
		func(tx store.Tx) error {
			// Again under the tool's lock: nobody deployed meanwhile.
			now, err := tx.DeploymentGet(ctx, d.Tool, d.ID)
			if err != nil {
				return err
			}
			if now.RolledBackBy != "" {
				return notRolledBackError{"already rolled back by " + now.RolledBackBy}
			}
			newer, err := e.newerDeployment(ctx, tx, d)
			if err != nil {
				return err
			}
			if newer != "" {
				return notRolledBackError{"a newer deployment, " + newer + ", was created: nothing rolled back"}
			}
			return nil
		})
	var not notRolledBackError
	switch {
	case errors.As(err, &not):
		return e.note(ctx, d, reason+"; "+not.why)
	case err != nil && slipway.ErrorCode(err) != slipway.EInternal:
		return e.note(ctx, d, reason+"; the rollback was refused: "+slipway.ErrorMessage(err))
	case err != nil:
		return fmt.Errorf("auto-rollback of %s: %w", d.ID, err)
	}
	e.logger.InfoContext(ctx, "auto-rollback", "tool", d.Tool, "deployment", d.ID, "rollback", rb.ID, "reason", reason)
	e.notify(d.ID)
	return nil
}
