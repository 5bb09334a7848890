package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

// waitTrain watches train id until until(v) holds, and returns v.
func (h *harness) waitTrain(t *testing.T, id string, what string, until func(TrainView) bool) TrainView {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var got TrainView
	stop := errors.New("stop")
	err := h.trains.TrainWatch(ctx, id, func(v TrainView) error {
		got = v
		if until(v) {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("train %s never %s: %v (last: %+v)", id, what, err, got)
	}
	return got
}

// Ensure a train over five tools, two of which cannot deploy to staging
// (one has no such environment, one has no config), reports those two,
// deploys the other three to staging (two at a time), waits at its one
// question, and once it is answered yes promotes the three to production
// with the builds staging runs: each member's work an ordinary deployment
// of its tool, recorded on its cell. all_or_nothing refuses to start, a dry
// run stores nothing, a second answer is refused naming the first, and a
// job run again makes no second deployment.
func TestTrains_DeployAskPromote(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, true)
	ctx := slipway.WithActor(t.Context(), slipway.Actor{Name: "admin", Admin: true})
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: echo ran\n"})
	good := []string{"t1", "t2", "t3"}
	for _, tool := range good {
		if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, envConfig(repo.Dir, false))); err != nil {
			t.Fatal(err)
		}
	}
	plain := "components:\n  job:\n    component_type: one-off\n    build: {repository: " + repo.Dir + ", ref: main}\n    run: {command: job}\n"
	if _, _, err := h.deploys.ConfigPut(ctx, "t4", mustParse(t, plain)); err != nil {
		t.Fatal(err)
	}
	plan := slipway.ReleasePlan{
		Name: "weekly", Members: []string{"t1", "t2", "t3", "t4", "t5"}, MaxParallel: 2,
		Stages: []slipway.PlanStage{{Deploy: "staging"}, {Ask: "Staging looks fine. Promote all?"}, {Promote: "production"}},
	}
	if _, created, err := h.trains.PlanPut(ctx, plan); err != nil || !created {
		t.Fatalf("PlanPut = %v, %v", created, err)
	}

	dry, err := h.trains.TrainStart(ctx, TrainStart{Plan: "weekly", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	bad := dry.Ineligible()
	if len(bad) != 2 || !strings.Contains(bad["t4"], "no environment staging") || !strings.Contains(bad["t5"], "no config") {
		t.Fatalf("preflight's ineligible = %v, want t4 (no environment staging) and t5 (no config)", bad)
	}
	_, err = h.trains.TrainStart(ctx, TrainStart{Plan: "weekly", Mode: slipway.TrainAllOrNothing})
	if e, ok := errors.AsType[*slipway.Error](err); !ok || e.Code != slipway.EConflict || !strings.Contains(e.Message, "t4 (no environment staging") {
		t.Fatalf("all_or_nothing start: err = %v, want conflict naming t4", err)
	}
	if ts, _ := h.db.TrainList(ctx, 0); len(ts) != 0 {
		t.Fatalf("%d trains stored after a dry run and a refusal, want 0", len(ts))
	}

	v, err := h.trains.TrainStart(ctx, TrainStart{Plan: "weekly"})
	if err != nil {
		t.Fatal(err)
	}
	id := v.Train.ID
	v = h.waitTrain(t, id, "waited at its question", func(v TrainView) bool { return v.Train.Stage == 1 || v.Train.State.Final() })
	if v.Train.State != slipway.TrainRunning {
		t.Fatalf("train = %s (%s), want running at the question", v.Train.State, v.Train.Reason)
	}
	for _, tool := range good {
		c, _ := v.Cell(tool, 0)
		if c.State != slipway.MemberSucceeded || c.DeploymentID == "" {
			t.Fatalf("%s in staging = %+v, want succeeded with a deployment", tool, c)
		}
		d, err := h.db.DeploymentGet(ctx, tool, c.DeploymentID)
		if err != nil || d.Environment != "staging" || d.Trigger != "train" || d.Actor != "admin" {
			t.Fatalf("%s's deployment = %+v, %v; want staging, trigger train, actor admin", tool, d, err)
		}
		if c, _ := v.Cell(tool, 2); c.State != slipway.MemberPending {
			t.Fatalf("%s's promotion before the answer = %+v, want pending", tool, c)
		}
	}
	for _, tool := range []string{"t4", "t5"} {
		if c, _ := v.Cell(tool, 2); c.State != slipway.MemberSkipped {
			t.Errorf("%s's promotion = %+v, want skipped", tool, c)
		}
	}
	// The job run again (a crash before it recorded anything) makes no
	// second deployment.
	if err := h.trains.AdvanceTrain(ctx, id); err == nil {
		t.Fatal("AdvanceTrain at an unanswered question = nil, want a recheck")
	}
	for _, tool := range good {
		if ds, _ := h.db.DeploymentList(ctx, tool); len(ds) != 1 {
			t.Fatalf("%s has %d deployments, want 1", tool, len(ds))
		}
	}

	if _, err := h.trains.TrainAnswer(ctx, id, "maybe", ""); err == nil {
		t.Fatal("answer maybe accepted")
	}
	if _, err := h.trains.TrainAnswer(ctx, id, "yes", "QA signed off"); err != nil {
		t.Fatal(err)
	}
	_, err = h.trains.TrainAnswer(ctx, id, "no", "")
	if e, ok := errors.AsType[*slipway.Error](err); !ok || e.Code != slipway.EConflict || !strings.Contains(e.Message, "answered yes by admin") {
		t.Fatalf("second answer: err = %v, want conflict naming the first", err)
	}
	v = h.waitTrain(t, id, "ended", func(v TrainView) bool { return v.Train.State.Final() })
	if v.Train.State != slipway.TrainCompleted {
		t.Fatalf("train = %s (%s), want completed", v.Train.State, v.Train.Reason)
	}
	for _, tool := range good {
		c, _ := v.Cell(tool, 2)
		d, err := h.db.DeploymentGet(ctx, tool, c.DeploymentID)
		if c.State != slipway.MemberSucceeded || err != nil || d.Environment != "production" || d.PromotedFrom != "staging" {
			t.Fatalf("%s's promotion = %+v, deployment %+v, %v; want a successful promotion from staging", tool, c, d, err)
		}
	}
	if _, err := h.trains.TrainCancel(ctx, id); err == nil {
		t.Fatal("cancel of an ended train accepted")
	}
}

// Ensure a "no" stops the train: cancelled with who said it, and the
// promotions never made.
func TestTrains_AnswerNoStops(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, true)
	ctx := slipway.WithActor(t.Context(), slipway.Actor{Name: "admin", Admin: true})
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: echo ran\n"})
	if _, _, err := h.deploys.ConfigPut(ctx, "n1", mustParse(t, envConfig(repo.Dir, false))); err != nil {
		t.Fatal(err)
	}
	plan := slipway.ReleasePlan{Name: "p", Members: []string{"n1"}, Stages: []slipway.PlanStage{{Ask: "Go?"}, {Promote: "production"}}}
	if _, _, err := h.trains.PlanPut(ctx, plan); err != nil {
		t.Fatal(err)
	}
	// The promotion's upstream has never run: the preflight refuses it.
	if _, err := h.trains.TrainStart(ctx, TrainStart{Plan: "p"}); err == nil || !strings.Contains(err.Error(), "staging has no successful deployment") {
		t.Fatalf("start with nothing in staging: err = %v, want the promotion's reason", err)
	}
	plan.Stages = []slipway.PlanStage{{Ask: "Go?"}, {Deploy: "staging"}}
	if _, _, err := h.trains.PlanPut(ctx, plan); err != nil {
		t.Fatal(err)
	}
	v, err := h.trains.TrainStart(ctx, TrainStart{Plan: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.trains.TrainAnswer(ctx, v.Train.ID, "no", "not today"); err != nil {
		t.Fatal(err)
	}
	v = h.waitTrain(t, v.Train.ID, "ended", func(v TrainView) bool { return v.Train.State.Final() })
	if c, _ := v.Cell("n1", 1); v.Train.State != slipway.TrainCancelled || !strings.Contains(v.Train.Reason, "admin answered no") || c.State != slipway.MemberSkipped {
		t.Fatalf("train = %s (%s), cell %+v; want cancelled by admin's no, the deployment skipped", v.Train.State, v.Train.Reason, c)
	}
	if ds, _ := h.db.DeploymentList(ctx, "n1"); len(ds) != 0 {
		t.Fatalf("%d deployments after a no, want 0", len(ds))
	}
}

// Ensure a cancel ends a running train at once (its cells not run
// skipped), a second cancel and an answer after it are refused, and a
// mode that is none is refused naming the field.
func TestTrains_Cancel(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, true)
	ctx := slipway.WithActor(t.Context(), slipway.Actor{Name: "admin", Admin: true})
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: echo ran\n"})
	if _, _, err := h.deploys.ConfigPut(ctx, "c1", mustParse(t, envConfig(repo.Dir, false))); err != nil {
		t.Fatal(err)
	}
	plan := slipway.ReleasePlan{Name: "p", Members: []string{"c1"}, Stages: []slipway.PlanStage{{Ask: "Go?"}, {Deploy: "staging"}}}
	if _, _, err := h.trains.PlanPut(ctx, plan); err != nil {
		t.Fatal(err)
	}
	_, err := h.trains.TrainStart(ctx, TrainStart{Plan: "p", Mode: "some"})
	if e, ok := errors.AsType[*slipway.Error](err); !ok || e.Code != slipway.EInvalid || !strings.HasPrefix(e.Message, "mode:") {
		t.Fatalf("start with mode some: err = %v, want invalid naming mode", err)
	}
	v, err := h.trains.TrainStart(ctx, TrainStart{Plan: "p"})
	if err != nil {
		t.Fatal(err)
	}
	v, err = h.trains.TrainCancel(ctx, v.Train.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := v.Cell("c1", 1); v.Train.State != slipway.TrainCancelled || v.Train.Reason != "Cancelled by admin" || c.State != slipway.MemberSkipped {
		t.Fatalf("after cancel: %s (%s), cell %+v; want cancelled by admin, the cell skipped", v.Train.State, v.Train.Reason, c)
	}
	if _, err := h.trains.TrainCancel(ctx, v.Train.ID); err == nil {
		t.Fatal("a second cancel accepted")
	}
	if _, err := h.trains.TrainAnswer(ctx, v.Train.ID, "yes", ""); err == nil || !strings.Contains(err.Error(), "has ended (cancelled)") {
		t.Fatalf("answer after cancel: err = %v, want refused: ended", err)
	}
	if err := h.trains.AdvanceTrain(ctx, v.Train.ID); err != nil {
		t.Fatalf("AdvanceTrain of a cancelled train = %v, want nil (done)", err)
	}
	if ds, _ := h.db.DeploymentList(ctx, "c1"); len(ds) != 0 {
		t.Fatalf("%d deployments after a cancel, want 0", len(ds))
	}
}

// Ensure a member whose deployment fails is recorded with the reason, its
// later stages are skipped naming the failure, the others go on, and the
// train ends partial.
func TestTrains_FailedMemberIsPartial(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, true)
	ctx := slipway.WithActor(t.Context(), slipway.Actor{Name: "admin", Admin: true})
	ok := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: echo ran\n"})
	bad := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: exit 3\n"})
	for tool, repo := range map[string]string{"f1": ok.Dir, "f2": bad.Dir} {
		if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, envConfig(repo, false))); err != nil {
			t.Fatal(err)
		}
	}
	plan := slipway.ReleasePlan{Name: "p", Members: []string{"f1", "f2"}, Stages: []slipway.PlanStage{{Deploy: "staging"}, {Promote: "production"}}}
	if _, _, err := h.trains.PlanPut(ctx, plan); err != nil {
		t.Fatal(err)
	}
	v, err := h.trains.TrainStart(ctx, TrainStart{Plan: "p"})
	if err != nil {
		t.Fatal(err)
	}
	v = h.waitTrain(t, v.Train.ID, "ended", func(v TrainView) bool { return v.Train.State.Final() })
	if v.Train.State != slipway.TrainPartial || v.Train.Reason != "1 of 2 members failed" {
		t.Fatalf("train = %s (%s), want partial, 1 of 2 failed", v.Train.State, v.Train.Reason)
	}
	failed, _ := v.Cell("f2", 0)
	skipped, _ := v.Cell("f2", 1)
	promoted, _ := v.Cell("f1", 1)
	if failed.State != slipway.MemberFailed || !strings.Contains(failed.Reason, " failed") ||
		skipped.State != slipway.MemberSkipped || !strings.HasPrefix(skipped.Reason, "Failed at stage 1 (deploy to staging)") ||
		promoted.State != slipway.MemberSucceeded {
		t.Fatalf("cells: f2 staging %+v, f2 production %+v, f1 production %+v", failed, skipped, promoted)
	}
}
