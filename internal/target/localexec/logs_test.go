package localexec_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/logfile"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
	"slipway.dev/slipway/internal/target/localexec"
	"slipway.dev/slipway/internal/target/targettest"
)

// numbers returns the N of each "line N" line of s, failing on any other
// line.
func numbers(t *testing.T, s string) []int {
	t.Helper()
	var out []int
	for l := range strings.SplitSeq(strings.TrimSuffix(s, "\n"), "\n") {
		if l == "" || strings.HasPrefix(l, "--- started pid") {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(l, "line "))
		if err != nil || !strings.HasPrefix(l, "line ") {
			t.Fatalf("unexpected log line %q", l)
		}
		out = append(out, n)
	}
	return out
}

// Ensure a replica's log is rotated by size while the process writes it
// (at most LogMaxFiles files, none far past the limit), and that Logs
// reads the last lines and the whole log across the rotated files, and
// follows across rotations, in order and without repeats.
func TestDriver_LogRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d, err := localexec.New(localexec.Config{
		Dir: dir, Logger: slog.New(slog.DiscardHandler), StopTimeout: 3 * time.Second,
		LogMaxSize: 4096, LogMaxFiles: 3, LogCheckInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Stop(context.Background()); err != nil {
			t.Errorf("Stop() error: %v", err)
		}
	})
	art := makeArtifact(t, map[string]string{"README": "x"})
	// About 30 KB/s: a rotation every tenth of a second or so.
	run := slipway.RunSpec{Command: `i=0; while true; do echo "line $i"; i=$((i+1)); [ $((i % 30)) = 0 ] && sleep 0.01; done`}
	targettest.MustApply(t, d, targettest.Spec("tool1", "writer", slipway.Continuous, run, art))
	log := filepath.Join(dir, "tool1", "writer", "0.log")

	// Follow from the start while the log rotates a few times.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	followed := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- d.Logs(ctx, "tool1", "writer", target.LogOptions{Follow: true, Lines: 1}, followed) }()

	rotations := 0
	var lastRotated []byte
	waitFor(t, "five rotations", func() bool {
		if b, err := os.ReadFile(logfile.Rotated(log, 1)); err == nil && !bytes.Equal(b, lastRotated) {
			rotations++
			lastRotated = b
		}
		return rotations >= 5
	})
	for i := 1; i <= 2; i++ {
		fi, err := os.Stat(logfile.Rotated(log, i))
		if err != nil {
			t.Fatalf("rotated file %d: %v", i, err)
		}
		if fi.Size() > logfile.BigFactor*4096 {
			t.Errorf("rotated file %d has %d bytes, far past the 4096-byte limit", i, fi.Size())
		}
	}
	if _, err := os.Stat(logfile.Rotated(log, 3)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a fourth file is kept with LogMaxFiles 3: %v", err)
	}

	// The last lines come from the end, consecutive.
	var tail bytes.Buffer
	if err := d.Logs(t.Context(), "tool1", "writer", target.LogOptions{Lines: 5}, &tail); err != nil {
		t.Fatal(err)
	}
	if got := numbers(t, tail.String()); len(got) != 5 || got[4]-got[0] != 4 {
		t.Errorf("Logs(Lines: 5) = %v, want 5 consecutive lines", got)
	}
	// The whole log is the rotated files, oldest first, then the current.
	var all bytes.Buffer
	if err := d.Logs(t.Context(), "tool1", "writer", target.LogOptions{}, &all); err != nil {
		t.Fatal(err)
	}
	// (Lines written in a truncation's window are lost: a few at most.)
	whole := numbers(t, all.String())
	assertIncreasing(t, "the whole log", whole, len(whole)/10)

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Logs(Follow) error: %v", err)
	}
	got := numbers(t, followed.String())
	// Lost lines are those written in a truncation's window: a few.
	assertIncreasing(t, "the followed log", got, len(got)/10)
	if len(got) < 500 {
		t.Errorf("followed only %d lines across %d rotations", len(got), rotations)
	}
}

// assertIncreasing fails unless ns increase, each once, with at most
// maxLost numbers skipped in all.
func assertIncreasing(t *testing.T, what string, ns []int, maxLost int) {
	t.Helper()
	if len(ns) == 0 {
		t.Errorf("%s is empty", what)
		return
	}
	lost := 0
	for i := 1; i < len(ns); i++ {
		if ns[i] <= ns[i-1] {
			t.Errorf("%s: line %d after line %d", what, ns[i], ns[i-1])
			return
		}
		lost += ns[i] - ns[i-1] - 1
	}
	if lost > maxLost {
		t.Errorf("%s skips %d lines of %d (at most %d allowed)", what, lost, len(ns), maxLost)
	}
}

// Ensure the lines of several replicas are prefixed whole, also a last
// line without a newline.
func TestDriver_LogsReplicaPrefix(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := newDriver(t, dir)
	art := makeArtifact(t, map[string]string{"README": "x"})
	run := slipway.RunSpec{Command: `printf 'one\ntwo\npartial'; exec sleep 3000`, Replicas: 2}
	targettest.MustApply(t, d, targettest.Spec("tool1", "pair", slipway.Continuous, run, art))
	waitFor(t, "both replicas' output", func() bool {
		var b bytes.Buffer
		_ = d.Logs(t.Context(), "tool1", "pair", target.LogOptions{}, &b)
		return strings.Count(b.String(), "partial") == 2
	})
	var b bytes.Buffer
	if err := d.Logs(t.Context(), "tool1", "pair", target.LogOptions{Lines: 2}, &b); err != nil {
		t.Fatal(err)
	}
	want := "[replica 0] two\n[replica 0] partial\n[replica 1] two\n[replica 1] partial\n"
	if got := b.String(); got != want {
		t.Errorf("Logs(Lines: 2) =\n%s\nwant\n%s", got, want)
	}
}

// syncBuffer is a buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
