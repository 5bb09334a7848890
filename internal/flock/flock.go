// Package flock takes advisory file locks (flock(2)) that coordinate
// processes sharing a directory: git mirrors, build keys, a data directory.
// A lock is released when its holder unlocks it or dies, so a crashed
// process never leaves a stale lock behind.
package flock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned by [TryLock] when another holder has the lock.
var ErrLocked = errors.New("locked by another process")

// Lock takes an exclusive lock on path, creating the file if needed, and
// returns the function that releases it. It waits until the lock is free or
// ctx is done.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	delay := 5 * time.Millisecond
	for {
		err := try(f)
		if err == nil {
			return release(f), nil
		}
		if !errors.Is(err, ErrLocked) {
			_ = f.Close()
			return nil, fmt.Errorf("flock %s: %w", path, err)
		}
		// flock(2) cannot be interrupted by a context: poll instead.
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			_ = f.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// TryLock is [Lock] without waiting: it returns an error wrapping
// [ErrLocked] when the lock is held.
func TryLock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := try(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	return release(f), nil
}

func try(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) || errors.Is(err, unix.EINTR) {
		return ErrLocked
	}
	return err
}

func release(f *os.File) func() {
	return func() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		_ = f.Close()
	}
}
