package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store/sqlite"
)

// testClock is a settable clock for the deploy tokens.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// tokenBundle is a testBundle whose handler has real deploy tokens (over
// SQLite in a temporary directory) on a settable clock.
type tokenBundle struct {
	*testBundle
	tokens *auth.DeployTokens
	clock  *testClock
}

func setupTokens(t *testing.T) *tokenBundle {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	clock := &testClock{t: time.Date(2026, 11, 22, 12, 54, 26, 348440123, time.UTC)}
	tokens, err := auth.New(db, bytes.Repeat([]byte{7}, auth.KeySize), clock.now)
	if err != nil {
		t.Fatal(err)
	}
	svc := newFakeService()
	logs, mu := &bytes.Buffer{}, &sync.Mutex{}
	logger := slog.New(slog.NewJSONHandler(lockedWriter{mu, logs}, nil))
	h := NewHandler(svc, Config{AdminToken: testToken, Logger: logger, MaxBodyBytes: 4096, DeployTokens: tokens})
	return &tokenBundle{
		testBundle: &testBundle{svc: svc, handler: h, logs: logs, logMu: mu},
		tokens:     tokens,
		clock:      clock,
	}
}

// createToken creates tool's deploy token through the API and returns it.
func (b *tokenBundle) createToken(t *testing.T, tool string) string {
	t.Helper()
	w := b.do(t, request{method: "POST", path: "/components/v1/tool/" + tool + "/deployment/token"})
	if w.Code != 200 {
		t.Fatalf("create token of %s: %d %s", tool, w.Code, w.Body)
	}
	var env struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Data.Token == "" {
		t.Fatalf("create token of %s: %v %s", tool, err, w.Body)
	}
	return env.Data.Token
}

var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)

// TestHandler_DeployTokenRoutes walks one tool's token through its life and
// compares each response with a golden file (tokens replaced by <uuid-N>,
// numbered in order of appearance).
func TestHandler_DeployTokenRoutes(t *testing.T) {
	t.Parallel()
	b := setupTokens(t)
	steps := []struct {
		name       string
		req        request
		wantStatus int
	}{
		{"TokenGetNone", request{method: "GET", path: "/components/v1/tool/mytool/deployment/token"}, 404},
		{"TokenRefreshNone", request{method: "PUT", path: "/components/v1/tool/mytool/deployment/token"}, 404},
		{"TokenDeleteNone", request{method: "DELETE", path: "/components/v1/tool/mytool/deployment/token"}, 404},
		{"TokenCreate", request{method: "POST", path: "/components/v1/tool/mytool/deployment/token"}, 200},
		{"TokenCreateConflict", request{method: "POST", path: "/components/v1/tool/mytool/deployment/token"}, 409},
		{"TokenGet", request{method: "GET", path: "/v1/tool/mytool/deployment/token"}, 200},
		{"TokenRefresh", request{method: "PUT", path: "/components/v1/tool/mytool/deployment/token"}, 200},
		{"TokenGetAfterRefresh", request{method: "GET", path: "/components/v1/tool/mytool/deployment/token"}, 200},
		{"TokenDelete", request{method: "DELETE", path: "/v1/tool/mytool/deployment/token"}, 200},
		{"TokenGetAfterDelete", request{method: "GET", path: "/components/v1/tool/mytool/deployment/token"}, 404},
		{"TokenNoAuth", request{method: "POST", path: "/components/v1/tool/mytool/deployment/token", noAuth: true}, 401},
		{"TokenBadToolName", request{method: "POST", path: "/components/v1/tool/My_Tool/deployment/token"}, 422},
	}
	names := map[string]string{}
	var transcript strings.Builder
	for _, st := range steps {
		w := b.do(t, st.req)
		if w.Code != st.wantStatus {
			t.Errorf("%s: %s %s: status %d, want %d; body %s", st.name, st.req.method, st.req.path, w.Code, st.wantStatus, w.Body)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type = %q", st.name, ct)
		}
		body := uuidPattern.ReplaceAllStringFunc(w.Body.String(), func(u string) string {
			if names[u] == "" {
				names[u] = fmt.Sprintf("<uuid-%d>", len(names)+1)
			}
			return names[u]
		})
		fmt.Fprintf(&transcript, "== %s: %s %s\nHTTP %d\n%s", st.name, st.req.method, st.req.path, w.Code, body)
		if st.name == "TokenGet" {
			b.clock.add(90 * time.Minute) // so that the refresh has a new creation date
		}
	}
	golden(t, "DeployTokenRoutes", []byte(transcript.String()))
	if len(names) != 2 {
		t.Errorf("%d distinct tokens in the transcript, want 2 (created, refreshed)", len(names))
	}
}

// TestHandler_DeployTokenAuth checks who may use the two routes that take a
// deploy token, and that a deploy token opens no other route. Nothing is
// created on a refusal.
func TestHandler_DeployTokenAuth(t *testing.T) {
	t.Parallel()
	const (
		deployID  = "20261122-130049-x5ucaa3ign"
		malformed = "3fae991e-193c-4b86-9f6a-im1nv4l1d"
		wrong     = "00000000-0000-4000-8000-000000000000"
	)
	routes := []struct{ name, method, path string }{
		{"Create", "POST", "/components/v1/tool/mytool/deployment"},
		{"Get", "GET", "/components/v1/tool/mytool/deployment/" + deployID},
		{"CreateUnprefixed", "POST", "/v1/tool/mytool/deployment"},
		{"GetUnprefixed", "GET", "/v1/tool/mytool/deployment/" + deployID},
	}
	// query returns the query string for the token and where it goes.
	type tokens struct{ mine, other string }
	tests := []struct {
		name       string
		query      func(tokens) string
		header     func(tokens) map[string]string
		noAdmin    bool
		prepare    func(b *tokenBundle)
		wantStatus int
		golden     string // "" for a success
	}{
		{name: "NoCredentials", wantStatus: 401, golden: "DeployTokenAuthNone"},
		{name: "WrongToken", query: func(tokens) string { return "token=" + wrong }, wantStatus: 401, golden: "DeployTokenAuthMismatch"},
		{name: "MalformedToken", query: func(tokens) string { return "token=" + malformed }, wantStatus: 401, golden: "DeployTokenAuthMismatch"},
		{name: "EmptyToken", query: func(tokens) string { return "token=" }, wantStatus: 401, golden: "DeployTokenAuthMismatch"},
		{name: "OtherToolsToken", query: func(tk tokens) string { return "token=" + tk.other }, wantStatus: 401, golden: "DeployTokenAuthMismatch"},
		{name: "WrongBearer", header: func(tokens) map[string]string { return map[string]string{"Authorization": "Bearer " + malformed} }, wantStatus: 401, golden: "DeployTokenAuthMismatch"},
		{
			name: "Expired", query: func(tk tokens) string { return "token=" + tk.mine },
			prepare: func(b *tokenBundle) { b.clock.add(slipway.DeployTokenLifetime) }, wantStatus: 401, golden: "DeployTokenAuthExpired",
		},
		{
			name: "NoTokenYet", query: func(tokens) string { return "token=" + wrong },
			prepare: func(b *tokenBundle) {
				if _, err := b.tokens.Delete(t.Context(), "mytool"); err != nil {
					t.Fatal(err)
				}
			}, wantStatus: 401, golden: "DeployTokenAuthNoTokenYet",
		},
		{name: "ValidQuery", query: func(tk tokens) string { return "token=" + tk.mine }, wantStatus: 200},
		{name: "ValidQueryNotFirst", query: func(tk tokens) string { return "force-build=true&x=1&token=" + tk.mine + "&force_run=True" }, wantStatus: 200},
		{name: "ValidBearer", header: func(tk tokens) map[string]string { return map[string]string{"Authorization": "Bearer " + tk.mine} }, wantStatus: 200},
		{
			name: "ValidQueryWinsOverOtherBearer", query: func(tk tokens) string { return "token=" + tk.mine },
			header: func(tk tokens) map[string]string { return map[string]string{"Authorization": "Bearer " + tk.other} }, wantStatus: 200,
		},
		{
			name: "AdminWinsOverWrongToken", query: func(tokens) string { return "token=" + malformed },
			header: func(tokens) map[string]string { return map[string]string{"Authorization": "Bearer " + testToken} }, wantStatus: 200,
		},
	}
	for _, rt := range routes {
		for _, tt := range tests {
			t.Run(rt.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				b := setupTokens(t)
				b.seed(t)
				tk := tokens{mine: b.createToken(t, "mytool"), other: b.createToken(t, "other")}
				if tt.prepare != nil {
					tt.prepare(b)
				}
				path := rt.path
				if tt.query != nil {
					path += "?" + tt.query(tk)
				}
				req := request{method: rt.method, path: path, noAuth: true}
				if tt.header != nil {
					req.header = tt.header(tk)
				}
				before := b.svc.creates
				w := b.do(t, req)
				if w.Code != tt.wantStatus {
					t.Fatalf("%s %s: status %d, want %d; body %s", rt.method, path, w.Code, tt.wantStatus, w.Body)
				}
				var env map[string]json.RawMessage
				if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
					t.Fatalf("body is not JSON: %v", err)
				}
				wantCreates := before
				if tt.wantStatus == 200 && rt.method == "POST" {
					wantCreates++
					if b.svc.lastOpts.Trigger != "token" && tt.name != "AdminWinsOverWrongToken" {
						t.Errorf("trigger = %q, want token", b.svc.lastOpts.Trigger)
					}
				}
				if b.svc.creates != wantCreates {
					t.Errorf("DeploymentCreate calls = %d, want %d", b.svc.creates, wantCreates)
				}
				for _, secret := range []string{tk.mine, tk.other, malformed, wrong} {
					if strings.Contains(w.Body.String(), secret) {
						t.Errorf("the response echoes a token: %s", w.Body)
					}
					if strings.Contains(b.logText(), secret) {
						t.Errorf("the log contains a token:\n%s", b.logText())
					}
				}
				if tt.golden != "" {
					if w.Header().Get("WWW-Authenticate") == "" {
						t.Error("no WWW-Authenticate on a 401")
					}
					golden(t, tt.golden, fmt.Appendf(nil, "HTTP %d\n%s", w.Code, w.Body.Bytes()))
				}
			})
		}
	}
}

// TestHandler_DeployTokenOtherRoutes checks that a valid deploy token opens
// no route but the two: everywhere else it is answered as no credentials.
func TestHandler_DeployTokenOtherRoutes(t *testing.T) {
	t.Parallel()
	b := setupTokens(t)
	b.seed(t)
	tok := b.createToken(t, "mytool")
	const id = "20261122-130049-x5ucaa3ign"
	for _, rt := range []struct{ method, path string }{
		{"GET", "/components/v1/tool/mytool/config"},
		{"POST", "/components/v1/tool/mytool/config"},
		{"DELETE", "/components/v1/tool/mytool/config"},
		{"GET", "/components/v1/tool/mytool/deployment"},
		{"GET", "/components/v1/tool/mytool/deployment/latest"},
		{"GET", "/v1/tool/mytool/deployment/latest"},
		{"GET", "/components/v1/tool/mytool/deployment/" + id + "/events"},
		{"PUT", "/components/v1/tool/mytool/deployment/" + id + "/cancel"},
		{"PUT", "/components/v1/tool/mytool/deployment/latest/cancel"},
		{"GET", "/components/v1/tool/mytool/deployment/token"},
		{"POST", "/components/v1/tool/mytool/deployment/token"},
		{"PUT", "/components/v1/tool/mytool/deployment/token"},
		{"DELETE", "/components/v1/tool/mytool/deployment/token"},
	} {
		for _, how := range []string{"query", "bearer"} {
			req := request{method: rt.method, path: rt.path, noAuth: true}
			if how == "query" {
				req.path += "?token=" + tok
			} else {
				req.header = map[string]string{"Authorization": "Bearer " + tok}
			}
			w := b.do(t, req)
			if w.Code != http.StatusUnauthorized {
				t.Errorf("%s %s with the deploy token as %s: status %d, want 401; body %s", rt.method, rt.path, how, w.Code, w.Body)
				continue
			}
			var env struct {
				Messages struct {
					Error []string `json:"error"`
				} `json:"messages"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || len(env.Messages.Error) != 1 || env.Messages.Error[0] != msgAuthRequired {
				t.Errorf("%s %s with the deploy token as %s: body %s, want the no-credentials envelope", rt.method, rt.path, how, w.Body)
			}
		}
	}
	if b.svc.creates != 1 {
		t.Errorf("DeploymentCreate calls = %d, want 1 (the seed)", b.svc.creates)
	}
	if _, err := b.tokens.Get(t.Context(), "mytool"); err != nil {
		t.Errorf("the token is gone after the refused requests: %v", err)
	}
	// And the token still works where it should.
	if w := b.do(t, request{method: "GET", path: "/components/v1/tool/mytool/deployment/" + id + "?token=" + tok, noAuth: true}); w.Code != 200 {
		t.Errorf("GET by id with the token: %d %s", w.Code, w.Body)
	}
}

// TestHandler_DeployTokensDisabled: without DeployTokens, the token routes
// answer 503 and a deploy token is no credential.
func TestHandler_DeployTokensDisabled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	if w := b.do(t, request{method: "POST", path: "/components/v1/tool/mytool/deployment/token"}); w.Code != http.StatusServiceUnavailable {
		t.Errorf("POST token without DeployTokens: %d %s", w.Code, w.Body)
	}
	w := b.do(t, request{method: "POST", path: "/components/v1/tool/mytool/deployment?token=x", noAuth: true})
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "deploy token as ?token=") {
		t.Errorf("POST deployment with a token and no DeployTokens: %d %s", w.Code, w.Body)
	}
}
