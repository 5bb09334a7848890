package deploy

import (
	"context"

	"slipway.dev/slipway/internal/metrics"
	"slipway.dev/slipway/internal/runner"
	"slipway.dev/slipway/internal/store"
)

// txn is a transaction of [Engine.tx]: the store's transaction, the jobs
// enqueued in it, whose workers are woken once it commits, and what runs
// after the commit (metrics). Everything that enqueues, emits an event or
// observes takes a txn, never a bare store.Tx: what it enqueues is always
// woken, and nothing is recorded for a transaction that did not commit.
type txn struct {
	store.Tx
	wake  *[]runner.Job
	after *[]func(*metrics.Metrics)
}

// tx runs fn in a transaction; after it commits, it wakes the workers for
// the jobs fn enqueued and the deployment's watchers. fn may run more
// than once (store.Store.InTx): each run starts with nothing to wake.
func (e *Engine) tx(ctx context.Context, deploymentID string, fn func(txn) error) error {
	var (
		wake  []runner.Job
		after []func(*metrics.Metrics)
	)
	err := e.store.InTx(ctx, func(tx store.Tx) error {
		wake, after = wake[:0], after[:0] // InTx may retry fn
		return fn(txn{Tx: tx, wake: &wake, after: &after})
	})
	if err != nil {
		return err
	}
	for _, f := range after {
		f(e.cfg.Metrics)
	}
	e.enqueuer.Wake(ctx, wake...)
	e.events.notify(deploymentID)
	return nil
}

// enqueue puts jobs on the queue in t; [Engine.tx] wakes the workers for
// them after the commit.
func (e *Engine) enqueue(ctx context.Context, t txn, jobs ...runner.Job) error {
	if err := e.enqueuer.EnqueueTx(ctx, t, jobs...); err != nil {
		return err
	}
	*t.wake = append(*t.wake, jobs...)
	return nil
}
