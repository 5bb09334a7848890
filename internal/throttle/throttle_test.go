package throttle_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"slipway.dev/slipway/internal/throttle"
)

// Ensure work is due at once, then not again until an interval passed
// since it last was, and that of concurrent callers one gets it.
func TestEvery(t *testing.T) {
	t.Parallel()
	e := throttle.Every{Interval: time.Hour}
	t0 := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		at   time.Duration
		want bool
	}{{0, true}, {time.Minute, false}, {59 * time.Minute, false}, {time.Hour, true}, {time.Hour + time.Second, false}, {3 * time.Hour, true}} {
		if got := e.Due(t0.Add(c.at)); got != c.want {
			t.Errorf("Due at +%s = %v, want %v", c.at, got, c.want)
		}
	}
	var racing throttle.Every
	racing.Interval = time.Hour
	var due atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if racing.Due(t0) {
				due.Add(1)
			}
		})
	}
	wg.Wait()
	if n := due.Load(); n != 1 {
		t.Errorf("%d of 16 concurrent callers were due, want 1", n)
	}
}
