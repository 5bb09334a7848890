package storetest

import (
	"sync"
	"testing"

	"slipway.dev/slipway/internal/slipway"
)

func testTrain(t *testing.T, f Factory) {
	t.Parallel()

	// Ensure a plan is stored, replaced (keeping its creation), listed by
	// name, read back equal and deleted once.
	t.Run("Plans", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		_, err := s.PlanGet(b.ctx, "weekly")
		wantNotFound(t, "PlanGet of a plan never made", err)
		p := slipway.ReleasePlan{
			Name: "weekly", Members: []string{"t1", "t2"}, MaxParallel: 3, CreatedAt: at(1).In(cet), CreatedBy: "admin", UpdatedAt: at(1),
			Stages: []slipway.PlanStage{{Deploy: "staging"}, {Ask: "Ship it? ✓"}, {Promote: "production"}},
		}
		mustDo(t, s.PlanPut(b.ctx, p))
		diff(t, "PlanGet", p, must(s.PlanGet(b.ctx, "weekly"))(t))
		p2 := p
		p2.Members, p2.CreatedAt, p2.CreatedBy, p2.UpdatedAt = []string{"t3"}, at(5), "other", at(5)
		mustDo(t, s.PlanPut(b.ctx, p2))
		want := p
		want.Members, want.UpdatedAt = []string{"t3"}, at(5)
		diff(t, "PlanGet after a replace", want, must(s.PlanGet(b.ctx, "weekly"))(t))
		a := p
		a.Name = "alpha"
		mustDo(t, s.PlanPut(b.ctx, a))
		list := must(s.PlanList(b.ctx))(t)
		if len(list) != 2 || list[0].Name != "alpha" || list[1].Name != "weekly" {
			t.Fatalf("PlanList = %+v, want alpha then weekly", list)
		}
		if !must(s.PlanDelete(b.ctx, "weekly"))(t) || must(s.PlanDelete(b.ctx, "weekly"))(t) {
			t.Fatal("PlanDelete: want true once, then false")
		}
	})

	// Ensure a train and its cells read back equal, an update applies only
	// over the version it read, and a cell's deployment is claimed once
	// even by claims at the same time.
	t.Run("TrainsAndCells", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		tr := slipway.Train{
			ID: "tr-20250601-120000-0000000a", Plan: "weekly", Members: []string{"t1", "t2"},
			Stages: []slipway.PlanStage{{Deploy: "staging"}, {Ask: "Go?"}}, Mode: slipway.TrainEligible, MaxParallel: 2,
			State: slipway.TrainRunning, CreatedAt: at(1), CreatedBy: "admin", UpdatedAt: at(1), Version: 1,
		}
		cells := []slipway.TrainMember{
			{TrainID: tr.ID, Tool: "t1", Stage: 0, State: slipway.MemberPending},
			{TrainID: tr.ID, Tool: "t2", Stage: 0, State: slipway.MemberSkipped, Reason: "no environment staging ✗", FinishedAt: at(1)},
		}
		_, err := s.TrainGet(b.ctx, tr.ID)
		wantNotFound(t, "TrainGet of a train never made", err)
		mustDo(t, s.TrainCreate(b.ctx, tr, cells))
		diff(t, "TrainGet", tr, must(s.TrainGet(b.ctx, tr.ID))(t))
		diff(t, "TrainMemberList", cells, must(s.TrainMemberList(b.ctx, tr.ID))(t))
		older := tr
		older.ID, older.CreatedAt = "tr-20250601-110000-0000000b", at(0)
		mustDo(t, s.TrainCreate(b.ctx, older, nil))
		if list := must(s.TrainList(b.ctx, 0))(t); len(list) != 2 || list[0].ID != tr.ID {
			t.Fatalf("TrainList = %+v, want %s first", list, tr.ID)
		}
		if list := must(s.TrainList(b.ctx, 1))(t); len(list) != 1 {
			t.Fatalf("TrainList(limit 1) = %d trains", len(list))
		}

		next := tr
		next.Stage, next.UpdatedAt = 1, at(2)
		next.Answers = []slipway.TrainAnswer{{Stage: 1, Value: "yes", By: "admin", At: at(2), Comment: "ok"}}
		if !must(s.TrainUpdate(b.ctx, next))(t) {
			t.Fatal("TrainUpdate over the version read did not apply")
		}
		if must(s.TrainUpdate(b.ctx, next))(t) {
			t.Fatal("TrainUpdate over a version no longer stored applied")
		}
		next.Version = 2
		diff(t, "TrainGet after update", next, must(s.TrainGet(b.ctx, tr.ID))(t))

		var (
			wg  sync.WaitGroup
			won = make([]bool, 8)
		)
		for i := range won {
			wg.Go(func() {
				ok, err := s.TrainMemberClaim(b.ctx, slipway.TrainMember{
					TrainID: tr.ID, Tool: "t1", Stage: 0, State: slipway.MemberRunning, DeploymentID: "d-" + string(rune('a'+i)), StartedAt: at(3),
				})
				if err != nil {
					t.Error(err)
				}
				won[i] = ok
			})
		}
		wg.Wait()
		n := 0
		for _, w := range won {
			if w {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d of 8 claims of one cell won, want 1", n)
		}
		got := must(s.TrainMemberList(b.ctx, tr.ID))(t)[0]
		if got.DeploymentID == "" || got.State != slipway.MemberRunning {
			t.Fatalf("claimed cell = %+v", got)
		}
		got.State, got.Reason, got.FinishedAt = slipway.MemberSucceeded, "Deployed", at(4)
		mustDo(t, s.TrainMemberUpdate(b.ctx, got))
		diff(t, "cell after update", got, must(s.TrainMemberList(b.ctx, tr.ID))(t)[0])
		missing := got
		missing.Tool = "nobody"
		wantNotFound(t, "TrainMemberUpdate of no cell", s.TrainMemberUpdate(b.ctx, missing))
	})
}
