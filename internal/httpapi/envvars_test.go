package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/envvars"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// countingEnvVars counts every call that reaches the envvars.
type countingEnvVars struct {
	EnvVars
	calls *atomic.Int64
}

func (c countingEnvVars) List(ctx context.Context, tool string) ([]slipway.EnvVar, error) {
	c.calls.Add(1)
	return c.EnvVars.List(ctx, tool)
}

func (c countingEnvVars) Get(ctx context.Context, tool, name string) (slipway.EnvVar, error) {
	c.calls.Add(1)
	return c.EnvVars.Get(ctx, tool, name)
}

func (c countingEnvVars) Put(ctx context.Context, tool, name, value string) (slipway.EnvVar, bool, error) {
	c.calls.Add(1)
	return c.EnvVars.Put(ctx, tool, name, value)
}

func (c countingEnvVars) Delete(ctx context.Context, tool, name string) (slipway.EnvVar, error) {
	c.calls.Add(1)
	return c.EnvVars.Delete(ctx, tool, name)
}

func (c countingEnvVars) Quota(ctx context.Context, tool string) (slipway.EnvVarQuota, error) {
	c.calls.Add(1)
	return c.EnvVars.Quota(ctx, tool)
}

// testKey is the secret key of the handler tests' stores.
var testKey = bytes.Repeat([]byte{3}, auth.KeySize)

// newEnvVars returns real envvars over db with testKey, quota 3.
func newEnvVars(t *testing.T, db store.Store) *envvars.Vars {
	t.Helper()
	sealer, err := auth.NewSealer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return envvars.New(db, sealer, envvars.Config{Quota: 3})
}

// envVarBundle is an [apiTokenBundle] with an API token of tool-a and one
// of tool-b.
type envVarBundle struct {
	*apiTokenBundle
	tokA string // tool-a's API token
	tokB string // tool-b's API token
}

func setupEnvVars(t *testing.T) *envVarBundle {
	t.Helper()
	b := &envVarBundle{apiTokenBundle: setupAPITokens(t)}
	var err error
	if _, b.tokA, err = b.api.Create(t.Context(), "tool-a", "A"); err != nil {
		t.Fatal(err)
	}
	if _, b.tokB, err = b.api.Create(t.Context(), "tool-b", "B"); err != nil {
		t.Fatal(err)
	}
	return b
}

// wantBody fails unless w has the status and exactly the JSON body want
// (compared as JSON values).
func wantBody(t *testing.T, what string, w *httptest.ResponseRecorder, status int, want string) {
	t.Helper()
	if w.Code != status {
		t.Errorf("%s: %d %s, want %d", what, w.Code, w.Body, status)
		return
	}
	var got, exp any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Errorf("%s: not JSON: %v %s", what, err, w.Body)
		return
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("%s: bad want: %v", what, err)
	}
	g, _ := json.Marshal(got)
	e, _ := json.Marshal(exp)
	if !bytes.Equal(g, e) {
		t.Errorf("%s: body\n%s\nwant\n%s", what, g, e)
	}
}

// TestHandler_EnvVars walks Toolforge's envvars API, current and legacy
// routes, with the exact bodies.
func TestHandler_EnvVars(t *testing.T) {
	t.Parallel()
	b := setupEnvVars(t)
	const base = "/envvars/v1/tool/tool-a"
	none := `{"info":[],"warning":[],"error":[]}`

	wantBody(t, "empty list", b.send(t, "GET", base+"/envvars", b.tokA, ""), 200, `{"envvars":[],"messages":`+none+`}`)
	wantBody(t, "create", b.send(t, "POST", base+"/envvars", b.tokA, `{"name":"API_KEY","value":"s3cret"}`), 200,
		`{"envvar":{"name":"API_KEY","value":"s3cret"},"messages":{"info":["Envvar API_KEY created; processes get it from their next start, and the next deployment restarts the continuous and scheduled components."],"warning":[],"error":[]}}`)
	wantBody(t, "overwrite", b.send(t, "POST", base+"/envvars", b.tokA, `{"name":"API_KEY","value":"n3w"}`), 200,
		`{"envvar":{"name":"API_KEY","value":"n3w"},"messages":{"info":["Envvar API_KEY updated; the next deployment restarts the continuous and scheduled components whose processes have another value."],"warning":[],"error":[]}}`)
	wantBody(t, "legacy create", b.send(t, "POST", base+"/envvar/DB_URL", b.tokA, `{"value":"postgres://db"}`), 200,
		`{"envvar":{"name":"DB_URL","value":"postgres://db"},"messages":{"info":["Envvar DB_URL created; processes get it from their next start, and the next deployment restarts the continuous and scheduled components."],"warning":[],"error":[]}}`)
	list := `{"envvars":[{"name":"API_KEY","value":"n3w"},{"name":"DB_URL","value":"postgres://db"}],"messages":` + none + `}`
	wantBody(t, "list", b.send(t, "GET", base+"/envvars", b.tokA, ""), 200, list)
	wantBody(t, "legacy list", b.send(t, "GET", base+"/envvar", b.tokA, ""), 200, list)
	wantBody(t, "show", b.send(t, "GET", base+"/envvars/API_KEY", b.tokA, ""), 200, `{"envvar":{"name":"API_KEY","value":"n3w"},"messages":`+none+`}`)
	wantBody(t, "legacy show", b.send(t, "GET", base+"/envvar/DB_URL", b.tokA, ""), 200, `{"envvar":{"name":"DB_URL","value":"postgres://db"},"messages":`+none+`}`)
	quota := `{"quota":{"quota":3,"used":2},"messages":` + none + `}`
	wantBody(t, "quotas", b.send(t, "GET", base+"/quotas", b.tokA, ""), 200, quota)
	wantBody(t, "legacy quota", b.send(t, "GET", base+"/quota", b.tokA, ""), 200, quota)
	// The admin reads them too.
	wantBody(t, "list as admin", b.send(t, "GET", base+"/envvars", testToken, ""), 200, list)

	wantBody(t, "delete", b.send(t, "DELETE", base+"/envvars/API_KEY", b.tokA, ""), 200,
		`{"envvar":{"name":"API_KEY","value":"n3w"},"messages":{"info":["Envvar API_KEY deleted; processes started from now on do not get it, and the next deployment restarts the continuous and scheduled components that have it."],"warning":[],"error":[]}}`)
	wantBody(t, "legacy delete", b.send(t, "DELETE", base+"/envvar/DB_URL", b.tokA, ""), 200,
		`{"envvar":{"name":"DB_URL","value":"postgres://db"},"messages":{"info":["Envvar DB_URL deleted; processes started from now on do not get it, and the next deployment restarts the continuous and scheduled components that have it."],"warning":[],"error":[]}}`)
	wantBody(t, "show after delete", b.send(t, "GET", base+"/envvars/API_KEY", b.tokA, ""), 404,
		`{"messages":{"info":[],"warning":[],"error":["Envvar API_KEY not found for tool tool-a"]}}`)
	wantBody(t, "delete again", b.send(t, "DELETE", base+"/envvar/API_KEY", b.tokA, ""), 404,
		`{"messages":{"info":[],"warning":[],"error":["Envvar API_KEY not found for tool tool-a"]}}`)
}

// TestHandler_EnvVarBadInput: every bad request is a 4xx with the reason,
// and nothing is stored.
func TestHandler_EnvVarBadInput(t *testing.T) {
	t.Parallel()
	b := setupEnvVars(t)
	const base = "/envvars/v1/tool/tool-a"
	const rule = "^[A-Z][A-Z_0-9]{2,}[A-Z0-9]$"
	cases := []struct {
		method, path, body string
		status             int
		msg                string // a part of messages.error[0]
	}{
		{"POST", base + "/envvars", `{"name":"api_key","value":"x"}`, 422, `Invalid envvar name "api_key": a name is 4 to 253 characters`},
		{"POST", base + "/envvars", `{"name":"ABC","value":"x"}`, 422, rule},
		{"POST", base + "/envvars", `{"name":"PORT","value":"80"}`, 422, "Cannot set envvar PORT: Slipway sets it for every process"},
		{"POST", base + "/envvars", `{"name":"SLIPWAY_X","value":"1"}`, 422, "names starting with SLIPWAY_ are reserved"},
		{"POST", base + "/envvars", `{"name":"TOOL_DEPLOY_TOKEN","value":"x"}`, 422, "Slipway writes it from the tool's deploy token"},
		{"POST", base + "/envvars", `{"name":"NUL_BYTE","value":"a\u0000b"}`, 422, "has a NUL byte at byte 1"},
		{"POST", base + "/envvars", `{"name":"BIG_VALUE","value":"` + strings.Repeat("x", slipway.MaxEnvVarValueBytes+1) + `"}`, 422, "the limit is 32768 bytes"},
		{"POST", base + "/envvars", `{"value":"x"}`, 422, `The body has no name: send {"name": "NAME", "value": "…"}.`},
		{"POST", base + "/envvars", `{"name":"API_KEY"}`, 422, "The body has no value"},
		{"POST", base + "/envvars", `{"name":"API_KEY","value":null}`, 422, "The body has no value"},
		{"POST", base + "/envvars", `{"name":"API_KEY","value":5}`, 422, "Invalid value for value: expected string, got a JSON number."},
		{"POST", base + "/envvars", `{"name":"API_KEY","value":"x","secret":true}`, 422, `Unknown field "secret": the body has name and value.`},
		{"POST", base + "/envvars", `{"name":"API_KEY",`, 400, "Invalid JSON"},
		{"POST", base + "/envvars", ``, 422, "The request body is empty"},
		{"POST", base + "/envvars", `[1]`, 422, "Invalid value for the request body"},
		{"POST", base + "/envvar/API_KEY", `{"name":"API_KEY","value":"x"}`, 422, `Unknown field "name": the body has value only (the name is in the path).`},
		{"POST", base + "/envvar/API_KEY", `{}`, 422, `The body has no value: send {"value": "…"} (the name is in the path)`},
		{"POST", base + "/envvar/api_key", `{"value":"x"}`, 422, rule},
		{"GET", base + "/envvars/api-key", ``, 422, rule},
		{"DELETE", base + "/envvars/X", ``, 422, rule},
		{"GET", base + "/envvar/" + strings.Repeat("A", 254), ``, 422, "4 to 253 characters"},
		{"GET", "/envvars/v1/tool/Bad_Tool/envvars", ``, 422, "Tool name"},
		{"GET", "/envvars/v1/tool/Bad_Tool/envvar", ``, 422, `Tool name "Bad_Tool" must be`},
		{"GET", "/envvars/v1/tool/Bad_Tool/quotas", ``, 422, `Tool name "Bad_Tool" must be`},
		{"GET", "/envvars/v1/tool/Bad_Tool/quota", ``, 422, `Tool name "Bad_Tool" must be`},
		{"DELETE", base + "/envvar/api_key", ``, 422, rule},
	}
	for _, c := range cases {
		w := b.send(t, c.method, c.path, testToken, c.body)
		if w.Code != c.status {
			t.Errorf("%s %.60s %.60s: %d %s, want %d", c.method, c.path, c.body, w.Code, w.Body, c.status)
			continue
		}
		if c.msg != "" && !strings.Contains(errorMessage(t, w), c.msg) {
			t.Errorf("%s %.60s %.60s: %q, want it to say %q", c.method, c.path, c.body, errorMessage(t, w), c.msg)
		}
	}
	// Quota (3 here): the fourth is refused with 409, nothing stored.
	for _, n := range []string{"ONE_", "TWO_", "THREE"} {
		if w := b.send(t, "POST", base+"/envvars", b.tokA, `{"name":"`+n+`X","value":"v"}`); w.Code != 200 {
			t.Fatalf("create %s: %d %s", n, w.Code, w.Body)
		}
	}
	w := b.send(t, "POST", base+"/envvars", b.tokA, `{"name":"FOUR_X","value":"v"}`)
	if w.Code != http.StatusConflict || !strings.Contains(errorMessage(t, w), "already has 3 envvars, its quota is 3") {
		t.Errorf("over the quota: %d %s", w.Code, w.Body)
	}
	wantBody(t, "quota after the refusals", b.send(t, "GET", base+"/quotas", b.tokA, ""), 200,
		`{"quota":{"quota":3,"used":3},"messages":{"info":[],"warning":[],"error":[]}}`)
}

// TestHandler_EnvVarsDisabled: without Config.EnvVars every envvar route
// answers 503 saying so.
func TestHandler_EnvVarsDisabled(t *testing.T) {
	t.Parallel()
	b := &apiTokenBundle{handler: NewHandler(newFakeService(), Config{AdminToken: testToken, ToolRate: -1, PollRate: -1})}
	routes := 0
	for _, rt := range (&api{}).routes() {
		if !strings.HasPrefix(rt.path, "/envvars/") {
			continue
		}
		routes++
		p := strings.NewReplacer("{tool}", "tool-a", "{name}", "API_KEY").Replace(rt.path)
		w := b.send(t, rt.method, p, testToken, "")
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("%s %s: %d %s, want 503", rt.method, p, w.Code, w.Body)
			continue
		}
		if msg := errorMessage(t, w); msg != "Envvars are not enabled on this server." {
			t.Errorf("%s %s: %q, want %q", rt.method, p, msg, "Envvars are not enabled on this server.")
		}
	}
	if routes != 10 {
		t.Errorf("%d envvar routes, want 10", routes)
	}
}

// TestHandler_EnvVarsCrossTool: tool-b's API token gets 403 on every
// envvar route of tool-a and learns nothing (no value, no name in the
// answer); tool-a's deploy token gets 401 on every one of them; nothing
// reaches the envvars; the admin and tool-a's own token see the values.
func TestHandler_EnvVarsCrossTool(t *testing.T) {
	t.Parallel()
	b := setupEnvVars(t)
	if w := b.send(t, "POST", "/envvars/v1/tool/tool-a/envvars", b.tokA, `{"name":"API_KEY","value":"a-secret-value"}`); w.Code != 200 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	deploy, err := b.tokens.Create(t.Context(), "tool-a")
	if err != nil {
		t.Fatal(err)
	}
	before := b.svc.calls.Load()
	routes := 0
	for _, rt := range (&api{}).routes() {
		if !strings.HasPrefix(rt.path, "/envvars/") {
			continue
		}
		routes++
		if rt.access != adminOrToolToken {
			t.Errorf("%s %s: access %d, want adminOrToolToken", rt.method, rt.path, rt.access)
		}
		p := strings.NewReplacer("{tool}", "tool-a", "{name}", "API_KEY").Replace(rt.path)
		body := ""
		if rt.method == http.MethodPost {
			body = `{"name":"API_KEY","value":"stolen"}`
			if strings.HasSuffix(rt.path, "{name}") {
				body = `{"value":"stolen"}`
			}
		}
		for _, c := range []struct {
			what, bearer, query string
			status              int
		}{
			{"tool-b's API token", b.tokB, "", http.StatusForbidden},
			{"tool-a's deploy token as a bearer", deploy.Token, "", http.StatusUnauthorized},
			{"tool-a's deploy token in the query", "", "?token=" + deploy.Token, http.StatusUnauthorized},
		} {
			w := b.send(t, rt.method, p+c.query, c.bearer, body)
			if w.Code != c.status {
				t.Errorf("%s %s with %s: %d %s, want %d", rt.method, p, c.what, w.Code, w.Body, c.status)
			}
			if s := w.Body.String(); strings.Contains(s, "a-secret-value") || strings.Contains(s, deploy.Token) {
				t.Errorf("%s %s with %s: the answer holds a secret: %s", rt.method, p, c.what, s)
			}
		}
	}
	if routes != 10 {
		t.Errorf("%d envvar routes, want 10", routes)
	}
	if n := b.svc.calls.Load() - before; n != 0 {
		t.Errorf("%d calls reached the envvars, want none", n)
	}
	for _, bearer := range []string{testToken, b.tokA} {
		w := b.send(t, "GET", "/envvars/v1/tool/tool-a/envvars/API_KEY", bearer, "")
		if w.Code != 200 || !strings.Contains(w.Body.String(), "a-secret-value") {
			t.Errorf("show with the admin or tool-a's token: %d %s", w.Code, w.Body)
		}
	}
	// Envvars are served only under /envvars (no alias without a prefix).
	if w := b.send(t, "GET", "/v1/tool/tool-a/envvars", testToken, ""); w.Code != http.StatusNotFound {
		t.Errorf("GET /v1/tool/tool-a/envvars: %d, want 404", w.Code)
	}
}

// TestHandler_DeployTokenShowHidden: after TOOL_DEPLOY_TOKEN was deleted
// through the envvars API, show answers 409 saying why and what to do,
// delete still works (with a warning), and the token kept working until
// then.
func TestHandler_DeployTokenShowHidden(t *testing.T) {
	t.Parallel()
	b := setupEnvVars(t)
	const tokenPath = "/components/v1/tool/tool-a/deployment/token"
	w := b.send(t, "POST", tokenPath, b.tokA, "")
	if w.Code != 200 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var created struct{ Data struct{ Token string } }
	if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil {
		t.Fatal(err)
	}
	if w := b.send(t, "GET", "/envvars/v1/tool/tool-a/envvars/TOOL_DEPLOY_TOKEN", b.tokA, ""); w.Code != 200 || !strings.Contains(w.Body.String(), created.Data.Token) {
		t.Errorf("TOOL_DEPLOY_TOKEN after create: %d %s", w.Code, w.Body)
	}
	w = b.send(t, "DELETE", "/envvars/v1/tool/tool-a/envvars/TOOL_DEPLOY_TOKEN", b.tokA, "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "the deploy token still works, but it can no longer be shown") {
		t.Errorf("delete TOOL_DEPLOY_TOKEN: %d %s", w.Code, w.Body)
	}
	w = b.send(t, "GET", tokenPath, b.tokA, "")
	if w.Code != http.StatusConflict || !strings.Contains(errorMessage(t, w), "exists and still works, but it cannot be shown") {
		t.Errorf("show: %d %s, want 409 saying why", w.Code, w.Body)
	}
	if err := b.tokens.Verify(t.Context(), "tool-a", created.Data.Token); err != nil {
		t.Errorf("the token stopped working: %v", err)
	}
	w = b.send(t, "DELETE", tokenPath, b.tokA, "")
	var deleted struct {
		Data     struct{ Token, CreationDate string }
		Messages struct{ Info, Warning []string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &deleted); err != nil || w.Code != 200 || deleted.Data.Token != "" ||
		len(deleted.Messages.Warning) != 1 || !strings.Contains(deleted.Messages.Warning[0], "could not be shown") {
		t.Errorf("delete: %d %s", w.Code, w.Body)
	}
}
