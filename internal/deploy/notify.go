package deploy

import (
	"context"
	"fmt"

	"slipway.dev/slipway/internal/runner"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// Notifier records a tool's outbound notifications (internal/notify): the
// outbox, written in the transaction of the event.
type Notifier interface {
	// Record records the deliveries of n in tx and returns their IDs.
	Record(ctx context.Context, tx store.Tx, n slipway.Notification) ([]string, error)
}

// SetNotifier makes the engine record notifications through n; without
// one it records none.
func (e *Engine) SetNotifier(n Notifier) { e.notifier = n }

// outbox records n in t and enqueues a job per delivery, which sends it
// after the commit. A notification never changes what the deployment
// does: only a failure to write it (the store's) fails the transaction.
func (e *Engine) outbox(ctx context.Context, t txn, n slipway.Notification) error {
	if e.notifier == nil {
		return nil
	}
	n.At = e.now()
	ids, err := e.notifier.Record(ctx, t.Tx, n)
	if err != nil {
		return fmt.Errorf("record %s notifications: %w", n.Event, err)
	}
	jobs := make([]runner.Job, len(ids))
	for i, id := range ids {
		jobs[i] = runner.Job{Tool: n.Tool, Notify: id}
	}
	return e.enqueue(ctx, t, jobs...)
}

// finishedEvent is the notification of a deployment ending with status,
// "" for none (a cancelled one).
func finishedEvent(d slipway.Deployment, status slipway.DeploymentStatus) slipway.NotifyEvent {
	switch status {
	case slipway.DeploymentSuccessful:
		if d.RollbackOf != "" || d.RollbackRelease != 0 {
			return slipway.NotifyDeploymentRolledBack
		}
		return slipway.NotifyDeploymentSucceeded
	case slipway.DeploymentFailed, slipway.DeploymentTimedOut:
		return slipway.NotifyDeploymentFailed
	case slipway.DeploymentCancelled, slipway.DeploymentPending, slipway.DeploymentRunning, slipway.DeploymentCancelling:
		return "" // a cancel is someone's own act; the others are not ends
	}
	return ""
}
