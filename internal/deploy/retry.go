package deploy

import (
	"context"
	"fmt"
	"time"
)

// retry runs fn until it succeeds, fails with an error that is not
// transient (Config.TransientFunc), or has run Config.Attempts times. It
// waits Config.RetryBackoff, then twice that, and so on between attempts,
// and calls note before each retry with a line such as "attempt 2 of 4
// after: <error>", so the wait is visible. The last error is returned,
// wrapped with the number of attempts when there was more than one.
func (e *Engine) retry(ctx context.Context, note func(string), fn func() error) error {
	wait := e.cfg.RetryBackoff
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !e.cfg.TransientFunc(err) || ctx.Err() != nil {
			if err != nil && attempt > 1 {
				return fmt.Errorf("after %d attempts: %w", attempt, err)
			}
			return err
		}
		if attempt >= e.cfg.Attempts {
			return fmt.Errorf("after %d attempts: %w", attempt, err)
		}
		if note != nil {
			note(fmt.Sprintf("attempt %d of %d after: %v", attempt+1, e.cfg.Attempts, err))
		}
		if sleepCtx(ctx, wait) != nil {
			return err
		}
		wait *= 2
	}
}

// sleepCtx waits for d or until ctx ends, whichever is first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
