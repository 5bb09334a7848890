package deploy

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/store"
)

// gateConfig is a tool whose one-off "second" waits for "first" and asks
// first; gate holds the gate's extra YAML lines (indented 6).
func gateConfig(t *testing.T, gate string) slipway.ToolConfig {
	t.Helper()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "first: echo one\nsecond: echo two\n"})
	return mustParse(t, "components:\n"+
		"  first:\n    component_type: one-off\n    build: {repository: "+repo.Dir+", ref: main}\n    run: {command: first}\n"+
		"  second:\n    component_type: one-off\n    build: {reuse_from: first}\n    run: {command: second}\n    wait_for: [first]\n"+
		"    gate:\n      question: \"First is done. Run **second**?\"\n"+gate)
}

// startGated creates a deployment of cfg as actor "tool-token:ci" and
// returns it with its gate question once the gate waits.
func startGated(t *testing.T, h *harness, q *Questions, tool string, cfg slipway.ToolConfig) (slipway.Deployment, slipway.Question) {
	t.Helper()
	ctx := t.Context()
	if _, _, err := h.deploys.ConfigPut(ctx, tool, cfg); err != nil {
		t.Fatal(err)
	}
	d, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli", Actor: "tool-token:ci"})
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(t, h, tool, d.ID, func(e slipway.Event) bool { return e.Kind == "question" && e.State == string(slipway.QuestionOpen) })
	qs, err := q.QuestionList(asAdmin(ctx), tool, slipway.QuestionOpen, d.ID)
	if err != nil || len(qs) != 1 {
		t.Fatalf("open questions of %s = %+v, %v; want the gate's", d.ID, qs, err)
	}
	if d, err = h.deploys.DeploymentGet(ctx, tool, d.ID); err != nil {
		t.Fatal(err)
	}
	return d, qs[0]
}

// waitEvent waits, through the deployment's events, for one that match
// accepts.
func waitEvent(t *testing.T, h *harness, tool, id string, match func(slipway.Event) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	found := errors.New("found")
	err := h.deploys.DeploymentEvents(ctx, tool, id, 0, func(e slipway.Event) error {
		if match(e) {
			return found
		}
		return nil
	})
	if !errors.Is(err, found) {
		t.Fatalf("events of %s ended without the one awaited: %v", id, err)
	}
}

func asAdmin(ctx context.Context) context.Context {
	return slipway.WithActor(ctx, slipway.Actor{Name: "admin", Admin: true})
}

func asToken(ctx context.Context, tool, id string) context.Context {
	return slipway.WithActor(ctx, slipway.Actor{Name: "tool-token:" + id, Tool: tool})
}

// Ensure a declared gate stops the deployment, running, with its question
// in the long status; refuses the initiator (logged), a bad value and
// another tool; the first valid answer moves the deployment on, and a
// second one gets 409 naming who answered.
func TestEngine_GateAnswered(t *testing.T) {
	t.Parallel()
	const tool = "gated"
	h := newHarness(t, Config{}, true)
	q := NewQuestions(h.eng)
	ctx := t.Context()
	d, qu := startGated(t, h, q, tool, gateConfig(t, "      forbid_initiator: true\n"))

	if d.Status != slipway.DeploymentRunning || d.LongStatus != "Waiting for an answer: First is done. Run **second**?" {
		t.Errorf("waiting deployment = %s %q", d.Status, d.LongStatus)
	}
	for key, want := range map[string]slipway.StepState{"run:first": slipway.StepDone, "gate:second": slipway.StepWaiting, "run:second": slipway.StepPending} {
		if st, err := h.db.StepGet(ctx, d.ID, key); err != nil || st.State != want {
			t.Errorf("step %s = %s, %v; want %s", key, st.State, err, want)
		}
	}
	if qu.Initiator != "tool-token:ci" || qu.Origin != slipway.OriginGate || len(qu.Options) != 2 {
		t.Errorf("gate question = %+v", qu)
	}

	_, err := q.QuestionAnswer(asToken(ctx, tool, "ci"), tool, qu.ID, slipway.Answer{Value: "continue"})
	if slipway.ErrorCode(err) != slipway.EForbidden || !strings.Contains(err.Error(), "you started this deployment") {
		t.Errorf("the initiator's answer = %v, want 403: you started this deployment", err)
	}
	_, err = q.QuestionAnswer(asToken(ctx, "other", "x"), tool, qu.ID, slipway.Answer{Value: "continue"})
	if slipway.ErrorCode(err) != slipway.EForbidden {
		t.Errorf("another tool's answer = %v, want 403", err)
	}
	_, err = q.QuestionAnswer(asToken(ctx, tool, "alice"), tool, qu.ID, slipway.Answer{Value: "yes"})
	if slipway.ErrorCode(err) != slipway.EInvalid {
		t.Errorf("a value that is no option = %v, want 422", err)
	}
	got, err := q.QuestionAnswer(asToken(ctx, tool, "alice"), tool, qu.ID, slipway.Answer{Value: "continue", Comment: "looks good", Source: "cli"})
	if err != nil || got.State != slipway.QuestionAnswered || got.SettledBy != "tool-token:alice" {
		t.Fatalf("alice's answer = %+v, %v", got, err)
	}
	_, err = q.QuestionAnswer(asAdmin(ctx), tool, qu.ID, slipway.Answer{Value: "stop"})
	if slipway.ErrorCode(err) != slipway.EConflict || !strings.Contains(err.Error(), `already answered "continue" by tool-token:alice`) {
		t.Errorf("a second answer = %v, want 409 naming alice", err)
	}

	if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
		t.Fatalf("deployment = %s (%s), want successful", d.Status, d.LongStatus)
	}
	if st, _ := h.db.StepGet(ctx, d.ID, "gate:second"); st.State != slipway.StepDone || st.Detail != "answered continue by tool-token:alice" {
		t.Errorf("gate step = %s %q", st.State, st.Detail)
	}
	log, err := q.QuestionLog(ctx, tool, qu.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range log {
		kinds = append(kinds, string(e.Kind)+":"+e.Actor)
	}
	want := "opened:tool-token:ci refused:tool-token:ci refused:tool-token:x answer:tool-token:alice"
	if strings.Join(kinds, " ") != want {
		t.Errorf("log = %q, want %q", strings.Join(kinds, " "), want)
	}
	if log[3].Comment != "looks good" || log[3].Source != "cli" || log[1].Reason == "" {
		t.Errorf("log entries = %+v", log)
	}
}

// Ensure the time a deployment waits for an answer does not count
// against its timeout: its deployment timeout is an hour, the engine's
// clock moves two hours on while the gate's question is open, and once
// answered the step after the gate runs (not timed out at once) and the
// deployment succeeds.
func TestEngine_WaitingDoesNotCountAgainstTheTimeout(t *testing.T) {
	t.Parallel()
	const tool = "patient"
	clock := &fakeClock{}
	h := newHarness(t, Config{NowFunc: clock.Now, DeploymentTimeout: time.Hour}, true)
	q := NewQuestions(h.eng)
	ctx := t.Context()
	d, qu := startGated(t, h, q, tool, gateConfig(t, ""))
	clock.Set(clock.Now().Add(2 * time.Hour))
	if _, err := q.QuestionAnswer(asAdmin(ctx), tool, qu.ID, slipway.Answer{Value: "continue"}); err != nil {
		t.Fatal(err)
	}
	if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
		t.Fatalf("deployment = %s (%s), want successful: the two hours it waited count against its one-hour timeout", d.Status, d.LongStatus)
	}
	if st, err := h.db.StepGet(ctx, d.ID, "run:second"); err != nil || st.State != slipway.StepDone {
		t.Errorf("run:second = %s %q, %v; want done", st.State, st.Detail, err)
	}
}

// Ensure a stopping answer fails the gate and skips what waits for it,
// and that a gate needing two answers counts each identity once.
func TestEngine_GateStoppedAfterQuorum(t *testing.T) {
	t.Parallel()
	const tool = "quorum"
	h := newHarness(t, Config{}, true)
	q := NewQuestions(h.eng)
	ctx := t.Context()
	d, qu := startGated(t, h, q, tool, gateConfig(t, "      required_answers: 2\n"))

	got, err := q.QuestionAnswer(asToken(ctx, tool, "alice"), tool, qu.ID, slipway.Answer{Value: "continue"})
	if err != nil || got.State != slipway.QuestionOpen || len(got.Approvals) != 1 {
		t.Fatalf("first of two answers = %+v, %v; want still open, 1 approval", got, err)
	}
	if _, err := q.QuestionAnswer(asToken(ctx, tool, "alice"), tool, qu.ID, slipway.Answer{Value: "continue"}); slipway.ErrorCode(err) != slipway.EConflict {
		t.Errorf("alice again = %v, want 409", err)
	}
	got, err = q.QuestionAnswer(asToken(ctx, tool, "bob"), tool, qu.ID, slipway.Answer{Value: "stop", Comment: "not today"})
	if err != nil || got.State != slipway.QuestionRejected {
		t.Fatalf("bob's stop = %+v, %v; want rejected", got, err)
	}
	if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentFailed || d.LongStatus != "gate second failed: tool-token:bob answered stop: stopped here" {
		t.Errorf("deployment = %s %q", d.Status, d.LongStatus)
	}
	if st, _ := h.db.StepGet(ctx, d.ID, "run:second"); st.State != slipway.StepSkipped || st.Detail != "skipped: gate:second failed" {
		t.Errorf("run:second = %s %q", st.State, st.Detail)
	}
}

// Ensure the deadline settles an open gate: expired fails it (timed out),
// a default answer is taken when the gate says so; a deadline job for a
// settled question changes nothing.
func TestEngine_GateDeadline(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, gate string
		status     slipway.DeploymentStatus
		state      slipway.QuestionState
	}{
		{"fail", "", slipway.DeploymentTimedOut, slipway.QuestionExpired},
		{"default", "      on_timeout: default\n      default: continue\n", slipway.DeploymentSuccessful, slipway.QuestionAnswered},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tool := "deadline-" + c.name
			h := newHarness(t, Config{}, true)
			q := NewQuestions(h.eng)
			ctx := t.Context()
			d, qu := startGated(t, h, q, tool, gateConfig(t, c.gate))
			// What the scheduled job does when its time comes.
			if err := h.eng.QuestionDeadline(ctx, tool, d.ID, qu.ID); err != nil {
				t.Fatal(err)
			}
			if err := h.eng.QuestionDeadline(ctx, tool, d.ID, qu.ID); err != nil {
				t.Fatalf("a second deadline job: %v", err)
			}
			if d = h.waitFinal(t, tool, d.ID); d.Status != c.status {
				t.Errorf("deployment = %s (%s), want %s", d.Status, d.LongStatus, c.status)
			}
			got, err := q.QuestionGet(ctx, tool, qu.ID, 0)
			if err != nil || got.State != c.state || got.SettledBy != "system:deadline" {
				t.Errorf("question = %+v, %v; want %s by system:deadline", got, err, c.state)
			}
		})
	}
}

// Ensure cancelling a deployment that waits at a gate ends it cancelled
// at once (no step runs to notice), its question cancelled, and a late
// answer gets 409.
func TestEngine_GateCancelled(t *testing.T) {
	t.Parallel()
	const tool = "cancelled-gate"
	h := newHarness(t, Config{}, true)
	q := NewQuestions(h.eng)
	ctx := t.Context()
	d, qu := startGated(t, h, q, tool, gateConfig(t, ""))
	if _, err := h.deploys.DeploymentCancel(ctx, tool, d.ID); err != nil {
		t.Fatal(err)
	}
	if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentCancelled {
		t.Fatalf("deployment = %s (%s), want cancelled", d.Status, d.LongStatus)
	}
	got, err := q.QuestionGet(ctx, tool, qu.ID, time.Second)
	if err != nil || got.State != slipway.QuestionCancelled {
		t.Errorf("question after the cancel = %+v, %v; want cancelled", got, err)
	}
	if _, err := q.QuestionAnswer(asAdmin(ctx), tool, qu.ID, slipway.Answer{Value: "continue"}); slipway.ErrorCode(err) != slipway.EConflict {
		t.Errorf("a late answer = %v, want 409", err)
	}
}

// Ensure a running step's process can ask (idempotent by key, deadline
// capped at the deployment's), a waiter hears the answer at once, and a
// step that is not running cannot ask.
func TestQuestions_AskFromAStep(t *testing.T) {
	t.Parallel()
	const tool = "asker"
	h := newHarness(t, Config{DeploymentTimeout: time.Hour}, true)
	q := NewQuestions(h.eng)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: exec sleep 600\n"})
	cfg := mustParse(t, "components:\n  job:\n    component_type: one-off\n    build: {repository: "+repo.Dir+", ref: main}\n    run: {command: job, timeout: 900}\n")
	if _, _, err := h.deploys.ConfigPut(ctx, tool, cfg); err != nil {
		t.Fatal(err)
	}
	d, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(t, h, tool, d.ID, func(e slipway.Event) bool { return e.Step == "run:job" && e.State == string(slipway.StepRunning) })
	scope := slipway.AskScope{Tool: tool, DeploymentID: d.ID, Step: "run:job"}
	ask := slipway.Question{Prompt: "Continue with sync?", Options: []slipway.QuestionOption{{Label: "yes", Value: "yes"}, {Label: "no", Value: "no"}}, Key: "k1"}
	asked, created, err := q.QuestionAsk(ctx, scope, ask, 48*time.Hour)
	if err != nil || !created || asked.Origin != slipway.OriginAsk {
		t.Fatalf("ask = %+v, %v, %v", asked, created, err)
	}
	if want := asked.CreatedAt.Add(48 * time.Hour); !asked.DeadlineAt.Equal(want) {
		t.Errorf("deadline %s, want %s (48h from asking: waiting does not count against the deployment)", asked.DeadlineAt, want)
	}
	again, created, err := q.QuestionAsk(ctx, scope, ask, time.Hour)
	if err != nil || created || again.ID != asked.ID {
		t.Errorf("asking again with the key = %s (created %v), %v; want %s", again.ID, created, err, asked.ID)
	}
	if _, _, err := q.QuestionAsk(ctx, slipway.AskScope{Tool: tool, DeploymentID: d.ID, Step: "build:job"}, ask, 0); slipway.ErrorCode(err) != slipway.EForbidden {
		t.Errorf("a finished step asking = %v, want 403", err)
	}
	bad := ask
	bad.Options = []slipway.QuestionOption{{Value: "x", Stop: true}}
	if _, _, err := q.QuestionAsk(ctx, scope, bad, 0); slipway.ErrorCode(err) != slipway.EInvalid {
		t.Errorf("an ask with a stopping option = %v, want 422", err)
	}

	answered := make(chan slipway.Question, 1)
	go func() {
		got, err := q.QuestionGet(ctx, tool, asked.ID, time.Minute)
		if err != nil {
			t.Error(err)
		}
		answered <- got
	}()
	if _, err := q.QuestionAnswer(asToken(ctx, tool, "alice"), tool, asked.ID, slipway.Answer{Value: "no"}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-answered:
		if got.State != slipway.QuestionAnswered || got.Value != "no" {
			t.Errorf("the waiter got %+v", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the waiter did not hear the answer")
	}
	if _, err := h.deploys.DeploymentCancel(ctx, tool, d.ID); err != nil {
		t.Fatal(err)
	}
	h.waitFinal(t, tool, d.ID)
	if open, _ := h.db.QuestionList(ctx, store.QuestionFilter{Tool: tool, State: slipway.QuestionOpen}); len(open) != 0 {
		t.Errorf("open questions after the deployment ended: %+v", open)
	}
}

func TestWaited(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	for _, c := range []struct {
		name string
		qs   []slipway.Question
		want time.Duration
	}{
		{"none", nil, 0},
		{"settled and open", []slipway.Question{
			{State: slipway.QuestionAnswered, CreatedAt: at(0), SettledAt: at(10)},
			{State: slipway.QuestionOpen, CreatedAt: at(60)},
		}, 40 * time.Minute},
		{"overlapping count once", []slipway.Question{
			{State: slipway.QuestionAnswered, CreatedAt: at(0), SettledAt: at(30)},
			{Origin: slipway.OriginAsk, State: slipway.QuestionExpired, CreatedAt: at(20), SettledAt: at(50)},
			{State: slipway.QuestionAnswered, CreatedAt: at(5), SettledAt: at(10)},
		}, 50 * time.Minute},
		{"touching", []slipway.Question{
			{State: slipway.QuestionAnswered, CreatedAt: at(10), SettledAt: at(20)},
			{State: slipway.QuestionAnswered, CreatedAt: at(0), SettledAt: at(10)},
		}, 20 * time.Minute},
	} {
		if got := waited(c.qs, at(90)); got != c.want {
			t.Errorf("%s: waited = %s, want %s", c.name, got, c.want)
		}
	}
}

// Ensure a deployment created while another waits at a gate queues behind
// it, saying why, and runs once the gate is answered.
func TestEngine_QueuedBehindAGate(t *testing.T) {
	t.Parallel()
	const tool = "queued-gate"
	h := newHarness(t, Config{}, true)
	q := NewQuestions(h.eng)
	ctx := t.Context()
	first, qu := startGated(t, h, q, tool, gateConfig(t, ""))
	second, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	want := "Queued behind " + first.ID + ", which waits for an answer (First is done. Run **second**?); answer or cancel it to go on"
	if second.Status != slipway.DeploymentPending || second.LongStatus != want {
		t.Errorf("second = %s %q, want pending %q", second.Status, second.LongStatus, want)
	}
	if _, err := q.QuestionAnswer(asAdmin(ctx), tool, qu.ID, slipway.Answer{Value: "continue"}); err != nil {
		t.Fatal(err)
	}
	if d := h.waitFinal(t, tool, first.ID); d.Status != slipway.DeploymentSuccessful {
		t.Errorf("first = %s (%s)", d.Status, d.LongStatus)
	}
	// Then the second runs: nothing changed since the first, so its
	// one-offs do not run again and its gate is not asked.
	if d := h.waitFinal(t, tool, second.ID); d.Status != slipway.DeploymentSuccessful {
		t.Errorf("second = %s (%s)", d.Status, d.LongStatus)
	}
}

// Ensure a scheduled run (no deployment) may ask while its component is
// live and scheduled: the question has no deployment, is idempotent
// within the run and new in the next one, is answered and settled by its
// deadline under the tool's lock, and the run's token stops working once
// the component is no longer live.
func TestQuestions_AskFromAScheduledRun(t *testing.T) {
	t.Parallel()
	const tool = "cron-asker"
	tokens := auth.NewAskTokens(bytes.Repeat([]byte{7}, 32))
	h := newHarness(t, Config{AskTokens: tokens}, true)
	q := NewQuestions(h.eng)
	ctx := t.Context()
	if err := h.db.LiveRunPut(ctx, slipway.LiveRun{Tool: tool, Component: "nightly", Type: slipway.Scheduled, SpecHash: "s"}); err != nil {
		t.Fatal(err)
	}
	scope := slipway.AskScope{Tool: tool, Step: slipway.ScheduledAskStep("nightly", "20260101-020000")}
	token := tokens.Issue(scope)
	if got, ok, err := q.IdentifyAsk(ctx, token); err != nil || !ok || got != scope {
		t.Fatalf("IdentifyAsk = %+v, %v, %v; want the run's scope", got, ok, err)
	}
	ask := slipway.Question{Prompt: "Purge the cache?", Options: []slipway.QuestionOption{{Label: "yes", Value: "yes"}, {Label: "no", Value: "no"}}, Key: "purge"}
	asked, created, err := q.QuestionAsk(ctx, scope, ask, time.Hour)
	if err != nil || !created || asked.DeploymentID != "" || asked.Initiator != "schedule" {
		t.Fatalf("ask = %+v, %v, %v", asked, created, err)
	}
	if again, created, _ := q.QuestionAsk(ctx, scope, ask, time.Hour); created || again.ID != asked.ID {
		t.Errorf("the same run asking again = %s (created %v), want %s", again.ID, created, asked.ID)
	}
	next := slipway.AskScope{Tool: tool, Step: slipway.ScheduledAskStep("nightly", "20260102-020000")}
	other, created, err := q.QuestionAsk(ctx, next, ask, time.Hour)
	if err != nil || !created || other.ID == asked.ID {
		t.Errorf("the next run asking = %s (created %v), %v; want a new question", other.ID, created, err)
	}
	got, err := q.QuestionAnswer(asToken(ctx, tool, "alice"), tool, asked.ID, slipway.Answer{Value: "yes"})
	if err != nil || got.State != slipway.QuestionAnswered || got.SettledBy != "tool-token:alice" {
		t.Fatalf("answer = %+v, %v", got, err)
	}
	if got, err := q.QuestionGet(ctx, tool, asked.ID, time.Minute); err != nil || got.Value != "yes" {
		t.Errorf("the run reads %+v, %v", got, err)
	}
	if err := h.eng.QuestionDeadline(ctx, tool, "", other.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := q.QuestionGet(ctx, tool, other.ID, 0); got.State != slipway.QuestionExpired {
		t.Errorf("after its deadline the next run's question is %s, want expired", got.State)
	}
	if err := h.db.LiveRunDelete(ctx, tool, "nightly"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := q.IdentifyAsk(ctx, token); ok {
		t.Error("the run's token still works after its component was removed")
	}
	if _, _, err := q.QuestionAsk(ctx, scope, ask, 0); slipway.ErrorCode(err) != slipway.EForbidden {
		t.Errorf("asking for a removed component = %v, want 403", err)
	}
}
