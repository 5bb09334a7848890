package deploy

import (
	"os"
	"path/filepath"
	"strings"
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

// Ensure IsLive answers from a real history: the commit live now is
// exact, its ancestors included since the first release that had them
// without a break, a commit on another branch is absent, and after the
// branch is rewritten back (a force push) the commit it dropped is absent.
func TestReleases_IsLive(t *testing.T) {
	t.Parallel()
	const tool = "islive"
	h := newHarness(t, Config{}, true)
	rel := NewReleases(h.eng)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: echo ran\n"})
	cfg := "components:\n  job:\n    component_type: one-off\n    build: {repository: " + repo.Dir + ", ref: main}\n    run: {command: job}\n"
	if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, cfg)); err != nil {
		t.Fatal(err)
	}
	deploy := func() slipway.Deployment {
		t.Helper()
		d, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
			t.Fatalf("deployment = %s (%s)", d.Status, d.LongStatus)
		}
		return d
	}
	a := repo.Head(t)
	d1 := deploy()
	b := repo.Commit(t, map[string]string{"b": "1"}, "b")
	d2 := deploy()
	c := repo.Commit(t, map[string]string{"c": "1"}, "c")
	d3 := deploy()
	repo.Git(t, "checkout", "-q", "-b", "other", a)
	other := repo.Commit(t, map[string]string{"o": "1"}, "on another branch")
	repo.Git(t, "checkout", "-q", "main")

	check := func(commit string, state slipway.LiveState, since string) {
		t.Helper()
		got, err := rel.IsLive(ctx, tool, commit)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Component != "job" || got[0].State != state || got[0].DeploymentID != since {
			t.Errorf("IsLive(%s) = %+v, want %s since deployment %q", commit[:7], got, state, since)
		}
	}
	check(c, slipway.LiveExact, d3.ID)
	check(b, slipway.LiveIncluded, d2.ID)
	check(a, slipway.LiveIncluded, d1.ID)
	check(other, slipway.LiveAbsent, "")

	// Rewrite main back to b (a force push) and deploy: c is gone.
	repo.Git(t, "reset", "-q", "--hard", b)
	if d4 := deploy(); d4.ID == "" {
		t.Fatal("no deployment")
	}
	check(c, slipway.LiveAbsent, "")
	check(b, slipway.LiveExact, d2.ID) // in every release since d2's: b, then c (which has b), then b again
	check(a, slipway.LiveIncluded, d1.ID)

	if _, err := rel.IsLive(ctx, tool, c[:7]); slipway.ErrorCode(err) != slipway.EInvalid {
		t.Errorf("a short commit: %v, want EInvalid", err)
	}

	// When: the first release that had each commit, even one gone since.
	when := func(commit, deployment string, exact bool) {
		t.Helper()
		got, err := rel.When(ctx, tool, commit)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Component != "job" || got[0].Release.DeploymentID != deployment || got[0].Exact != exact {
			t.Errorf("When(%s) = %+v, want deployment %q (exact %v)", commit[:7], got, deployment, exact)
		}
	}
	when(a, d1.ID, true)
	when(b, d2.ID, true)
	when(c, d3.ID, true)
	when(other, "", false)
	if _, err := rel.When(ctx, tool, "not-a-sha"); slipway.ErrorCode(err) != slipway.EInvalid {
		t.Errorf("When of a bad commit: %v, want EInvalid", err)
	}
}

// Ensure IsLive and When answer for a fix cherry-picked onto a deployed
// release branch as git cherry does: cherry-picked, naming the pick,
// since the release that brought it; a cherry-pick whose conflict
// resolution changed the patch is absent (another patch-id); after the
// pick is reverted and deployed the fix is absent again, naming the
// pick and its revert, while When still names the release that had it.
func TestReleases_CherryPick(t *testing.T) {
	t.Parallel()
	const tool = "picks"
	h := newHarness(t, Config{}, true)
	rel := NewReleases(h.eng)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: echo ran\n", "a": "1\n", "c": "one\n"})
	base := repo.Head(t)
	fix := repo.Commit(t, map[string]string{"a": "1\nfix\n"}, "fix a")
	repo.Commit(t, map[string]string{"c": "one\ntwo\n"}, "two")
	fix2 := repo.Commit(t, map[string]string{"c": "one\ntwo\nfix2\n"}, "fix c")
	repo.Git(t, "checkout", "-q", "-b", "release", base)
	cfg := "components:\n  job:\n    component_type: one-off\n    build: {repository: " + repo.Dir + ", ref: release}\n    run: {command: job}\n"
	if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, cfg)); err != nil {
		t.Fatal(err)
	}
	deploy := func() slipway.Deployment {
		t.Helper()
		d, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli", Actor: "admin"})
		if err != nil {
			t.Fatal(err)
		}
		if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
			t.Fatalf("deployment = %s (%s)", d.Status, d.LongStatus)
		}
		return d
	}
	gitCherry := func(commit string) bool { // git's own answer for the branch's tip
		return strings.Contains(repo.Git(t, "cherry", "release", commit)+"\n", "- "+commit+"\n")
	}
	check := func(commit string, want slipway.LiveCommit) {
		t.Helper()
		got, err := rel.IsLive(ctx, tool, commit)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].State != want.State || got[0].Pick != want.Pick || got[0].DeploymentID != want.DeploymentID {
			t.Errorf("IsLive(%s) = %+v, want %s, pick %+v, since deployment %q", commit[:7], got, want.State, want.Pick, want.DeploymentID)
		}
		if len(got) == 1 && got[0].Pick.Commit != "" != gitCherry(commit) {
			t.Errorf("IsLive(%s) found pick %q, git cherry says %v", commit[:7], got[0].Pick.Commit, gitCherry(commit))
		}
	}
	when := func(commit string, deployment string, how slipway.LiveState, pick string) {
		t.Helper()
		got, err := rel.When(ctx, tool, commit)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Release.DeploymentID != deployment || got[0].How != how || got[0].Pick != pick {
			t.Errorf("When(%s) = %+v, want deployment %q, %q, pick %q", commit[:7], got, deployment, how, pick)
		}
	}

	d1 := deploy() // base
	check(fix, slipway.LiveCommit{State: slipway.LiveAbsent})
	repo.Git(t, "cherry-pick", "-x", fix)
	picked := repo.Head(t)
	d2 := deploy()
	check(fix, slipway.LiveCommit{State: slipway.LiveCherryPicked, Pick: slipway.CherryPick{Commit: picked}, DeploymentID: d2.ID})
	check(base, slipway.LiveCommit{State: slipway.LiveIncluded, DeploymentID: d1.ID})

	// fix2's context is not on the release branch: the resolution makes
	// another patch, which is not fix2's.
	if repo.GitOK(t, "cherry-pick", fix2) {
		t.Fatal("cherry-pick of fix2 did not conflict")
	}
	if err := os.WriteFile(filepath.Join(repo.Dir, "c"), []byte("one\nfix2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo.Git(t, "add", "c")
	repo.Git(t, "-c", "core.editor=true", "cherry-pick", "--continue")
	d3 := deploy()
	check(fix2, slipway.LiveCommit{State: slipway.LiveAbsent})
	check(fix, slipway.LiveCommit{State: slipway.LiveCherryPicked, Pick: slipway.CherryPick{Commit: picked}, DeploymentID: d2.ID})
	when(fix2, "", "", "")
	if d3.ID == "" {
		t.Fatal("no deployment")
	}

	repo.Git(t, "revert", "--no-edit", picked)
	reverted := repo.Head(t)
	deploy()
	check(fix, slipway.LiveCommit{State: slipway.LiveAbsent, Pick: slipway.CherryPick{Commit: picked, RevertedBy: reverted}})
	when(fix, d2.ID, slipway.LiveCherryPicked, picked)
	when(picked, d2.ID, slipway.LiveExact, "")
}
