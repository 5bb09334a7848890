package postgres_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"slipway.dev/slipway/internal/pgtest"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/postgres"
	"slipway.dev/slipway/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestConformance runs the store's conformance suite on a real PostgreSQL
// server, each subtest in a schema of its own.
func TestConformance(t *testing.T) {
	t.Parallel()
	var urls sync.Map // store.Store → the URL of its schema

	open := func(t *testing.T, url string) store.Store {
		t.Helper()
		db, err := postgres.Open(t.Context(), url, postgres.Options{MaxConns: 10})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			if err := db.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		urls.Store(db, url)
		return db
	}
	factory := func(t *testing.T) store.Store { return open(t, pgtest.Schema(t)) }
	restart := func(t *testing.T, s store.Store) store.Store {
		t.Helper()
		url, ok := urls.Load(s)
		if !ok {
			t.Fatalf("restart: store %p was not made by the factory", s)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("restart: Close: %v", err)
		}
		return open(t, url.(string))
	}
	storetest.Run(t, factory, restart)
}

// TestInTx_DeadlockIsRetriedInvisibly makes two transactions take two
// tools' locks in opposite orders (against the contract, on purpose):
// PostgreSQL aborts one as a deadlock, InTx runs it again, both commit,
// and the aborted attempt left nothing behind.
func TestInTx_DeadlockIsRetriedInvisibly(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := postgres.Open(ctx, pgtest.Schema(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	now := time.Now()
	for _, tool := range []string{"a", "b"} {
		if err := db.ToolEnsure(ctx, tool, now); err != nil {
			t.Fatal(err)
		}
	}
	var (
		runs   atomic.Int32
		holds  sync.WaitGroup // both hold their first lock
		wg     sync.WaitGroup
		errs   = make([]error, 2)
		orders = [][2]string{{"a", "b"}, {"b", "a"}}
	)
	holds.Add(2)
	for i, order := range orders {
		first := true
		wg.Go(func() {
			errs[i] = db.InTx(ctx, func(tx store.Tx) error {
				// A name per attempt: an aborted attempt's write would show.
				run := runs.Add(1)
				if err := tx.EnvVarPut(ctx, store.EnvVar{Tool: order[0], Name: fmt.Sprintf("RUN_%d", run), Sealed: "x", UpdatedAt: now}); err != nil {
					return err
				}
				if err := tx.ToolLock(ctx, order[0], now); err != nil {
					return err
				}
				if first {
					first = false
					holds.Done()
					holds.Wait()
				}
				return tx.ToolLock(ctx, order[1], now)
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("InTx with a deadlock = %v, want both committed after a retry", err)
	}
	// At least one attempt deadlocked and ran again (a retry may meet
	// the other transaction again before it commits).
	if n := runs.Load(); n < 3 {
		t.Errorf("fn ran %d times, want at least 3 (a deadlocked attempt run again)", n)
	}
	for _, order := range orders {
		vars, err := db.EnvVarList(ctx, order[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(vars) != 1 {
			t.Errorf("envvars of %s = %+v, want the committed attempt's alone", order[0], vars)
		}
	}
}

// Ensure a database URL's password never reaches an error or a log line.
func TestOpen_ErrorHidesPassword(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://slipway:s3cret-pw@127.0.0.1:1/slipway?connect_timeout=2",
		"host=127.0.0.1 port=1 user=slipway password=s3cret-pw dbname=slipway connect_timeout=2",
	} {
		_, err := postgres.Open(t.Context(), dsn, postgres.Options{})
		if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("Open(%s) = %v; want an error without the password", postgres.Redact(dsn), err)
		}
		if r := postgres.Redact(dsn); strings.Contains(r, "s3cret-pw") || !strings.Contains(r, "***") {
			t.Errorf("Redact(...) = %q, want the password as ***", r)
		}
	}
}

// Ensure Redact hides the password of a URL, of its password parameter
// and of a key=value string, and keeps the rest.
func TestRedact(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]string{
		"postgres://bob:s3cr%40t@db.example:5432/slipway?sslmode=disable": "postgres://bob:***@db.example:5432/slipway?sslmode=disable",
		"postgresql://bob@db/slipway":                                     "postgresql://bob@db/slipway",
		"postgres://db/slipway?user=bob&password=s3cret&sslmode=require":  "postgres://db/slipway?user=bob&password=***&sslmode=require",
		"postgres://b%40b:pw@db/slipway":                                  "postgres://b%40b:***@db/slipway",
		"host=db user=bob password=s3cret dbname=slipway":                 "host=db user=bob password=*** dbname=slipway",
	} {
		if got := postgres.Redact(dsn); got != want {
			t.Errorf("Redact(%q) = %q, want %q", dsn, got, want)
		}
	}
}
