package deploy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

// Ensure a tool's build slots are counted in the store, so across servers:
// while one build step of a deployment holds the tool's one slot (on
// whichever server runs it), another waits, pending, saying why, and its
// job is snoozed instead of holding a worker; once the slot is given back
// it builds.
func TestEngine_BuildSlotsInTheStore(t *testing.T) {
	t.Parallel()
	const tool = "slots"
	h := newHarness(t, Config{ToolBuildSlots: 1}, false) // steps run by hand
	ctx := t.Context()
	a := slipwaytest.GitRepo(t, map[string]string{"Procfile": "a: exec sleep 600\n"})
	b := slipwaytest.GitRepo(t, map[string]string{"Procfile": "b: exec sleep 600\n"})
	cfg := mustParse(t, "components:\n"+
		"  a:\n    component_type: one-off\n    build: {repository: "+a.Dir+", ref: main}\n    run: {command: a, timeout: 5}\n"+
		"  b:\n    component_type: one-off\n    build: {repository: "+b.Dir+", ref: main}\n    run: {command: b, timeout: 5}\n")
	if _, _, err := h.deploys.ConfigPut(ctx, tool, cfg); err != nil {
		t.Fatal(err)
	}
	d, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.eng.StartDeployment(ctx, tool, d.ID); err != nil {
		t.Fatal(err)
	}
	// build:a holds the slot (its job runs on another server).
	if ok, _, err := h.db.BuildLeaseTake(ctx, tool, d.ID, "build:a", 1, time.Now()); err != nil || !ok {
		t.Fatalf("take build:a's slot: %v, %v", ok, err)
	}
	var retry interface{ RetryAfter() time.Duration }
	if err := h.eng.RunStep(ctx, tool, d.ID, "build:b"); !errors.As(err, &retry) || retry.RetryAfter() != buildSlotRecheck {
		t.Fatalf("RunStep(build:b) while build:a holds the slot = %v; want its job snoozed %s", err, buildSlotRecheck)
	}
	st, err := h.db.StepGet(ctx, d.ID, "build:b")
	if err != nil || st.State != slipway.StepPending || st.Attempt != 0 || !strings.Contains(st.Detail, "waiting for a build slot: 1 of the tool's 1 are building") {
		t.Fatalf("build:b = %+v, %v; want pending, no attempt, waiting for the tool's slot", st, err)
	}
	if err := h.db.BuildLeaseRelease(ctx, d.ID, "build:a"); err != nil {
		t.Fatal(err)
	}
	if err := h.eng.RunStep(ctx, tool, d.ID, "build:b"); err != nil {
		t.Fatalf("RunStep(build:b) once the slot is free: %v", err)
	}
	if st, err = h.db.StepGet(ctx, d.ID, "build:b"); err != nil || st.State != slipway.StepDone {
		t.Fatalf("build:b = %+v, %v; want done", st, err)
	}
	// Its slot went back with its outcome: build:a gets it.
	if ok, held, err := h.db.BuildLeaseTake(ctx, tool, d.ID, "build:a", 1, time.Now()); err != nil || !ok || held != 1 {
		t.Fatalf("take build:a's slot after build:b = %v, %d, %v; want it, 1 held", ok, held, err)
	}
}
