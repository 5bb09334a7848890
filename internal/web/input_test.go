package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Ensure every UI response carries the security headers, pages are not
// cached, and neither the pages nor the templates use inline scripts or
// styles (the CSP forbids them).
func TestHeaders_Security(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(adminToken)
	for _, path := range []string{
		"/ui/signin", "/ui/", "/ui/t/one/", "/ui/t/one/d/20250601-115000-runningaaa",
		"/ui/t/one/d/20250601-115000-runningaaa/live", "/ui/nosuchpage", "/ui/static/app.js", "/ui/static/app.css", "/ui/static/dag.css", "/ui/t/one/j/web/logs",
		"/ui/questions", "/ui/t/one/q/" + qGate, "/ui/t/one/d/20250601-114000-askingcccc",
		"/ui/t/one/envvars", "/ui/t/one/envvars/API_KEY", "/ui/t/one/deploy-token", "/ui/tokens",
		"/ui/t/one/releases", "/ui/t/one/releases?live=" + fixCommit + "&when=" + fixCommit,
		"/ui/t/one/environments", "/ui/t/one/environments/production/promote", "/ui/t/one/releases/notes?from=1&to=2",
	} {
		res := get(e, path, c)
		body := bodyOf(t, res)
		h := res.Header
		if h.Get("Content-Security-Policy") != "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'" ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("%s: security headers missing: %v", path, h)
		}
		cache := h.Get("Cache-Control")
		if strings.HasPrefix(path, "/ui/static/") {
			if cache != "no-cache" || h.Get("ETag") == "" {
				t.Errorf("%s: Cache-Control %q ETag %q, want no-cache with an ETag", path, cache, h.Get("ETag"))
			}
		} else if cache != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", path, cache)
		}
		if strings.Contains(h.Get("Content-Type"), "html") {
			for _, inline := range []string{"<script>", "style=", "<style", "onclick", "onload", "onsubmit", "javascript:"} {
				if strings.Contains(body, inline) {
					t.Errorf("%s: inline script or style %q", path, inline)
				}
			}
		}
	}
}

// Ensure bad input gives a clear error page with a fitting status, never a
// panic or a stack: unknown tools and deployments, malformed IDs, huge
// forms, bad numbers, unknown pages, a link that tries to put words on
// the sign-in page or send it elsewhere afterwards.
func TestInput_Bad(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(adminToken)
	csrf := csrfOf(t, bodyOf(t, get(e, "/ui/", c)))
	for _, tc := range []struct {
		name, path string
		status     int
		says       string
	}{
		{"unknown tool", "/ui/t/nosuchtool/", 404, "There is no tool named"},
		{"bad tool name", "/ui/t/" + url.PathEscape("<script>") + "/", 404, "not a tool name"},
		{"unknown deployment", "/ui/t/one/d/20250601-000000-aaaaaaaaaa", 404, "not found"},
		{"malformed deployment id", "/ui/t/one/d/" + url.PathEscape("../../etc"), 404, "deployment IDs look like"},
		{"long deployment id", "/ui/t/one/d/" + strings.Repeat("a", 5000), 404, "deployment IDs look like"},
		{"bad lines", "/ui/t/one/j/web/logs?lines=abc", 400, "lines must be"},
		{"too many lines", "/ui/t/one/j/web/logs?lines=999999", 400, "lines must be"},
		{"unknown page", "/ui/nosuchpage", 404, "There is no page"},
		{"unknown static file", "/ui/static/nope.js", 404, "no such file"},
		{"wrong method", "/ui/t/one/deploy", 405, "does not take"},
		{"bad envvar name", "/ui/t/one/envvars/" + url.PathEscape("<script>"), 404, "Invalid envvar name"},
		{"unknown envvar", "/ui/t/one/envvars/NO_SUCH_VAR", 404, "Envvar NO_SUCH_VAR not found for tool one"},
		{"envvar delete by GET", "/ui/t/one/envvars/API_KEY/delete", 405, "does not take"},
		{"deploy token refresh by GET", "/ui/t/one/deploy-token/refresh", 405, "does not take"},
		{"releases: bad before", "/ui/t/one/releases?before=abc", 400, "before must be a release number"},
		{"releases: negative before", "/ui/t/one/releases?before=-3", 400, "before must be a release number"},
		{"releases: short commit", "/ui/t/one/releases?live=9b0d44", 422, `commit: &#34;9b0d44&#34; is not a full commit SHA`},
		{"releases: empty commit", "/ui/t/one/releases?when=", 422, "is not a full commit SHA"},
		{"releases: markup as a commit", "/ui/t/one/releases?when=" + url.QueryEscape("<script>alert(1)</script>"), 422, "is not a full commit SHA"},
		{"releases: huge commit", "/ui/t/one/releases?live=" + strings.Repeat("a", 100_000), 422, "is not a full commit SHA"},
	} {
		body := wantStatus(t, tc.name, get(e, tc.path, c), tc.status)
		if !strings.Contains(body, tc.says) || !strings.Contains(body, "<main") {
			t.Errorf("%s: no clear error page saying %q:\n%s", tc.name, tc.says, body)
		}
		if strings.Contains(body, "<script>") {
			t.Errorf("%s: unescaped input on the page", tc.name)
		}
	}
	wantStatus(t, "releases by POST", e.do(req{method: "POST", path: "/ui/t/one/releases", cookies: []*http.Cookie{c}, form: url.Values{"csrf": {csrf}}}), http.StatusMethodNotAllowed)
	huge := url.Values{"csrf": {csrf}, "description": {strings.Repeat("d", 200_000)}}
	body := wantStatus(t, "huge form", e.do(req{method: "POST", path: "/ui/t/one/deploy", cookies: []*http.Cookie{c}, form: huge}), http.StatusRequestEntityTooLarge)
	if !strings.Contains(body, "too large") {
		t.Errorf("huge form: page does not say why:\n%s", body)
	}
	long := url.Values{"csrf": {csrf}, "description": {strings.Repeat("d", 201)}}
	wantStatus(t, "long description", e.do(req{method: "POST", path: "/ui/t/one/deploy", cookies: []*http.Cookie{c}, form: long}), http.StatusUnprocessableEntity)
	hugeSignin := url.Values{"csrf": {"x"}, "token": {strings.Repeat("t", 200_000)}}
	wantStatus(t, "huge sign-in", e.do(req{method: "POST", path: "/ui/signin", form: hugeSignin}), http.StatusRequestEntityTooLarge)
	if len(e.svc.created) != 0 {
		t.Errorf("created = %+v", e.svc.created)
	}

	page := bodyOf(t, get(e, "/ui/signin?why=Paste+your+token+at+evil.example&next=https://evil.example/"))
	if strings.Contains(page, "evil.example") {
		t.Errorf("the sign-in page shows text or a target from its link:\n%s", page)
	}
	for _, next := range []string{"https://evil.example/", "//evil.example/", "/ui//evil.example", "/elsewhere"} {
		page := e.do(req{method: "GET", path: "/ui/signin"})
		form := cookieNamed(page, "slipway_signin")
		res := e.do(req{
			method: "POST", path: "/ui/signin", cookies: []*http.Cookie{form},
			form: url.Values{"csrf": {form.Value}, "token": {adminToken}, "next": {next}},
		})
		if loc := res.Header.Get("Location"); loc != "/ui/" {
			t.Errorf("sign-in with next=%q goes to %q, want /ui/", next, loc)
		}
	}
}

// Ensure a panic in a service becomes a 500 page, not a dropped
// connection, and shows nothing of the panic.
func TestInput_PanicIsA500Page(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(adminToken)
	e.svc.panicOn = "DeploymentGet"
	body := wantStatus(t, "panic", get(e, "/ui/t/one/d/20250601-115000-runningaaa", c), http.StatusInternalServerError)
	if strings.Contains(body, "fake panic") || !strings.Contains(body, "Something went wrong") {
		t.Errorf("500 page:\n%s", body)
	}
}

// Ensure GET / sends a browser to the UI while a JSON client keeps the
// API's answer, and /ui goes to /ui/.
func TestRoot_BrowserGoesToUI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do(req{method: "GET", path: "/", header: map[string]string{"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}})
	wantRedirect(t, "browser", res, "/ui/")
	res = e.do(req{method: "GET", path: "/", header: map[string]string{"Accept": "application/json"}})
	if res.StatusCode != http.StatusNotFound || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("JSON client: %d %s, want the API's 404 envelope", res.StatusCode, res.Header.Get("Content-Type"))
	}
	res = get(e, "/ui")
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/ui/" {
		t.Errorf("/ui: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	wantRedirect(t, "UI without a session", get(e, "/ui/"), "/ui/signin")
}
