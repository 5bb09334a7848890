package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Ensure the notifications, push webhook and named releases pages are
// tool-scoped: a tool session gets 403 on another tool's pages and
// actions (known or not) and changes nothing there; the admin asking for
// tool one's subscription or delivery under tool two finds nothing.
func TestToolPages_OtherTool(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.signin(adminToken)
	page := get(e, "/ui/t/one/notifications", admin).Body
	secretOf(t, e.do(req{
		method: "POST", path: "/ui/t/one/notifications", cookies: []*http.Cookie{admin},
		form: url.Values{"csrf": {csrfOf(t, page)}, "kind": {"webhook"}, "target": {"https://203.0.113.7/one"}},
	}).Body)
	subs, err := e.notify.List(t.Context(), "one")
	if err != nil || len(subs) != 1 {
		t.Fatalf("subscriptions %+v, %v", subs, err)
	}
	sub := subs[0].ID

	c := e.signin(e.toolToken)
	csrf := csrfOf(t, get(e, "/ui/t/one/", c).Body)
	for _, tool := range []string{"two", "nosuchtool"} {
		for _, r := range []req{
			{method: "GET", path: "/ui/t/" + tool + "/notifications"},
			{method: "GET", path: "/ui/t/" + tool + "/notifications/s/" + sub + "/remove"},
			{method: "GET", path: "/ui/t/" + tool + "/notifications/d/nd-00000000000000000001"},
			{method: "GET", path: "/ui/t/" + tool + "/webhook"},
			{method: "GET", path: "/ui/t/" + tool + "/cuts"},
			{method: "GET", path: "/ui/t/" + tool + "/cuts/2026.12.1"},
			{method: "POST", path: "/ui/t/" + tool + "/notifications", form: url.Values{"kind": {"email"}, "target": {"ops@example.org"}}},
			{method: "POST", path: "/ui/t/" + tool + "/notifications/s/" + sub + "/remove"},
			{method: "POST", path: "/ui/t/" + tool + "/notifications/d/nd-00000000000000000001/redeliver"},
			{method: "POST", path: "/ui/t/" + tool + "/webhook/rotate"},
			{method: "POST", path: "/ui/t/" + tool + "/webhook/delete"},
			{method: "POST", path: "/ui/t/" + tool + "/cuts", form: url.Values{"name": {"2027.1.1"}, "branch": {"main"}}},
			{method: "POST", path: "/ui/t/" + tool + "/cuts/2026.12.2/freeze"},
		} {
			r.cookies = []*http.Cookie{c}
			if r.method == "POST" {
				if r.form == nil {
					r.form = url.Values{}
				}
				r.form.Set("csrf", csrf)
			}
			body := wantStatus(t, r.method+" "+r.path, e.do(r), http.StatusForbidden)
			if strings.Contains(body, `id="secret"`) {
				t.Errorf("%s %s shows a secret", r.method, r.path)
			}
		}
	}
	if subs, _ := e.notify.List(t.Context(), "two"); len(subs) != 0 {
		t.Errorf("tool two got subscriptions: %+v", subs)
	}
	if wh, _, _ := e.hooks.Get(t.Context(), "two"); wh.Configured {
		t.Error("tool two got a webhook secret")
	}
	if subs, _ := e.notify.List(t.Context(), "one"); len(subs) != 1 {
		t.Errorf("tool one's subscription is gone: %+v", subs)
	}

	wantStatus(t, "admin: one's subscription under two", get(e, "/ui/t/two/notifications/s/"+sub+"/remove", admin), http.StatusNotFound)
	res := e.do(req{method: "POST", path: "/ui/t/two/notifications/s/" + sub + "/remove", cookies: []*http.Cookie{admin}, form: url.Values{"csrf": {csrfOf(t, page)}}})
	if body := get(e, wantRedirect(t, "admin: remove under two", res, "/ui/t/two/notifications"), append([]*http.Cookie{admin}, res.Cookies()...)...).Body; !strings.Contains(body, "Tool two has no notification subscription "+sub) {
		t.Errorf("removing one's subscription under two:\n%s", body)
	}
	if subs, _ := e.notify.List(t.Context(), "one"); len(subs) != 1 {
		t.Errorf("tool one's subscription was removed under tool two")
	}
	wantStatus(t, "admin: two's cuts", get(e, "/ui/t/two/cuts/2026.12.1", admin), http.StatusNotFound)
	if cs, _ := e.cuts.CutList(t.Context(), "two"); len(cs) != 0 {
		t.Errorf("tool two got cuts: %+v", cs)
	}
	if c, _ := e.cuts.CutGet(t.Context(), "one", "2026.12.2"); c.State != "mutable" {
		t.Errorf("tool one's cut was frozen from tool two's page")
	}
}
