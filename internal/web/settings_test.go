package web_test

import (
	"encoding/json"
	"html"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/slipway"
)

// Stand-ins for the random parts of pages, in their golden files.
const (
	fakeDeployToken = "00000000-0000-4000-8000-000000000000"
	fakeTokenID     = "0123456789abcdef"
	fakeAPIToken    = "slw_t_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
)

var (
	uuidRE     = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)
	apiTokenRE = regexp.MustCompile(`slw_t_[A-Za-z0-9_-]{43}`)
)

// scrub replaces the random parts of a page (tokens, token ids) by fixed
// stand-ins, for its golden file.
func scrub(page string, ids ...string) string {
	page = uuidRE.ReplaceAllString(page, fakeDeployToken)
	page = apiTokenRE.ReplaceAllString(page, fakeAPIToken)
	for _, id := range ids {
		page = strings.ReplaceAll(page, id, fakeTokenID)
	}
	return page
}

// Ensure the pages of envvars, the deploy token and API tokens render as
// their golden files: values masked in the list, one value on its page,
// TOOL_DEPLOY_TOKEN managed elsewhere, the forms with their CSRF token and
// their problems next to the fields, a new token shown once with its
// warning, the admin's 403 for a tool session.
func TestSettings_Golden(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.signin(adminToken)
	for _, tc := range []struct{ name, path string }{
		{"envvars", "/ui/t/one/envvars"},
		{"envvars-empty", "/ui/t/two/envvars"},
		{"envvar", "/ui/t/one/envvars/API_KEY"},
		{"envvar-managed", "/ui/t/one/envvars/" + slipway.DeployTokenEnvVar},
		{"deploy-token", "/ui/t/one/deploy-token"},
		{"deploy-token-none", "/ui/t/two/deploy-token"},
		{"tokens", "/ui/tokens"},
	} {
		golden(t, tc.name, scrub(wantStatus(t, tc.name, get(e, tc.path, admin), http.StatusOK), e.toolID))
	}
	csrf := csrfOf(t, bodyOf(t, get(e, "/ui/t/one/envvars", admin)))
	res := e.post("/ui/t/one/envvars", admin, url.Values{"csrf": {csrf}, "name": {"lower_case"}, "value": {"kept <value>"}})
	golden(t, "envvars-invalid", wantStatus(t, "bad name", res, http.StatusUnprocessableEntity))
	res = e.post("/ui/t/two/deploy-token", admin, url.Values{"csrf": {csrf}})
	golden(t, "deploy-token-created", scrub(wantStatus(t, "create a deploy token", res, http.StatusOK)))
	res = e.post("/ui/tokens", admin, url.Values{"csrf": {csrf}, "tool": {"Bad Tool"}, "description": {"for <CI>"}})
	golden(t, "tokens-invalid", scrub(wantStatus(t, "bad tool", res, http.StatusUnprocessableEntity), e.toolID))
	res = e.post("/ui/tokens", admin, url.Values{"csrf": {csrf}, "tool": {"two"}, "description": {"CI of two"}})
	body := wantStatus(t, "create an API token", res, http.StatusOK)
	ids := []string{e.toolID}
	if m := regexp.MustCompile(`API token ([0-9a-f]{16}) for tool two created`).FindStringSubmatch(body); m != nil {
		ids = append(ids, m[1])
	}
	golden(t, "token-created", scrub(body, ids...))

	tool := e.signin(e.toolToken)
	golden(t, "error-403-admin", wantStatus(t, "a tool session's API tokens", get(e, "/ui/tokens", tool), http.StatusForbidden))
}

// postRoutes are the POST routes of the new pages, on tool one, with a
// form that would change something.
var postRoutes = []struct {
	path string
	form url.Values
}{
	{"/ui/t/one/envvars", url.Values{"name": {"NEW_VAR"}, "value": {"v"}}},
	{"/ui/t/one/envvars/API_KEY/delete", url.Values{}},
	{"/ui/t/one/deploy-token", url.Values{}},
	{"/ui/t/one/deploy-token/refresh", url.Values{}},
	{"/ui/t/one/deploy-token/delete", url.Values{}},
	{"/ui/tokens", url.Values{"tool": {"one"}, "description": {"x"}}},
	{"/ui/tokens/{id}/revoke", url.Values{}},
}

// state is what the POST routes could change, to compare before and
// after.
func (e *env) state() string {
	e.t.Helper()
	vs, err := e.envvars.List(e.t.Context(), "one")
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := e.deploy.Info(e.t.Context(), "one")
	if err != nil {
		e.t.Fatal(err)
	}
	toks, err := e.tokens.List(e.t.Context(), "")
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := json.Marshal([]any{vs, info, toks})
	return string(b)
}

// Ensure every POST of the new pages without the session's CSRF token
// (none, or another session's) is a 403 page and changes nothing.
func TestSettings_CSRFRequired(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.signin(adminToken)
	other := csrfOf(t, bodyOf(t, get(e, "/ui/tokens", e.signin(adminToken))))
	before := e.state()
	for _, rt := range postRoutes {
		path := strings.ReplaceAll(rt.path, "{id}", e.toolID)
		for _, csrf := range []string{"", other} {
			form := url.Values{}
			maps.Copy(form, rt.form)
			if csrf != "" {
				form.Set("csrf", csrf)
			}
			body := wantStatus(t, path+" csrf="+csrf, e.post(path, admin, form), http.StatusForbidden)
			if !strings.Contains(body, "security token is missing or wrong") {
				t.Errorf("%s: the 403 page does not say why:\n%s", path, body)
			}
		}
	}
	if after := e.state(); after != before {
		t.Errorf("POSTs without the CSRF token changed something:\nbefore %s\nafter  %s", before, after)
	}
}

// Ensure a tool session gets the same 403 page for another tool's
// envvars and deploy token whether that tool exists or not, GET or POST
// (with its own valid CSRF token), and the admin's 403 for the API
// tokens page; nothing changes.
func TestSettings_OtherToolForbidden(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tool := e.signin(e.toolToken)
	csrf := csrfOf(t, bodyOf(t, get(e, "/ui/t/one/envvars", tool)))
	if _, err := e.deploy.Create(t.Context(), "two"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.envvars.Put(t.Context(), "two", "TWO_SECRET", "two's value"); err != nil {
		t.Fatal(err)
	}
	before := e.state()
	twoVars, _ := e.envvars.List(t.Context(), "two")
	twoInfo, _ := e.deploy.Info(t.Context(), "two")
	for _, rt := range []struct{ method, path string }{
		{"GET", "/ui/t/%s/envvars"},
		{"GET", "/ui/t/%s/envvars/TWO_SECRET"},
		{"GET", "/ui/t/%s/deploy-token"},
		{"POST", "/ui/t/%s/envvars"},
		{"POST", "/ui/t/%s/envvars/TWO_SECRET/delete"},
		{"POST", "/ui/t/%s/deploy-token"},
		{"POST", "/ui/t/%s/deploy-token/refresh"},
		{"POST", "/ui/t/%s/deploy-token/delete"},
	} {
		var pages []string
		for _, name := range []string{"two", "nosuchtool"} {
			path := strings.ReplaceAll(rt.path, "%s", name)
			r := req{method: rt.method, path: path, cookies: []*http.Cookie{tool}}
			if rt.method == "POST" {
				r.form = url.Values{"csrf": {csrf}, "name": {"TWO_SECRET"}, "value": {"overwritten"}}
			}
			body := wantStatus(t, rt.method+" "+path, e.do(r), http.StatusForbidden)
			if strings.Contains(body, "two&#39;s value") {
				t.Errorf("%s shows another tool's value", path)
			}
			pages = append(pages, strings.ReplaceAll(body, name, "TOOL"))
		}
		if pages[0] != pages[1] {
			t.Errorf("%s: the 403 pages of an existing and a missing tool differ:\n%s\n----\n%s", rt.path, pages[0], pages[1])
		}
	}
	for _, r := range []req{
		{method: "GET", path: "/ui/tokens"},
		{method: "POST", path: "/ui/tokens", form: url.Values{"csrf": {csrf}, "tool": {"one"}}},
		{method: "POST", path: "/ui/tokens/" + e.toolID + "/revoke", form: url.Values{"csrf": {csrf}}},
	} {
		r.cookies = []*http.Cookie{tool}
		body := wantStatus(t, r.method+" "+r.path, e.do(r), http.StatusForbidden)
		if !strings.Contains(body, "This page is for the admin") || strings.Contains(body, e.toolID) {
			t.Errorf("%s %s: not the admin's 403 page, or it lists tokens:\n%s", r.method, r.path, body)
		}
	}
	twoVarsAfter, _ := e.envvars.List(t.Context(), "two")
	twoInfoAfter, _ := e.deploy.Info(t.Context(), "two")
	if after := e.state(); after != before || !slices.Equal(twoVars, twoVarsAfter) || twoInfo != twoInfoAfter {
		t.Error("a refused request changed something")
	}
	// The session still works on its own tool.
	wantStatus(t, "own envvars", get(e, "/ui/t/one/envvars", tool), http.StatusOK)
}

// apiError returns the message of the JSON API's answer to POST
// …/envvars with name and value, as the admin.
func (e *env) apiError(name, value string) string {
	e.t.Helper()
	b, _ := json.Marshal(map[string]string{"name": name, "value": value})
	res := e.do(req{
		method: "POST", path: "/envvars/v1/tool/one/envvars",
		header:  map[string]string{"Authorization": "Bearer " + adminToken, "Content-Type": "application/json"},
		bodyRaw: string(b),
	})
	var env struct {
		Messages struct{ Error []string } `json:"messages"`
	}
	if err := json.Unmarshal([]byte(res.Body), &env); err != nil || len(env.Messages.Error) == 0 {
		e.t.Fatalf("API answer %d: %s", res.StatusCode, res.Body)
	}
	return env.Messages.Error[0]
}

// Ensure a bad name or value is refused with the API's own message (the
// same input sent to the JSON API), next to its field, status 422, with
// what was typed kept; a value over the limit is a clear 422, a form far
// over it 413; nothing is stored.
func TestEnvVars_Invalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.signin(adminToken)
	csrf := csrfOf(t, bodyOf(t, get(e, "/ui/t/one/envvars", admin)))
	before := e.state()
	big := strings.Repeat("x", slipway.MaxEnvVarValueBytes+1)
	for _, tc := range []struct {
		what, name, value, field string
	}{
		{"lower case", "api_key", "kept <value>", "name"},
		{"too short", "ABC", "kept", "name"},
		{"empty name", "", "kept", "name"},
		{"reserved", "PORT", "8080", "name"},
		{"Slipway's", "SLIPWAY_URL", "x", "name"},
		{"the deploy token's", slipway.DeployTokenEnvVar, "forged", "name"},
		{"NUL byte", "GOOD_NAME", "a\x00b", "value"},
		{"value over the limit", "GOOD_NAME", big, "value"},
	} {
		want := e.apiError(tc.name, tc.value)
		res := e.post("/ui/t/one/envvars", admin, url.Values{"csrf": {csrf}, "name": {tc.name}, "value": {tc.value}})
		body := wantStatus(t, tc.what, res, http.StatusUnprocessableEntity)
		problem := `<p class="field-problem" id="envvar-` + tc.field + `-problem"><span aria-hidden="true">✗</span> ` + html.EscapeString(want) + `</p>`
		if !strings.Contains(body, problem) {
			t.Errorf("%s: the page does not show %q next to the %s field:\n%s", tc.what, want, tc.field, clipBody(body))
		}
		if !strings.Contains(body, `value="`+html.EscapeString(tc.name)+`"`) || !strings.Contains(body, ">\n"+strings.ReplaceAll(html.EscapeString(tc.value), "\x00", "\uFFFD")+"</textarea>") {
			t.Errorf("%s: what was typed is not kept:\n%s", tc.what, clipBody(body))
		}
	}
	if want := "The value of envvar GOOD_NAME is 32769 bytes; the limit is 32768 bytes."; e.apiError("GOOD_NAME", big) != want {
		t.Errorf("the limit's message is not %q", want)
	}
	huge := strings.Repeat("€", 40<<10) // 120 KiB, 360 KiB as a form
	res := e.post("/ui/t/one/envvars", admin, url.Values{"csrf": {csrf}, "name": {"HUGE_VALUE"}, "value": {huge}})
	if body := wantStatus(t, "huge value", res, http.StatusRequestEntityTooLarge); !strings.Contains(body, "An envvar&#39;s value may be at most 32768 bytes.") {
		t.Errorf("the 413 page does not say the limit:\n%s", clipBody(body))
	}
	// A value at the limit made of characters that take three bytes each
	// when percent-encoded still fits the form.
	full := strings.Repeat("%", slipway.MaxEnvVarValueBytes)
	res = e.post("/ui/t/one/envvars", admin, url.Values{"csrf": {csrf}, "name": {"FULL_VALUE"}, "value": {full}})
	wantRedirect(t, "a value at the limit", res, "/ui/t/one/envvars")
	if v, err := e.envvars.Get(t.Context(), "one", "FULL_VALUE"); err != nil || v.Value != full {
		t.Errorf("the value at the limit was not stored whole: %v", err)
	}
	if _, err := e.envvars.Delete(t.Context(), "one", "FULL_VALUE"); err != nil {
		t.Fatal(err)
	}
	if after := e.state(); after != before {
		t.Errorf("a refused envvar changed something:\nbefore %s\nafter  %s", before, after)
	}
}

func clipBody(s string) string {
	if len(s) > 4000 {
		return s[:4000] + "…"
	}
	return s
}

// Ensure an envvar made with the form is stored (line breaks as LF), the
// redirect and the message name it without its value, the list shows it
// masked and its page shows it; the page's form overwrites it; over the
// quota the form comes back with 409 and what was typed; delete deletes,
// and refuses TOOL_DEPLOY_TOKEN, which goes with the deploy token.
func TestEnvVars_CreateUpdateDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tool := e.signin(e.toolToken)
	csrf := csrfOf(t, bodyOf(t, get(e, "/ui/t/one/envvars", tool)))
	const value = "line one\r\nline <two>\r\n"
	res := e.post("/ui/t/one/envvars", tool, url.Values{"csrf": {csrf}, "name": {"NEW_SECRET"}, "value": {value}})
	wantRedirect(t, "create", res, "/ui/t/one/envvars")
	if loc := res.Header.Get("Location"); loc != "/ui/t/one/envvars" {
		t.Errorf("Location = %q", loc)
	}
	if v, err := e.envvars.Get(t.Context(), "one", "NEW_SECRET"); err != nil || v.Value != "line one\nline <two>\n" {
		t.Errorf("stored %q, %v; want the value with LF line breaks", v.Value, err)
	}
	flash := cookieNamed(res, "slipway_flash")
	if flash == nil || strings.Contains(flash.Value, "line") {
		t.Fatalf("flash cookie %v: missing or carries the value", flash)
	}
	list := e.follow(res, tool)
	if !strings.Contains(list, "Envvar NEW_SECRET created; processes get it from their next start") {
		t.Errorf("no message saying it was created:\n%s", list)
	}
	if strings.Contains(list, "line one") || strings.Contains(list, apiKeyValue) {
		t.Errorf("the list shows a value:\n%s", list)
	}
	if !strings.Contains(list, `<tr id="envvar-NEW_SECRET"><th scope="row"><code>NEW_SECRET</code></th>`) || !strings.Contains(list, "4 of 5 envvars used") {
		t.Errorf("the list does not show the new envvar and the quota:\n%s", list)
	}
	page := bodyOf(t, get(e, "/ui/t/one/envvars/NEW_SECRET", tool))
	if !strings.Contains(page, `<pre class="value" tabindex="0" role="region" aria-labelledby="value-title">line one`+"\n"+`line &lt;two&gt;`) ||
		!strings.Contains(page, ">\nline one\nline &lt;two&gt;\n</textarea>") {
		t.Errorf("the envvar's page does not show its value:\n%s", page)
	}
	res = e.post("/ui/t/one/envvars", tool, url.Values{"csrf": {csrf}, "name": {"NEW_SECRET"}, "value": {""}})
	wantRedirect(t, "update", res, "/ui/t/one/envvars")
	if list := e.follow(res, tool); !strings.Contains(list, "Envvar NEW_SECRET updated") {
		t.Errorf("no message saying it was updated:\n%s", list)
	}
	if v, err := e.envvars.Get(t.Context(), "one", "NEW_SECRET"); err != nil || v.Value != "" {
		t.Errorf("after the update: %q, %v", v.Value, err)
	}

	// Quota: one, NEW_SECRET, API_KEY, DB_URL and TOOL_DEPLOY_TOKEN make 5.
	if _, _, err := e.envvars.Put(t.Context(), "one", "FIFTH_VAR", "5"); err != nil {
		t.Fatal(err)
	}
	res = e.post("/ui/t/one/envvars", tool, url.Values{"csrf": {csrf}, "name": {"SIXTH_VAR"}, "value": {"kept 6"}})
	body := wantStatus(t, "over the quota", res, http.StatusConflict)
	if !strings.Contains(body, `role="alert"><span aria-hidden="true">✗</span> Nothing was saved: Tool one already has 5 envvars, its quota is 5`) ||
		!strings.Contains(body, `value="SIXTH_VAR"`) || !strings.Contains(body, ">\nkept 6</textarea>") {
		t.Errorf("over the quota: no message, or what was typed is lost:\n%s", body)
	}

	res = e.post("/ui/t/one/envvars/NEW_SECRET/delete", tool, url.Values{"csrf": {csrf}})
	wantRedirect(t, "delete", res, "/ui/t/one/envvars")
	if list := e.follow(res, tool); !strings.Contains(list, "Envvar NEW_SECRET deleted;") || strings.Contains(list, `id="envvar-NEW_SECRET"`) {
		t.Errorf("after the delete:\n%s", list)
	}
	if _, err := e.envvars.Get(t.Context(), "one", "NEW_SECRET"); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("still there: %v", err)
	}
	res = e.post("/ui/t/one/envvars/NEW_SECRET/delete", tool, url.Values{"csrf": {csrf}})
	if list := e.follow(res, tool); !strings.Contains(list, "Envvar NEW_SECRET not found for tool one: nothing was deleted.") {
		t.Errorf("deleting it again:\n%s", list)
	}
	res = e.post("/ui/t/one/envvars/"+slipway.DeployTokenEnvVar+"/delete", tool, url.Values{"csrf": {csrf}})
	if list := e.follow(res, tool); !strings.Contains(list, "is managed by the deploy token") {
		t.Errorf("deleting TOOL_DEPLOY_TOKEN:\n%s", list)
	}
	if _, err := e.envvars.Get(t.Context(), "one", slipway.DeployTokenEnvVar); err != nil {
		t.Errorf("TOOL_DEPLOY_TOKEN was deleted: %v", err)
	}
	for _, path := range []string{"/ui/t/one/envvars/lower", "/ui/t/one/envvars/NO_SUCH_VAR"} {
		wantStatus(t, path, get(e, path, tool), http.StatusNotFound)
	}
}

// readPages returns every page a session of tool one (and the admin) can
// read, by path.
func (e *env) readPages(cookie *http.Cookie) map[string]string {
	e.t.Helper()
	out := map[string]string{}
	for _, p := range []string{
		"/ui/", "/ui/t/one/", "/ui/t/two/", "/ui/t/one/d/", "/ui/t/one/config", "/ui/questions",
		"/ui/t/one/envvars", "/ui/t/two/envvars", "/ui/t/one/envvars/API_KEY", "/ui/t/one/envvars/DB_URL",
		"/ui/t/one/envvars/" + slipway.DeployTokenEnvVar, "/ui/t/two/envvars/" + slipway.DeployTokenEnvVar,
		"/ui/t/one/deploy-token", "/ui/t/two/deploy-token", "/ui/tokens",
	} {
		res := get(e, p, cookie)
		out[p] = res.Body + res.Header.Get("Location")
	}
	return out
}

// Ensure an envvar's value is on its own page and on no other page.
func TestEnvVars_ValueOnlyOnItsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.signin(adminToken)
	for path, body := range e.readPages(admin) {
		for value, page := range map[string]string{apiKeyValue: "/ui/t/one/envvars/API_KEY", dbURLValue: "/ui/t/one/envvars/DB_URL"} {
			if got := strings.Contains(body, value); got != (path == page) {
				t.Errorf("%s shows the value of %s: %v", path, page, got)
			}
		}
	}
}

// leaks returns where secret appears among the pages, the cookies and
// the Location of res.
func leaks(res *response, pages map[string]string, secret string) []string {
	var where []string
	for _, c := range res.Cookies() {
		if strings.Contains(c.Value, secret) || strings.Contains(c.Value, url.QueryEscape(secret)) {
			where = append(where, "cookie "+c.Name)
		}
	}
	if strings.Contains(res.Header.Get("Location"), secret) {
		where = append(where, "Location")
	}
	for path, body := range pages {
		if strings.Contains(body, secret) {
			where = append(where, path)
		}
	}
	return where
}

// Ensure a new deploy token is shown on the response page of create and
// of refresh only — no redirect, no cookie, no other page (not even
// TOOL_DEPLOY_TOKEN's) — and works; the old one stops working; create
// when one exists and refresh when there is none go back with the reason;
// delete deletes and shows nothing of the token.
func TestDeployToken_ShownOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tool := e.signin(e.toolToken)
	admin := e.signin(adminToken)
	csrf := csrfOf(t, bodyOf(t, get(e, "/ui/t/one/deploy-token", tool)))
	if leaked := leaks(&response{}, e.readPages(admin), e.deployToken); len(leaked) > 0 {
		t.Errorf("the existing deploy token is shown on %v", leaked)
	}

	res := e.post("/ui/t/one/deploy-token/refresh", tool, url.Values{"csrf": {csrf}})
	body := wantStatus(t, "refresh", res, http.StatusOK)
	token := uuidRE.FindString(body)
	if token == "" || token == e.deployToken || !strings.Contains(body, `<code id="secret" class="secret">`+token+`</code>`) ||
		!strings.Contains(body, "it is shown only on this page, this once") {
		t.Fatalf("the refresh page does not show a new token once, with the warning:\n%s", body)
	}
	if err := e.deploy.Verify(t.Context(), "one", token); err != nil {
		t.Errorf("the new token does not work: %v", err)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the token page's Cache-Control is %q, want no-store", cc)
	}
	if err := e.deploy.Verify(t.Context(), "one", e.deployToken); err == nil {
		t.Error("the old token still works")
	}
	if leaked := leaks(res, e.readPages(tool), token); len(leaked) > 0 {
		t.Errorf("the new token is also in %v", leaked)
	}
	if leaked := leaks(res, e.readPages(admin), token); len(leaked) > 0 {
		t.Errorf("the new token is also in %v (admin)", leaked)
	}
	page := bodyOf(t, get(e, "/ui/t/one/deploy-token", tool))
	if !strings.Contains(page, "Valid until</dt><dd>"+`<time datetime="2026-06-01T12:00:00Z">`) {
		t.Errorf("the page does not say until when it is valid:\n%s", page)
	}

	res = e.post("/ui/t/one/deploy-token", tool, url.Values{"csrf": {csrf}})
	wantRedirect(t, "create when one exists", res, "/ui/t/one/deploy-token")
	if page := e.follow(res, tool); !strings.Contains(page, "Tool one already has a deploy token: refresh it") {
		t.Errorf("create when one exists:\n%s", page)
	}

	res = e.post("/ui/t/one/deploy-token/delete", tool, url.Values{"csrf": {csrf}})
	wantRedirect(t, "delete", res, "/ui/t/one/deploy-token")
	if leaked := leaks(res, nil, token); len(leaked) > 0 {
		t.Errorf("delete shows the token in %v", leaked)
	}
	page = e.follow(res, tool)
	if !strings.Contains(page, "Deploy token of one deleted") || !strings.Contains(page, "Tool one has no deploy token.") || strings.Contains(page, token) {
		t.Errorf("after the delete:\n%s", page)
	}
	if _, err := e.envvars.Get(t.Context(), "one", slipway.DeployTokenEnvVar); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("TOOL_DEPLOY_TOKEN after the delete: %v", err)
	}
	res = e.post("/ui/t/one/deploy-token/refresh", tool, url.Values{"csrf": {csrf}})
	if page := e.follow(res, tool); !strings.Contains(page, "Tool one has no deploy token to refresh: create one.") {
		t.Errorf("refresh without a token:\n%s", page)
	}

	res = e.post("/ui/t/one/deploy-token", tool, url.Values{"csrf": {csrf}})
	body = wantStatus(t, "create", res, http.StatusOK)
	token = uuidRE.FindString(body)
	if token == "" || !strings.Contains(body, "Deploy token of one created") {
		t.Fatalf("the create page:\n%s", body)
	}
	if leaked := leaks(res, e.readPages(tool), token); len(leaked) > 0 {
		t.Errorf("the created token is also in %v", leaked)
	}
	if err := e.deploy.Verify(t.Context(), "one", token); err != nil {
		t.Errorf("the created token does not work: %v", err)
	}
}

// Ensure the admin's API tokens page lists every tool's tokens without
// the tokens, creates one shown once on the response page (and it signs
// in), refuses a bad tool name with the API's message (422, typed input
// kept), and revoking a token ends the sessions opened with it.
func TestAPITokens_CreateAndRevoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.signin(adminToken)
	csrf := csrfOf(t, bodyOf(t, get(e, "/ui/tokens", admin)))
	res := e.post("/ui/tokens", admin, url.Values{"csrf": {csrf}, "tool": {"two"}, "description": {"  CI of two  "}})
	body := wantStatus(t, "create", res, http.StatusOK)
	token := apiTokenRE.FindString(body)
	if token == "" || !strings.Contains(body, "it is shown only on this page, this once") {
		t.Fatalf("the create page does not show the token once:\n%s", body)
	}
	if leaked := leaks(res, e.readPages(admin), token); len(leaked) > 0 {
		t.Errorf("the API token is also in %v", leaked)
	}
	toks, err := e.tokens.List(t.Context(), "two")
	if err != nil || len(toks) != 1 || toks[0].Description != "CI of two" {
		t.Fatalf("tokens of two = %+v, %v", toks, err)
	}
	id := toks[0].ID
	list := bodyOf(t, get(e, "/ui/tokens", admin))
	for _, want := range []string{`<tr id="token-` + id + `"><th scope="row"><code>` + id + `</code></th><td><a href="/ui/t/two/">two</a></td><td>CI of two</td>`, `id="token-` + e.toolID + `"`} {
		if !strings.Contains(list, want) {
			t.Errorf("the list lacks %s:\n%s", want, list)
		}
	}

	two := e.signin(token)
	wantStatus(t, "the new token's session", get(e, "/ui/t/two/envvars", two), http.StatusOK)
	res = e.post("/ui/tokens/"+id+"/revoke", admin, url.Values{"csrf": {csrf}})
	wantRedirect(t, "revoke", res, "/ui/tokens")
	if page := e.follow(res, admin); !strings.Contains(page, "API token "+id+" revoked") || strings.Contains(page, `id="token-`+id+`"`) {
		t.Errorf("after the revoke:\n%s", page)
	}
	wantRedirect(t, "the revoked token's session", get(e, "/ui/t/two/envvars", two), "/ui/signin")
	res = e.post("/ui/tokens/"+id+"/revoke", admin, url.Values{"csrf": {csrf}})
	if page := e.follow(res, admin); !strings.Contains(page, "No API token found with id: "+id) {
		t.Errorf("revoking it again:\n%s", page)
	}

	before := e.state()
	for _, tc := range []struct{ what, tool, description, field, says string }{
		{"bad tool name", "Not A Tool", "kept <desc>", "tool", "Tool name &#34;Not A Tool&#34; must be"},
		{"long description", "two", strings.Repeat("d", 201), "description", "The description is too long: at most 200 characters, got 201."},
	} {
		res := e.post("/ui/tokens", admin, url.Values{"csrf": {csrf}, "tool": {tc.tool}, "description": {tc.description}})
		body := wantStatus(t, tc.what, res, http.StatusUnprocessableEntity)
		if !strings.Contains(body, `<p class="field-problem" id="token-`+tc.field+`-problem"><span aria-hidden="true">✗</span> `+tc.says) ||
			!strings.Contains(body, `value="`+html.EscapeString(tc.tool)+`"`) || !strings.Contains(body, `value="`+html.EscapeString(tc.description)+`"`) {
			t.Errorf("%s: no message next to the field, or the input is lost:\n%s", tc.what, body)
		}
	}
	if after := e.state(); after != before {
		t.Error("a refused token was created")
	}
	wantStatus(t, "a bad id", e.post("/ui/tokens/NOT-HEX/revoke", admin, url.Values{"csrf": {csrf}}), http.StatusNotFound)
}
