package server_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/cli"
	"slipway.dev/slipway/internal/kubetest"
	"slipway.dev/slipway/internal/pgtest"
	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipwaytest/servertest"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/postgres"
)

// TestMain gives the package's tests a PostgreSQL and a Kubernetes
// control plane when they ask, and stops both at the end. Started with
// childEnv set, the test binary is the slipway command instead (cli.Main),
// so that a test can run servers as processes and kill one with SIGKILL.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Main(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(kubetest.Wrap(pgtest.Wrap(m)).Run())
}

// Ensure a server on PostgreSQL deploys a tool end to end, and that a
// second server on the same database is refused with a reason: another
// secret key (the secrets could not be opened), or, with the same key,
// a live server already there (the local target runs components on its
// own machine). Once the first has stopped, the second starts and serves
// the same history.
func TestServer_Postgres(t *testing.T) {
	t.Parallel()
	url := pgtest.Schema(t)
	first := servertest.StartWith(t, func(c *server.Config) { c.Database = url })
	want := deploymentIDs(t, first.Client)

	second := func(dir string) error {
		srv, err := server.New(server.Config{
			DataDir: dir, Database: url, Listen: "127.0.0.1:0", ProxyListen: "127.0.0.1:0",
			Logger: slog.New(slog.DiscardHandler), StopGrace: time.Second,
		})
		if err != nil {
			return err
		}
		err = srv.Start(t.Context())
		if stopErr := srv.Stop(context.WithoutCancel(t.Context())); err == nil {
			err = stopErr
		}
		return err
	}
	// Another key: refused before anything else.
	err := second(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "is not the one this database's secrets are sealed with") {
		t.Fatalf("a second server with another secret key: %v; want refused, naming the key", err)
	}
	// The same key: refused while the first is alive.
	dir := t.TempDir()
	key, err := os.ReadFile(filepath.Join(first.DataDir, server.SecretKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, server.SecretKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	err = second(dir)
	if err == nil || !strings.Contains(err.Error(), "another slipway server works on this database") {
		t.Fatalf("a second server while the first runs: %v; want refused, naming the first", err)
	}
	if err := first.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A server of this host killed a moment ago (its heartbeat is fresh,
	// its process gone) does not hold the database: a restart after a
	// crash need not wait for its heartbeat to expire.
	db, err := postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	now := time.Now()
	if err := db.NodeBeat(t.Context(), store.Node{ID: "crashed", Host: host, PID: gone.Process.Pid, Target: "local", StartedAt: now, SeenAt: now}); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	// The first stopped (and left): the second starts and finds the
	// history.
	srv, err := server.New(server.Config{
		DataDir: dir, Database: url, Listen: "127.0.0.1:0", ProxyListen: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler), StopGrace: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatalf("the second server once the first stopped: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.WithoutCancel(t.Context())) })
	c, err := apiclient.New(srv.URL(), srv.AdminToken())
	if err != nil {
		t.Fatal(err)
	}
	if got := deploymentIDs(t, c); !slices.Equal(got, want) || len(got) == 0 {
		t.Errorf("deployments seen by the second server = %v, want the first's %v", got, want)
	}
}

// deploymentIDs returns the IDs and statuses of the deployments of
// servertest.Tool.
func deploymentIDs(t *testing.T, c *apiclient.Client) []string {
	t.Helper()
	env, err := c.DeploymentList(t.Context(), servertest.Tool)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := env.Deployments()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID+" "+string(d.Status))
	}
	return ids
}
