package storetest

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// writers is how many goroutines the concurrency tests run at once.
const writers = 8

// race runs fn(i) for i in [0, n) in n goroutines released at the same
// moment, and returns their errors.
func race(n int, fn func(i int) error) []error {
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// testConcurrency is the store's concurrency contract (the store package's
// doc): locks serialize the transactions that read to decide, counters
// follow commit order, upserts never collide.
func testConcurrency(t *testing.T, f Factory) {
	t.Parallel()

	// Read-decide-write under DeploymentLock loses no update: each writer
	// reads a counter kept in the long status and writes it plus one.
	t.Run("DeploymentLockSerializes", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		const id = "20250601-120000-aaaaaaaaaa"
		mustDo(t, s.ToolEnsure(b.ctx, "tool", at(0)))
		d := deployment("tool", id, at(0), slipway.DeploymentRunning)
		d.LongStatus = "0"
		mustDo(t, s.DeploymentCreate(b.ctx, d))
		const rounds = 5
		errs := race(writers, func(int) error {
			for range rounds {
				err := s.InTx(b.ctx, func(tx store.Tx) error {
					cur, err := tx.DeploymentLock(b.ctx, "tool", id)
					if err != nil {
						return err
					}
					n, err := strconv.Atoi(cur.LongStatus)
					if err != nil {
						return err
					}
					_, err = tx.DeploymentUpdateStatus(b.ctx, store.DeploymentStatusUpdate{
						Tool: "tool", ID: id, Status: cur.Status, LongStatus: strconv.Itoa(n + 1), UpdatedAt: at(1),
					})
					return err
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		mustDo(t, errors.Join(errs...))
		if got := must(s.DeploymentGet(b.ctx, "tool", id))(t).LongStatus; got != strconv.Itoa(writers*rounds) {
			t.Errorf("counter after %d locked increments = %s: an update was lost", writers*rounds, got)
		}
	})

	// The same under ToolLock, whose row the lock creates when missing.
	t.Run("ToolLockSerializes", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		const rounds = 5
		errs := race(writers, func(int) error {
			for range rounds {
				err := s.InTx(b.ctx, func(tx store.Tx) error {
					if err := tx.ToolLock(b.ctx, "new-tool", at(0)); err != nil {
						return err
					}
					n := 0
					if cur, err := tx.EnvVarGet(b.ctx, "new-tool", "N"); err == nil {
						if n, err = strconv.Atoi(cur.Sealed); err != nil {
							return err
						}
					} else if !errors.Is(err, store.ErrNotFound) {
						return err
					}
					return tx.EnvVarPut(b.ctx, store.EnvVar{Tool: "new-tool", Name: "N", Sealed: strconv.Itoa(n + 1), UpdatedAt: at(1)})
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		mustDo(t, errors.Join(errs...))
		if got := must(s.EnvVarGet(b.ctx, "new-tool", "N"))(t).Sealed; got != strconv.Itoa(writers*rounds) {
			t.Errorf("counter after %d locked increments = %s: an update was lost", writers*rounds, got)
		}
		diff(t, "ToolList", []string{"new-tool"}, must(s.ToolList(b.ctx))(t))
	})

	// A watcher that reads "after the last number it saw" while writers
	// append never skips an event: numbers are handed out in commit order.
	t.Run("EventSeqFollowsCommitOrder", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		const id = "20250601-120000-aaaaaaaaaa"
		mustDo(t, s.DeploymentCreate(b.ctx, deployment("tool", id, at(0), slipway.DeploymentRunning)))
		const perWriter = 10
		done := make(chan struct{})
		var seen []int64
		watcher := make(chan error, 1)
		go func() {
			var after int64
			for {
				// After done, one last read sees what every writer
				// committed.
				finished := false
				select {
				case <-done:
					finished = true
				default:
				}
				es, err := s.EventList(b.ctx, id, after, 0)
				if err != nil {
					watcher <- err
					return
				}
				for _, e := range es {
					seen = append(seen, e.Seq)
					after = e.Seq
				}
				if finished {
					watcher <- nil
					return
				}
			}
		}()
		errs := race(writers, func(i int) error {
			for j := range perWriter {
				err := s.InTx(b.ctx, func(tx store.Tx) error {
					// Two events per transaction, with a read between them.
					for k := range 2 {
						if _, err := tx.EventAppend(b.ctx, slipway.Event{DeploymentID: id, Kind: "step", Message: fmt.Sprintf("%d/%d/%d", i, j, k)}); err != nil {
							return err
						}
						if _, err := tx.StepList(b.ctx, id); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		close(done)
		mustDo(t, errors.Join(errs...))
		mustDo(t, <-watcher)
		const total = writers * perWriter * 2
		if len(seen) != total {
			t.Fatalf("the watcher saw %d events, want %d", len(seen), total)
		}
		for i, seq := range seen {
			if seq != int64(i+1) {
				t.Fatalf("the watcher saw event %d as number %d, want %d: it skipped one committed late", i, seq, i+1)
			}
		}
	})

	// Writers of one build record at once all succeed; one record is left.
	t.Run("BuildUpsertRace", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		errs := race(writers, func(i int) error {
			bd := build("tool", "k1-00000001", "k1", slipway.BuildRunning, at(0))
			bd.UpdatedAt = at(i + 1)
			return s.BuildUpsert(b.ctx, bd)
		})
		mustDo(t, errors.Join(errs...))
		if got := must(s.BuildList(b.ctx, "tool"))(t); len(got) != 1 {
			t.Errorf("BuildList after %d upserts of one record = %d records, want 1", writers, len(got))
		}
	})

	// Config versions and step order are counted under locks: concurrent
	// writers get distinct, gapless numbers.
	t.Run("CountersUnderContention", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		versions := make([]int, writers)
		errs := race(writers, func(i int) error {
			v, err := s.ConfigCreate(b.ctx, "tool", []byte(`{"components":{}}`), at(i))
			versions[i] = v
			return err
		})
		mustDo(t, errors.Join(errs...))
		seenVersion := map[int]bool{}
		for _, v := range versions {
			if v < 1 || v > writers || seenVersion[v] {
				t.Errorf("ConfigCreate versions = %v, want each of 1…%d once", versions, writers)
				break
			}
			seenVersion[v] = true
		}

		const id = "20250601-120000-aaaaaaaaaa"
		mustDo(t, s.DeploymentCreate(b.ctx, deployment("tool", id, at(0), slipway.DeploymentRunning)))
		errs = race(writers, func(i int) error {
			return s.StepsCreate(b.ctx, []slipway.Step{{
				DeploymentID: id, Key: fmt.Sprintf("run:c%d", i), Kind: slipway.StepRun, Component: fmt.Sprintf("c%d", i),
				Action: slipway.ActionApply, State: slipway.StepPending,
			}})
		})
		mustDo(t, errors.Join(errs...))
		if got := must(s.StepList(b.ctx, id))(t); len(got) != writers {
			t.Errorf("StepList after %d concurrent StepsCreate = %d steps, want %d", writers, len(got), writers)
		}
	})
}
