package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// errRollback is what the rollback tests return from fn.
var errRollback = errors.New("roll back, please")

// waitTimeout bounds the waits for things that must not block, so that a
// regression fails the test instead of hanging it.
const waitTimeout = 10 * time.Second

func testInTx(t *testing.T, f Factory) {
	t.Parallel()

	const id = "20250601-120000-aaaaaaaaaa"

	// writeAll does one of every write inside tx.
	writeAll := func(ctx context.Context, tx store.Tx) error {
		if err := tx.ToolEnsure(ctx, "tool", t0); err != nil {
			return err
		}
		if _, err := tx.ConfigCreate(ctx, "tool", []byte(`{}`), t0); err != nil {
			return err
		}
		if err := tx.DeploymentCreate(ctx, deployment("tool", id, at(1), slipway.DeploymentPending)); err != nil {
			return err
		}
		if err := tx.StepsCreate(ctx, steps(id)); err != nil {
			return err
		}
		if err := tx.BuildCreate(ctx, build("tool", "b1", "key", slipway.BuildSuccessful, at(1))); err != nil {
			return err
		}
		if err := tx.LiveRunPut(ctx, liveRun("tool", "web", at(1))); err != nil {
			return err
		}
		if _, err := tx.EventAppend(ctx, slipway.Event{DeploymentID: id, Kind: "deployment"}); err != nil {
			return err
		}
		return nil
	}

	// wantNothing fails the test when any of writeAll's rows exists.
	wantNothing := func(t *testing.T, b *testBundle) {
		t.Helper()
		s := b.s
		if got := must(s.ToolList(b.ctx))(t); len(got) != 0 {
			t.Errorf("ToolList after rollback = %q, want none", got)
		}
		_, err := s.ConfigGet(b.ctx, "tool", 1)
		wantNotFound(t, "ConfigGet after rollback", err)
		_, err = s.DeploymentGet(b.ctx, "tool", id)
		wantNotFound(t, "DeploymentGet after rollback", err)
		if got := must(s.StepList(b.ctx, id))(t); len(got) != 0 {
			t.Errorf("StepList after rollback = %v, want none", got)
		}
		_, err = s.BuildGet(b.ctx, "tool", "b1")
		wantNotFound(t, "BuildGet after rollback", err)
		if got := must(s.LiveRunListAll(b.ctx))(t); len(got) != 0 {
			t.Errorf("LiveRunListAll after rollback = %v, want none", got)
		}
		if got := must(s.EventList(b.ctx, id, 0, 0))(t); len(got) != 0 {
			t.Errorf("EventList after rollback = %v, want none", got)
		}
	}

	// wantUsable fails the test unless the store still takes writes, i.e.
	// the failed transaction gave its connection back.
	wantUsable := func(t *testing.T, b *testBundle) {
		t.Helper()
		ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
		defer cancel()
		mustDo(t, b.s.InTx(ctx, func(tx store.Tx) error { return tx.ToolEnsure(ctx, "after", t0) }))
		mustDo(t, b.s.ToolEnsure(ctx, "after2", t0))
		diff(t, "ToolList", []string{"after", "after2"}, must(b.s.ToolList(ctx))(t))
	}

	t.Run("Commit", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		err := s.InTx(b.ctx, func(tx store.Tx) error {
			if tx.SQL() == nil {
				t.Errorf("Tx.SQL() = nil")
			}
			if err := writeAll(b.ctx, tx); err != nil {
				return err
			}
			// The transaction sees its own writes.
			if _, err := tx.DeploymentGet(b.ctx, "tool", id); err != nil {
				return fmt.Errorf("read own write: %w", err)
			}
			ok, err := tx.StepUpdate(b.ctx, store.StepUpdate{
				DeploymentID: id, Key: "run:api", State: slipway.StepRunning,
				IfStateIn: []slipway.StepState{slipway.StepPending},
			})
			if err != nil || !ok {
				return fmt.Errorf("conditional update in tx = %v, %w", ok, err)
			}
			return nil
		})
		mustDo(t, err)
		must(s.DeploymentGet(b.ctx, "tool", id))(t)
		must(s.ConfigGetLatest(b.ctx, "tool"))(t)
		must(s.BuildGet(b.ctx, "tool", "b1"))(t)
		if got := must(s.StepGet(b.ctx, id, "run:api"))(t); got.State != slipway.StepRunning {
			t.Errorf("step state after commit = %q, want running", got.State)
		}
		if got := must(s.EventList(b.ctx, id, 0, 0))(t); len(got) != 1 {
			t.Errorf("EventList after commit = %v, want 1 event", got)
		}
		if got := must(s.LiveRunList(b.ctx, "tool"))(t); len(got) != 1 {
			t.Errorf("LiveRunList after commit = %v, want 1", got)
		}
	})

	t.Run("ErrorRollsBack", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		err := s.InTx(b.ctx, func(tx store.Tx) error {
			if err := writeAll(b.ctx, tx); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("InTx = %v, want the error fn returned", err)
		}
		wantNothing(t, b)
		wantUsable(t, b)
	})

	t.Run("PanicRollsBackAndRepanics", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		var wrote error
		recovered := func() (r any) {
			defer func() { r = recover() }()
			_ = s.InTx(b.ctx, func(tx store.Tx) error {
				wrote = writeAll(b.ctx, tx)
				panic(errRollback)
			})
			return nil
		}()
		mustDo(t, wrote)
		if recovered != errRollback { //nolint:errorlint // the panic value itself, not a wrapped error
			t.Fatalf("InTx recovered %v, want the panic of fn to continue", recovered)
		}
		wantNothing(t, b)
		wantUsable(t, b)
	})

	t.Run("ConcurrentWritersAllCommit", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		const writers = 8
		errs := make(chan error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				id := fmt.Sprintf("20250601-12000%d-aaaaaaaaaa", i)
				errs <- s.InTx(b.ctx, func(tx store.Tx) error {
					// Read before writing: a store whose transactions
					// took the write lock only at the first write could
					// deadlock here and fail with "database is locked".
					if _, err := tx.DeploymentList(b.ctx, "tool"); err != nil {
						return err
					}
					if err := tx.DeploymentCreate(b.ctx, deployment("tool", id, at(i), slipway.DeploymentPending)); err != nil {
						return err
					}
					if err := tx.StepsCreate(b.ctx, steps(id)); err != nil {
						return err
					}
					for range 3 {
						if _, err := tx.EventAppend(b.ctx, slipway.Event{DeploymentID: id, Kind: "step"}); err != nil {
							return err
						}
					}
					_, err := tx.ConfigCreate(b.ctx, "tool", []byte(`{}`), at(i))
					return err
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent InTx: %v", err)
			}
		}
		if got := must(s.DeploymentList(b.ctx, "tool"))(t); len(got) != writers {
			t.Errorf("DeploymentList has %d deployments, want %d", len(got), writers)
		}
		if got := must(s.ConfigGetLatest(b.ctx, "tool"))(t); got.Version != writers {
			t.Errorf("latest config version = %d, want %d", got.Version, writers)
		}
	})

	t.Run("ReadsDoNotWaitForWriteTx", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		committed := deployment("tool", "20250601-110000-cccccccccc", at(0), slipway.DeploymentSuccessful)
		mustDo(t, s.DeploymentCreate(b.ctx, committed))

		inside := make(chan struct{})
		release := make(chan struct{})
		txDone := make(chan error, 1)
		go func() {
			txDone <- s.InTx(b.ctx, func(tx store.Tx) error {
				if err := tx.DeploymentCreate(b.ctx, deployment("tool", id, at(1), slipway.DeploymentPending)); err != nil {
					close(inside)
					return err
				}
				close(inside)
				<-release
				return nil
			})
		}()
		released := false
		defer func() {
			if !released {
				close(release)
				if err := <-txDone; err != nil {
					t.Errorf("InTx: %v", err)
				}
			}
		}()
		<-inside

		ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
		defer cancel()
		// Reads outside the transaction return while it is open, see what
		// was committed, and not what is not yet.
		diff(t, "DeploymentGet during a write tx", committed, must(s.DeploymentGet(ctx, "tool", committed.ID))(t))
		_, err := s.DeploymentGet(ctx, "tool", id)
		wantNotFound(t, "DeploymentGet of the uncommitted deployment", err)
		if got := must(s.DeploymentList(ctx, "tool"))(t); len(got) != 1 {
			t.Errorf("DeploymentList during a write tx has %d deployments, want 1", len(got))
		}

		released = true
		close(release)
		mustDo(t, <-txDone)
		must(s.DeploymentGet(b.ctx, "tool", id))(t)
	})
}

func testStore(t *testing.T, f Factory) {
	t.Parallel()

	t.Run("WriteDB", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		db := s.WriteDB()
		if db == nil {
			t.Fatal("WriteDB() = nil")
		}
		mustDo(t, db.PingContext(b.ctx))
	})

	t.Run("CloseTwice", func(t *testing.T) {
		t.Parallel()
		s, _ := setup(t, f)
		mustDo(t, s.Close())
		mustDo(t, s.Close())
	})
}
