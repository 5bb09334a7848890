package web_test

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Ensure the named releases pages list the cuts, show one with its
// change requests (escaped, each linked to the question that decides it),
// the notes from another cut, and never the repository's credentials.
func TestCuts_ListAndChangeRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(e.toolToken)
	if body := wantStatus(t, "overview", get(e, "/ui/t/one/", c), http.StatusOK); !strings.Contains(body, `href="/ui/t/one/cuts"`) {
		t.Errorf("the overview does not link to the named releases")
	}
	list := wantStatus(t, "list", get(e, "/ui/t/one/cuts", c), http.StatusOK)
	for _, want := range []string{`href="/ui/t/one/cuts/2026.12.1"`, `href="/ui/t/one/cuts/2026.12.2"`, "release/2026.12.1", "mutable", "frozen"} {
		if !strings.Contains(list, want) {
			t.Errorf("the list lacks %q:\n%s", want, list)
		}
	}
	page := wantStatus(t, "cut", get(e, "/ui/t/one/cuts/2026.12.1", c), http.StatusOK)
	for _, want := range []string{
		"ref: release/2026.12.1", "https://***@example.org/one.git",
		"fix the &lt;script&gt;alert(1)&lt;/script&gt; login", `href="/ui/t/one/q/q-00000000000000c3">Approve or refuse`,
		`href="/ui/t/one/q/q-00000000000000a1">The question`, crPick[:10], "a feature waits for the next release", "hotfix",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the cut's page lacks %q:\n%s", want, page)
		}
	}
	for _, bad := range []string{"<script>alert", "secret@"} {
		if strings.Contains(page, bad) {
			t.Errorf("the cut's page shows %q", bad)
		}
	}
	notes := wantStatus(t, "notes", get(e, "/ui/t/one/cuts/2026.12.1?from=2026.12.2", c), http.StatusOK)
	for _, want := range []string{"diverged", "feat: &lt;b&gt;dark&lt;/b&gt; mode", "picked into 2026.12.2 as", "In 2026.12.2, not in 2026.12.1"} {
		if !strings.Contains(notes, want) {
			t.Errorf("the notes lack %q:\n%s", want, notes)
		}
	}
}

// Ensure bad input and failures on the named releases pages say what is
// wrong, never a 500: a name that cannot be a cut's, an unknown cut, a bad
// or unknown from (next to its field), a git failure reading a mutable
// cut's branch (the stored head, said so) or making notes.
func TestCuts_BadInputAndFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(adminToken)
	for _, tc := range []struct {
		name, path string
		status     int
		says       string
	}{
		{"bad name", "/ui/t/one/cuts/Bad..Name", 404, "There is no named release"},
		{"unknown", "/ui/t/one/cuts/2027.1.1", 404, "has no named release 2027.1.1"},
		{"bad from", "/ui/t/one/cuts/2026.12.1?from=%3Cscript%3E", 422, "from: &#34;&lt;script&gt;&#34; may hold only"},
		{"unknown from", "/ui/t/one/cuts/2026.12.1?from=2027.1.1", 422, "Release 2027.1.1 not found"},
		{"unknown tool", "/ui/t/nosuchtool/cuts", 404, "There is no tool named"},
	} {
		body := wantStatus(t, tc.name, get(e, tc.path, c), tc.status)
		if !strings.Contains(body, tc.says) {
			t.Errorf("%s: the page lacks %q:\n%s", tc.name, tc.says, body)
		}
	}
	e.cuts.mu.Lock()
	e.cuts.branchErr = errors.New("git ls-remote: exit status 128")
	e.cuts.notesErr = errors.New("git log: exit status 128")
	e.cuts.mu.Unlock()
	if body := wantStatus(t, "branch unreadable", get(e, "/ui/t/one/cuts/2026.12.2", c), http.StatusOK); !strings.Contains(body, "could not be read now: the head shown is the last one recorded") || strings.Contains(body, "exit status") {
		t.Errorf("an unreadable branch:\n%s", body)
	}
	if body := wantStatus(t, "notes failed", get(e, "/ui/t/one/cuts/2026.12.1?from=2026.12.2", c), http.StatusBadGateway); !strings.Contains(body, "The notes could not be read from the repository now") {
		t.Errorf("failed notes:\n%s", body)
	}
}

// Ensure a release cut in the page lands on its page with a message, a
// mutable one can be frozen there, and refusals come back with the reason
// (bad name 422 with what was typed, a name taken 409, git failing 502
// without the repository's credentials), never a 500; a POST without the
// CSRF token changes nothing.
func TestCuts_CreateAndFreeze(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(e.toolToken)
	page := wantStatus(t, "list", get(e, "/ui/t/one/cuts", c), http.StatusOK)
	csrf := csrfOf(t, page)
	post := func(path string, form url.Values) *response {
		form.Set("csrf", csrf)
		return e.do(req{method: "POST", path: path, cookies: []*http.Cookie{c}, form: form})
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		says   string
	}{
		{"bad name", url.Values{"name": {"Bad<b>"}, "branch": {"main"}}, 422, "Nothing was cut: Cannot cut: name: &#34;Bad&lt;b&gt;&#34;"},
		{"taken", url.Values{"name": {"2026.12.1"}, "branch": {"main"}}, 409, "has a release 2026.12.1 already"},
		{"git failed", url.Values{"name": {"2027.1.1"}, "branch": {"broken"}}, 502, "Git failed on the repository"},
	} {
		body := wantStatus(t, tc.name, post("/ui/t/one/cuts", tc.form), tc.status)
		if !strings.Contains(body, tc.says) || !strings.Contains(body, `value="`+template.HTMLEscapeString(tc.form.Get("name"))+`"`) {
			t.Errorf("%s: the page lacks %q or what was typed:\n%s", tc.name, tc.says, body)
		}
		if strings.Contains(body, "secret@") || strings.Contains(body, "<b>") {
			t.Errorf("%s: the page shows credentials or unescaped input", tc.name)
		}
	}
	wantStatus(t, "no CSRF", e.do(req{method: "POST", path: "/ui/t/one/cuts", cookies: []*http.Cookie{c}, form: url.Values{"name": {"x1"}, "branch": {"main"}}}), http.StatusForbidden)
	if cs, _ := e.cuts.CutList(t.Context(), "one"); len(cs) != 2 {
		t.Fatalf("refused cuts were stored: %+v", cs)
	}

	res := post("/ui/t/one/cuts", url.Values{"name": {"2027.1.1"}, "branch": {"main"}})
	wantRedirect(t, "cut", res, "/ui/t/one/cuts/2027.1.1")
	body := get(e, "/ui/t/one/cuts/2027.1.1", append([]*http.Cookie{c}, res.Cookies()...)...).Body
	if !strings.Contains(body, "Named release 2027.1.1 cut from main") || !strings.Contains(body, `action="/ui/t/one/cuts/2027.1.1/freeze"`) {
		t.Errorf("the new cut's page:\n%s", body)
	}
	res = post("/ui/t/one/cuts/2027.1.1/freeze", url.Values{})
	body = get(e, wantRedirect(t, "freeze", res, "/ui/t/one/cuts/2027.1.1"), append([]*http.Cookie{c}, res.Cookies()...)...).Body
	if !strings.Contains(body, "frozen at") || strings.Contains(body, "/freeze\"") {
		t.Errorf("after freezing:\n%s", body)
	}
	res = post("/ui/t/one/cuts/2027.1.1/freeze", url.Values{})
	if body := get(e, wantRedirect(t, "freeze again", res, "/ui/t/one/cuts/2027.1.1"), append([]*http.Cookie{c}, res.Cookies()...)...).Body; !strings.Contains(body, "Not frozen: Release 2027.1.1 of one is frozen already") {
		t.Errorf("freezing twice:\n%s", body)
	}
	wantStatus(t, "freeze bad name", post("/ui/t/one/cuts/Bad..x/freeze", url.Values{}), http.StatusNotFound)
}
