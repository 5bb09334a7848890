package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/diskspace"
	"slipway.dev/slipway/internal/server"
)

// healthz returns the status and checks of a server's healthz.
func healthz(t *testing.T, srv *server.Server) (int, string, map[string]string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL()+"/components/v1/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var h struct {
		Data struct {
			Status string            `json:"status"`
			Checks map[string]string `json:"checks"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("healthz %s: %v", b, err)
	}
	return resp.StatusCode, h.Data.Status, h.Data.Checks
}

// Ensure healthz says how tools are confined: ok in the sandbox,
// DEGRADED with the reason when the sandbox is off, and the banner line
// says the same.
func TestServer_HealthzSandbox(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed (make deps installs it)")
	}
	on := startServer(t, server.Config{DataDir: t.TempDir(), MinFreeDisk: diskspace.Floor{Off: true}})
	defer stopServer(t, on)
	code, status, checks := healthz(t, on)
	if strings.HasPrefix(on.Sandbox(), "off") {
		t.Fatalf("Sandbox() = %q on a host with bubblewrap", on.Sandbox())
	}
	limited := !strings.Contains(on.Sandbox(), "rlimit") && !strings.Contains(on.Sandbox(), "limits: none")
	if limited && (code != http.StatusOK || status != "OK" || checks["sandbox"] != "ok") {
		t.Errorf("sandboxed healthz = %d %s %v", code, status, checks)
	}

	off := startServer(t, server.Config{DataDir: t.TempDir(), Unsandboxed: true, MinFreeDisk: diskspace.Floor{Off: true}})
	defer stopServer(t, off)
	code, status, checks = healthz(t, off)
	if code != http.StatusOK || status != "DEGRADED" || !strings.Contains(checks["sandbox"], "off: tool processes run unconfined") {
		t.Errorf("unsandboxed healthz = %d %s %v", code, status, checks)
	}
}
