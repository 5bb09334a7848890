package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store/sqlite"
)

// countingService counts every call that reaches the service.
type countingService struct {
	*fakeService
	calls atomic.Int64
}

func (c *countingService) ConfigPut(ctx context.Context, tool string, cfg slipway.ToolConfig) (slipway.ToolConfig, []string, error) {
	c.calls.Add(1)
	return c.fakeService.ConfigPut(ctx, tool, cfg)
}

func (c *countingService) ConfigGet(ctx context.Context, tool string) (slipway.ToolConfig, error) {
	c.calls.Add(1)
	return c.fakeService.ConfigGet(ctx, tool)
}

func (c *countingService) ConfigDelete(ctx context.Context, tool string) (slipway.ToolConfig, error) {
	c.calls.Add(1)
	return c.fakeService.ConfigDelete(ctx, tool)
}

func (c *countingService) ConfigGenerate(ctx context.Context, tool string) (slipway.ToolConfig, []string, error) {
	c.calls.Add(1)
	return c.fakeService.ConfigGenerate(ctx, tool)
}

func (c *countingService) DeploymentCreate(ctx context.Context, tool string, o slipway.DeployOptions) (slipway.Deployment, error) {
	c.calls.Add(1)
	return c.fakeService.DeploymentCreate(ctx, tool, o)
}

func (c *countingService) DeploymentPlan(ctx context.Context, tool string, o slipway.DeployOptions) (slipway.Deployment, error) {
	c.calls.Add(1)
	return c.fakeService.DeploymentPlan(ctx, tool, o)
}

func (c *countingService) DeploymentPlanConfig(ctx context.Context, tool string, cfg slipway.ToolConfig, o slipway.DeployOptions) (slipway.Deployment, error) {
	c.calls.Add(1)
	return c.fakeService.DeploymentPlanConfig(ctx, tool, cfg, o)
}

func (c *countingService) DeploymentList(ctx context.Context, tool string) ([]slipway.Deployment, error) {
	c.calls.Add(1)
	return c.fakeService.DeploymentList(ctx, tool)
}

func (c *countingService) DeploymentGet(ctx context.Context, tool, id string) (slipway.Deployment, error) {
	c.calls.Add(1)
	return c.fakeService.DeploymentGet(ctx, tool, id)
}

func (c *countingService) DeploymentEvents(ctx context.Context, tool, id string, after int64, fn func(slipway.Event) error) error {
	c.calls.Add(1)
	return c.fakeService.DeploymentEvents(ctx, tool, id, after, fn)
}

func (c *countingService) DeploymentCancel(ctx context.Context, tool, id string) (slipway.Deployment, error) {
	c.calls.Add(1)
	return c.fakeService.DeploymentCancel(ctx, tool, id)
}

func (c *countingService) DeploymentDelete(ctx context.Context, tool, id string) (slipway.Deployment, error) {
	c.calls.Add(1)
	return c.fakeService.DeploymentDelete(ctx, tool, id)
}

// countingDeployTokens counts the calls that reach the deploy tokens
// (Verify excepted: checking a credential changes nothing).
type countingDeployTokens struct {
	*auth.DeployTokens
	calls *atomic.Int64
}

func (c countingDeployTokens) Create(ctx context.Context, tool string) (slipway.DeployToken, error) {
	c.calls.Add(1)
	return c.DeployTokens.Create(ctx, tool)
}

func (c countingDeployTokens) Refresh(ctx context.Context, tool string) (slipway.DeployToken, error) {
	c.calls.Add(1)
	return c.DeployTokens.Refresh(ctx, tool)
}

func (c countingDeployTokens) Get(ctx context.Context, tool string) (slipway.DeployToken, error) {
	c.calls.Add(1)
	return c.DeployTokens.Get(ctx, tool)
}

func (c countingDeployTokens) Delete(ctx context.Context, tool string) (slipway.DeployToken, error) {
	c.calls.Add(1)
	return c.DeployTokens.Delete(ctx, tool)
}

// apiTokenBundle is a handler with real deploy and API tokens and envvars
// over SQLite, and a service that counts its calls (and theirs).
type apiTokenBundle struct {
	svc     *countingService
	handler http.Handler
	api     *auth.APITokens
	tokens  *auth.DeployTokens // the deploy tokens, uncounted
}

func setupAPITokens(t *testing.T) *apiTokenBundle {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	deployTokens, err := auth.New(db, testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := &countingService{fakeService: newFakeService()}
	apiTokens := auth.NewAPITokens(db, nil)
	h := NewHandler(svc, Config{
		AdminToken:   testToken,
		DeployTokens: countingDeployTokens{DeployTokens: deployTokens, calls: &svc.calls},
		APITokens:    apiTokens,
		EnvVars:      countingEnvVars{EnvVars: newEnvVars(t, db), calls: &svc.calls},
		ToolRate:     -1,
		PollRate:     -1,
	})
	return &apiTokenBundle{svc: svc, handler: h, api: apiTokens, tokens: deployTokens}
}

// send makes one request with bearer (none when empty).
func (b *apiTokenBundle) send(t *testing.T, method, path, bearer, body string) *httptest.ResponseRecorder {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	r := httptest.NewRequestWithContext(ctx, method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	w := httptest.NewRecorder()
	b.handler.ServeHTTP(w, r)
	return w
}

// errorMessage returns messages.error[0] of a response.
func errorMessage(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var env struct {
		Messages struct {
			Error []string `json:"error"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || len(env.Messages.Error) == 0 {
		t.Errorf("not an error envelope: %v %s", err, w.Body)
		return ""
	}
	return env.Messages.Error[0]
}

// routePaths returns the concrete paths of a route for tool: with and
// without the /components prefix, and a jobs route also with a trailing
// slash.
func routePaths(rt route, tool string) []string {
	paths := []string{rt.path}
	if alias, ok := unprefixed(rt.path); ok {
		paths = append(paths, alias)
	}
	if alias, ok := slashAlias(rt.path); ok {
		paths = append(paths, alias)
	}
	r := strings.NewReplacer("{tool}", tool, "{deploy_id}", "20990101-000000-nothere000", "{id}", "nothere", "{build_id}", "0123456789abcdef")
	for i := range paths {
		paths[i] = r.Replace(paths[i])
	}
	return paths
}

// TestHandler_APITokenMatrix checks every route of the route table against
// tool-scoped API tokens: tool A's token works on every one of A's routes,
// gets 403 (and changes nothing) on B's and on the admin routes, and a
// revoked token gets 401.
func TestHandler_APITokenMatrix(t *testing.T) {
	t.Parallel()
	b := setupAPITokens(t)
	ctx := t.Context()
	_, tokA, err := b.api.Create(ctx, "tool-a", "A's CI")
	if err != nil {
		t.Fatal(err)
	}
	revokedID, revoked, err := b.api.Create(ctx, "tool-a", "old")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.api.Revoke(ctx, revokedID); err != nil {
		t.Fatal(err)
	}

	cells := 0
	var toolRoutes, adminRoutes int
	for _, rt := range (&api{}).routes() {
		switch {
		case rt.access == public:
			continue
		case rt.access == anyTool:
			// Any tool's credential, scoped by the handler (questions_test.go).
			for _, p := range routePaths(rt, "") {
				w := b.send(t, rt.method, p, revoked, "")
				cells++
				if w.Code != http.StatusUnauthorized {
					t.Errorf("(c) %s %s with a revoked token: %d %s, want 401", rt.method, p, w.Code, w.Body)
				}
			}
			continue
		case !strings.Contains(rt.path, "{tool}"):
			adminRoutes++
			wantMsg := msgAdminOnly
			switch rt.access {
			case adminOnly:
			case adminOrMetricsToken:
				wantMsg = msgMetrics
			default:
				t.Errorf("%s %s: a route without {tool} must be admin-only (or the metrics route)", rt.method, rt.path)
			}
			for _, p := range routePaths(rt, "") {
				before := b.svc.calls.Load()
				// (d) a tool token on an admin route: 403.
				w := b.send(t, rt.method, p, tokA, `{"tool":"tool-a"}`)
				cells++
				if w.Code != http.StatusForbidden || errorMessage(t, w) != wantMsg {
					t.Errorf("(d) %s %s with a tool token: %d %s, want 403 %q", rt.method, p, w.Code, w.Body, wantMsg)
				}
				// (c) a revoked token: 401.
				w = b.send(t, rt.method, p, revoked, `{"tool":"tool-a"}`)
				cells++
				if w.Code != http.StatusUnauthorized {
					t.Errorf("(c) %s %s with a revoked token: %d %s, want 401", rt.method, p, w.Code, w.Body)
				}
				if n := b.svc.calls.Load() - before; n != 0 {
					t.Errorf("%s %s: %d service calls, want none", rt.method, p, n)
				}
			}
			continue
		}
		toolRoutes++
		pathsA, pathsB := routePaths(rt, "tool-a"), routePaths(rt, "tool-b")
		for i := range pathsA {
			body := ""
			if rt.method == http.MethodPost {
				body = `{"components": {}}`
			}
			// (a) A's token on A: past authentication.
			w := b.send(t, rt.method, pathsA[i], tokA, body)
			cells++
			if w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden {
				t.Errorf("(a) %s %s with A's token: %d %s", rt.method, pathsA[i], w.Code, w.Body)
			}

			// (b) A's token on B: 403, and nothing reaches the service.
			before := b.svc.calls.Load()
			w = b.send(t, rt.method, pathsB[i], tokA, body)
			cells++
			want := "This credential is for tool 'tool-a'; it cannot act on tool 'tool-b'."
			if w.Code != http.StatusForbidden || errorMessage(t, w) != want {
				t.Errorf("(b) %s %s with A's token: %d %s, want 403 %q", rt.method, pathsB[i], w.Code, w.Body, want)
			}
			if n := b.svc.calls.Load() - before; n != 0 {
				t.Errorf("(b) %s %s with A's token: %d service calls, want none", rt.method, pathsB[i], n)
			}

			// (c) a revoked token of A on A: 401, nothing reaches the service.
			before = b.svc.calls.Load()
			w = b.send(t, rt.method, pathsA[i], revoked, body)
			cells++
			if w.Code != http.StatusUnauthorized {
				t.Errorf("(c) %s %s with a revoked token: %d %s, want 401", rt.method, pathsA[i], w.Code, w.Body)
			}
			if n := b.svc.calls.Load() - before; n != 0 {
				t.Errorf("(c) %s %s with a revoked token: %d service calls, want none", rt.method, pathsA[i], n)
			}
		}
	}
	if toolRoutes < 15 || adminRoutes != 13 { // tokens 3, metrics, release plans and trains 9
		t.Errorf("route table: %d tool routes, %d admin routes (the metrics route among them); want at least 15 and 13", toolRoutes, adminRoutes)
	}
	t.Logf("matrix: %d tool routes and %d admin routes, %d cells", toolRoutes, adminRoutes, cells)
	if b.svc.configs["tool-b"].Raw != nil || len(b.svc.deployments["tool-b"]) != 0 {
		t.Error("tool-b was changed")
	}
}

// TestHandler_APITokenAdminRoutes creates, lists and revokes a token
// through the admin routes, and uses it in between.
func TestHandler_APITokenAdminRoutes(t *testing.T) {
	t.Parallel()
	b := setupAPITokens(t)

	w := b.send(t, "POST", "/v1/admin/tokens", testToken, `{"tool": "one", "description": "CI"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var created struct {
		Data struct {
			ID, Tool, Description, Token string
			Created                      time.Time
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil {
		t.Fatal(err)
	}
	d := created.Data
	if d.ID == "" || d.Tool != "one" || d.Description != "CI" || !strings.HasPrefix(d.Token, auth.APITokenPrefix) || d.Created.IsZero() {
		t.Fatalf("create: %s", w.Body)
	}

	if w := b.send(t, "POST", "/v1/admin/tokens", testToken, `{"tool": "Bad Tool"}`); w.Code != http.StatusUnprocessableEntity {
		t.Errorf("create with a bad tool name: %d %s", w.Code, w.Body)
	}
	if w := b.send(t, "POST", "/v1/admin/tokens", "", `{"tool": "one"}`); w.Code != http.StatusUnauthorized {
		t.Errorf("create without a token: %d %s", w.Code, w.Body)
	}

	// The token acts for its tool, and deployments record it as the actor.
	if w := b.send(t, "POST", "/v1/tool/one/config", d.Token, webConfigJSON); w.Code != http.StatusOK {
		t.Fatalf("config with the token: %d %s", w.Code, w.Body)
	}
	if w := b.send(t, "POST", "/v1/tool/one/deployment", d.Token, ""); w.Code != http.StatusOK {
		t.Fatalf("deployment with the token: %d %s", w.Code, w.Body)
	}
	if got, want := b.svc.lastOpts.Actor, "tool-token:"+d.ID; got != want {
		t.Errorf("Actor = %q, want %q", got, want)
	}

	w = b.send(t, "GET", "/v1/admin/tokens?tool=one", testToken, "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), d.ID) || strings.Contains(w.Body.String(), d.Token) {
		t.Errorf("list: %d %s", w.Code, w.Body)
	}
	if w := b.send(t, "GET", "/v1/admin/tokens?tool=other", testToken, ""); w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"data":[],"messages":{"error":[],"info":[],"warning":[]}}` {
		t.Errorf("list of another tool: %d %s", w.Code, w.Body)
	}

	if w := b.send(t, "DELETE", "/v1/admin/tokens/"+d.ID, testToken, ""); w.Code != http.StatusOK {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	if w := b.send(t, "DELETE", "/v1/admin/tokens/"+d.ID, testToken, ""); w.Code != http.StatusNotFound {
		t.Errorf("second revoke: %d %s", w.Code, w.Body)
	}
	if w := b.send(t, "GET", "/v1/tool/one/config", d.Token, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("revoked token: %d %s", w.Code, w.Body)
	}
}

// TestHandler_APITokensDisabled: without APITokens the admin routes answer
// 503 and a token-shaped bearer is no credential.
func TestHandler_APITokensDisabled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if w := b.do(t, request{method: "GET", path: "/v1/admin/tokens"}); w.Code != http.StatusServiceUnavailable {
		t.Errorf("list: %d %s", w.Code, w.Body)
	}
	w := b.do(t, request{method: "GET", path: "/v1/tool/one/config", header: map[string]string{"Authorization": "Bearer slw_t_x"}})
	if w.Code != http.StatusUnauthorized {
		t.Errorf("tool route: %d %s", w.Code, w.Body)
	}
}
