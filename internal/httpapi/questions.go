package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
)

// Questions serves the /interactions routes: what a deployment asks a
// human and the answers. internal/deploy implements it; errors are
// [*slipway.Error] values as for [Service]: ENotFound for an unknown
// question, EForbidden with the reason when the actor may not answer,
// EConflict naming who answered first, EInvalid for a bad question or
// answer.
type Questions interface {
	// QuestionList returns the questions of tool ("" every tool the actor
	// of ctx may see), newest first, narrowed by state and deployment
	// when they are set.
	QuestionList(ctx context.Context, tool string, state slipway.QuestionState, deploymentID string) ([]slipway.Question, error)
	// QuestionGet returns one question; with wait > 0, once it is settled
	// or wait has passed, whichever comes first.
	QuestionGet(ctx context.Context, tool, id string, wait time.Duration) (slipway.Question, error)
	// QuestionAsk asks q for the step of scope, to be answered within
	// timeout (0: the default), and reports whether it is new (false: the
	// step asked with q.Key before; the existing one).
	QuestionAsk(ctx context.Context, scope slipway.AskScope, q slipway.Question, timeout time.Duration) (slipway.Question, bool, error)
	// QuestionAnswer answers as the actor of ctx.
	QuestionAnswer(ctx context.Context, tool, id string, a slipway.Answer) (slipway.Question, error)
	// QuestionLog returns a question's audit log, oldest first.
	QuestionLog(ctx context.Context, tool, id string) ([]slipway.QuestionLogEntry, error)
	// IdentifyAsk returns the scope of an ask token whose step still runs;
	// ok is false for anything else.
	IdentifyAsk(ctx context.Context, token string) (scope slipway.AskScope, ok bool, err error)
}

// maxQuestionWait bounds ?wait= of GET …/questions/{id}: under the idle
// timeouts of the proxies between a job and the server.
const maxQuestionWait = 60 * time.Second

// msgAskTokenOnly is the 403 message of a route an ask token may not use.
const msgAskTokenOnly =                                                              //nolint:gosec // G101: a message naming the variable, no credential
"An ask token ($SLIPWAY_ASK_TOKEN) can only ask its step's questions and read them." //nolint:gosec // G101: a message that names the variable, no credential

// questionsEnabled answers 503 when the server has no questions service.
func (a *api) questionsEnabled(w http.ResponseWriter, r *http.Request) bool {
	if a.cfg.Questions == nil {
		a.writeError(w, r, slipway.Errorf(slipway.EUnavailable, "Questions are not enabled on this server."))
		return false
	}
	return true
}

// questionState returns ?state=, checked.
func questionState(r *http.Request) (slipway.QuestionState, error) {
	s := slipway.QuestionState(r.URL.Query().Get("state"))
	switch s {
	case "", slipway.QuestionOpen, slipway.QuestionAnswered, slipway.QuestionRejected, slipway.QuestionExpired, slipway.QuestionCancelled:
		return s, nil
	}
	return "", slipway.Errorf(slipway.EInvalid, "state: %q is not one of open, answered, rejected, expired, cancelled", s)
}

// handleMyQuestions serves GET /interactions/v1/questions.
func (a *api) handleMyQuestions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.questionsEnabled(w, r) {
			return
		}
		state, err := questionState(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		id := identityOf(r.Context())
		tool := ""
		if !id.admin {
			tool = id.tool
		}
		a.writeQuestions(w, r, tool, state, "")
	})
}

// handleQuestionList serves GET …/tool/{tool}/questions.
func (a *api) handleQuestionList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.questionsEnabled(w, r) {
			return
		}
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		state, err := questionState(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		a.writeQuestions(w, r, tool, state, r.URL.Query().Get("deployment"))
	})
}

func (a *api) writeQuestions(w http.ResponseWriter, r *http.Request, tool string, state slipway.QuestionState, deployment string) {
	qs, err := a.cfg.Questions.QuestionList(r.Context(), tool, state, deployment)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	actor := slipway.ActorFrom(r.Context())
	out := oapi.QuestionListEnvelope{Data: make([]oapi.Question, len(qs)), Messages: messages(nil, nil, nil)}
	for i, q := range qs {
		out.Data[i] = toQuestion(q, actor)
	}
	writeJSON(w, http.StatusOK, out)
}

// handleQuestionAsk serves POST …/tool/{tool}/questions: an ask token
// asks for its step.
func (a *api) handleQuestionAsk() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.questionsEnabled(w, r) {
			return
		}
		id := identityOf(r.Context())
		if id.ask == nil {
			a.writeError(w, r, slipway.Errorf(slipway.EForbidden,
				"Questions are asked from inside a deployment's step, with its ask token ($SLIPWAY_ASK_TOKEN): run `slipway ask` there."))
			return
		}
		body, err := a.readBody(w, r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		var req oapi.AskRequest
		if err := decodeJSON(body, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		q, timeout := fromAskRequest(req)
		q, created, err := a.cfg.Questions.QuestionAsk(r.Context(), *id.ask, q, timeout)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		writeJSON(w, status, oapi.QuestionEnvelope{Data: toQuestion(q, slipway.ActorFrom(r.Context())), Messages: messages(nil, nil, nil)})
	})
}

// fromAskRequest returns the question req asks, with its idempotency key
// (given, or a hash of what it asks), and its timeout.
func fromAskRequest(req oapi.AskRequest) (slipway.Question, time.Duration) {
	q := slipway.Question{Origin: slipway.OriginAsk, Prompt: req.Question, OnDeadline: slipway.DeadlineFail}
	if req.Options != nil {
		for _, o := range *req.Options {
			q.Options = append(q.Options, slipway.QuestionOption{Label: o.Label, Value: o.Value, Stop: deref(o.Stop)})
		}
	}
	if req.Fields != nil {
		for _, f := range *req.Fields {
			qf := slipway.QuestionField{Key: f.Key, Type: slipway.FieldType(f.Type), Label: deref(f.Label), Required: deref(f.Required), Default: deref(f.Default)}
			if f.Options != nil {
				qf.Options = *f.Options
			}
			q.Fields = append(q.Fields, qf)
		}
	}
	q.Default = deref(req.Default)
	if req.OnTimeout != nil {
		q.OnDeadline = slipway.DeadlinePolicy(*req.OnTimeout)
	}
	var timeout time.Duration
	if req.TimeoutSeconds != nil {
		timeout = time.Duration(max(*req.TimeoutSeconds, 1)) * time.Second
	}
	q.Key = deref(req.Key)
	if q.Key == "" {
		b, _ := json.Marshal([]any{q.Prompt, q.Options, q.Fields, q.Default})
		sum := sha256.Sum256(b)
		q.Key = "h:" + hex.EncodeToString(sum[:8])
	}
	return q, timeout
}

// handleQuestionGet serves GET …/questions/{question_id}[?wait=].
func (a *api) handleQuestionGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, qid, ok := a.questionRequest(w, r)
		if !ok {
			return
		}
		var wait time.Duration
		if s := r.URL.Query().Get("wait"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 {
				a.writeError(w, r, slipway.Errorf(slipway.EInvalid, "wait: %q is not a duration such as 50s", s))
				return
			}
			wait = min(d, maxQuestionWait)
		}
		q, err := a.cfg.Questions.QuestionGet(r.Context(), tool, qid, wait)
		if err == nil && !a.askMaySee(r.Context(), q) {
			err = slipway.Errorf(slipway.ENotFound, "Question %s not found for tool %s", qid, tool)
		}
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.QuestionEnvelope{Data: toQuestion(q, slipway.ActorFrom(r.Context())), Messages: messages(nil, nil, nil)})
	})
}

// askMaySee reports whether the request's identity may read q: anyone
// the guard let in, but an ask token only its own step's questions.
func (a *api) askMaySee(ctx context.Context, q slipway.Question) bool {
	s := identityOf(ctx).ask
	return s == nil || (s.DeploymentID == q.DeploymentID && s.Step == q.StepKey)
}

// handleQuestionAnswer serves POST …/questions/{question_id}/answers.
func (a *api) handleQuestionAnswer() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, qid, ok := a.questionRequest(w, r)
		if !ok {
			return
		}
		body, err := a.readBody(w, r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		var req oapi.AnswerRequest
		if err := decodeJSON(body, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		ans := slipway.Answer{Value: deref(req.Value), Comment: deref(req.Comment), Source: deref(req.Source)}
		if req.Fields != nil {
			ans.Fields = *req.Fields
		}
		switch ans.Source {
		case "":
			ans.Source = "api"
		case "api", "cli", "ui":
		default:
			a.writeError(w, r, slipway.Errorf(slipway.EInvalid, "source: %q is not one of api, cli, ui", ans.Source))
			return
		}
		q, err := a.cfg.Questions.QuestionAnswer(r.Context(), tool, qid, ans)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		info := []string{answerMessage(q)}
		writeJSON(w, http.StatusOK, oapi.QuestionEnvelope{Data: toQuestion(q, slipway.ActorFrom(r.Context())), Messages: messages(info, nil, nil)})
	})
}

// answerMessage says what an answer did.
func answerMessage(q slipway.Question) string {
	switch q.State {
	case slipway.QuestionOpen:
		return fmt.Sprintf("Answer recorded: %d of %d answers needed so far.", len(q.Approvals), q.Required())
	case slipway.QuestionRejected:
		return "Answered " + q.Value + ": the deployment stops here."
	default:
	}
	return "Answered " + q.Value + "."
}

// handleQuestionLog serves GET …/questions/{question_id}/log.
func (a *api) handleQuestionLog() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, qid, ok := a.questionRequest(w, r)
		if !ok {
			return
		}
		log, err := a.cfg.Questions.QuestionLog(r.Context(), tool, qid)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := oapi.QuestionLogEnvelope{Data: make([]oapi.QuestionLogEntry, len(log)), Messages: messages(nil, nil, nil)}
		for i, e := range log {
			out.Data[i] = oapi.QuestionLogEntry{
				Seq: e.Seq, QuestionId: e.QuestionID, Kind: oapi.QuestionLogEntryKind(e.Kind), Actor: e.Actor,
				Value: e.Value, Comment: e.Comment, Source: e.Source, Reason: e.Reason, Time: e.At.UTC(),
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// questionRequest returns the {tool} and {question_id} of r, or answers
// the error.
func (a *api) questionRequest(w http.ResponseWriter, r *http.Request) (tool, id string, ok bool) {
	if !a.questionsEnabled(w, r) {
		return "", "", false
	}
	tool, err := toolName(r)
	if err != nil {
		a.writeError(w, r, err)
		return "", "", false
	}
	id = r.PathValue("question_id")
	if !slipway.IsQuestionID(id) {
		a.writeError(w, r, slipway.Errorf(slipway.ENotFound, "Question %s not found for tool %s", quoteShort(id), tool))
		return "", "", false
	}
	return tool, id, true
}

// toQuestion returns the wire form of q, as actor sees it.
func toQuestion(q slipway.Question, actor slipway.Actor) oapi.Question {
	out := oapi.Question{
		Id: q.ID, Tool: q.Tool, DeployId: q.DeploymentID, Step: q.StepKey, Origin: oapi.QuestionOrigin(q.Origin),
		Question: q.Prompt, Options: []oapi.QuestionOption{}, Fields: []oapi.QuestionField{}, State: oapi.QuestionState(q.State),
		Created: q.CreatedAt.UTC(), Deadline: q.DeadlineAt.UTC(), OnDeadline: oapi.QuestionOnDeadline(q.OnDeadline),
		Default: q.Default, Value: q.Value, AnsweredBy: q.SettledBy, Comment: q.Comment, Approvals: q.Approvals,
		Policy: oapi.AnswerPolicy{
			Answerers: &q.Policy.Answerers, RequiredAnswers: new(q.Required()), ForbidInitiator: &q.Policy.ForbidInitiator,
		},
		Key: &q.Key, Initiator: &q.Initiator,
	}
	if out.Approvals == nil {
		out.Approvals = []string{}
	}
	if q.Policy.Answerers == nil {
		out.Policy.Answerers = &[]string{}
	}
	for _, o := range q.Options {
		out.Options = append(out.Options, oapi.QuestionOption{Label: o.Label, Value: o.Value, Stop: &o.Stop})
	}
	for _, f := range q.Fields {
		out.Fields = append(out.Fields, oapi.QuestionField{
			Key: f.Key, Label: &f.Label, Type: oapi.QuestionFieldType(f.Type), Options: &f.Options, Required: &f.Required, Default: &f.Default,
		})
	}
	if !q.SettledAt.IsZero() {
		out.AnsweredAt = new(q.SettledAt.UTC())
	}
	may := "this question is " + string(q.State)
	if q.State == slipway.QuestionOpen {
		may = q.MayAnswer(actor)
		if may == "" && slices.Contains(q.Approvals, actor.Name) {
			may = "you answered already; it needs answers from others too"
		}
	}
	out.MayAnswer = &may
	return out
}
