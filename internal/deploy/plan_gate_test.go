package deploy_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/deploy"
	"slipway.dev/slipway/internal/slipway"
)

// Ensure a gate is a step of its own before its component's run: it
// waits for what the run waits for (not the build), the run waits for it,
// and an unchanged component is not asked about.
func TestPlan_Gate(t *testing.T) {
	t.Parallel()
	prod := reuse("prod", "staging", "staging")
	prod.Gate = &slipway.Gate{Question: "\n  Staging is live. Deploy to **production**?\nDetails follow."}
	c := cfg(src("staging"), prod)
	in := deploy.PlanInput{
		DeploymentID: "d", Config: c, BuilderVersion: "test/1",
		Commits: map[deploy.SourceRef]string{{Repository: repo, Ref: "main"}: commitB},
		Live:    live(c, commitA),
	}
	steps, err := deploy.Plan(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []row{
		{"build:staging", slipway.ActionBuild, slipway.StepPending, "", "commit aaaaaaa→bbbbbbb"},
		{"run:staging", slipway.ActionApply, slipway.StepPending, "build:staging", "new build: commit aaaaaaa→bbbbbbb"},
		{"gate:prod", slipway.ActionAsk, slipway.StepPending, "run:staging", "asks before apply of prod: Staging is live. Deploy to **production**?"},
		{"run:prod", slipway.ActionApply, slipway.StepPending, "build:staging,run:staging,gate:prod", "new build: commit aaaaaaa→bbbbbbb"},
	}
	if d := cmp.Diff(want, rows(steps)); d != "" {
		t.Errorf("plan with a gate (-want +got):\n%s", d)
	}
	if steps[2].Kind != slipway.StepGate || steps[2].Component != "prod" {
		t.Errorf("gate step = kind %s of %q", steps[2].Kind, steps[2].Component)
	}

	in.Commits = map[deploy.SourceRef]string{{Repository: repo, Ref: "main"}: commitA}
	steps, err = deploy.Plan(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(steps)[2]; got != (row{"gate:prod", slipway.ActionNone, slipway.StepUnchanged, "run:staging", "not asked: prod is unchanged"}) {
		t.Errorf("gate of an unchanged component = %+v", got)
	}
}

// Ensure a gate step waits, neither final nor satisfying: its dependants
// stay pending, and a failed gate skips them.
func TestSchedule_Gate(t *testing.T) {
	t.Parallel()
	steps := []slipway.Step{
		{Key: "gate:prod", State: slipway.StepWaiting},
		{Key: "run:prod", State: slipway.StepPending, Needs: []string{"gate:prod"}},
	}
	dec := deploy.Schedule(steps, false)
	if dec.Final || len(dec.Due) != 0 || len(dec.Settle) != 0 {
		t.Errorf("while the gate waits: %+v, want nothing due, nothing settled, not final", dec)
	}
	steps[0].State = slipway.StepFailed
	dec = deploy.Schedule(steps, false)
	if !dec.Final || len(dec.Settle) != 1 || dec.Settle[0].Reason != "skipped: gate:prod failed" {
		t.Errorf("after the gate failed: %+v", dec)
	}
}
