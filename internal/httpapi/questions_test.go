package httpapi

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// fakeQuestions records what reaches it. Ask tokens are "slask_" +
// "<tool>/<deployment>/<step>".
type fakeQuestions struct {
	mu    sync.Mutex
	calls []string
	q     slipway.Question
}

func (f *fakeQuestions) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeQuestions) QuestionList(ctx context.Context, tool string, state slipway.QuestionState, d string) ([]slipway.Question, error) {
	f.record("list tool=" + tool + " state=" + string(state) + " by=" + slipway.ActorFrom(ctx).Name)
	return []slipway.Question{f.q}, nil
}

func (f *fakeQuestions) QuestionGet(_ context.Context, tool, id string, wait time.Duration) (slipway.Question, error) {
	f.record("get " + tool + " " + id + " wait=" + wait.String())
	return f.q, nil
}

func (f *fakeQuestions) QuestionAsk(ctx context.Context, s slipway.AskScope, q slipway.Question, timeout time.Duration) (slipway.Question, bool, error) {
	f.record("ask " + s.Tool + " " + s.DeploymentID + " " + s.Step + " key=" + q.Key + " timeout=" + timeout.String())
	return f.q, true, nil
}

func (f *fakeQuestions) QuestionAnswer(ctx context.Context, tool, id string, a slipway.Answer) (slipway.Question, error) {
	f.record("answer " + tool + " " + id + " " + a.Value + " source=" + a.Source + " by=" + slipway.ActorFrom(ctx).Name)
	return f.q, nil
}

func (f *fakeQuestions) QuestionLog(_ context.Context, tool, id string) ([]slipway.QuestionLogEntry, error) {
	f.record("log " + tool + " " + id)
	return nil, nil
}

func (f *fakeQuestions) IdentifyAsk(_ context.Context, token string) (slipway.AskScope, bool, error) {
	parts := strings.Split(strings.TrimPrefix(token, slipway.AskTokenPrefix), "/")
	if len(parts) != 3 {
		return slipway.AskScope{}, false, nil
	}
	return slipway.AskScope{Tool: parts[0], DeploymentID: parts[1], Step: parts[2]}, true, nil
}

func (f *fakeQuestions) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// Ensure an ask token opens only the routes that ask and read questions,
// of its own tool and its own step; other credentials cannot ask; and
// the tool-less inbox is scoped to the credential's tool.
func TestHandler_QuestionsAccess(t *testing.T) {
	t.Parallel()
	b := setupAPITokens(t)
	fq := &fakeQuestions{q: slipway.Question{ID: "q-0123456789abcdef", Tool: "tool-a", DeploymentID: "d1", StepKey: "run:job", State: slipway.QuestionOpen, Prompt: "?"}}
	b.handler = NewHandler(b.svc, Config{AdminToken: testToken, APITokens: b.api, Questions: fq, ToolRate: -1, PollRate: -1})
	_, tokA, err := b.api.Create(t.Context(), "tool-a", "A")
	if err != nil {
		t.Fatal(err)
	}
	ask := slipway.AskTokenPrefix + "tool-a/d1/run:job"
	const q = "/interactions/v1/tool/tool-a/questions/q-0123456789abcdef"

	// Every route that is not for asking refuses the ask token.
	for _, rt := range (&api{}).routes() {
		if rt.access == public || rt.access == adminOrToolOrAsk {
			continue
		}
		for _, p := range routePaths(rt, "tool-a") {
			w := b.send(t, rt.method, p, ask, "")
			want := msgAskTokenOnly
			if rt.access == adminOrMetricsToken {
				want = msgMetrics
			}
			if w.Code != http.StatusForbidden || errorMessage(t, w) != want {
				t.Errorf("%s %s with an ask token: %d %s, want 403 %q", rt.method, p, w.Code, w.Body, want)
			}
		}
	}
	if c := fq.take(); len(c) != 0 {
		t.Errorf("refused requests reached the service: %q", c)
	}

	for _, c := range []struct {
		method, path, bearer, body string
		want                       int
		call                       string // "" none
	}{
		{"POST", "/interactions/v1/tool/tool-a/questions", ask, `{"question":"Go?","options":[{"label":"Y","value":"y"}],"timeout_seconds":90}`, 201, "ask tool-a d1 run:job key=h:"},
		{"POST", "/interactions/v1/tool/tool-b/questions", ask, `{"question":"Go?"}`, 403, ""},
		{"POST", "/interactions/v1/tool/tool-a/questions", tokA, `{"question":"Go?"}`, 403, ""},
		{"POST", "/interactions/v1/tool/tool-a/questions", testToken, `{"question":"Go?"}`, 403, ""},
		{"GET", q + "?wait=5m", ask, "", 200, "get tool-a q-0123456789abcdef wait=1m0s"},
		{"GET", q + "?wait=soon", tokA, "", 422, ""},
		{"GET", "/interactions/v1/tool/tool-a/questions/x%27%3B%20DROP", tokA, "", 404, ""},
		{"GET", "/interactions/v1/tool/tool-b/questions/q-0123456789abcdef", ask, "", 403, ""},
		{"POST", q + "/answers", ask, `{"value":"y"}`, 403, ""},
		{"POST", q + "/answers", tokA, `{"value":"y","source":"cli"}`, 200, "answer tool-a q-0123456789abcdef y source=cli by=tool-token:"},
		{"POST", q + "/answers", tokA, `{"value":"y","source":"mail"}`, 422, ""},
		{"POST", q + "/answers", tokA, `{"value":`, 400, ""},
		{"GET", "/interactions/v1/questions?state=open", tokA, "", 200, "list tool=tool-a state=open by=tool-token:"},
		{"GET", "/interactions/v1/questions", testToken, "", 200, "list tool= state= by=admin"},
		{"GET", "/interactions/v1/questions?state=maybe", tokA, "", 422, ""},
		{"GET", "/interactions/v1/questions", "", "", 401, ""},
	} {
		w := b.send(t, c.method, c.path, c.bearer, c.body)
		calls := fq.take()
		switch {
		case w.Code != c.want:
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, w.Code, w.Body, c.want)
		case c.call == "" && len(calls) != 0:
			t.Errorf("%s %s reached the service: %q", c.method, c.path, calls)
		case c.call != "" && (len(calls) != 1 || !strings.HasPrefix(calls[0], c.call)):
			t.Errorf("%s %s: service calls %q, want one starting %q", c.method, c.path, calls, c.call)
		}
	}

	// An ask token reads only its own step's questions.
	fq.q.StepKey = "build:web"
	if w := b.send(t, "GET", q, ask, ""); w.Code != http.StatusNotFound {
		t.Errorf("an ask token reading another step's question: %d %s, want 404", w.Code, w.Body)
	}
}
