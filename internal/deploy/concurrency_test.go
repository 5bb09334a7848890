package deploy

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"slipway.dev/slipway/internal/pgtest"
	"slipway.dev/slipway/internal/runner"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/postgres"
	"slipway.dev/slipway/internal/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// engineStore is a store the engine tests run on, with its River driver.
type engineStore struct {
	name string
	open func(t testing.TB) (store.Store, riverdriver.Driver[*sql.Tx])
}

// engineStores are both stores: SQLite in a temporary file, PostgreSQL in
// a schema of its own on the test server.
var engineStores = []engineStore{
	{"sqlite", func(t testing.TB) (store.Store, riverdriver.Driver[*sql.Tx]) {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "slipway.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db, riversqlite.New(db.WriteDB())
	}},
	{"postgres", func(t testing.TB) (store.Store, riverdriver.Driver[*sql.Tx]) {
		db, err := postgres.Open(t.Context(), pgtest.Schema(t), postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db, riverdatabasesql.New(db.WriteDB())
	}},
}

// wakeRecorder is River's runner (not started: the jobs stay queued) that
// also records the jobs of every committed transaction, which the engine
// passes to Wake after the commit.
type wakeRecorder struct {
	*runner.Runner
	mu    sync.Mutex
	woken []runner.Job
}

func (w *wakeRecorder) Wake(_ context.Context, jobs ...runner.Job) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.woken = append(w.woken, jobs...)
}

// enqueued reports whether a committed transaction enqueued the step.
func (w *wakeRecorder) enqueued(deploymentID, key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Contains(w.woken, runner.Job{Tool: "tool", DeploymentID: deploymentID, Key: key})
}

// diamondService returns an engine on st whose queue records what it was
// given.
func diamondService(t *testing.T, st store.Store, driver riverdriver.Driver[*sql.Tx]) (*Engine, *wakeRecorder) {
	t.Helper()
	if err := runner.Migrate(t.Context(), driver); err != nil {
		t.Fatal(err)
	}
	svc := NewEngine(st, nil, nil, nil, Config{})
	r, err := runner.New(driver, svc, runner.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rec := &wakeRecorder{Runner: r}
	svc.SetEnqueuer(rec)
	return svc, rec
}

// diamond records a running deployment whose two middle steps run and
// whose join step waits for both, and returns it.
func diamond(t *testing.T, st store.Store, round int) slipway.Deployment {
	t.Helper()
	ctx, now := t.Context(), time.Now().UTC()
	d := slipway.Deployment{
		ID: fmt.Sprintf("20260101-000000-round%05d", round), Tool: "tool", CreatedAt: now, UpdatedAt: now,
		Status: slipway.DeploymentRunning, Trigger: "api", ToolConfig: []byte(`{"components":{}}`),
	}
	steps := []slipway.Step{
		{Key: "run:top", Kind: slipway.StepRun, Component: "top", Action: slipway.ActionApply, State: slipway.StepDone},
		{Key: "run:left", Kind: slipway.StepRun, Component: "left", Action: slipway.ActionApply, Needs: []string{"run:top"}, State: slipway.StepRunning, Attempt: 1, StartedAt: now},
		{Key: "run:right", Kind: slipway.StepRun, Component: "right", Action: slipway.ActionApply, Needs: []string{"run:top"}, State: slipway.StepRunning, Attempt: 1, StartedAt: now},
		{Key: "run:join", Kind: slipway.StepRun, Component: "join", Action: slipway.ActionApply, Needs: []string{"run:left", "run:right"}, State: slipway.StepPending},
	}
	for i := range steps {
		steps[i].DeploymentID = d.ID
	}
	err := st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.ToolLock(ctx, "tool", now); err != nil {
			return err
		}
		if err := tx.DeploymentCreate(ctx, d); err != nil {
			return err
		}
		return tx.StepsCreate(ctx, steps)
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// finishMiddle records both middle steps done at the same moment, each in
// its own advance, as two step jobs finishing together do. With events,
// each records its step as the engine does (with an event); without, it
// writes the step row alone.
func finishMiddle(t *testing.T, svc *Engine, d slipway.Deployment, events bool) {
	t.Helper()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, 2)
	)
	for i, key := range []string{"run:left", "run:right"} {
		wg.Go(func() {
			<-start
			errs[i] = svc.advance(t.Context(), d, nil, func(tx txn) error {
				u := store.StepUpdate{
					DeploymentID: d.ID, Key: key, State: slipway.StepDone, Attempt: 1,
					FinishedAt: svc.now(), IfStateIn: []slipway.StepState{slipway.StepRunning},
				}
				if !events {
					_, err := tx.StepUpdate(t.Context(), u)
					return err
				}
				_, err := svc.updateStep(t.Context(), tx, u)
				return err
			})
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestEngine_DiamondUnderConcurrentSteps: when the two middle steps of a
// diamond finish at the same instant, the join step is always started,
// on either store. Each advance locks the deployment first, so the second
// sees the first's outcome.
func TestEngine_DiamondUnderConcurrentSteps(t *testing.T) {
	t.Parallel()
	for _, es := range engineStores {
		t.Run(es.name, func(t *testing.T) {
			t.Parallel()
			st, driver := es.open(t)
			svc, rec := diamondService(t, st, driver)
			const rounds = 25
			for round := range rounds {
				d := diamond(t, st, round)
				finishMiddle(t, svc, d, round%2 == 0)
				if !rec.enqueued(d.ID, "run:join") {
					t.Fatalf("round %d: both middle steps are done and the join step was never enqueued", round)
				}
			}
		})
	}
}

// TestEngine_DiamondWithoutLocksLosesTheJoin shows what the deployment
// lock prevents on PostgreSQL (READ COMMITTED): without it, two advances
// that both write before either reads each see the other's step still
// running, and nobody starts the join step. SQLite runs one writer at a
// time, which is why it never showed. (The steps are written without
// events here: an event's number is counted on the deployment's row,
// which locks it too, as the global event sequence before it did not.)
func TestEngine_DiamondWithoutLocksLosesTheJoin(t *testing.T) {
	t.Parallel()
	st, driver := engineStores[1].open(t)
	svc, rec := diamondService(t, st, driver)
	svc.test.noLocks = true
	// Neither commits before both have written and read.
	var decided sync.WaitGroup
	decided.Add(2)
	svc.test.beforeCommit = func() { decided.Done(); decided.Wait() }
	d := diamond(t, st, 0)
	finishMiddle(t, svc, d, false)
	if rec.enqueued(d.ID, "run:join") {
		t.Fatal("without the lock the join step was still enqueued: the test no longer shows the race it is about")
	}
	steps, err := st.StepList(t.Context(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if steps[1].State != slipway.StepDone || steps[2].State != slipway.StepDone || steps[3].State != slipway.StepPending {
		t.Fatalf("steps = %v %v %v, want the middle done and the join pending", steps[1].State, steps[2].State, steps[3].State)
	}
}
