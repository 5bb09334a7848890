package runner_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"

	"slipway.dev/slipway/internal/runner"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/sqlite"
)

// fenceHandler blocks each step until its context ends, and reports the
// steps it starts, the causes that end them, and any step started while
// the test says the runner is fenced.
type fenceHandler struct {
	started chan string
	causes  chan error
	fenced  atomic.Bool
	wrong   atomic.Int32
}

func (h *fenceHandler) StartDeployment(context.Context, string, string) error { return nil }

func (h *fenceHandler) RunStep(ctx context.Context, _, _, key string) error {
	if h.fenced.Load() {
		h.wrong.Add(1)
	}
	h.started <- key
	<-ctx.Done()
	h.causes <- context.Cause(ctx)
	return ctx.Err()
}

func (h *fenceHandler) QuestionDeadline(context.Context, string, string, string) error { return nil }

func (h *fenceHandler) WatchDeployment(context.Context, string, string) error { return nil }

// Ensure a fenced runner cancels the jobs it works (their contexts end
// with ErrFenced and the reason), takes no new job while fenced (both are
// snoozed, not failed), and works both once unfenced.
func TestRunner_Fence(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	driver := riversqlite.New(db.WriteDB())
	if err := runner.Migrate(ctx, driver); err != nil {
		t.Fatal(err)
	}
	h := &fenceHandler{started: make(chan string, 10), causes: make(chan error, 10)}
	r, err := runner.New(driver, h, runner.Config{SingleNode: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The steps block until the hard stop cancels them.
		stop, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = r.Stop(stop)
	})
	enqueue := func(key string) {
		job := runner.Job{Tool: "t", DeploymentID: "d", Key: key}
		if err := db.InTx(ctx, func(tx store.Tx) error { return r.EnqueueTx(ctx, tx, job) }); err != nil {
			t.Fatal(err)
		}
		r.Wake(ctx, job)
	}
	await := func(what string, ch <-chan string) string {
		t.Helper()
		select {
		case v := <-ch:
			return v
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s within 10s", what)
		}
		return ""
	}

	enqueue("first")
	if got := await("step started", h.started); got != "first" {
		t.Fatalf("started %q, want first", got)
	}
	reason := errors.New("no heartbeat for 15s")
	h.fenced.Store(true)
	if n := r.Fence(reason); n != 1 {
		t.Errorf("Fence cancelled %d jobs, want 1", n)
	}
	select {
	case cause := <-h.causes:
		if !errors.Is(cause, runner.ErrFenced) || !errors.Is(cause, reason) {
			t.Errorf("the running step's context ended with %v, want ErrFenced and the reason", cause)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the running step was not cancelled within 10s of the fence")
	}
	enqueue("second")
	// Both jobs were taken and snoozed (due again later, River's attempt
	// not counted), none failed. River has no
	// event of a snooze that a test could await: poll its table.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var scheduled, failed int
		err := db.WriteDB().QueryRowContext(ctx, `SELECT
			(SELECT count(*) FROM river_job WHERE state IN ('available', 'scheduled') AND attempted_by IS NOT NULL AND attempted_by != '[]'),
			(SELECT count(*) FROM river_job WHERE state IN ('retryable', 'discarded') OR errors IS NOT NULL AND errors != '[]')`).Scan(&scheduled, &failed)
		if err != nil {
			t.Fatal(err)
		}
		if failed != 0 {
			t.Fatalf("%d jobs failed while fenced, want them snoozed", failed)
		}
		if scheduled == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs snoozed after 10s fenced, want both", scheduled)
		}
	}
	if n := r.Working(); n != 0 {
		t.Errorf("Working() = %d while fenced, want 0", n)
	}
	h.fenced.Store(false)
	r.Unfence()
	got := map[string]bool{await("a step after the unfence", h.started): true, await("a step after the unfence", h.started): true}
	if !got["first"] || !got["second"] {
		t.Errorf("after the unfence the runner started %v, want first and second", got)
	}
	if n := h.wrong.Load(); n != 0 {
		t.Errorf("%d steps started while fenced", n)
	}
}
