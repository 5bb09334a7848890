package web_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Ensure signing in with the admin token opens a session whose cookie
// has the right flags, and signing out ends it.
func TestSignin_AdminInAndOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.trySignin(adminToken, "")
	wantRedirect(t, "sign in", res, "/ui/")
	c := cookieNamed(res, "slipway_session")
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP", c)
	}
	page := wantStatus(t, "tools", get(e, "/ui/", c), http.StatusOK)
	res = e.do(req{method: "POST", path: "/ui/signout", cookies: []*http.Cookie{c}, form: url.Values{"csrf": {csrfOf(t, page)}}})
	wantRedirect(t, "sign out", res, "/ui/signin")
	if gone := cookieNamed(res, "slipway_session"); gone == nil || gone.MaxAge >= 0 {
		t.Errorf("sign out: session cookie not deleted: %+v", gone)
	}
	wantRedirect(t, "tools after sign-out", get(e, "/ui/", c), "/ui/signin")
}

// Ensure over TLS the cookie is Secure and named with the __Host- prefix.
func TestSignin_TLSCookie(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	page := httptest.NewRequestWithContext(t.Context(), "GET", "https://slipway.example/ui/signin", nil)
	page.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, page)
	form := cookieNamed(record(t, rec), "__Host-slipway_signin")
	if form == nil || !form.Secure {
		t.Fatalf("sign-in form cookie over TLS = %+v", form)
	}
	post := httptest.NewRequestWithContext(t.Context(), "POST", "https://slipway.example/ui/signin",
		strings.NewReader(url.Values{"csrf": {form.Value}, "token": {adminToken}}.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	post.TLS = &tls.ConnectionState{}
	post.AddCookie(form)
	rec = httptest.NewRecorder()
	e.h.ServeHTTP(rec, post)
	c := cookieNamed(record(t, rec), "__Host-slipway_session")
	if c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" {
		t.Fatalf("session cookie over TLS = %+v (status %d)", c, rec.Code)
	}
}

// Ensure a tool's API token opens a session that lands on its tool and
// sees nothing of another tool: pages and live stream 403, the same for a
// tool that exists and one that does not.
func TestSignin_ToolSessionSeesOnlyItsTool(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.trySignin(e.toolToken, "")
	wantRedirect(t, "sign in", res, "/ui/t/one/")
	c := cookieNamed(res, "slipway_session")
	wantRedirect(t, "start page", get(e, "/ui/", c), "/ui/t/one/")
	wantStatus(t, "own tool", get(e, "/ui/t/one/", c), http.StatusOK)
	var bodies []string
	for _, path := range []string{
		"/ui/t/two/", "/ui/t/nosuchtool/", "/ui/t/two/d/", "/ui/t/two/config",
		"/ui/t/two/d/20250601-115000-runningaaa/live", "/ui/t/two/b/x/logs/live", "/ui/t/Bad_Name/",
		"/ui/t/two/releases", "/ui/t/two/releases?live=" + liveCommit, "/ui/t/two/releases?when=" + liveCommit,
		"/ui/t/two/environments", "/ui/t/two/environments/production/promote", "/ui/t/two/releases/notes",
	} {
		body := wantStatus(t, path, get(e, path, c), http.StatusForbidden)
		bodies = append(bodies, strings.ReplaceAll(body, strings.Split(path, "/")[3], "T"))
	}
	if bodies[0] != bodies[1] {
		t.Errorf("a tool that exists and one that does not answer differently:\n%s\n---\n%s", bodies[0], bodies[1])
	}
	res = e.do(req{
		method: "POST", path: "/ui/t/two/deploy", cookies: []*http.Cookie{c},
		form: url.Values{"csrf": {csrfOf(t, bodyOf(t, get(e, "/ui/t/one/", c)))}},
	})
	wantStatus(t, "deploy another tool", res, http.StatusForbidden)
	res = e.do(req{
		method: "POST", path: "/ui/t/two/environments/production/promote", cookies: []*http.Cookie{c},
		form: url.Values{"csrf": {csrfOf(t, bodyOf(t, get(e, "/ui/t/one/", c)))}},
	})
	wantStatus(t, "promote another tool", res, http.StatusForbidden)
	if len(e.svc.promoted) != 0 {
		t.Errorf("another tool was promoted: %+v", e.svc.promoted)
	}
	if len(e.svc.created) != 0 {
		t.Errorf("a deployment of another tool was created: %+v", e.svc.created)
	}
	// The admin sees every tool, and learns that an unknown one is unknown.
	admin := e.signin(adminToken)
	wantStatus(t, "admin, other tool", get(e, "/ui/t/two/", admin), http.StatusOK)
	wantStatus(t, "admin, unknown tool", get(e, "/ui/t/nosuchtool/", admin), http.StatusNotFound)
}

// Ensure the JSON API never takes the session cookie as a credential.
func TestSignin_APIRefusesSessionCookie(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(adminToken)
	for _, path := range []string{"/components/v1/tool/one/deployment", "/v1/admin/tokens"} {
		res := get(e, path, c)
		if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("GET %s with the session cookie: %d %s, want a 401 JSON envelope", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
}

// Ensure a wrong token, the metrics token (nobody), an empty one and a
// huge one are refused with a message, and a sign-in form without its
// token is refused.
func TestSignin_Refusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tok := range []string{"wrong", "", strings.Repeat("x", 5000), e.toolToken + "x"} {
		body := wantStatus(t, "token "+tok[:min(len(tok), 8)], e.trySignin(tok, "198.51.100."+string(rune('1'+len(tok)%8))+":1"), http.StatusUnauthorized)
		if !strings.Contains(body, "That is not a valid token") {
			t.Errorf("no message:\n%s", body)
		}
	}
	res := e.do(req{method: "POST", path: "/ui/signin", form: url.Values{"token": {adminToken}}})
	wantStatus(t, "sign-in without its form token", res, http.StatusForbidden)
}

// Ensure a session ends after 2 hours without use, and after 12 hours in
// all however much it is used; both go to the sign-in page saying why.
func TestSession_IdleAndAbsoluteExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(adminToken)
	e.clock.add(2*time.Hour - time.Second)
	wantStatus(t, "just before the idle limit", get(e, "/ui/", c), http.StatusOK)
	e.clock.add(2 * time.Hour)
	loc := wantRedirect(t, "idle", get(e, "/ui/t/one/", c), "/ui/signin?")
	if !strings.Contains(loc, "next=%2Fui%2Ft%2Fone%2F") || !strings.Contains(loc, "why=idle") {
		t.Errorf("idle redirect %q does not come back here or say why", loc)
	}

	c = e.signin(adminToken)
	for range 11 {
		e.clock.add(time.Hour)
		wantStatus(t, "used every hour", get(e, "/ui/", c), http.StatusOK)
	}
	e.clock.add(time.Hour)
	loc = wantRedirect(t, "after 12 hours", get(e, "/ui/", c), "/ui/signin?")
	if !strings.Contains(loc, "why=expired") {
		t.Errorf("expiry redirect %q does not say why", loc)
	}
	// A POST of an expired session does nothing and goes to sign in too.
	res := e.do(req{method: "POST", path: "/ui/t/one/deploy", cookies: []*http.Cookie{c}, form: url.Values{"csrf": {"x"}}})
	wantRedirect(t, "deploy with an expired session", res, "/ui/signin")
	if len(e.svc.created) != 0 {
		t.Errorf("created = %+v", e.svc.created)
	}
}

// Ensure revoking the API token a session was opened with ends the
// session at once.
func TestSession_RevokedTokenEndsIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(e.toolToken)
	wantStatus(t, "before revoke", get(e, "/ui/t/one/", c), http.StatusOK)
	res := e.do(req{method: "DELETE", path: "/v1/admin/tokens/" + e.toolID, header: map[string]string{"Authorization": "Bearer " + adminToken}})
	wantStatus(t, "revoke", res, http.StatusOK)
	wantRedirect(t, "after revoke", get(e, "/ui/t/one/", c), "/ui/signin")
}

// Ensure five failed sign-ins from one address in ten minutes lock it
// out for fifteen, even with a good token, saying so; other addresses
// are not locked.
func TestSignin_RateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const bad = "203.0.113.9:4000"
	for i := range 4 {
		wantStatus(t, "failure", e.trySignin("wrong", bad), http.StatusUnauthorized)
		e.clock.add(time.Minute)
		_ = i
	}
	body := wantStatus(t, "fifth failure", e.trySignin("wrong", bad), http.StatusTooManyRequests)
	if !strings.Contains(body, "Too many failed sign-ins") || !strings.Contains(body, "15 minutes") {
		t.Errorf("no clear lockout message:\n%s", body)
	}
	wantStatus(t, "good token while locked", e.trySignin(adminToken, bad), http.StatusTooManyRequests)
	wantRedirect(t, "another address", e.trySignin(adminToken, "203.0.113.10:4000"), "/ui/")
	e.clock.add(15 * time.Minute)
	wantRedirect(t, "after the lockout", e.trySignin(adminToken, bad), "/ui/")

	// Failures spread wider than ten minutes never lock.
	const slow = "203.0.113.11:4000"
	for range 8 {
		wantStatus(t, "slow failure", e.trySignin("wrong", slow), http.StatusUnauthorized)
		e.clock.add(3 * time.Minute)
	}
}

// Ensure "continue as" takes a trusted proxy's tool header, and that the
// session it opens holds only while requests still carry it.
func TestSignin_ContinueAsProxyTool(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const proxy = "192.0.2.1:5000"
	hdr := map[string]string{"X-Toolforge-Tool": "two"}
	page := e.do(req{method: "GET", path: "/ui/signin", remote: proxy, header: hdr})
	form := cookieNamed(page, "slipway_signin")
	if body := bodyOf(t, page); !strings.Contains(body, "Continue as tool two (trusted proxy)") {
		t.Fatalf("sign-in page offers no continue-as:\n%s", body)
	}
	res := e.do(req{
		method: "POST", path: "/ui/signin", remote: proxy, header: hdr, cookies: []*http.Cookie{form},
		form: url.Values{"csrf": {form.Value}, "ambient": {"1"}},
	})
	wantRedirect(t, "continue as", res, "/ui/t/two/")
	c := cookieNamed(res, "slipway_session")
	wantStatus(t, "with the header", e.do(req{method: "GET", path: "/ui/t/two/", remote: proxy, header: hdr, cookies: []*http.Cookie{c}}), http.StatusOK)
	wantRedirect(t, "without the header", e.do(req{method: "GET", path: "/ui/t/two/", remote: proxy, cookies: []*http.Cookie{c}}), "/ui/signin")
	// From an untrusted address the header is nobody.
	page = e.do(req{method: "GET", path: "/ui/signin", remote: "198.51.100.7:1", header: hdr})
	if strings.Contains(bodyOf(t, page), "Continue as") {
		t.Error("an untrusted address is offered continue-as")
	}
}

// Ensure an unsafe request without the session's CSRF token, or with a
// wrong one, is refused with 403 and does nothing; the token works as a
// form field and as app.js's header.
func TestCSRF_TokenRequired(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(adminToken)
	csrf := csrfOf(t, bodyOf(t, get(e, "/ui/t/one/config", c)))
	for name, r := range map[string]req{
		"no token":    {form: url.Values{}},
		"wrong token": {form: url.Values{"csrf": {csrf + "x"}}},
		"empty token": {form: url.Values{"csrf": {""}}},
	} {
		r.method, r.path, r.cookies = "POST", "/ui/t/one/deploy", []*http.Cookie{c}
		if body := wantStatus(t, name, e.do(r), http.StatusForbidden); !strings.Contains(body, "security token") {
			t.Errorf("%s: page does not say why:\n%s", name, body)
		}
	}
	if len(e.svc.created) != 0 {
		t.Fatalf("a deployment was created without a valid token: %+v", e.svc.created)
	}
	// Another session's token is no good either.
	other := e.signin(adminToken)
	otherCSRF := csrfOf(t, bodyOf(t, get(e, "/ui/", other)))
	wantStatus(t, "another session's token", e.do(req{
		method: "POST", path: "/ui/t/one/deploy", cookies: []*http.Cookie{c},
		form: url.Values{"csrf": {otherCSRF}},
	}), http.StatusForbidden)

	wantRedirect(t, "form field", e.do(req{
		method: "POST", path: "/ui/t/one/deploy", cookies: []*http.Cookie{c},
		form: url.Values{"csrf": {csrf}},
	}), "/ui/t/one/d/")
	wantRedirect(t, "header", e.do(req{
		method: "POST", path: "/ui/t/one/deploy", cookies: []*http.Cookie{c},
		form: url.Values{}, header: map[string]string{"X-CSRF-Token": csrf},
	}), "/ui/t/one/d/")
	if len(e.svc.created) != 2 {
		t.Errorf("created %d deployments, want 2", len(e.svc.created))
	}
}

// Ensure a cross-origin POST is refused (403) even with a valid session
// and token: the browser's Sec-Fetch-Site, or an Origin that is not the
// host.
func TestCSRF_CrossOriginRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(adminToken)
	csrf := csrfOf(t, bodyOf(t, get(e, "/ui/t/one/config", c)))
	for name, hdr := range map[string]map[string]string{
		"cross-site": {"Sec-Fetch-Site": "cross-site"},
		"same-site":  {"Sec-Fetch-Site": "same-site"},
		"origin":     {"Origin": "http://evil.example"},
	} {
		res := e.do(req{method: "POST", path: "/ui/t/one/deploy", cookies: []*http.Cookie{c}, header: hdr, form: url.Values{"csrf": {csrf}}})
		if body := wantStatus(t, name, res, http.StatusForbidden); !strings.Contains(body, "another site") {
			t.Errorf("%s: page does not say why:\n%s", name, body)
		}
	}
	// The sign-in form, too.
	res := e.do(req{method: "POST", path: "/ui/signin", header: map[string]string{"Sec-Fetch-Site": "cross-site"}, form: url.Values{"token": {adminToken}}})
	wantStatus(t, "cross-site sign-in", res, http.StatusForbidden)
	if len(e.svc.created) != 0 {
		t.Errorf("created = %+v", e.svc.created)
	}
	wantRedirect(t, "same-origin", e.do(req{
		method: "POST", path: "/ui/t/one/deploy", cookies: []*http.Cookie{c},
		header: map[string]string{"Sec-Fetch-Site": "same-origin"}, form: url.Values{"csrf": {csrf}},
	}), "/ui/t/one/d/")
}
