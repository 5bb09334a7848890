package web_test

import (
	"cmp"
	"context"
	"slices"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// The fake's questions: an open gate of the running deployment, a
// settled question it asked before, an open question with fields and one
// with eight options of the asking deployment, and one of tool two.
const (
	qGate    = "q-00000000000000a1"
	qSettled = "q-00000000000000b2"
	qFields  = "q-00000000000000d4"
	qMany    = "q-00000000000000e5"
	qTwo     = "q-00000000000000c3"
)

func fakeQuestions(running, asking slipway.Deployment) map[string]*slipway.Question {
	qs := []slipway.Question{
		{
			ID: qSettled, Seq: 1, Tool: "one", DeploymentID: running.ID, StepKey: "build:web", Origin: slipway.OriginAsk,
			Prompt:    "Which **environment**?",
			Options:   []slipway.QuestionOption{{Label: "Staging", Value: "staging"}, {Label: "Production", Value: "prod"}},
			CreatedAt: t0.Add(-9 * time.Minute), DeadlineAt: t0.Add(time.Hour), OnDeadline: slipway.DeadlineFail,
			State: slipway.QuestionAnswered, Value: "staging", SettledBy: "tool-token:alice", SettledAt: t0.Add(-8 * time.Minute), Comment: "staging first <please>",
		},
		{
			ID: qGate, Seq: 2, Tool: "one", DeploymentID: running.ID, StepKey: "gate:migrate", Origin: slipway.OriginGate,
			Prompt:  "Web is live. Run **migrate** now?\nIt takes `5 <min>`.\n\n<script>alert(1)</script>",
			Options: slipway.DefaultGateOptions, Policy: slipway.AnswerPolicy{ForbidInitiator: true}, Initiator: running.Actor,
			CreatedAt: t0.Add(-2 * time.Minute), DeadlineAt: t0.Add(23*time.Hour + 58*time.Minute), OnDeadline: slipway.DeadlineFail,
			State: slipway.QuestionOpen,
		},
		{
			ID: qFields, Seq: 3, Tool: "one", DeploymentID: asking.ID, StepKey: "run:migrate", Origin: slipway.OriginAsk,
			Prompt: "Migrate which tables?",
			Fields: []slipway.QuestionField{
				{Key: "tables", Label: "Tables", Type: slipway.FieldText, Required: true},
				{Key: "mode", Label: "Mode", Type: slipway.FieldSelect, Options: []string{"online", "offline"}, Default: "online"},
				{Key: "backup", Label: "Back up first", Type: slipway.FieldBoolean, Default: "true"},
			},
			Policy:    slipway.AnswerPolicy{Answerers: []string{"tool", "admin"}, Required: 2},
			Approvals: []string{"tool-token:bob"}, Initiator: asking.Actor,
			CreatedAt: t0.Add(-5 * time.Minute), DeadlineAt: t0.Add(55 * time.Minute), OnDeadline: slipway.DeadlineFail,
			State: slipway.QuestionOpen,
		},
		{
			ID: qMany, Seq: 4, Tool: "one", DeploymentID: asking.ID, StepKey: "run:migrate", Origin: slipway.OriginAsk,
			Prompt:  "Which shard first?",
			Options: []slipway.QuestionOption{{Value: "s1"}, {Value: "s2"}, {Value: "s3"}, {Value: "s4"}, {Value: "s5"}, {Value: "s6"}, {Value: "s7"}, {Label: "None", Value: "none"}},
			Default: "s3", Policy: slipway.AnswerPolicy{Answerers: []string{"tool-token:nobody"}},
			CreatedAt: t0.Add(-4 * time.Minute), DeadlineAt: t0.Add(30 * time.Minute), OnDeadline: slipway.DeadlineDefault,
			State: slipway.QuestionOpen,
		},
		{
			ID: qTwo, Seq: 5, Tool: "two", DeploymentID: "20250601-110000-tooltwoddd", StepKey: "gate:api", Origin: slipway.OriginGate,
			Prompt: "Deploy tool two's api?", Options: slipway.DefaultGateOptions,
			CreatedAt: t0.Add(-time.Minute), DeadlineAt: t0.Add(time.Hour), OnDeadline: slipway.DeadlineFail, State: slipway.QuestionOpen,
		},
	}
	m := map[string]*slipway.Question{}
	for i := range qs {
		m[qs[i].ID] = &qs[i]
	}
	return m
}

func fakeQuestionLog() map[string][]slipway.QuestionLogEntry {
	return map[string][]slipway.QuestionLogEntry{
		qSettled: {
			{Seq: 1, QuestionID: qSettled, Tool: "one", Kind: slipway.LogOpened, At: t0.Add(-9 * time.Minute)},
			{Seq: 2, QuestionID: qSettled, Tool: "one", Kind: slipway.LogRefused, Actor: "tool-token:ci", Value: "prod", Source: "cli", Reason: "only tool-token:alice may answer this question", At: t0.Add(-8*time.Minute - 30*time.Second)},
			{Seq: 3, QuestionID: qSettled, Tool: "one", Kind: slipway.LogAnswer, Actor: "tool-token:alice", Value: "staging", Source: "ui", Comment: "staging first <please>", At: t0.Add(-8 * time.Minute)},
		},
		qGate:   {{Seq: 4, QuestionID: qGate, Tool: "one", Kind: slipway.LogOpened, At: t0.Add(-2 * time.Minute)}},
		qFields: {{Seq: 5, QuestionID: qFields, Tool: "one", Kind: slipway.LogOpened, At: t0.Add(-5 * time.Minute)}, {Seq: 6, QuestionID: qFields, Tool: "one", Kind: slipway.LogAnswer, Actor: "tool-token:bob", Value: `{"backup":"true","mode":"online","tables":"users"}`, Source: "api", Reason: "1 of 2 answers needed", At: t0.Add(-3 * time.Minute)}},
		qMany:   {{Seq: 7, QuestionID: qMany, Tool: "one", Kind: slipway.LogOpened, At: t0.Add(-4 * time.Minute)}},
		qTwo:    {{Seq: 8, QuestionID: qTwo, Tool: "two", Kind: slipway.LogOpened, At: t0.Add(-time.Minute)}},
	}
}

func notFound(tool, id string) error {
	return slipway.Errorf(slipway.ENotFound, "Question %s not found for tool %s", id, tool)
}

func (f *fakeService) QuestionList(ctx context.Context, tool string, state slipway.QuestionState, deploymentID string) ([]slipway.Question, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.maybePanic("QuestionList")
	if a := slipway.ActorFrom(ctx); tool == "" && !a.Admin {
		tool = a.Tool
	}
	var out []slipway.Question
	for _, q := range f.questions {
		if (tool == "" || q.Tool == tool) && (state == "" || q.State == state) && (deploymentID == "" || q.DeploymentID == deploymentID) {
			out = append(out, *q)
		}
	}
	slices.SortFunc(out, func(a, b slipway.Question) int { return cmp.Compare(b.Seq, a.Seq) })
	return out, nil
}

func (f *fakeService) QuestionGet(_ context.Context, tool, id string, _ time.Duration) (slipway.Question, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q, ok := f.questions[id]
	if !ok || q.Tool != tool {
		return slipway.Question{}, notFound(tool, id)
	}
	return *q, nil
}

func (f *fakeService) QuestionLog(_ context.Context, tool, id string) ([]slipway.QuestionLogEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q, ok := f.questions[id]
	if !ok || q.Tool != tool {
		return nil, notFound(tool, id)
	}
	return slices.Clone(f.qlog[id]), nil
}

// QuestionAnswer answers as deploy.Questions does: 409 once settled, 403
// with the reason (logged), 422 for a bad value, else settled.
func (f *fakeService) QuestionAnswer(ctx context.Context, tool, id string, a slipway.Answer) (slipway.Question, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	actor := slipway.ActorFrom(ctx)
	q, ok := f.questions[id]
	if !ok || q.Tool != tool {
		return slipway.Question{}, notFound(tool, id)
	}
	logIt := func(kind slipway.QuestionLogKind, value, reason string) {
		f.qlog[id] = append(f.qlog[id], slipway.QuestionLogEntry{Seq: 100 + int64(len(f.answers)), QuestionID: id, Tool: tool, Kind: kind, Actor: actor.Name, Value: value, Comment: a.Comment, Source: a.Source, Reason: reason, At: t0})
	}
	if q.State.Final() {
		return *q, slipway.Errorf(slipway.EConflict, "Question %s was already answered %q by %s at %s.", q.ID, q.Value, q.SettledBy, q.SettledAt.Format(time.RFC3339))
	}
	if why := q.MayAnswer(actor); why != "" {
		logIt(slipway.LogRefused, a.Value, why)
		return *q, slipway.Errorf(slipway.EForbidden, "You may not answer question %s: %s.", q.ID, why)
	}
	value, stop, problem := q.CheckAnswer(a)
	if problem != "" {
		return *q, slipway.Errorf(slipway.EInvalid, "%s", problem)
	}
	f.answers = append(f.answers, fakeAnswer{Actor: actor, ID: id, Answer: a})
	if !stop && q.Required() > 1 {
		if slices.Contains(q.Approvals, actor.Name) {
			return *q, slipway.Errorf(slipway.EConflict, "You (%s) answered question %s already.", actor.Name, q.ID)
		}
		q.Approvals = append(q.Approvals, actor.Name)
		if len(q.Approvals) < q.Required() {
			logIt(slipway.LogAnswer, value, "more answers needed")
			return *q, nil
		}
	}
	q.State, q.Value, q.SettledBy, q.SettledAt, q.Comment = slipway.QuestionAnswered, value, actor.Name, t0, a.Comment
	if stop {
		q.State = slipway.QuestionRejected
	}
	logIt(slipway.LogAnswer, value, "")
	return *q, nil
}
