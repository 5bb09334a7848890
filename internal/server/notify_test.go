package server_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"slipway.dev/slipway/internal/kubetest"
	"slipway.dev/slipway/internal/pgtest"
	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store/storetest"
)

// TestServer_NotifyReplica runs two servers on one PostgreSQL database
// whose watchers re-read the store only every minute, deploys through
// server A and follows each deployment's events on server B: every event
// reaches B's watcher in well under a second (the store's notifications
// wake it; latencies logged), and the deployment's stream ends long before
// the minute. Then B's listener connection is ended
// (pg_terminate_backend): it connects again, and the next deployment's
// events reach B's watcher as fast.
func TestServer_NotifyReplica(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts two servers and a Kubernetes control plane; skipped with -short")
	}
	const recheck = time.Minute
	dsn := pgtest.Schema(t)
	var reqsA, reqsB kubetest.Requests
	a, _, _ := startKube(t, &reqsA, func(c *server.Config) { c.Database, c.EventRecheck = dsn, recheck })
	key, err := os.ReadFile(filepath.Join(a.DataDir, server.SecretKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	app := fmt.Sprintf("t_notify_%d", time.Now().UnixNano())
	b, _, _ := startKube(t, &reqsB, func(c *server.Config) {
		if err := os.WriteFile(filepath.Join(c.DataDir, server.SecretKeyFile), key, 0o600); err != nil {
			t.Fatal(err)
		}
		c.Database, c.EventRecheck = withAppName(t, dsn, app), recheck
	})
	if _, err := a.Client.ConfigCreate(t.Context(), "notify", replicaConfig(0)); err != nil {
		t.Fatal(err)
	}

	var lat []time.Duration
	follow := func(round int) {
		t.Helper()
		env, err := a.Client.DeploymentCreate(t.Context(), "notify", false, true, "")
		if err != nil {
			t.Fatal(err)
		}
		d, err := env.Deployment()
		if err != nil {
			t.Fatal(err)
		}
		// Far below the re-read interval: only a notification is that fast.
		ctx, cancel := context.WithTimeout(t.Context(), recheck/2)
		defer cancel()
		var seen []slipway.Event
		err = b.Client.DeploymentEvents(ctx, "notify", d.ID, 0, func(ev slipway.Event) error {
			got := time.Now()
			seen = append(seen, ev)
			// Events written before the watcher connected are read, not
			// heard: only the later ones measure the notification.
			if len(seen) > 2 {
				lat = append(lat, got.Sub(ev.Time))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: events of %s on server B: %v (after %d events)", round, d.ID, err, len(seen))
		}
		if last := seen[len(seen)-1]; last.Kind != "deployment" || last.State != string(slipway.DeploymentSuccessful) {
			t.Fatalf("round %d: last event of %s = %+v, want the deployment successful", round, d.ID, last)
		}
	}
	const rounds = 12
	for r := range rounds {
		follow(r)
	}
	// B's listener loses its connection: it connects again.
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	var killed int
	err = admin.QueryRowContext(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 || ' listen'`, app).Scan(&killed)
	if err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d listener connections of server B, want 1", killed)
	}
	for r := range 3 {
		follow(rounds + r)
	}
	slices.Sort(lat)
	t.Logf("events written on A → read by a watcher on B, %d events: p50 %s, p99 %s, max %s",
		len(lat), storetest.Percentile(lat, 50), storetest.Percentile(lat, 99), lat[len(lat)-1])
	if p99 := storetest.Percentile(lat, 99); p99 > 2*time.Second {
		t.Errorf("p99 latency %s, want well under the re-read interval (%s)", p99, recheck)
	}
}

// withAppName returns dsn whose connections carry application_name name,
// so that a test finds them in pg_stat_activity.
func withAppName(t *testing.T, dsn, name string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}
