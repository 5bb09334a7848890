package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/riverqueue/river"
)

// ErrFenced is the cause of the contexts of the jobs that [Runner.Fence]
// cancels.
var ErrFenced = errors.New("this server is fenced")

// fencedSnooze is how long a job that a fenced runner declines or cancels
// waits before any runner may take it again: the runner that fenced itself
// takes no work, so the job goes to another one, or back to this one once
// it recovered.
const fencedSnooze = time.Second

// fence holds the jobs a runner is working, so that [Runner.Fence] can
// cancel them, and whether it is fenced.
type fence struct {
	mu      sync.Mutex
	cause   error // non-nil while fenced
	next    int
	running map[int]context.CancelCauseFunc
}

func newFence() *fence { return &fence{running: map[int]context.CancelCauseFunc{}} }

// work runs fn, a job's work, unless the runner is fenced; a fence while
// it runs cancels its context. Both a declined job and one whose work the
// fence cancelled are snoozed (no attempt counted): the work was not done,
// and the handler left its state as a stopping server does, for the next
// run to converge.
func (f *fence) work(ctx context.Context, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	f.mu.Lock()
	if f.cause != nil {
		f.mu.Unlock()
		return river.JobSnooze(fencedSnooze)
	}
	f.next++
	id := f.next
	f.running[id] = cancel
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.running, id)
		f.mu.Unlock()
	}()
	err := fn(ctx)
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), ErrFenced) {
		return river.JobSnooze(fencedSnooze)
	}
	return err
}

// Fence makes the runner take no work and cancels the contexts of the
// jobs it is working, with a cause that wraps [ErrFenced] and reason: a
// server that cannot prove it is alive (its heartbeat fails) must stop
// before the others rescue its jobs and run them again. The jobs return
// as their handlers notice; [Runner.Working] counts those that have not
// yet. It returns how many jobs it cancelled. Fencing a fenced runner
// changes nothing.
func (r *Runner) Fence(reason error) int {
	f := r.fence
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cause != nil {
		return 0
	}
	f.cause = fmt.Errorf("%w: %w", ErrFenced, reason)
	for _, cancel := range f.running {
		cancel(f.cause)
	}
	r.logger.Warn("fenced: running jobs cancelled, no work taken", "jobs", len(f.running), "reason", reason.Error())
	return len(f.running)
}

// Unfence lets the runner take work again after [Runner.Fence].
func (r *Runner) Unfence() {
	f := r.fence
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cause == nil {
		return
	}
	f.cause = nil
	r.logger.Info("unfenced: taking work again")
}

// Working returns how many jobs the runner is working: after
// [Runner.Fence], those whose handlers have not returned yet.
func (r *Runner) Working() int {
	f := r.fence
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.running)
}
