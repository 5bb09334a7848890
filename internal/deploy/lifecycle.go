package deploy

import (
	"context"
	"fmt"
	"sync"
)

// background counts the goroutines an application service starts that
// outlive the request that started them (ad-hoc jobs, builds started
// outside deployments), so that the service's Stop can stop them and wait
// for them.
type background struct {
	mu      sync.Mutex
	wg      sync.WaitGroup
	stopped bool
	next    int
	// cancels are the cancel functions of the goroutines' work, by the
	// number start gave them, until they return.
	cancels map[int]context.CancelCauseFunc
}

// start runs fn in a goroutine and reports true; once stop was called it
// reports false without running fn. cancel, when not nil, cancels fn's
// work: stop calls it with its cause.
func (b *background) start(cancel context.CancelCauseFunc, fn func()) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return false
	}
	id := b.next
	b.next++
	if cancel != nil {
		if b.cancels == nil {
			b.cancels = map[int]context.CancelCauseFunc{}
		}
		b.cancels[id] = cancel
	}
	b.wg.Go(func() {
		defer b.forget(id)
		fn()
	})
	return true
}

func (b *background) forget(id int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.cancels, id)
}

// stop makes start refuse, cancels the work of the goroutines going on
// with cause (unless cause is nil), and waits for them to return until ctx
// ends.
func (b *background) stop(ctx context.Context, what string, cause error) error {
	b.mu.Lock()
	b.stopped = true
	if cause != nil {
		for _, cancel := range b.cancels {
			cancel(cause)
		}
	}
	b.mu.Unlock()
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop: %s still going: %w", what, context.Cause(ctx))
	}
}
