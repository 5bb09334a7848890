package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// Ensure every page renders as its golden file: the layout, the
// landmarks, state as icon and text, the forms with their CSRF token, and
// text from tools and their configs escaped.
func TestPages_Golden(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	signin := get(e, "/ui/signin?next=/ui/t/one/&why=expired")
	golden(t, "signin", wantStatus(t, "sign-in page", signin, http.StatusOK))

	admin := e.signin(adminToken)
	for _, tc := range []struct{ name, path string }{
		{"tools", "/ui/"},
		{"tool", "/ui/t/one/"},
		{"tool-empty", "/ui/t/two/"},
		{"deployments", "/ui/t/one/d/"},
		{"deployment-running", "/ui/t/one/d/20250601-115000-runningaaa"},
		{"deployment-final", "/ui/t/one/d/20250601-100000-finishedbb"},
		{"config", "/ui/t/one/config"},
		{"config-none", "/ui/t/two/config"},
		{"plan", "/ui/t/one/plan"},
		{"build-log", "/ui/t/one/b/9b0d44aa-1a2b3c4d/logs"},
		{"job-log", "/ui/t/one/j/web/logs"},
		{"deployment-asking", "/ui/t/one/d/20250601-114000-askingcccc"},
		{"question-gate", "/ui/t/one/q/" + qGate},
		{"question-fields", "/ui/t/one/q/" + qFields},
		{"question-options", "/ui/t/one/q/" + qMany},
		{"question-settled", "/ui/t/one/q/" + qSettled},
		{"inbox", "/ui/questions"},
		{"releases", "/ui/t/one/releases"},
		{"releases-live", "/ui/t/one/releases?live=" + fixCommit},
		{"releases-when", "/ui/t/one/releases?when=" + fixCommit},
		{"notes", "/ui/t/one/releases/notes?from=1&to=2"},
		{"environments", "/ui/t/one/environments"},
		{"promote", "/ui/t/one/environments/production/promote"},
	} {
		body := wantStatus(t, tc.name, get(e, tc.path, admin), http.StatusOK)
		golden(t, tc.name, body)
	}
	golden(t, "releases-invalid", wantStatus(t, "a short commit", get(e, "/ui/t/one/releases?live=9b0d44", admin), http.StatusUnprocessableEntity))
	golden(t, "error-404", wantStatus(t, "unknown deployment", get(e, "/ui/t/one/d/20250601-115000-nonexisten", admin), http.StatusNotFound))

	tool := e.signin(e.toolToken)
	golden(t, "error-403", wantStatus(t, "another tool", get(e, "/ui/t/two/", tool), http.StatusForbidden))
	golden(t, "inbox-tool", wantStatus(t, "a tool's inbox", get(e, "/ui/questions", tool), http.StatusOK))
	golden(t, "question-gate-tool", wantStatus(t, "a tool's question", get(e, "/ui/t/one/q/"+qGate, tool), http.StatusOK))
}

// Ensure a stored config's repository credential never reaches a page.
func TestPages_ConfigRedactsCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.signin(adminToken)
	body := wantStatus(t, "config", get(e, "/ui/t/one/config", admin), http.StatusOK)
	if strings.Contains(body, "secret") || !strings.Contains(body, "https://***@example.org/one.git") {
		t.Errorf("config page shows the credential or no redacted URL:\n%s", body)
	}
}

// Ensure a log page shows control characters escaped, not raw.
func TestPages_LogEscapesControlCharacters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.signin(adminToken)
	body := wantStatus(t, "log", get(e, "/ui/t/one/b/9b0d44aa-1a2b3c4d/logs", admin), http.StatusOK)
	if strings.Contains(body, "\x1b") || !strings.Contains(body, `\x1b[31mred`) {
		t.Errorf("log page: escape character not shown escaped:\n%s", body)
	}
}

// Ensure Plan and Deploy do what their buttons say: the plan changes
// nothing, Deploy creates a deployment recorded as the session's and goes
// to it (303), and cancel cancels.
func TestPages_DeployAndCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tool := e.signin(e.toolToken)
	page := wantStatus(t, "config", get(e, "/ui/t/one/config", tool), http.StatusOK)
	csrf := csrfOf(t, page)
	wantStatus(t, "plan", get(e, "/ui/t/one/plan", tool), http.StatusOK)
	if len(e.svc.created) != 0 {
		t.Fatalf("plan created deployments: %+v", e.svc.created)
	}
	res := e.do(req{
		method: "POST", path: "/ui/t/one/deploy", cookies: []*http.Cookie{tool},
		form: map[string][]string{"csrf": {csrf}, "description": {"from the UI"}, "force_build": {"1"}},
	})
	wantRedirect(t, "deploy", res, "/ui/t/one/d/20250601-120000-created001")
	if len(e.svc.created) != 1 {
		t.Fatalf("created = %+v, want one deployment", e.svc.created)
	}
	got := e.svc.created[0]
	if got.Trigger != "ui" || got.Actor != "tool-token:"+e.toolID ||
		!got.ForceBuild || got.ForceRun || got.Description != "from the UI" {
		t.Errorf("deploy options = %+v", got)
	}
	res = e.do(req{
		method: "POST", path: "/ui/t/one/d/20250601-115000-runningaaa/cancel", cookies: []*http.Cookie{tool},
		form: map[string][]string{"csrf": {csrf}},
	})
	wantRedirect(t, "cancel", res, "/ui/t/one/d/20250601-115000-runningaaa")
	if len(e.svc.cancelled) != 1 {
		t.Errorf("cancelled = %v", e.svc.cancelled)
	}
	res = e.do(req{
		method: "POST", path: "/ui/t/one/d/20250601-100000-finishedbb/cancel", cookies: []*http.Cookie{tool},
		form: map[string][]string{"csrf": {csrf}},
	})
	if body := wantStatus(t, "cancel of a final deployment", res, http.StatusConflict); !strings.Contains(body, "can&#39;t be cancelled") {
		t.Errorf("conflict page does not say why:\n%s", body)
	}
}
