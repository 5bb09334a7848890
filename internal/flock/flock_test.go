package flock_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"slipway.dev/slipway/internal/flock"
)

// Ensure a held lock makes TryLock fail and Lock wait until it is released
// or the context ends.
func TestLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := flock.Lock(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := flock.TryLock(path); !errors.Is(err, flock.ErrLocked) {
		t.Fatalf("TryLock(held) error = %v, want ErrLocked", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := flock.Lock(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock(held) error = %v, want the context's deadline", err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := flock.Lock(t.Context(), path)
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	if err := <-got; err != nil {
		t.Fatalf("Lock after release error = %v", err)
	}
	u, err := flock.TryLock(path)
	if err != nil {
		t.Fatalf("TryLock(free) error = %v", err)
	}
	u()
}
