package runner_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver/riverdatabasesql"

	"slipway.dev/slipway/internal/pgtest"
	"slipway.dev/slipway/internal/runner"
	"slipway.dev/slipway/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Ensure that, of two runners on one PostgreSQL database, the job of one
// that died (its database connections gone while the job ran) is left
// alone while its node counts as alive, and is rescued by the other and
// run there once it does not.
func TestRunner_PostgresRescueAcrossNodes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.Schema(t)
	open := func() *postgres.DB {
		db, err := postgres.Open(ctx, url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	db1, db2 := open(), open()
	if err := runner.Migrate(ctx, riverdatabasesql.New(db1.WriteDB())); err != nil {
		t.Fatal(err)
	}
	job := dieRunning(t, db1, riverdatabasesql.New(db1.WriteDB()), runner.Config{ID: "node-1"}) // node-1 dies with the job running

	h := &handler{started: make(chan runner.Job, 10), fail: map[string]int{}, snooze: map[string]int{}}
	r2, err := runner.New(riverdatabasesql.New(db2.WriteDB()), h, runner.Config{ID: "node-2", PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r2.RescueOrphans(ctx, func(string) bool { return true }); err != nil || n != 0 {
		t.Fatalf("RescueOrphans while node-1 is alive = %d, %v; want none rescued", n, err)
	}
	if n, err := r2.RescueOrphans(ctx, func(id string) bool { return id == "node-2" }); err != nil || n != 1 {
		t.Fatalf("RescueOrphans once node-1 is dead = %d, %v; want 1", n, err)
	}
	if err := r2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = r2.Stop(s)
	})
	b := &testBundle{db: db2, handler: h, runner: r2}
	if got := b.next(t); got != job {
		t.Fatalf("node-2 ran %+v, want %+v", got, job)
	}
}
