package deploy

import (
	"context"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

// TestDeployments_Rollback deploys A, then B, and rolls back: A's commit runs
// again with no build made and no ref resolved (the branch has moved on),
// the stored config is untouched; rolling back to a deployment whose build
// was deleted since is refused, naming the build, and creates nothing.
func TestDeployments_Rollback(t *testing.T) {
	t.Parallel()
	const tool = "rollback"
	h := newHarness(t, Config{}, true)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "web: echo version A; exec sleep 600\n"})
	cfg := mustParse(t, "components:\n  web:\n    component_type: continuous\n    build: {repository: "+repo.Dir+", ref: main}\n    run: {command: web}\n")
	if _, _, err := h.deploys.ConfigPut(ctx, tool, cfg); err != nil {
		t.Fatal(err)
	}
	deploy := func(t *testing.T, create func(context.Context, string, slipway.DeployOptions) (slipway.Deployment, error)) slipway.Deployment {
		t.Helper()
		d, err := create(ctx, tool, slipway.DeployOptions{Trigger: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
			t.Fatalf("deployment %s: %s", d.Status, d.LongStatus)
		}
		d, err = h.deploys.DeploymentGet(ctx, tool, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	liveCommit := func(t *testing.T) string {
		t.Helper()
		live, err := h.db.LiveRunList(ctx, tool)
		if err != nil || len(live) != 1 {
			t.Fatalf("live = %v, %v", live, err)
		}
		return live[0].Commit
	}
	builds := func(t *testing.T) int {
		t.Helper()
		bs, err := h.builds.BuildList(ctx, tool)
		if err != nil {
			t.Fatal(err)
		}
		return len(bs)
	}

	if _, err := h.deploys.DeploymentRollback(ctx, tool, "", slipway.DeployOptions{}); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("rollback with no deployment = %v, want ENotFound", err)
	}
	a := deploy(t, h.deploys.DeploymentCreate)
	commitA := liveCommit(t)
	if _, err := h.deploys.DeploymentRollback(ctx, tool, "", slipway.DeployOptions{}); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("rollback with one deployment = %v, want ENotFound (nothing earlier)", err)
	}
	commitB := repo.Commit(t, map[string]string{"Procfile": "web: echo version B; exec sleep 600\n"}, "B")
	deploy(t, h.deploys.DeploymentCreate)
	if got := liveCommit(t); got != commitB {
		t.Fatalf("live commit after B = %s, want %s", got, commitB)
	}
	before := builds(t)

	r := deploy(t, func(ctx context.Context, tool string, o slipway.DeployOptions) (slipway.Deployment, error) {
		return h.deploys.DeploymentRollback(ctx, tool, "", o)
	})
	if got := liveCommit(t); got != commitA {
		t.Errorf("live commit after the rollback = %s, want A's %s", got, commitA)
	}
	if r.RollbackOf != a.ID || !strings.Contains(r.Description, a.ID) {
		t.Errorf("rollback deployment: rollback_of %q, description %q; want %s", r.RollbackOf, r.Description, a.ID)
	}
	for _, st := range r.Steps {
		switch {
		case st.Kind == slipway.StepBuild && (st.State != slipway.StepUnchanged || !strings.Contains(st.Reason, "rollback")):
			t.Errorf("rollback build step %s: %s (%s), want reused", st.Key, st.State, st.Reason)
		case st.Kind == slipway.StepRun && (st.State != slipway.StepDone || st.Commit != commitA):
			t.Errorf("rollback run step %s: %s commit %s (%s), want done with %s", st.Key, st.State, st.Commit, st.Reason, commitA)
		}
	}
	if n := builds(t); n != before {
		t.Errorf("the rollback made %d builds, want none", n-before)
	}
	if sc, err := h.db.ConfigGetLatest(ctx, tool); err != nil || !strings.Contains(string(sc.Raw), "main") {
		t.Errorf("stored config after the rollback = %s, %v", sc.Raw, err)
	}

	// Forward again (B), then delete A's build: rolling back to A is
	// refused, naming it.
	deploy(t, h.deploys.DeploymentCreate)
	if got := liveCommit(t); got != commitB {
		t.Fatalf("live commit after rolling forward = %s, want %s", got, commitB)
	}
	var keyA string
	for _, st := range a.Steps {
		if st.Kind == slipway.StepBuild {
			keyA = st.BuildKey
		}
	}
	if _, err := h.builds.BuildDelete(ctx, tool, a.Builds["web"].BuildID); err != nil {
		t.Fatal(err)
	}
	n, _ := h.db.DeploymentList(ctx, tool)
	_, err := h.deploys.DeploymentRollback(ctx, tool, a.ID, slipway.DeployOptions{})
	if slipway.ErrorCode(err) != slipway.EConflict || !strings.Contains(err.Error(), "pruned") || !strings.Contains(err.Error(), keyA) || !strings.Contains(err.Error(), commitA[:7]) {
		t.Errorf("rollback to a pruned build = %v, want EConflict naming build %s of commit %s", err, keyA, commitA[:7])
	}
	if m, _ := h.db.DeploymentList(ctx, tool); len(m) != len(n) {
		t.Errorf("a refused rollback created a deployment (%d → %d)", len(n), len(m))
	}
	if _, err := h.deploys.DeploymentRollback(ctx, tool, "20250101-000000-nosuchdepl", slipway.DeployOptions{}); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("rollback to an unknown deployment = %v, want ENotFound", err)
	}
}
