package deploy

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/notify"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/store"
)

// flowConfig is a one-off job and a smoke test (a one-off reusing its
// build) in staging then production, with flow release: deploy staging,
// run smoke there, ask, promote production, notify. The job and the
// smoke test fail unless their environment's variables are set.
func flowConfig(t *testing.T) slipway.ToolConfig {
	t.Helper()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: test -n \"$MODE_NAME\"\nsmoke: test -n \"$MODE_NAME\"\n"})
	return mustParse(t, "components:\n"+
		"  job:\n    component_type: one-off\n    build: {repository: "+repo.Dir+", ref: main}\n    run: {command: job}\n"+
		"  smoke:\n    component_type: one-off\n    build: {reuse_from: job}\n    run: {command: smoke}\n"+
		"x-slipway:\n  environments:\n    staging:\n      env: {MODE_NAME: staging}\n"+
		"    production:\n      kind: production\n      upstream: staging\n      env: {MODE_NAME: production}\n"+
		"  flows:\n    release:\n      on: [manual, push: main]\n      steps:\n"+
		"        - deploy: staging\n"+
		"        - run: {component: smoke, environment: staging}\n"+
		"        - ask: {question: \"Live on staging. Promote to production?\"}\n"+
		"        - promote: production\n"+
		"        - notify: Released to production\n"+
		"    check:\n      steps:\n        - run: {component: smoke, environment: production}\n")
}

// flowHarness is a started harness whose notifications go to a webhook
// receiver subscribed to flow.notify.
func flowHarness(t *testing.T, tool string) (*harness, *receiver) {
	t.Helper()
	sealer, err := auth.NewSealer(bytes.Repeat([]byte{7}, auth.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	var svc *notify.Service
	h := newHarnessWith(t, Config{}, true, harnessOptions{notify: func(st store.Store) *notify.Service {
		svc = notify.New(st, sealer, notify.Config{
			PublicURL: "https://slipway.example/", AllowPrivate: true, RetryBase: 10 * time.Millisecond,
			Logger: slog.New(slog.DiscardHandler),
		})
		return svc
	}})
	rcv := newReceiver(t)
	_, secret, err := svc.Subscribe(t.Context(), tool, notify.NewSubscription{Kind: slipway.NotifyWebhook, Target: rcv.URL, Events: []string{"flow.notify"}})
	if err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	rcv.secret = secret
	rcv.mu.Unlock()
	return h, rcv
}

// Ensure a flow run deploys staging, runs the smoke test there, asks,
// promotes production and notifies, through the engine's own jobs and
// with a server stop (the runner interrupted, a new engine on the same
// store) while staging's deployment runs and another while the question
// waits: each step's deployment is made once, the promotion runs
// staging's build, and the notification is signed and carries the
// message.
func TestFlows_RunAcrossRestarts(t *testing.T) {
	t.Parallel()
	const tool = "flowed"
	h, rcv := flowHarness(t, tool)
	ctx := t.Context()
	if _, _, err := h.deploys.ConfigPut(ctx, tool, flowConfig(t)); err != nil {
		t.Fatal(err)
	}
	flows := NewFlows(h.eng)
	run, err := flows.FlowRun(ctx, tool, "release", slipway.DeployOptions{Trigger: "cli", Actor: "tool-token:ci"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Flow != "release" || run.Status.Final() || run.Actor != "tool-token:ci" || run.Trigger != "cli" {
		t.Fatalf("new run: flow %q, %s, by %s (%s)", run.Flow, run.Status, run.Actor, run.Trigger)
	}

	// Stop while staging's deployment is under way.
	waitEvent(t, h, tool, run.ID, func(e slipway.Event) bool { return e.Step == "1-deploy" && e.State == string(slipway.StepWaiting) })
	h = h.restart(t)
	waitEvent(t, h, tool, run.ID, func(e slipway.Event) bool {
		return e.Kind == "question" && e.State == string(slipway.QuestionOpen)
	})
	for key, want := range map[string]slipway.StepState{"1-deploy": slipway.StepDone, "2-run": slipway.StepDone, "3-ask": slipway.StepWaiting, "4-promote": slipway.StepPending} {
		if st, err := h.db.StepGet(ctx, run.ID, key); err != nil || st.State != want {
			t.Errorf("step %s = %s (%s), %v; want %s", key, st.State, st.Detail, err, want)
		}
	}

	// Stop while the question waits; the next engine takes the answer.
	h = h.restart(t)
	q := NewQuestions(h.eng)
	qs, err := q.QuestionList(asAdmin(ctx), tool, slipway.QuestionOpen, run.ID)
	if err != nil || len(qs) != 1 || qs[0].Prompt != "Live on staging. Promote to production?" {
		t.Fatalf("open questions of the run = %+v, %v", qs, err)
	}
	if _, err := q.QuestionAnswer(asToken(ctx, tool, "alice"), tool, qs[0].ID, slipway.Answer{Value: "continue"}); err != nil {
		t.Fatal(err)
	}
	if run = h.waitFinal(t, tool, run.ID); run.Status != slipway.DeploymentSuccessful {
		t.Fatalf("run = %s (%s)", run.Status, run.LongStatus)
	}
	if run.LongStatus != "Flow release done: 5 steps" || len(run.Builds) != 0 || len(run.Runs) != 0 {
		t.Errorf("finished run = %q, builds %v, runs %v", run.LongStatus, run.Builds, run.Runs)
	}

	// One deployment per deploy or promote step, linked to it.
	ds, err := h.db.DeploymentList(ctx, tool)
	if err != nil {
		t.Fatal(err)
	}
	children := map[string]slipway.Deployment{}
	for _, d := range ds {
		if d.Parent != "" {
			if _, twice := children[d.ParentStep]; twice || d.Parent != run.ID {
				t.Errorf("deployment %s made for %s/%s: a second one, or for another run", d.ID, d.Parent, d.ParentStep)
			}
			children[d.ParentStep] = d
		}
	}
	staging, production := children["1-deploy"], children["4-promote"]
	if len(children) != 2 || staging.Environment != "staging" || production.Environment != "production" ||
		production.PromotedFrom != "staging" || staging.Trigger != "flow" || staging.Actor != "tool-token:ci" {
		t.Fatalf("the run's deployments = %+v", children)
	}
	for _, c := range children {
		if c.Status != slipway.DeploymentSuccessful {
			t.Errorf("deployment %s (%s) = %s: %s", c.ID, c.Environment, c.Status, c.LongStatus)
		}
	}
	if production.Pins["job"].BuildKey == "" {
		t.Errorf("the promotion pins no build: %+v", production.Pins)
	}
	if st, _ := h.db.StepGet(ctx, run.ID, "2-run"); !strings.HasPrefix(st.Detail, "smoke in staging (build of ") {
		t.Errorf("run step = %q", st.Detail)
	}
	if st, _ := h.db.StepGet(ctx, run.ID, "1-deploy"); !strings.HasPrefix(st.Detail, staging.ID+" successful: ") {
		t.Errorf("deploy step = %q, want it to name %s", st.Detail, staging.ID)
	}

	// The notify step's webhook: refused once (500), then delivered.
	for range 2 {
		got := rcv.next(t)
		if got.verifyErr != nil || got.event != "flow.notify" || got.payload.Message != "Released to production" ||
			got.payload.Deployment == nil || got.payload.Deployment.Flow != "release" || got.payload.Deployment.ID != run.ID {
			t.Errorf("notification = %+v", got)
		}
	}

	if _, err := h.deploys.DeploymentRollback(ctx, tool, run.ID, slipway.DeployOptions{}); slipway.ErrorCode(err) != slipway.EInvalid || !strings.Contains(err.Error(), "run of flow release") {
		t.Errorf("a rollback to the run = %v, want EInvalid", err)
	}

	// The runs are listed with their flow.
	list, err := flows.FlowList(ctx, tool)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Flow.Name != "release" || len(list[0].Runs) != 1 || list[0].Runs[0].ID != run.ID || len(list[1].Runs) != 0 {
		t.Errorf("flows = %+v", list)
	}
}

// Ensure cancelling a flow run cancels the deployment its waiting step
// made, and the run ends cancelled; an unknown flow is ENotFound naming
// the flows there are, a malformed name EInvalid, and neither creates
// anything; a run of a one-off that is not deployed fails saying so.
func TestFlows_CancelAndBadInput(t *testing.T) {
	t.Parallel()
	const tool = "flowcancel"
	h, _ := flowHarness(t, tool)
	ctx := t.Context()
	flows := NewFlows(h.eng)
	if _, err := flows.FlowRun(ctx, tool, "release", slipway.DeployOptions{}); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("a run before any config = %v, want ENotFound", err)
	}
	if _, _, err := h.deploys.ConfigPut(ctx, tool, flowConfig(t)); err != nil {
		t.Fatal(err)
	}
	_, err := flows.FlowRun(ctx, tool, "nightly", slipway.DeployOptions{})
	if slipway.ErrorCode(err) != slipway.ENotFound || !strings.Contains(err.Error(), "its flows: release, check") {
		t.Errorf("unknown flow = %v, want ENotFound naming release, check", err)
	}
	if _, err := flows.FlowRun(ctx, tool, "Bad Name", slipway.DeployOptions{}); slipway.ErrorCode(err) != slipway.EInvalid || !strings.Contains(err.Error(), "flow:") {
		t.Errorf("malformed flow name = %v, want EInvalid naming the field", err)
	}
	if ds, _ := h.db.DeploymentList(ctx, tool); len(ds) != 0 {
		t.Fatalf("%d deployments after the refusals, want none", len(ds))
	}

	// Production has nothing deployed: check's run of smoke fails.
	check, err := flows.FlowRun(ctx, tool, "check", slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if check = h.waitFinal(t, tool, check.ID); check.Status != slipway.DeploymentFailed || !strings.Contains(check.LongStatus, "smoke has not been deployed to production") {
		t.Errorf("check = %s %q, want failed: not deployed", check.Status, check.LongStatus)
	}

	run, err := flows.FlowRun(ctx, tool, "release", slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(t, h, tool, run.ID, func(e slipway.Event) bool { return e.Step == "1-deploy" && e.State == string(slipway.StepWaiting) })
	if _, err := h.deploys.DeploymentCancel(ctx, tool, run.ID); err != nil {
		t.Fatal(err)
	}
	if run = h.waitFinal(t, tool, run.ID); run.Status != slipway.DeploymentCancelled {
		t.Errorf("cancelled run = %s (%s)", run.Status, run.LongStatus)
	}
	child, found, err := h.eng.flowChild(ctx, h.db, run, "1-deploy")
	if err != nil || !found {
		t.Fatalf("the deploy step's deployment: %v, found %v", err, found)
	}
	// It may have finished before the cancel reached it; it never runs on.
	if child = h.waitFinal(t, tool, child.ID); child.Status != slipway.DeploymentCancelled && child.Status != slipway.DeploymentSuccessful {
		t.Errorf("the step's deployment = %s (%s), want cancelled", child.Status, child.LongStatus)
	}
}

// Ensure a flow run neither waits behind nor replaces a deployment of an
// environment (it is recorded as production's): with production's
// deployment running and another waiting behind it, a run is not queued
// and supersedes nothing; a second run queues behind the first.
func TestFlows_OwnQueue(t *testing.T) {
	t.Parallel()
	const tool = "flowqueue"
	h := newHarness(t, Config{}, false) // deployments stay pending
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: true\n"})
	cfg := mustParse(t, "components:\n  job:\n    component_type: one-off\n    build: {repository: "+repo.Dir+", ref: main}\n    run: {command: job}\n"+
		"x-slipway:\n  flows:\n    release:\n      steps:\n        - deploy: production\n")
	if _, _, err := h.deploys.ConfigPut(ctx, tool, cfg); err != nil {
		t.Fatal(err)
	}
	s1, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	flows := NewFlows(h.eng)
	r1, err := flows.FlowRun(ctx, tool, "release", slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(r1.LongStatus, "Queued") {
		t.Errorf("first run = %q, want not queued behind staging's deployments", r1.LongStatus)
	}
	r2, err := flows.FlowRun(ctx, tool, "release", slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Queued behind " + r1.ID; r2.LongStatus != want {
		t.Errorf("second run = %q, want %q", r2.LongStatus, want)
	}
	for _, id := range []string{s1.ID, s2.ID, r1.ID, r2.ID} {
		if d, _ := h.db.DeploymentGet(ctx, tool, id); d.Status != slipway.DeploymentPending {
			t.Errorf("%s = %s (%s), want pending", id, d.Status, d.LongStatus)
		}
	}
}

// Ensure cutting a named release starts the flows on release_cut, and
// moving a mutable one the flows on release_updated, in the transaction
// that records the change, with the cut's actor; moving it to where it is
// starts nothing.
func TestFlows_ReleaseTriggers(t *testing.T) {
	t.Parallel()
	const tool = "flowcut"
	h := newHarness(t, Config{}, false) // runs stay pending
	cuts := NewCuts(h.eng)
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: true\n"})
	cfg := "components:\n  job:\n    component_type: one-off\n    build: {repository: " + repo.URL + ", ref: main}\n    run: {command: job}\n" +
		"x-slipway:\n  flows:\n    oncut:\n      on: [release_cut]\n      steps: [deploy: production]\n" +
		"    onupdate:\n      on: [release_updated, manual]\n      steps: [deploy: production]\n"
	admin := slipway.WithActor(t.Context(), slipway.Actor{Name: "admin", Admin: true})
	if _, _, err := h.deploys.ConfigPut(admin, tool, mustParse(t, cfg)); err != nil {
		t.Fatal(err)
	}
	alice := slipway.WithActor(t.Context(), slipway.Actor{Name: "tool-token:alice", Tool: tool})
	first := repo.Head(t)
	if _, err := cuts.CutCreate(alice, tool, CutRequest{Name: "2026.12.1", Branch: "main"}); err != nil {
		t.Fatal(err)
	}
	runs := func() map[string]string {
		ds, err := h.db.DeploymentList(t.Context(), tool)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, d := range ds {
			out[d.Flow] += d.Trigger + " by " + d.Actor + ";"
		}
		return out
	}
	if got := runs(); len(got) != 1 || got["oncut"] != "release_cut by tool-token:alice;" {
		t.Errorf("runs after the cut = %v, want oncut's, by alice", got)
	}
	if _, err := cuts.CutUpdate(alice, tool, "2026.12.1", first); err != nil {
		t.Fatal(err)
	}
	if got := runs(); len(got) != 1 {
		t.Errorf("runs after an update that moves nothing = %v, want still one", got)
	}
	next := repo.Commit(t, map[string]string{"b": "1\n"}, "feat: b")
	if _, err := cuts.CutUpdate(alice, tool, "2026.12.1", next); err != nil {
		t.Fatal(err)
	}
	if got := runs(); len(got) != 2 || got["onupdate"] != "release_updated by tool-token:alice;" {
		t.Errorf("runs after the update = %v, want onupdate's too", got)
	}
}
