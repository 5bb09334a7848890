package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"

	"slipway.dev/slipway/internal/pgtest"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/postgres"
	"slipway.dev/slipway/internal/store/storetest"
)

// notifyDeadline is how long a test waits for a notification: far below
// any re-read interval a watcher falls back to.
const notifyDeadline = 2 * time.Second

// Ensure that what one store commits reaches another store's listener on
// the same database at once: an event appended through store A is heard
// by store B's Listen, each of 200 within notifyDeadline (the latencies
// are logged); a status change and a step change are heard too; a
// transaction rolled back announces nothing.
func TestListen_NotifyReachesReplica(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	base := pgtest.Schema(t)
	a := openStore(t, base)
	b := openStore(t, withAppName(t, base, "t_"+randomHex()))
	changes, err := b.Listen(ctx)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	d := seedDeployment(t, a, "notify", "d-notify")

	const n = 200
	lat := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		if _, err := a.EventAppend(ctx, slipway.Event{DeploymentID: d.ID, Time: start, Kind: "step", Step: "s", State: "running", Message: "m"}); err != nil {
			t.Fatal(err)
		}
		awaitChange(t, changes, d.ID)
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("event appended on A → heard on B, %d events: p50 %s, p99 %s, max %s",
		n, storetest.Percentile(lat, 50), storetest.Percentile(lat, 99), lat[len(lat)-1])

	// A rolled-back transaction announces nothing: notifications come in
	// commit order, so a change of the rolled-back deployment would come
	// before the one committed after it.
	other := seedDeployment(t, a, "notify", "d-other")
	errRollback := errors.New("roll back")
	err = a.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.EventAppend(ctx, slipway.Event{DeploymentID: other.ID, Time: time.Now(), Kind: "deployment", State: "running"}); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("InTx = %v, want the rollback", err)
	}
	ok, err := a.DeploymentUpdateStatus(ctx, store.DeploymentStatusUpdate{
		ID: d.ID, Tool: d.Tool, Status: slipway.DeploymentRunning, LongStatus: "running", UpdatedAt: time.Now(),
	})
	if err != nil || !ok {
		t.Fatalf("DeploymentUpdateStatus = %v, %v", ok, err)
	}
	for c := range changesUntil(t, changes, d.ID) {
		if c.DeploymentID == other.ID {
			t.Errorf("heard a change of %s, whose transaction was rolled back", other.ID)
		}
	}
	ok, err = a.StepUpdate(ctx, store.StepUpdate{DeploymentID: d.ID, Key: "build-web", State: slipway.StepRunning, Detail: "running", Attempt: 1})
	if err != nil || !ok {
		t.Fatalf("StepUpdate = %v, %v", ok, err)
	}
	awaitChange(t, changes, d.ID)
}

// Ensure a listener whose connection is ended (pg_terminate_backend)
// connects again, says that changes may have been missed (a Change with
// All set), and hears the changes committed after.
func TestListen_ReconnectsAfterTerminate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	base := pgtest.Schema(t)
	app := "t_" + randomHex()
	a := openStore(t, base)
	b := openStore(t, withAppName(t, base, app))
	changes, err := b.Listen(ctx)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	d := seedDeployment(t, a, "reconnect", "d-reconnect")
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	for round := range 3 {
		var killed int
		err := admin.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = $1 || ' listen'`, app).Scan(&killed)
		if err != nil {
			t.Fatal(err)
		}
		if killed != 1 {
			t.Fatalf("round %d: terminated %d listener connections, want 1", round, killed)
		}
		start := time.Now()
		for c := range changesUntilAll(t, changes) {
			_ = c // changes of other tests' deployments, heard before the loss
		}
		t.Logf("round %d: listening again after %s", round, time.Since(start))
		if _, err := a.EventAppend(ctx, slipway.Event{DeploymentID: d.ID, Time: time.Now(), Kind: "step", Step: "s", State: "done"}); err != nil {
			t.Fatal(err)
		}
		awaitChange(t, changes, d.ID)
	}
}

// Ensure the channel closes when Listen's context ends.
func TestListen_ClosesWithContext(t *testing.T) {
	t.Parallel()
	db := openStore(t, pgtest.Schema(t))
	ctx, cancel := context.WithCancel(t.Context())
	changes, err := db.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-changes:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("the changes channel is still open 10s after its context ended")
		}
	}
}

func openStore(t *testing.T, dsn string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), dsn, postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
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

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// seedDeployment stores a running deployment of tool with one step,
// build-web.
func seedDeployment(t *testing.T, s store.Store, tool, id string) slipway.Deployment {
	t.Helper()
	ctx := t.Context()
	now := time.Now().UTC()
	d := slipway.Deployment{ID: id, Tool: tool, CreatedAt: now, UpdatedAt: now, Status: slipway.DeploymentPending, LongStatus: "pending"}
	err := s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.ToolLock(ctx, tool, now); err != nil {
			return err
		}
		if err := tx.DeploymentCreate(ctx, d); err != nil {
			return err
		}
		return tx.StepsCreate(ctx, []slipway.Step{{DeploymentID: id, Key: "build-web", Kind: slipway.StepBuild, Component: "web", State: slipway.StepPending}})
	})
	if err != nil {
		t.Fatalf("seed deployment %s: %v", id, err)
	}
	return d
}

// awaitChange waits, at most notifyDeadline, for a change of deployment
// id, skipping the others (other tests share the database, and so the
// channel).
func awaitChange(t *testing.T, changes <-chan store.Change, id string) {
	t.Helper()
	for range changesUntil(t, changes, id) {
	}
}

// changesUntil yields the changes heard before the first of deployment
// id, which ends it; it fails the test when none comes within
// notifyDeadline.
func changesUntil(t *testing.T, changes <-chan store.Change, id string) func(func(store.Change) bool) {
	t.Helper()
	return changesUntilFunc(t, changes, func(c store.Change) bool { return c.DeploymentID == id }, "a change of "+id)
}

// changesUntilAll is changesUntil for a Change with All set.
func changesUntilAll(t *testing.T, changes <-chan store.Change) func(func(store.Change) bool) {
	t.Helper()
	return changesUntilFunc(t, changes, func(c store.Change) bool { return c.All }, "a change with All set")
}

func changesUntilFunc(t *testing.T, changes <-chan store.Change, last func(store.Change) bool, what string) func(func(store.Change) bool) {
	t.Helper()
	return func(yield func(store.Change) bool) {
		t.Helper()
		timeout := time.NewTimer(notifyDeadline)
		defer timeout.Stop()
		for {
			select {
			case c, ok := <-changes:
				if !ok {
					t.Fatalf("the changes channel closed while waiting for %s", what)
				}
				if last(c) {
					return
				}
				if !yield(c) {
					return
				}
			case <-timeout.C:
				t.Fatalf("no %s within %s", what, notifyDeadline)
			}
		}
	}
}
