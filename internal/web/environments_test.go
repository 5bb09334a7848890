package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Ensure the environments page lists each environment with what runs
// there and its health, links to the promotion of the one with an
// upstream, and the promotion page shows the commits (escaped), the
// config change and the plan before a POST with the CSRF token promotes,
// as the signed-in identity, and lands on the new deployment.
func TestEnvironments_PreviewAndPromote(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(e.toolToken)
	if body := wantStatus(t, "overview", get(e, "/ui/t/one/", c), http.StatusOK); !strings.Contains(body, `href="/ui/t/one/environments"`) {
		t.Errorf("the overview does not link to the environments page:\n%s", body)
	}
	body := wantStatus(t, "environments", get(e, "/ui/t/one/environments", c), http.StatusOK)
	for _, want := range []string{"one--staging", "promoted from staging", "crashloop (exit 1)", `href="/ui/t/one/environments/production/promote"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the environments page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, `/ui/t/one/environments/staging/promote`) {
		t.Errorf("staging, which has no upstream, offers a promotion:\n%s", body)
	}
	body = wantStatus(t, "preview", get(e, "/ui/t/one/environments/production/promote", c), http.StatusOK)
	for _, want := range []string{"fix: &lt;escape&gt; &amp; friends", "feat: dark mode", "replicas: 1 → 3", "promotion from staging", "Promote staging to production"} {
		if !strings.Contains(body, want) {
			t.Errorf("the promotion page lacks %q:\n%s", want, body)
		}
	}
	if len(e.svc.promoted) != 0 {
		t.Fatalf("the preview promoted: %+v", e.svc.promoted)
	}
	res := e.do(req{method: "POST", path: "/ui/t/one/environments/production/promote", cookies: []*http.Cookie{c}, form: url.Values{"csrf": {csrfOf(t, body)}}})
	wantRedirect(t, "promote", res, "/ui/t/one/d/20250601-120500-promotedaa")
	if len(e.svc.promoted) != 1 || e.svc.promoted[0].Actor != "tool-token:"+e.toolID || e.svc.promoted[0].Trigger != "ui" {
		t.Errorf("promotions = %+v, want one by the session's token", e.svc.promoted)
	}
}

// Ensure bad input on the environments pages gets a page that says what
// is wrong, never a 500 and never a promotion: an environment name that
// cannot be one, an environment without an upstream, a promotion the
// service refuses (its reason shown), a POST without the CSRF token.
func TestEnvironments_BadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(adminToken)
	csrf := csrfOf(t, bodyOf(t, get(e, "/ui/t/one/", c)))
	for _, tc := range []struct {
		name, method, path string
		status             int
		says               string
	}{
		{"bad name", "GET", "/ui/t/one/environments/Bad-Env/promote", 404, "There is no environment"},
		{"bad name, POST", "POST", "/ui/t/one/environments/" + strings.Repeat("x", 300) + "/promote", 404, "There is no environment"},
		{"no upstream", "GET", "/ui/t/one/environments/staging/promote", 404, "has no environment"},
		{"unknown tool", "GET", "/ui/t/nosuchtool/environments", 404, "There is no tool named"},
	} {
		r := req{method: tc.method, path: tc.path, cookies: []*http.Cookie{c}}
		if tc.method == "POST" {
			r.form = url.Values{"csrf": {csrf}}
		}
		if body := wantStatus(t, tc.name, e.do(r), tc.status); !strings.Contains(body, tc.says) {
			t.Errorf("%s: the page lacks %q:\n%s", tc.name, tc.says, body)
		}
	}
	e.svc.mu.Lock()
	e.svc.promoteConflict = "Cannot promote staging to production: web is unhealthy in staging: crashloop."
	e.svc.mu.Unlock()
	for _, r := range []req{
		{method: "GET", path: "/ui/t/one/environments/production/promote", cookies: []*http.Cookie{c}},
		{method: "POST", path: "/ui/t/one/environments/production/promote", cookies: []*http.Cookie{c}, form: url.Values{"csrf": {csrf}}},
	} {
		if body := wantStatus(t, "refused "+r.method, e.do(r), http.StatusConflict); !strings.Contains(body, "web is unhealthy in staging") {
			t.Errorf("refused %s: the reason is not shown:\n%s", r.method, body)
		}
	}
	wantStatus(t, "no CSRF token", e.do(req{method: "POST", path: "/ui/t/one/environments/production/promote", cookies: []*http.Cookie{c}, form: url.Values{}}), http.StatusForbidden)
	if len(e.svc.promoted) != 0 {
		t.Errorf("promotions were made: %+v", e.svc.promoted)
	}
}
