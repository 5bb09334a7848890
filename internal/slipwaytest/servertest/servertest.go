// Package servertest starts a real Slipway server (SQLite store, River,
// git, local builder, local processes, HTTP API) in a test's temporary
// directory, with a tool deployed from a real git repository, for the
// end-to-end tests of the API and the CLI. Never imported by production
// code.
package servertest

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

// Tool is the tool that [Start] deploys.
const Tool = "demo"

// waitTimeout bounds every wait of the package: generous, so that slow
// machines do not fail the tests.
const waitTimeout = 90 * time.Second

// Server is a started server with [Tool] deployed.
type Server struct {
	*server.Server
	// Client talks to the server with the admin token.
	Client *apiclient.Client
	// Repo is the tool's repository.
	Repo *slipwaytest.Repo
	// DataDir is the server's data directory.
	DataDir string
}

// Config returns the tool config that [Start] deploys, for a repository at
// repoURL: web (continuous, a Python HTTP server on a port, TCP probe),
// cron (scheduled @daily, reusing web's build) and migrate (one-off).
func Config(repoURL string) []byte {
	b, _ := json.Marshal(map[string]any{ // a map of strings cannot fail to encode
		"config_version": "v1beta1",
		"components": map[string]any{
			"web": map[string]any{
				"component_type": "continuous",
				"build":          map[string]any{"repository": repoURL, "ref": "main"},
				"run":            map[string]any{"command": "echo web up; exec python3 -m http.server $PORT --bind 127.0.0.1", "port": 8000},
			},
			"cron": map[string]any{
				"component_type": "scheduled",
				"build":          map[string]any{"reuse_from": "web"},
				"run":            map[string]any{"command": "echo tick", "schedule": "@daily"},
			},
			"migrate": map[string]any{
				"component_type": "one-off",
				"build":          map[string]any{"reuse_from": "web"},
				"run":            map[string]any{"command": "echo migrated", "timeout": 60},
			},
		},
	})
	return b
}

// Start starts a server in t.TempDir(), stopped when the test ends, and
// deploys [Tool] ([Config]) and waits until the deployment succeeded.
func Start(t *testing.T) *Server {
	t.Helper()
	return StartWith(t, nil)
}

// StartWith is [Start] with the server's config changed by edit (when
// not nil) before the server starts; edit may set another DataDir.
func StartWith(t testing.TB, edit func(*server.Config)) *Server {
	t.Helper()
	s := StartEmpty(t, edit)
	s.Repo = slipwaytest.GitRepo(t, map[string]string{"index.html": "hello from the demo tool\n"})
	if _, err := s.Client.ConfigCreate(t.Context(), Tool, Config(s.Repo.URL)); err != nil {
		t.Fatal(err)
	}
	s.Deploy(t)
	return s
}

// StartEmpty starts a server as [StartWith] does, with no tool and no
// repository (Repo is nil).
func StartEmpty(t testing.TB, edit func(*server.Config)) *Server {
	t.Helper()
	cfg := server.Config{
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", ProxyListen: "127.0.0.1:0", AllowLocalRepos: true,
		Logger: slog.New(slog.DiscardHandler), StopGrace: time.Second, BuildSlots: 1,
		ToolRate: -1, // the tests drive one tool faster than a client would
	}
	if edit != nil {
		edit(&cfg)
	}
	data := cfg.DataDir
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(context.WithoutCancel(t.Context())); err != nil {
			t.Errorf("stop server: %v", err)
		}
	})
	c, err := apiclient.New(srv.URL(), srv.AdminToken())
	if err != nil {
		t.Fatal(err)
	}
	return &Server{Server: srv, Client: c, DataDir: data}
}

// Deploy deploys [Tool]'s config and waits until the deployment is
// final; it fails the test unless it succeeded.
func (s *Server) Deploy(t testing.TB) slipway.Deployment {
	t.Helper()
	return s.DeployTool(t, Tool)
}

// DeployTool deploys tool's config and waits until the deployment is
// final; it fails the test unless it succeeded.
func (s *Server) DeployTool(t testing.TB, tool string) slipway.Deployment {
	t.Helper()
	d := s.DeployFinal(t, tool)
	if d.Status != slipway.DeploymentSuccessful {
		t.Fatalf("deployment %s: %s: %s", d.ID, d.Status, d.LongStatus)
	}
	return d
}

// DeployFinal deploys tool's config and returns the deployment once it is
// final, whatever its status.
func (s *Server) DeployFinal(t testing.TB, tool string) slipway.Deployment {
	t.Helper()
	return s.AwaitFinal(t, tool, s.DeployStart(t, tool))
}

// DeployStart deploys tool's config and returns the deployment as created,
// for a test with something to do while it runs ([Server.AwaitFinal]).
func (s *Server) DeployStart(t testing.TB, tool string) slipway.Deployment {
	t.Helper()
	env, err := s.Client.DeploymentCreate(t.Context(), tool, false, false, "")
	if err != nil {
		t.Fatal(err)
	}
	d, err := env.Deployment()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// AwaitFinal returns deployment d of tool once it is final, whatever its
// status.
func (s *Server) AwaitFinal(t testing.TB, tool string, d slipway.Deployment) slipway.Deployment {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !d.Status.Final() {
		if time.Now().After(deadline) {
			t.Fatalf("deployment %s still %s after %s: %s", d.ID, d.Status, waitTimeout, d.LongStatus)
		}
		// Polling a real server, bounded by waitTimeout, within the
		// server's 10/s limit of polls of one deployment.
		time.Sleep(120 * time.Millisecond)
		env, err := s.Client.DeploymentGet(t.Context(), tool, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d, err = env.Deployment(); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// Eventually calls check every 50ms until it returns "" and fails the test
// with check's last answer when that takes longer than the package's
// bound.
func Eventually(t *testing.T, check func() string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", waitTimeout, msg)
		}
		time.Sleep(50 * time.Millisecond) // polling a real server, bounded by waitTimeout
	}
}

// LogDir returns the directory of a component's logs.
func (s *Server) LogDir(component string) string {
	return filepath.Join(s.DataDir, "run", Tool, component)
}
