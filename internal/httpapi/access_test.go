package httpapi

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/edge"
	"slipway.dev/slipway/internal/store/sqlite"
)

// Ensure a tool's access log is read by the admin and the tool's own
// token, as JSON lines (the last N with lines); another tool's token
// gets 403 and learns nothing; bad query parameters are 422 naming
// them; and a server keeping no access logs answers 503.
func TestHandler_AccessLogs(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	logs, err := edge.NewAccessLogs(t.TempDir(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logs.Close() })
	for _, uri := range []string{"/first", "/second", "/third"} {
		if err := logs.Log(edge.AccessLine{Time: time.Now(), Instance: "tool-a", Method: "GET", URI: uri, Status: 200}); err != nil {
			t.Fatal(err)
		}
	}
	if err := logs.Log(edge.AccessLine{Time: time.Now(), Instance: "tool-b", Method: "GET", URI: "/b-secret", Status: 200}); err != nil {
		t.Fatal(err)
	}
	apiTokens := auth.NewAPITokens(db, nil)
	_, tokA, err := apiTokens.Create(t.Context(), "tool-a", "A")
	if err != nil {
		t.Fatal(err)
	}
	_, tokB, err := apiTokens.Create(t.Context(), "tool-b", "B")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{AdminToken: testToken, APITokens: apiTokens, AccessLogs: logs, ToolRate: -1, PollRate: -1}
	h := NewHandler(newFakeService(), cfg)
	send := func(h http.Handler, path, bearer string) *httptest.ResponseRecorder {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil)
		r.Header.Set("Authorization", "Bearer "+bearer)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	const path = "/components/v1/tool/tool-a/access-logs"
	for _, bearer := range []string{testToken, tokA} {
		w := send(h, path, bearer)
		if w.Code != 200 || strings.Count(w.Body.String(), "\n") != 3 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
			t.Errorf("GET %s: %d %q, want the 3 lines as text", path, w.Code, w.Body)
		}
	}
	if w := send(h, path+"?lines=1", tokA); w.Code != 200 || strings.Count(w.Body.String(), "\n") != 1 || !strings.Contains(w.Body.String(), `"/third"`) {
		t.Errorf("GET %s?lines=1: %d %q, want the last line", path, w.Code, w.Body)
	}
	if w := send(h, path, tokB); w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "/first") {
		t.Errorf("GET %s with tool-b's token: %d %q, want 403", path, w.Code, w.Body)
	}
	if w := send(h, "/components/v1/tool/tool-b/access-logs", tokA); w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "b-secret") {
		t.Errorf("GET tool-b's access log with tool-a's token: %d %q, want 403", w.Code, w.Body)
	}
	for q, field := range map[string]string{"?lines=-1": "lines", "?lines=many": "lines", "?follow=perhaps": "follow"} {
		if w := send(h, path+q, tokA); w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), field) {
			t.Errorf("GET %s%s: %d %q, want 422 naming %s", path, q, w.Code, w.Body, field)
		}
	}
	cfg.AccessLogs = nil
	if w := send(NewHandler(newFakeService(), cfg), path, testToken); w.Code != http.StatusServiceUnavailable {
		t.Errorf("GET %s with no access logs: %d %q, want 503", path, w.Code, w.Body)
	}
}
