package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

// Ensure the profiles are served on their own loopback listener to the
// admin token only, and that another address is refused at start.
func TestServer_DebugProfiles(t *testing.T) {
	t.Parallel()
	s := servertest.StartEmpty(t, func(c *server.Config) { c.DebugListen = "127.0.0.1:0" })
	base := s.DebugURL()
	if base == "" {
		t.Fatal("no profiles served")
	}
	get := func(url, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, tok := range []string{"", "not-the-token", s.AdminToken() + "x"} {
		if code, _ := get(base+"goroutine?debug=1", tok); code != http.StatusUnauthorized {
			t.Errorf("token %q: %d, want 401", tok, code)
		}
	}
	if code, body := get(base+"goroutine?debug=1", s.AdminToken()); code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("admin: %d %.200s", code, body)
	}
	// The API's listener does not serve them.
	if code, _ := get(s.URL()+"/debug/pprof/", s.AdminToken()); code == http.StatusOK {
		t.Error("the API serves the profiles")
	}

	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:0", "example.org:0", "no-port"} {
		srv, err := server.New(server.Config{
			DataDir: t.TempDir(), Listen: "127.0.0.1:0", ProxyListen: "127.0.0.1:0", DebugListen: addr,
			Logger: slog.New(slog.DiscardHandler), StopGrace: time.Second, Unsandboxed: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		err = srv.Start(t.Context())
		_ = srv.Stop(t.Context())
		if err == nil || !strings.Contains(err.Error(), "--debug-listen") {
			t.Errorf("--debug-listen %s: %v, want a refusal naming the flag", addr, err)
		}
	}
}
