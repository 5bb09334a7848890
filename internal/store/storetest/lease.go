package storetest

import (
	"errors"
	"fmt"
	"testing"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

func testBuildLease(t *testing.T, f Factory) {
	t.Parallel()

	// plan records a running deployment of tool with n pending build
	// steps build:c0….
	plan := func(t *testing.T, s store.Store, b *testBundle, tool, id string, n int) {
		t.Helper()
		mustDo(t, s.DeploymentCreate(b.ctx, deployment(tool, id, at(0), slipway.DeploymentRunning)))
		var steps []slipway.Step
		for i := range n {
			steps = append(steps, slipway.Step{
				DeploymentID: id, Key: fmt.Sprintf("build:c%d", i), Kind: slipway.StepBuild,
				Component: fmt.Sprintf("c%d", i), Action: slipway.ActionBuild, State: slipway.StepPending,
			})
		}
		mustDo(t, s.StepsCreate(b.ctx, steps))
	}

	// Ensure a tool's slots are counted: the limit holds, a holder takes
	// its own again, a release frees one, a step that ended frees its own,
	// and another tool's builds do not count.
	t.Run("TakeRelease", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		const id, other = "20250601-120000-aaaaaaaaaa", "20250601-120000-bbbbbbbbbb"
		plan(t, s, b, "tool", id, 4)
		plan(t, s, b, "other", other, 1)
		take := func(tool, id, key string) (bool, int) {
			t.Helper()
			ok, held, err := s.BuildLeaseTake(b.ctx, tool, id, key, 2, at(1))
			mustDo(t, err)
			return ok, held
		}
		if ok, held := take("tool", id, "build:c0"); !ok || held != 1 {
			t.Fatalf("first take = %v, %d; want a slot, 1 held", ok, held)
		}
		if ok, _ := take("tool", id, "build:c1"); !ok {
			t.Fatal("second take under a limit of 2 refused")
		}
		if ok, held := take("tool", id, "build:c2"); ok || held != 2 {
			t.Fatalf("third take = %v, %d; want refused, 2 held", ok, held)
		}
		if ok, _ := take("tool", id, "build:c0"); !ok {
			t.Error("a holder taking its slot again was refused")
		}
		if ok, _ := take("other", other, "build:c0"); !ok {
			t.Error("another tool's build was refused: tools' slots are their own")
		}
		mustDo(t, s.BuildLeaseRelease(b.ctx, id, "build:c0"))
		mustDo(t, s.BuildLeaseRelease(b.ctx, id, "build:c0"))
		if ok, _ := take("tool", id, "build:c2"); !ok {
			t.Fatal("a take after a release was refused")
		}
		// build:c1 ends without releasing (its server died): its slot is
		// free for the next.
		_, err := s.StepUpdate(b.ctx, store.StepUpdate{DeploymentID: id, Key: "build:c1", State: slipway.StepFailed, FinishedAt: at(2)})
		mustDo(t, err)
		if ok, held := take("tool", id, "build:c3"); !ok || held != 2 {
			t.Errorf("a take once a holder's step ended = %v, %d; want a slot, 2 held", ok, held)
		}
	})

	// Ensure concurrent takes never give out more than the limit.
	t.Run("TakeRace", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		const id = "20250601-120000-aaaaaaaaaa"
		plan(t, s, b, "tool", id, writers)
		got := make([]bool, writers)
		errs := race(writers, func(i int) error {
			var err error
			got[i], _, err = s.BuildLeaseTake(b.ctx, "tool", id, fmt.Sprintf("build:c%d", i), 3, at(1))
			return err
		})
		mustDo(t, errors.Join(errs...))
		n := 0
		for _, ok := range got {
			if ok {
				n++
			}
		}
		if n != 3 {
			t.Errorf("%d concurrent takes under a limit of 3 gave %d slots", writers, n)
		}
	})
}
