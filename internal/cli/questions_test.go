package cli

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// questionsServer is a fake of the questions API and of a deployment
// whose events announce a question.
type questionsServer struct {
	open string // the open question's JSON; askQuestion's when ""

	mu      sync.Mutex
	answers []string // bodies of the POSTed answers
}

func (s *questionsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get("Authorization") != "Bearer tok" {
		reply(w, 401, `{"messages":{"error":["Authentication required."],"info":[],"warning":[]}}`)
		return
	}
	open := cmp.Or(s.open, askQuestion("open", "", "", false))
	q := "/interactions/v1/tool/mytool/questions/" + askQID
	switch r.Method + " " + r.URL.Path {
	case "GET /interactions/v1/tool/mytool/questions":
		if r.URL.Query().Get("state") == "answered" {
			reply(w, 200, `{"data":[],`+msgs+`}`)
			return
		}
		reply(w, 200, `{"data":[`+open+`],`+msgs+`}`)
	case "GET /interactions/v1/questions":
		reply(w, 200, `{"data":[`+open+`],`+msgs+`}`)
	case "GET " + q:
		reply(w, 200, `{"data":`+open+`,`+msgs+`}`)
	case "GET " + q + "/log":
		reply(w, 200, `{"data":[{"seq":1,"question_id":"`+askQID+`","kind":"opened","actor":"tool-token:abc","value":"","comment":"","source":"","reason":"asked by run:migrate","time":"2026-11-22T13:00:49Z"}],`+msgs+`}`)
	case "POST " + q + "/answers":
		s.mu.Lock()
		s.answers = append(s.answers, string(body))
		s.mu.Unlock()
		switch {
		case strings.Contains(string(body), `"fields"`), strings.Contains(string(body), `"value":"stop"`):
			reply(w, 200, `{"data":`+open+`,"messages":{"error":[],"info":["Answer recorded."],"warning":[]}}`)
		case strings.Contains(string(body), `"value":"yes"`):
			reply(w, 200, `{"data":`+askQuestion("answered", "yes", "admin", false)+`,"messages":{"error":[],"info":["Answered yes."],"warning":[]}}`)
		case strings.Contains(string(body), `"value":"n"`):
			reply(w, 409, `{"messages":{"error":["Question `+askQID+` was answered yes by tool-token:abc at 2026-11-22T13:01:00Z."],"info":[],"warning":[]}}`)
		default:
			reply(w, 422, `{"messages":{"error":["\"maybe\" is not an answer to this question: choose one of yes, n"],"info":[],"warning":[]}}`)
		}
	case "POST /components/v1/tool/mytool/deployment":
		reply(w, 200, `{"data":`+pendingDep+`,"messages":{"error":[],"info":["Deployment for mytool created successfully."],"warning":[]}}`)
	case "GET /components/v1/tool/mytool/deployment/" + depID:
		reply(w, 200, `{"data":`+doneDep+`,`+msgs+`}`)
	case "GET /components/v1/tool/mytool/deployment/" + depID + "/events":
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, sse(1, "step", "build:web", "running", "building")+
			sse(2, "question", "run:migrate", "open", askQID+": Continue with sync?")+
			sse(3, "step", "build:web", "done", "built 3f2a1c in 12.4s")+
			sse(4, "deployment", "", "successful", "All components deployed"))
	default:
		reply(w, 404, `{"messages":{"error":["Not found."],"info":[],"warning":[]}}`)
	}
}

// Ensure list, show and answer print what the server says, answer with
// source cli, and print a refused answer's reason plainly, exit 1.
func TestQuestionsCommands(t *testing.T) {
	t.Parallel()
	s := &questionsServer{}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	tests := []struct {
		args           []string
		code           int
		stdout, stderr []string
	}{
		{[]string{"questions", "list"}, 0, []string{"ID", "Deployment", askQID + "  " + askDepID + "  run:migrate  open", "Continue with sync?"}, nil},
		{[]string{"questions", "list", "--all"}, 0, []string{"Tool", askQID + "  mytool"}, nil},
		{[]string{"questions", "list", "--state", "answered"}, 0, []string{"No answered questions for tool: mytool"}, nil},
		{[]string{"questions", "list", "--state", "sure"}, 2, nil, []string{`--state "sure": want one of open`}},
		{[]string{"questions", "list", "--json"}, 0, []string{`"data": [`, `"id": "` + askQID + `"`}, nil},
		{[]string{"questions", "show", askQID}, 0, []string{"Question: " + askQID, "Step: run:migrate (asked by its process)", "  Continue with sync?", "  n    no", "You may answer: slipway questions answer " + askQID + " --tool mytool --value yes", "opened by tool-token:abc - asked by run:migrate"}, nil},
		{[]string{"questions", "answer", askQID, "--value", "yes", "--comment", "looks fine"}, 0, []string{"✅ Answered yes."}, nil},
		{[]string{"questions", "answer", askQID, "--value", "n"}, 1, nil, []string{"❌ Question " + askQID + " was answered yes by tool-token:abc"}},
		{[]string{"questions", "answer", askQID, "--value", "maybe"}, 1, nil, []string{`❌ "maybe" is not an answer to this question`}},
		{[]string{"questions", "answer", askQID}, 2, nil, []string{"answer with --value VALUE or with --field KEY=VALUE"}},
		{[]string{"questions", "answer", askQID, "--field", "env"}, 2, nil, []string{`--field "env": want KEY=VALUE`}},
	}
	for _, tt := range tests {
		res := run(t, srv.URL, "", tt.args...)
		if res.code != tt.code {
			t.Errorf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tt.args, res.code, tt.code, res.stdout, res.stderr)
		}
		for _, w := range tt.stdout {
			if !strings.Contains(res.stdout, w) {
				t.Errorf("%v: stdout lacks %q:\n%s", tt.args, w, res.stdout)
			}
		}
		for _, w := range tt.stderr {
			if !strings.Contains(res.stderr, w) {
				t.Errorf("%v: stderr lacks %q:\n%s", tt.args, w, res.stderr)
			}
		}
	}
	if len(s.answers) != 3 || !strings.Contains(s.answers[0], `"source":"cli"`) || !strings.Contains(s.answers[0], `"comment":"looks fine"`) {
		t.Errorf("answers sent: %q", s.answers)
	}
}

// runWatch deploys with --watch against url, with interactive as the
// terminal detection and stdin as what the person types.
func runWatch(t *testing.T, url string, interactive bool, stdin string) result {
	t.Helper()
	vars := map[string]string{"SLIPWAY_URL": url, "SLIPWAY_TOKEN": "tok", "SLIPWAY_TOOL": "mytool", "HOME": t.TempDir()}
	e := &env{getenv: func(k string) string { return vars[k] }, stdin: strings.NewReader(stdin)}
	e.hooks.interactive = func() bool { return interactive }
	var stdout, stderr bytes.Buffer
	code := mainEnv(t.Context(), []string{"components", "deployment", "create", "--watch"}, e, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// Ensure a question that opens during `deploy --watch` is printed with
// its deadline and the command that answers it; the watch goes on without
// answering when nobody sits at a terminal.
func TestWatch_QuestionPrinted(t *testing.T) {
	t.Parallel()
	s := &questionsServer{}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	res := runWatch(t, srv.URL, false, "yes\n")
	for _, w := range []string{
		"[❓] run:migrate asks (" + askQID + "):", "     Continue with sync?", "Answers: yes, no (n)", "Deadline: ",
		"Answer with: slipway questions answer " + askQID + " --tool mytool --value yes", "All components deployed",
	} {
		if !strings.Contains(res.stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, res.stdout)
		}
	}
	if res.code != 0 || strings.Contains(res.stdout, "Answer [") || len(s.answers) != 0 {
		t.Errorf("exit %d, answers %q, stdout:\n%s", res.code, s.answers, res.stdout)
	}
}

// Ensure at a terminal the watch prompts for an option, asks again after
// a value that is none, sends the answer (source cli) and goes on; an
// empty line only goes on watching.
func TestWatch_QuestionPrompt(t *testing.T) {
	t.Parallel()
	s := &questionsServer{}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	res := runWatch(t, srv.URL, true, "maybe\nyes\n")
	for _, w := range []string{"Answer [yes/n] (empty: wait): ", `"maybe" is not one of yes, n.`, "✅ Answered yes.", "All components deployed"} {
		if !strings.Contains(res.stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, res.stdout)
		}
	}
	if len(s.answers) != 1 || !strings.Contains(s.answers[0], `"source":"cli"`) {
		t.Errorf("answers sent: %q", s.answers)
	}

	s2 := &questionsServer{}
	srv2 := httptest.NewServer(s2)
	t.Cleanup(srv2.Close)
	res = runWatch(t, srv2.URL, true, "\n")
	if !strings.Contains(res.stdout, "Waiting for an answer; watching on.") || len(s2.answers) != 0 || res.code != 0 {
		t.Errorf("exit %d, answers %q, stdout:\n%s", res.code, s2.answers, res.stdout)
	}
}

// fieldsQuestion is an open question with a required text field, a select
// with a default and a boolean, asked by a step's process or, with gate, by
// a gate.
func fieldsQuestion(gate bool) string {
	origin, step := "ask", "run:migrate"
	if gate {
		origin, step = "gate", "gate:web"
	}
	return fmt.Sprintf(`{"id":%q,"tool":"mytool","deploy_id":%q,"step":%q,"origin":%q,"question":"Which ticket?","options":[],`+
		`"fields":[{"key":"ticket","type":"text","required":true},{"key":"env","type":"select","options":["prod","staging"],"default":"staging"},{"key":"dry","type":"boolean"}],`+
		`"state":"open","created":"2026-11-22T13:00:49Z","deadline":%q,"on_deadline":"fail","default":"","value":"","answered_by":"",`+
		`"comment":"","approvals":[],"policy":{"answerers":[],"required_answers":1,"forbid_initiator":false},"may_answer":""}`,
		askQID, askDepID, step, origin, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
}

// Ensure at a terminal the watch prompts for a question's fields one by
// one, asks again with the server's reason for a value it would refuse,
// takes an empty line as the default and y/yes as true, and sends only
// the values typed; "n" at the first prompt, or stdin ending halfway,
// answers nothing; a gate's fields question can be stopped there.
func TestWatch_QuestionPromptFields(t *testing.T) {
	t.Parallel()
	start := func(t *testing.T, gate bool) (*questionsServer, string) {
		s := &questionsServer{open: fieldsQuestion(gate)}
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		return s, srv.URL
	}
	t.Run("Answer", func(t *testing.T) {
		t.Parallel()
		s, url := start(t, false)
		res := runWatch(t, url, true, "y\n\nT-1\nqa\n\nmaybe\nyes\n")
		for _, w := range []string{
			"Answer its 3 fields now? [y/n] (empty: wait): ",
			"  ticket (text, required): ", "  ticket: required\n",
			"  env (select: prod|staging, default staging): ", `  env: "qa" is not one of prod, staging`,
			"  dry (boolean) [y/n]: ", `  dry: "maybe" is not true or false`,
			"✅ Answer recorded.", "All components deployed",
		} {
			if !strings.Contains(res.stdout, w) {
				t.Errorf("stdout lacks %q:\n%s", w, res.stdout)
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.answers) != 1 || !strings.Contains(s.answers[0], `"fields":{"dry":"true","ticket":"T-1"}`) || !strings.Contains(s.answers[0], `"source":"cli"`) {
			t.Errorf("answers sent: %q", s.answers)
		}
	})
	for _, tt := range []struct{ name, stdin, want string }{
		{"Wait", "n\n", "Waiting for an answer; watching on."},
		{"WaitOnEmpty", "\n", "Waiting for an answer; watching on."},
		{"StdinEnds", "y\nT-1\n", "  env (select: prod|staging, default staging): \n"},
		{"NotAChoice", "stop\n", `"stop" is not one of y, n.`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, url := start(t, false)
			res := runWatch(t, url, true, tt.stdin)
			s.mu.Lock()
			defer s.mu.Unlock()
			if !strings.Contains(res.stdout, tt.want) || len(s.answers) != 0 || res.code != 0 {
				t.Errorf("exit %d, answers %q, want %q in stdout:\n%s", res.code, s.answers, tt.want, res.stdout)
			}
		})
	}
	t.Run("GateStop", func(t *testing.T) {
		t.Parallel()
		s, url := start(t, true)
		res := runWatch(t, url, true, "stop\n")
		s.mu.Lock()
		defer s.mu.Unlock()
		if !strings.Contains(res.stdout, "[y/n/stop]") || len(s.answers) != 1 || !strings.Contains(s.answers[0], `"value":"stop"`) {
			t.Errorf("answers %q, stdout:\n%s", s.answers, res.stdout)
		}
	})
	t.Run("NotATerminal", func(t *testing.T) {
		t.Parallel()
		s, url := start(t, false)
		res := runWatch(t, url, false, "y\nT-1\n\n\n")
		s.mu.Lock()
		defer s.mu.Unlock()
		if strings.Contains(res.stdout, "now? [") || !strings.Contains(res.stdout, "Answer with: slipway questions answer "+askQID+" --tool mytool --field 'ticket=…' --field 'env=…' --field 'dry=…'") || len(s.answers) != 0 {
			t.Errorf("answers %q, stdout:\n%s", s.answers, res.stdout)
		}
	})
}
