package localbuild

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/logfile"
)

// logPollInterval is how often a followed log is read again: it is a file,
// which says nothing when it grows.
const logPollInterval = 200 * time.Millisecond

// Logs writes the log of the tool's build attempt, builds/<tool>/<attempt>.log
// with its rotated files, as [build.Builder] says: its last opts.Lines
// lines (all when 0), read from the end in memory that does not grow with
// the log; with Follow, what the build appends, across rotations, read
// again every 200 ms until opts.Done reports the build ended.
func (b *Builder) Logs(ctx context.Context, tool, attempt string, opts build.LogOptions, w io.Writer) error {
	if err := checkKey(tool, attempt); err != nil {
		return err
	}
	if opts.Lines < 0 {
		return fmt.Errorf("log of build %s: lines must be at least 0, got %d", attempt, opts.Lines)
	}
	if opts.Follow && opts.Done == nil {
		return fmt.Errorf("log of build %s: following it needs Done", attempt)
	}
	path := b.logPath(tool, attempt)
	if err := waitLog(ctx, path, opts); err != nil {
		return fmt.Errorf("log of build %s: %w", attempt, err)
	}
	pos, err := logfile.LastLines(w, path, opts.Lines, logfile.DefaultMaxLine)
	if err != nil {
		return fmt.Errorf("log of build %s: %w", attempt, err)
	}
	if !opts.Follow {
		return nil
	}
	fw := logfile.Follow(path, pos)
	defer fw.Close()
	for {
		done, err := opts.Done(ctx)
		if err != nil {
			return fmt.Errorf("log of build %s: %w", attempt, err)
		}
		// After Done: what the build wrote before it ended is in the log
		// by now.
		if err := fw.Next(w); err != nil {
			return fmt.Errorf("log of build %s: %w", attempt, err)
		}
		if done {
			return nil
		}
		if err := sleep(ctx, logPollInterval); err != nil {
			return fmt.Errorf("log of build %s: %w", attempt, err)
		}
	}
}

// waitLog returns nil once the log at path (or its first rotated file) is
// there. Without Follow a missing log is [build.ErrNoLog] at once; with
// Follow it is waited for until opts.Done reports the build ended.
func waitLog(ctx context.Context, path string, opts build.LogOptions) error {
	for {
		done := false
		if opts.Follow {
			var err error
			// Before the look: a build that ended without a log has none.
			if done, err = opts.Done(ctx); err != nil {
				return err
			}
		}
		for _, p := range []string{path, logfile.Rotated(path, 1)} {
			_, err := os.Stat(p)
			if err == nil {
				return nil
			}
			if !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		if !opts.Follow || done {
			return build.ErrNoLog
		}
		if err := sleep(ctx, logPollInterval); err != nil {
			return err
		}
	}
}

// sleep waits for d, or returns ctx's error when it ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RemoveLog deletes the log of the tool's build attempt (with its rotated
// files); an attempt without a log is not an error.
func (b *Builder) RemoveLog(_ context.Context, tool, attempt string) error {
	if err := checkKey(tool, attempt); err != nil {
		return err
	}
	if err := logfile.Remove(b.logPath(tool, attempt)); err != nil {
		return fmt.Errorf("remove the log of build %s: %w", attempt, err)
	}
	return nil
}
