package deploy

import (
	"testing"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/store"
)

// Ensure every version a deployment makes live is a release record,
// written with it and kept when its deployment is pruned; a removed
// component is a release too.
func TestEngine_ReleasesOutliveDeployments(t *testing.T) {
	t.Parallel()
	const tool = "released"
	h := newHarness(t, Config{KeepDeployments: 2}, true)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: echo ran\nother: echo other\n"})
	both := "components:\n" +
		"  job:\n    component_type: one-off\n    build: {repository: " + repo.Dir + ", ref: main}\n    run: {command: job}\n" +
		"  other:\n    component_type: one-off\n    build: {reuse_from: job}\n    run: {command: other}\n"
	if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, both)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 4 {
		d, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli", Actor: "tool-token:ci", ForceRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
			t.Fatalf("deployment = %s (%s)", d.Status, d.LongStatus)
		}
		ids = append(ids, d.ID)
	}
	one := "components:\n  job:\n    component_type: one-off\n    build: {repository: " + repo.Dir + ", ref: main}\n    run: {command: job}\n"
	if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, one)); err != nil {
		t.Fatal(err)
	}
	d, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli", Actor: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	h.waitFinal(t, tool, d.ID)
	ids = append(ids, d.ID)

	kept, err := h.db.DeploymentList(ctx, tool)
	if err != nil || len(kept) != 2 {
		t.Fatalf("deployments kept = %d, %v; want 2", len(kept), err)
	}
	rs, err := h.db.ReleaseList(ctx, store.ReleaseFilter{Tool: tool})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 9 {
		t.Fatalf("%d releases, want 9 (4 deployments × 2 one-offs, then other removed): %+v", len(rs), rs)
	}
	last := rs[0]
	if last.Component != "other" || last.Outcome != slipway.ReleaseRemoved || last.DeploymentID != ids[4] || last.Actor != "admin" {
		t.Errorf("newest release = %+v, want other removed by the last deployment", last)
	}
	first := rs[len(rs)-1]
	if first.DeploymentID != ids[0] || first.Outcome != slipway.ReleaseApplied || first.Commit != repo.Head(t) || first.BuildKey == "" ||
		first.SpecHash == "" || first.Environment != slipway.DefaultEnvironment || first.Actor != "tool-token:ci" {
		t.Errorf("oldest release = %+v, want the first deployment's, at %s", first, repo.Head(t))
	}
}
