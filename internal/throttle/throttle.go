// Package throttle lets periodic housekeeping that rides on other work (a
// delivery log's pruning after a delivery) run at most once an interval.
package throttle

import (
	"sync"
	"time"
)

// Every says when work that may run at most once an Interval is due. The
// zero value with an Interval set is ready: its first call is due. Safe for
// concurrent use.
type Every struct {
	Interval time.Duration

	mu   sync.Mutex
	last time.Time
}

// Due reports whether an Interval has passed since the last call that was
// due (or none was), and if so counts now as that call: of callers racing,
// one gets true.
func (e *Every) Due(now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.last.IsZero() && now.Sub(e.last) < e.Interval {
		return false
	}
	e.last = now
	return true
}
