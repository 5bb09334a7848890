package runner_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"slipway.dev/slipway/internal/runner"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/sqlite"
)

// handler records the jobs it is given and signals each on a channel.
type handler struct {
	mu      sync.Mutex
	started chan runner.Job
	fail    map[string]int // step key → how often to fail first
	snooze  map[string]int // step key → how often to ask for a retry later
}

type retryLaterError struct{}

func (retryLaterError) Error() string             { return "retry later" }
func (retryLaterError) RetryAfter() time.Duration { return 10 * time.Millisecond }

func (h *handler) StartDeployment(_ context.Context, tool, id string) error {
	h.started <- runner.Job{Tool: tool, DeploymentID: id}
	return nil
}

func (h *handler) RunStep(_ context.Context, tool, id, key string) error {
	h.mu.Lock()
	failNow, snoozeNow := h.fail[key] > 0, h.snooze[key] > 0
	if failNow {
		h.fail[key]--
	} else if snoozeNow {
		h.snooze[key]--
	}
	h.mu.Unlock()
	switch {
	case failNow:
		return errors.New("database hiccup")
	case snoozeNow:
		return retryLaterError{}
	}
	h.started <- runner.Job{Tool: tool, DeploymentID: id, Key: key}
	return nil
}

func (h *handler) QuestionDeadline(_ context.Context, tool, id, question string) error {
	h.started <- runner.Job{Tool: tool, DeploymentID: id, Question: question}
	return nil
}

func (h *handler) WatchDeployment(_ context.Context, tool, id string) error {
	h.started <- runner.Job{Tool: tool, DeploymentID: id, Watch: true}
	return nil
}

type testBundle struct {
	db      store.Store
	handler *handler
	runner  *runner.Runner
}

func setup(t *testing.T, cfg runner.Config) *testBundle {
	t.Helper()
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
	h := &handler{started: make(chan runner.Job, 100), fail: map[string]int{}, snooze: map[string]int{}}
	r, err := runner.New(driver, h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Stop(stop)
	})
	return &testBundle{db: db, handler: h, runner: r}
}

// enqueue commits jobs in a transaction, then wakes the workers.
func (b *testBundle) enqueue(t *testing.T, wake bool, jobs ...runner.Job) {
	t.Helper()
	err := b.db.InTx(t.Context(), func(tx store.Tx) error { return b.runner.EnqueueTx(t.Context(), tx, jobs...) })
	if err != nil {
		t.Fatal(err)
	}
	if wake {
		b.runner.Wake(t.Context(), jobs...)
	}
}

func (b *testBundle) next(t *testing.T) runner.Job {
	t.Helper()
	select {
	case j := <-b.handler.started:
		return j
	case <-time.After(10 * time.Second):
		t.Fatal("no job started within 10s")
	}
	return runner.Job{}
}

func TestRunner(t *testing.T) {
	t.Parallel()

	// Ensure a committed job runs, and a job is not enqueued twice while it
	// is queued or after it completed.
	t.Run("RunsOnceEvenWhenEnqueuedAgain", func(t *testing.T) {
		t.Parallel()
		b := setup(t, runner.Config{})
		job := runner.Job{Tool: "t", DeploymentID: "d1", Key: "build:web"}
		b.enqueue(t, true, job, job)
		if got := b.next(t); got != job {
			t.Fatalf("started %+v, want %+v", got, job)
		}
		b.enqueue(t, true, job) // completed (or about to be): a duplicate
		start := runner.Job{Tool: "t", DeploymentID: "d1"}
		b.enqueue(t, true, start)
		if got := b.next(t); got != start {
			t.Fatalf("started %+v, want the start job %+v (the step ran twice?)", got, start)
		}
	})

	// Ensure a deadline job waits for its time, even when enqueued again
	// (which makes a snoozed step job due at once), and runs then, once.
	t.Run("DeadlineWaitsForItsTime", func(t *testing.T) {
		t.Parallel()
		b := setup(t, runner.Config{})
		at := time.Now().Add(time.Second)
		deadline := runner.Job{Tool: "t", DeploymentID: "d1", Question: "q-1", At: at}
		b.enqueue(t, true, deadline)
		b.enqueue(t, true, deadline)
		step := runner.Job{Tool: "t", DeploymentID: "d1", Key: "run:a"}
		b.enqueue(t, true, step)
		// The step runs at once, the deadline at its time: on a machine so
		// slow that the step starts after it, either order is right.
		for range 2 {
			switch got := b.next(t); {
			case got == step:
			case got.Question == "q-1" && !time.Now().Before(at):
			default:
				t.Fatalf("started %+v at %s, want the step job, and the deadline of q-1 at %s or later", got, time.Now(), at)
			}
		}
		b.enqueue(t, true, deadline) // completed: not run again
		b.enqueue(t, true, step)     // completed too
		start := runner.Job{Tool: "t", DeploymentID: "d1"}
		b.enqueue(t, true, start)
		if got := b.next(t); got != start {
			t.Fatalf("started %+v, want the start job (the deadline ran twice?)", got)
		}
	})

	// Ensure an auto-rollback watch job waits for its time like a
	// deadline, even when enqueued again, and runs then, once.
	t.Run("WatchWaitsForItsTime", func(t *testing.T) {
		t.Parallel()
		b := setup(t, runner.Config{})
		at := time.Now().Add(time.Second)
		watch := runner.Job{Tool: "t", DeploymentID: "d1", Watch: true, At: at}
		b.enqueue(t, true, watch)
		b.enqueue(t, true, watch)
		step := runner.Job{Tool: "t", DeploymentID: "d1", Key: "run:a"}
		b.enqueue(t, true, step)
		for range 2 {
			switch got := b.next(t); {
			case got == step:
			case got.Watch && got.DeploymentID == "d1" && !time.Now().Before(at):
			default:
				t.Fatalf("started %+v at %s, want the step job, and the watch of d1 at %s or later", got, time.Now(), at)
			}
		}
		b.enqueue(t, true, watch) // completed: not run again
		start := runner.Job{Tool: "t", DeploymentID: "d1"}
		b.enqueue(t, true, start)
		if got := b.next(t); got != start {
			t.Fatalf("started %+v, want the start job (the watch ran twice?)", got)
		}
	})

	// Ensure a handler error is retried, and a RetryAfter error snoozes.
	t.Run("RetriesAndSnoozes", func(t *testing.T) {
		t.Parallel()
		b := setup(t, runner.Config{})
		b.handler.fail["run:a"] = 2
		b.handler.snooze["run:b"] = 3
		b.enqueue(t, true, runner.Job{Tool: "t", DeploymentID: "d", Key: "run:a"}, runner.Job{Tool: "t", DeploymentID: "d", Key: "run:b"})
		got := map[string]bool{}
		for range 2 {
			got[b.next(t).Key] = true
		}
		if !got["run:a"] || !got["run:b"] {
			t.Fatalf("started %v, want run:a and run:b", got)
		}
	})

	// Ensure jobs left running by a process that died are rescued at start.
	t.Run("RescuesOrphans", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "slipway.db")
		db, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		driver := riversqlite.New(db.WriteDB())
		if err := runner.Migrate(ctx, driver); err != nil {
			t.Fatal(err)
		}
		job := dieRunning(t, db, driver, runner.Config{})

		db2, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db2.Close() })
		h := &handler{started: make(chan runner.Job, 10), fail: map[string]int{}, snooze: map[string]int{}}
		r2, err := runner.New(riversqlite.New(db2.WriteDB()), h, runner.Config{SingleNode: true})
		if err != nil {
			t.Fatal(err)
		}
		// Only r2 is alive: r1's job is an orphan.
		if n, err := r2.RescueOrphans(ctx, func(id string) bool { return id == r2.ID() }); err != nil || n != 1 {
			t.Fatalf("RescueOrphans = %d, %v; want 1 rescued", n, err)
		}
		if err := r2.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			s, c := context.WithTimeout(context.Background(), 5*time.Second)
			defer c()
			_ = r2.Stop(s)
		})
		b := &testBundle{db: db2, handler: h, runner: r2}
		if got := b.next(t); got != job {
			t.Fatalf("rescued %+v, want %+v", got, job)
		}
	})
}

// dieRunning starts a runner on db, has it start a job that blocks, and
// "crashes" it: the database is closed under the running job, so River
// cannot record its end and it stays running. It returns the job.
func dieRunning(t *testing.T, db store.Store, driver riverdriver.Driver[*sql.Tx], cfg runner.Config) runner.Job {
	t.Helper()
	ctx := t.Context()
	blocked := &blockingHandler{started: make(chan struct{}, 1)}
	r, err := runner.New(driver, blocked, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	job := runner.Job{Tool: "t", DeploymentID: "d", Key: "build:web"}
	if err := db.InTx(ctx, func(tx store.Tx) error { return r.EnqueueTx(ctx, tx, job) }); err != nil {
		t.Fatal(err)
	}
	r.Wake(ctx, job)
	<-blocked.started
	_ = db.Close()
	stop, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_ = r.Stop(stop)
	return job
}

// blockingHandler blocks every job until its context ends.
type blockingHandler struct{ started chan struct{} }

func (h *blockingHandler) StartDeployment(ctx context.Context, _, _ string) error {
	<-ctx.Done()
	return ctx.Err()
}

func (h *blockingHandler) RunStep(ctx context.Context, _, _, _ string) error {
	h.started <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

func (h *blockingHandler) QuestionDeadline(ctx context.Context, _, _, _ string) error { return nil }

func (h *blockingHandler) WatchDeployment(ctx context.Context, _, _ string) error { return nil }

// BenchmarkEnqueueToStart measures how long a job committed in a
// transaction waits before its handler starts, with and without Wake.
func BenchmarkEnqueueToStart(b *testing.B) {
	for _, wake := range []bool{false, true} {
		name := "poll"
		if wake {
			name = "wake"
		}
		b.Run(name, func(b *testing.B) {
			ctx := b.Context()
			db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "slipway.db"), sqlite.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			driver := riversqlite.New(db.WriteDB())
			if err := runner.Migrate(ctx, driver); err != nil {
				b.Fatal(err)
			}
			h := &handler{started: make(chan runner.Job, 1), fail: map[string]int{}, snooze: map[string]int{}}
			r, err := runner.New(driver, h, runner.Config{SingleNode: true})
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Start(ctx); err != nil {
				b.Fatal(err)
			}
			defer func() {
				s, c := context.WithTimeout(context.Background(), 5*time.Second)
				defer c()
				_ = r.Stop(s)
			}()
			i := 0
			for b.Loop() {
				i++
				job := runner.Job{Tool: "t", DeploymentID: "d", Key: "s" + time.Now().Format("150405.000000000")}
				if err := db.InTx(ctx, func(tx store.Tx) error { return r.EnqueueTx(ctx, tx, job) }); err != nil {
					b.Fatal(err)
				}
				if wake {
					r.Wake(ctx, job)
				}
				<-h.started
			}
		})
	}
}

// Ensure the maintenance job runs when the runner starts and again each
// interval, and that a failed run is tried again.
func TestRunner_Maintenance(t *testing.T) {
	t.Parallel()
	runs := make(chan int, 10)
	var (
		mu sync.Mutex
		n  int
	)
	setup(t, runner.Config{SingleNode: true, MaintenanceInterval: 200 * time.Millisecond, Maintenance: func(context.Context) error {
		mu.Lock()
		n++
		cur := n
		mu.Unlock()
		runs <- cur
		if cur == 1 {
			return errors.New("database hiccup")
		}
		return nil
	}})
	for want := 1; want <= 3; want++ {
		select {
		case got := <-runs:
			if got != want {
				t.Fatalf("run %d, want %d", got, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("maintenance run %d did not come within 30s", want)
		}
	}
}
