package web_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/slipway"
)

// answerForm returns a page's CSRF token and the form of an answer to id
// sent back to back.
func answerForm(t *testing.T, e *env, c *http.Cookie, page, back string, kv ...string) url.Values {
	t.Helper()
	f := url.Values{"csrf": {csrfOf(t, bodyOf(t, get(e, page, c)))}, "back": {back}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return f
}

func (e *env) post(path string, c *http.Cookie, form url.Values) *response {
	e.t.Helper()
	return e.do(req{method: "POST", path: path, cookies: []*http.Cookie{c}, form: form})
}

// follow gets the page a 303 sends to, with the cookies it set (the
// flash), and returns its body.
func (e *env) follow(res *response, c *http.Cookie) string {
	e.t.Helper()
	cookies := []*http.Cookie{c}
	if f := cookieNamed(res, "slipway_flash"); f != nil {
		cookies = append(cookies, f)
	}
	return bodyOf(e.t, e.do(req{method: "GET", path: res.Header.Get("Location"), cookies: cookies}))
}

const (
	running = "/ui/t/one/d/20250601-115000-runningaaa"
	asking  = "/ui/t/one/d/20250601-114000-askingcccc"
)

// Ensure an answer from the page is recorded as the session's credential
// from the ui, goes back to the page (303) with the result as a flash
// that is shown once and gets the focus; a second answer gets the
// conflict naming who answered, when and what.
func TestAnswer_RecordedThenConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tool := e.signin(e.toolToken)
	res := e.post("/ui/t/one/q/"+qGate+"/answer", tool, answerForm(t, e, tool, running, "deployment", "value", "continue", "comment", "go <now>"))
	wantRedirect(t, "answer", res, running)
	page := e.follow(res, tool)
	if !strings.Contains(page, `<p id="flash" class="message" role="status" tabindex="-1"><span aria-hidden="true">✓</span> Your answer “continue” to question `+qGate+` was recorded: answered “continue” by tool-token:`+e.toolID) {
		t.Errorf("no flash saying the answer was recorded:\n%s", page)
	}
	if len(e.svc.answers) != 1 {
		t.Fatalf("answers = %+v", e.svc.answers)
	}
	a := e.svc.answers[0]
	if a.Actor.Name != "tool-token:"+e.toolID || a.Actor.Tool != "one" || a.Answer.Source != "ui" || a.Answer.Comment != "go <now>" {
		t.Errorf("answer taken as %+v", a)
	}
	if again := bodyOf(t, get(e, running, tool)); strings.Contains(again, `id="flash"`) {
		t.Error("the flash is shown twice")
	}

	res = e.post("/ui/t/one/q/"+qGate+"/answer", tool, answerForm(t, e, tool, "/ui/t/one/q/"+qGate, "question", "value", "stop"))
	wantRedirect(t, "second answer", res, "/ui/t/one/q/"+qGate)
	page = e.follow(res, tool)
	if !strings.Contains(page, `role="alert" tabindex="-1"><span aria-hidden="true">✗</span> Already answered “continue” by tool-token:`+e.toolID+` at 2025-06-01 12:00:00 UTC: your answer was not recorded.`) {
		t.Errorf("no conflict message:\n%s", page)
	}
	if len(e.svc.answers) != 1 {
		t.Errorf("the second answer was taken: %+v", e.svc.answers)
	}
}

// Ensure a refused answer (403 from the service: the initiator of a
// forbid_initiator gate) goes back with the reason, and the page tells
// before answering why this session cannot; a forged flash is not shown.
func TestAnswer_Forbidden(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.signin(adminToken) // the running deployment was started by an admin session
	page := bodyOf(t, get(e, running, admin))
	if !strings.Contains(page, "You cannot answer: you started this deployment") || strings.Contains(page, `action="/ui/t/one/q/`+qGate+`/answer"`) {
		t.Errorf("the page offers the initiator the form, or does not say why not")
	}
	res := e.post("/ui/t/one/q/"+qGate+"/answer", admin, answerForm(t, e, admin, running, "deployment", "value", "continue"))
	wantRedirect(t, "refused answer", res, running)
	if page := e.follow(res, admin); !strings.Contains(page, "You may not answer question "+qGate+": you started this deployment") {
		t.Errorf("no reason shown:\n%s", page)
	}
	if log := e.svc.qlog[qGate]; log[len(log)-1].Kind != slipway.LogRefused {
		t.Errorf("the refusal is not logged: %+v", log)
	}
	forged := &http.Cookie{Name: "slipway_flash", Value: "b2sKWW91IHdvbg.AAAAAAAAAAAAAAAAAAAAAA"}
	if page := bodyOf(t, e.do(req{method: "GET", path: running, cookies: []*http.Cookie{admin, forged}})); strings.Contains(page, `id="flash"`) {
		t.Error("a forged flash is shown")
	}
}

// Ensure an invalid answer shows the same page again with 422, the
// problem next to the form and what was typed kept; nothing is recorded.
func TestAnswer_InvalidKeepsWhatWasTyped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tool := e.signin(e.toolToken)
	for _, tc := range []struct {
		name, path, back string
		form             []string
		says, keeps      string
	}{
		{"unknown option", running, "deployment", []string{"value", "maybe", "comment", "typed <text>"}, "&#34;maybe&#34; is not an answer", "typed &lt;text&gt;"},
		{"missing required field", "/ui/t/one/q/" + qFields, "question", []string{"f.tables", "", "f.mode", "offline", "f.backup", "false", "comment", "no tables"}, "tables: required", `<option value="offline" selected>`},
		{"select not an option", "/ui/questions", "inbox", []string{"f.tables", "users", "f.mode", "sideways"}, "mode: &#34;sideways&#34; is not one of online, offline", `value="users"`},
		{"huge comment", running, "deployment", []string{"value", "continue", "comment", strings.Repeat("c", 5000)}, "comment: at most 4096 bytes", ""},
	} {
		id := qGate
		if tc.form[0] == "f.tables" {
			id = qFields
		}
		res := e.post("/ui/t/one/q/"+id+"/answer", tool, answerForm(t, e, tool, tc.path, tc.back, tc.form...))
		body := wantStatus(t, tc.name, res, http.StatusUnprocessableEntity)
		if !strings.Contains(body, `id="`) || !strings.Contains(body, "Your answer was not taken: ") || !strings.Contains(body, tc.says) || !strings.Contains(body, tc.keeps) {
			t.Errorf("%s: page does not show the problem %q next to the form, or lost %q:\n%s", tc.name, tc.says, tc.keeps, body)
		}
	}
	if len(e.svc.answers) != 0 {
		t.Errorf("invalid answers were taken: %+v", e.svc.answers)
	}
	// A form over the size limit is a 413 page.
	big := answerForm(t, e, tool, running, "deployment", "value", "continue", "comment", strings.Repeat("c", 100_000))
	if body := wantStatus(t, "huge form", e.post("/ui/t/one/q/"+qGate+"/answer", tool, big), http.StatusRequestEntityTooLarge); !strings.Contains(body, "too large") {
		t.Errorf("huge form: page does not say why:\n%s", body)
	}
}

// Ensure fields are answered as typed: a boolean checkbox unchecked is
// false (not its default), and the answer counts towards the quorum.
func TestAnswer_Fields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tool := e.signin(e.toolToken)
	res := e.post("/ui/t/one/q/"+qFields+"/answer", tool, answerForm(t, e, tool, "/ui/questions", "inbox", "f.tables", "users, orders", "f.mode", "offline", "f.backup", "false"))
	wantRedirect(t, "fields", res, "/ui/questions")
	if page := e.follow(res, tool); !strings.Contains(page, "was recorded: 2 of 2") && !strings.Contains(page, "was recorded: answered") {
		t.Errorf("no flash:\n%s", page)
	}
	got := e.svc.answers[0].Answer.Fields
	if got["tables"] != "users, orders" || got["mode"] != "offline" || got["backup"] != "false" {
		t.Errorf("fields = %v", got)
	}
}

// Ensure the question routes refuse what they must: another tool's
// question is 403 for a tool session exactly as a question that does not
// exist, a question of another tool under one's own tool is 404, malformed
// IDs are 404 pages, a POST without the CSRF token is 403 and records
// nothing, a GET of the answer route is 405.
func TestQuestions_CrossToolAndBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tool := e.signin(e.toolToken)
	exists := wantStatus(t, "another tool's question", get(e, "/ui/t/two/q/"+qTwo, tool), http.StatusForbidden)
	missing := wantStatus(t, "another tool, no such question", get(e, "/ui/t/two/q/q-0000000000000fff", tool), http.StatusForbidden)
	if exists != missing {
		t.Errorf("another tool's question and a missing one differ:\n%s\n---\n%s", exists, missing)
	}
	csrf := csrfOf(t, bodyOf(t, get(e, "/ui/questions", tool)))
	wantStatus(t, "answer another tool's", e.post("/ui/t/two/q/"+qTwo+"/answer", tool, url.Values{"csrf": {csrf}, "value": {"continue"}}), http.StatusForbidden)
	wantStatus(t, "two's question under one", get(e, "/ui/t/one/q/"+qTwo, tool), http.StatusNotFound)
	wantStatus(t, "answer two's under one", e.post("/ui/t/one/q/"+qTwo+"/answer", tool, url.Values{"csrf": {csrf}, "value": {"continue"}}), http.StatusNotFound)
	for _, id := range []string{"q-0000000000000fff", "nope", url.PathEscape("q-<script>"), "q-" + strings.Repeat("a", 5000)} {
		body := wantStatus(t, "question "+id, get(e, "/ui/t/one/q/"+id, tool), http.StatusNotFound)
		if strings.Contains(body, "<script>") || !strings.Contains(body, "<main") {
			t.Errorf("question %s: no clean error page:\n%s", id, body)
		}
		wantStatus(t, "answer "+id, e.post("/ui/t/one/q/"+id+"/answer", tool, url.Values{"csrf": {csrf}, "value": {"continue"}}), http.StatusNotFound)
	}
	if body := wantStatus(t, "no CSRF", e.post("/ui/t/one/q/"+qGate+"/answer", tool, url.Values{"value": {"continue"}}), http.StatusForbidden); !strings.Contains(body, "security token") {
		t.Errorf("no CSRF: page does not say why:\n%s", body)
	}
	wantStatus(t, "GET answer", get(e, "/ui/t/one/q/"+qGate+"/answer", tool), http.StatusMethodNotAllowed)
	if len(e.svc.answers) != 0 {
		t.Errorf("answers taken: %+v", e.svc.answers)
	}
	// The inbox shows a tool session its own tool's questions only.
	inbox := bodyOf(t, get(e, "/ui/questions", tool))
	if strings.Contains(inbox, qTwo) || !strings.Contains(inbox, qGate) {
		t.Errorf("a tool's inbox shows another tool's question, or not its own:\n%s", inbox)
	}
	wantStatus(t, "inbox without a session", get(e, "/ui/questions/live"), http.StatusUnauthorized)
}

// Ensure the inbox's stream sends the list and the header's count at
// once, then again when the list changes (a question answered), read by
// polling the service.
func TestInbox_Live(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.signin(adminToken)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/ui/questions/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.AddCookie(admin)
	res, err := srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("inbox live: %d %v", res.StatusCode, res.Header)
	}
	rd := bufio.NewReader(res.Body)
	next := func() string {
		t.Helper()
		var b strings.Builder
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended: %v (so far %q)", err, b.String())
			}
			if line == "\n" && b.Len() > 0 {
				return b.String()
			}
			b.WriteString(line)
		}
	}
	first := next()
	if !strings.Contains(first, "id: 1\n") || !strings.Contains(first, `id="inbox-list"`) || strings.Count(first, "<section ") != 4 {
		t.Fatalf("first message: want the list of 4 open questions:\n%s", first)
	}
	if !strings.Contains(first, `<a href="/ui/questions" id="questions-link" aria-current="page">Questions <span class="badge">4<`) {
		t.Errorf("first message: want the header's link counting 4:\n%s", first)
	}
	e.svc.mu.Lock()
	e.svc.questions[qTwo].State = slipway.QuestionAnswered
	e.svc.mu.Unlock()
	second := next()
	if !strings.Contains(second, "id: 2\n") || strings.Contains(second, qTwo) || strings.Count(second, "<section ") != 3 {
		t.Errorf("second message: want the list without %s:\n%s", qTwo, second)
	}
	if !strings.Contains(second, `id="questions-link" aria-current="page">Questions <span class="badge">3<`) {
		t.Errorf("second message: want the header's link counting 3:\n%s", second)
	}
}
