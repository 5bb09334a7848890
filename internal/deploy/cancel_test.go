package deploy

import (
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/store"
)

// Ensure a cancel that another server recorded in the shared store (this
// server's registry of running steps never hears of it) stops a running
// step here within the recheck interval: the one-off that would run ten
// minutes ends cancelled, and so does the deployment.
func TestEngine_CancelFromAnotherServer(t *testing.T) {
	t.Parallel()
	const tool = "cancelled"
	h := newHarness(t, Config{RecheckInterval: 50 * time.Millisecond}, true)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "slow: echo started; exec sleep 600\n"})
	cfg := mustParse(t, "components:\n  slow:\n    component_type: one-off\n    build: {repository: "+repo.Dir+", ref: main}\n    run: {command: slow, timeout: 900}\n")
	if _, _, err := h.deploys.ConfigPut(ctx, tool, cfg); err != nil {
		t.Fatal(err)
	}
	d, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string {
		st, err := h.db.StepGet(ctx, d.ID, "run:slow")
		if err != nil || st.State != slipway.StepRunning {
			return "the one-off is not running yet"
		}
		return ""
	})
	// What DeploymentCancel on another server writes, without this
	// server's registry.
	ok, err := h.db.DeploymentUpdateStatus(ctx, store.DeploymentStatusUpdate{
		Tool: tool, ID: d.ID, Status: slipway.DeploymentCancelling, LongStatus: "Cancelling: stopping the running steps",
		UpdatedAt: time.Now(), IfStatusIn: []slipway.DeploymentStatus{slipway.DeploymentRunning},
	})
	if err != nil || !ok {
		t.Fatalf("record the cancel: %v, %v", ok, err)
	}
	if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentCancelled {
		t.Fatalf("deployment = %s (%s), want cancelled", d.Status, d.LongStatus)
	}
	st, err := h.db.StepGet(ctx, d.ID, "run:slow")
	if err != nil || st.State != slipway.StepCancelled {
		t.Fatalf("the one-off's step = %+v, %v; want cancelled", st, err)
	}
}
