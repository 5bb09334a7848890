package deploy

import (
	"errors"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/store"
)

// envConfig is a one-off built from repo, in staging then production
// (allow_direct as given).
func envConfig(repo string, allowDirect bool) string {
	direct := ""
	if allowDirect {
		direct = "\n      allow_direct: true"
	}
	return "components:\n" +
		"  job:\n    component_type: one-off\n    build: {repository: " + repo + ", ref: main}\n    run: {command: job}\n" +
		"x-slipway:\n  environments:\n    staging:\n      env: {MODE_NAME: staging}\n" +
		"    production:\n      kind: production\n      upstream: staging\n      env: {MODE_NAME: production}" + direct + "\n"
}

// Ensure each environment has its own queue: a deployment to production
// does not wait behind staging's, while a second one to staging does; a
// direct deployment to a production environment with an upstream is
// refused unless it allows them, and an unknown environment is invalid.
func TestDeployments_EnvironmentQueues(t *testing.T) {
	t.Parallel()
	const tool = "queues"
	h := newHarness(t, Config{}, false) // deployments stay pending
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: echo ran\n"})
	if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, envConfig(repo.Dir, false))); err != nil {
		t.Fatal(err)
	}
	s1, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s1.Environment != "staging" {
		t.Errorf("first deployment's environment = %q, want staging (the first declared)", s1.Environment)
	}
	_, err = h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Environment: "production"})
	if e, ok := errors.AsType[*slipway.Error](err); !ok || e.Code != slipway.EForbidden || !strings.Contains(e.Message, "live and healthy in staging") {
		t.Fatalf("direct production deployment: err = %v, want forbidden naming staging", err)
	}
	_, err = h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Environment: "qa"})
	if e, ok := errors.AsType[*slipway.Error](err); !ok || e.Code != slipway.EInvalid || !strings.Contains(e.Message, "staging, production") {
		t.Fatalf("unknown environment: err = %v, want invalid listing the environments", err)
	}
	if ds, _ := h.db.DeploymentList(ctx, tool); len(ds) != 1 {
		t.Fatalf("%d deployments after the refusals, want 1", len(ds))
	}

	if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, envConfig(repo.Dir, true))); err != nil {
		t.Fatal(err)
	}
	p1, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Environment: "production"})
	if err != nil {
		t.Fatal(err)
	}
	if p1.Environment != "production" || strings.HasPrefix(p1.LongStatus, "Queued") {
		t.Errorf("production deployment = %s %q, want production, not queued behind staging", p1.Environment, p1.LongStatus)
	}
	s2, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Environment: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Queued behind " + s1.ID; !strings.HasPrefix(s2.LongStatus, want) {
		t.Errorf("second staging deployment: %q, want %q", s2.LongStatus, want)
	}
	// A third staging deployment supersedes the second, not production's.
	if _, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Environment: "staging"}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]slipway.DeploymentStatus{s2.ID: slipway.DeploymentCancelled, p1.ID: slipway.DeploymentPending, s1.ID: slipway.DeploymentPending} {
		if d, _ := h.db.DeploymentGet(ctx, tool, id); d.Status != want {
			t.Errorf("deployment %s (%s) = %s, want %s", id, d.Environment, d.Status, want)
		}
	}
}

// Ensure a promotion runs exactly the build live upstream (each
// environment's variables set, the job fails without them): no build is
// made, the release in production has staging's build key, and a commit
// pushed after staging's deployment is not promoted. Before staging has a
// successful deployment the promotion is refused with the reason.
func TestDeployments_Promote(t *testing.T) {
	t.Parallel()
	const tool = "promo"
	h := newHarness(t, Config{}, true)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: test \"$MODE_NAME\" = staging -o \"$MODE_NAME\" = production\n"})
	if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, envConfig(repo.Dir, false))); err != nil {
		t.Fatal(err)
	}
	_, err := h.deploys.Promote(ctx, tool, "production", slipway.DeployOptions{})
	if e, ok := errors.AsType[*slipway.Error](err); !ok || e.Code != slipway.EConflict || !strings.Contains(e.Message, "staging has no successful deployment") {
		t.Fatalf("promotion before staging ran: err = %v, want conflict", err)
	}
	_, err = h.deploys.Promote(ctx, tool, "staging", slipway.DeployOptions{})
	if e, ok := errors.AsType[*slipway.Error](err); !ok || e.Code != slipway.EInvalid {
		t.Fatalf("promotion to staging (no upstream): err = %v, want invalid", err)
	}

	s, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s = h.waitFinal(t, tool, s.ID); s.Status != slipway.DeploymentSuccessful {
		t.Fatalf("staging deployment = %s (%s)", s.Status, s.LongStatus)
	}
	staged := repo.Head(t)
	repo.Commit(t, map[string]string{"later.txt": "not staged\n"}, "later")

	preview, err := h.deploys.PromotePlan(ctx, tool, "production", slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(preview.Changes) != 1 || preview.Changes[0].ToCommit != staged || preview.Changes[0].FromCommit != "" || preview.Source != s.ID {
		t.Errorf("preview = %+v, want job going to %s from nothing, source %s", preview, staged, s.ID)
	}
	p, err := h.deploys.Promote(ctx, tool, "production", slipway.DeployOptions{Actor: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if p = h.waitFinal(t, tool, p.ID); p.Status != slipway.DeploymentSuccessful {
		t.Fatalf("promotion = %s (%s)", p.Status, p.LongStatus)
	}
	steps, err := h.db.StepList(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range steps {
		if st.Kind == slipway.StepBuild && (st.Action != slipway.ActionReuse || st.Commit != staged) {
			t.Errorf("promotion's build step = %+v, want a reuse of %s", st, staged)
		}
	}
	rs, err := h.db.ReleaseList(ctx, store.ReleaseFilter{Tool: tool})
	if err != nil || len(rs) != 2 {
		t.Fatalf("releases = %+v, %v; want 2", rs, err)
	}
	prod, stag := rs[0], rs[1]
	if prod.Environment != "production" || stag.Environment != "staging" || prod.BuildKey != stag.BuildKey || prod.Commit != staged {
		t.Errorf("releases: production %+v, staging %+v; want the same build of %s", prod, stag, staged)
	}
	builds, err := h.db.BuildList(ctx, tool)
	if err != nil || len(builds) != 1 {
		t.Errorf("builds = %d, %v; want the one staging made", len(builds), err)
	}
	// Staging moves on (two commits, one a merge of a branch): the preview
	// lists what git lists between the two, newest first, and none removed.
	repo.Git(t, "checkout", "-q", "-b", "side")
	repo.Commit(t, map[string]string{"side.txt": "side\n"}, "side work")
	repo.Git(t, "checkout", "-q", "main")
	repo.Git(t, "merge", "-q", "--no-ff", "-m", "merge side", "side")
	s2, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s2 = h.waitFinal(t, tool, s2.ID); s2.Status != slipway.DeploymentSuccessful {
		t.Fatalf("second staging deployment = %s (%s)", s2.Status, s2.LongStatus)
	}
	preview, err = h.deploys.PromotePlan(ctx, tool, "production", slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(repo.Git(t, "rev-list", staged+".."+repo.Head(t)))
	var got []string
	for _, c := range preview.Changes[0].New {
		got = append(got, c.Commit)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") || len(preview.Changes[0].Removed) != 0 || len(want) != 3 {
		t.Errorf("preview's new commits = %v, git rev-list says %v; removed %v", got, want, preview.Changes[0].Removed)
	}

	// Each environment's live state is its own.
	for inst, want := range map[string]string{tool: p.ID, tool + "--staging": s2.ID} {
		live, err := h.db.LiveRunList(ctx, inst)
		if err != nil || len(live) != 1 || live[0].DeploymentID != want {
			t.Errorf("live in %s = %+v, %v; want job of %s", inst, live, err, want)
		}
	}
}

// Ensure an environment's overrides and variables apply to its config
// only, and that instance names keep tools and environments apart.
func TestToolConfig_ForEnvironment(t *testing.T) {
	t.Parallel()
	cfg := mustParse(t, "components:\n  web:\n    build: {repository: https://example.org/a.git, ref: main}\n    run: {command: web, replicas: 2}\n"+
		"x-slipway:\n  environments:\n    staging:\n      env: {MODE_NAME: staging}\n      overrides:\n        web: {replicas: 1, memory: 256Mi}\n    production: {}\n")
	staging, _ := cfg.Environment("staging")
	got := cfg.ForEnvironment(staging).Components["web"].Run
	if got.Replicas != 1 || got.Memory != "256Mi" || got.Command != "web" {
		t.Errorf("staging's web = %+v, want 1 replica, 256Mi, the same command", got)
	}
	if cfg.Components["web"].Run.Replicas != 2 {
		t.Errorf("ForEnvironment changed the config it was given")
	}
	prod, _ := cfg.Environment("production")
	if cfg.ForEnvironment(prod).Components["web"].SpecHash() != cfg.Components["web"].SpecHash() {
		t.Errorf("production (no overrides) runs another spec than the config")
	}
	env := slipway.ToolEnv{Values: map[string]string{"MODE_NAME": "tool", "OTHER_VAR": "x"}, Fingerprints: map[string]string{"MODE_NAME": "f1", "OTHER_VAR": "f2"}}
	se := env.WithEnvironment(staging)
	if se.Values["MODE_NAME"] != "staging" || se.Values["OTHER_VAR"] != "x" || se.Fingerprints["MODE_NAME"] == "f1" || env.Values["MODE_NAME"] != "tool" {
		t.Errorf("WithEnvironment = %+v (from %+v)", se, env)
	}
	if slipway.InstanceName("t", "production") != "t" || slipway.InstanceName("t", "staging") != "t--staging" {
		t.Errorf("instance names wrong")
	}
	if err := slipway.ValidateToolName("t--staging"); err == nil {
		t.Errorf("a tool may be named like another's instance")
	}
}

// Ensure a gate an environment gives a component asks there only: the
// staging deployment runs without a question, the promotion to
// production waits for an answer and then runs.
func TestDeployments_PromoteBehindGate(t *testing.T) {
	t.Parallel()
	const tool = "gatedpromo"
	h := newHarness(t, Config{}, true)
	q := NewQuestions(h.eng)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: echo ran\n"})
	cfg := "components:\n  job:\n    component_type: one-off\n    build: {repository: " + repo.Dir + ", ref: main}\n    run: {command: job}\n" +
		"x-slipway:\n  environments:\n    staging: {}\n    production:\n      kind: production\n      upstream: staging\n" +
		"      overrides:\n        job:\n          gate: {question: \"Staging is fine. Run in production?\"}\n"
	if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, cfg)); err != nil {
		t.Fatal(err)
	}
	s, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Actor: "tool-token:ci"})
	if err != nil {
		t.Fatal(err)
	}
	if s = h.waitFinal(t, tool, s.ID); s.Status != slipway.DeploymentSuccessful {
		t.Fatalf("staging deployment = %s (%s), want successful without a question", s.Status, s.LongStatus)
	}
	p, err := h.deploys.Promote(ctx, tool, "production", slipway.DeployOptions{Actor: "tool-token:alice"})
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(t, h, tool, p.ID, func(e slipway.Event) bool { return e.Kind == "question" && e.State == string(slipway.QuestionOpen) })
	qs, err := q.QuestionList(asAdmin(ctx), tool, slipway.QuestionOpen, p.ID)
	if err != nil || len(qs) != 1 || qs[0].Prompt != "Staging is fine. Run in production?" || qs[0].StepKey != "gate:job" {
		t.Fatalf("open questions of the promotion = %+v, %v", qs, err)
	}
	if _, err := q.QuestionAnswer(asToken(ctx, tool, "bob"), tool, qs[0].ID, slipway.Answer{Value: "continue"}); err != nil {
		t.Fatal(err)
	}
	if p = h.waitFinal(t, tool, p.ID); p.Status != slipway.DeploymentSuccessful {
		t.Fatalf("promotion = %s (%s), want successful once answered", p.Status, p.LongStatus)
	}
}
