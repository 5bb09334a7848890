// Package pgtest gives tests a real PostgreSQL server: a throwaway cluster
// ([Start]) that a test process starts once ([Server]), or the server that
// $SLIPWAY_TEST_POSTGRES_URL names, and on it a fresh schema ([Schema]) or
// database ([Database]) per test, dropped when the test ends.
//
// A package whose tests use it calls [Main] from its TestMain. `make test`
// runs the suite under the withpostgres command, which starts one cluster
// for all the test processes. PostgreSQL missing is a failure, never a
// skip: install it (scripts/ensure-deps.sh) or set
// SLIPWAY_TEST_POSTGRES_URL.
//
// It imports testing: import it only from tests and from its own command,
// withpostgres.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// EnvURL names the environment variable that points the tests at a
// running server (a postgres:// URL of a superuser, or of a role that may
// create schemas and databases) instead of a cluster of their own.
const EnvURL = "SLIPWAY_TEST_POSTGRES_URL"

// ddlTimeout bounds each CREATE and DROP of a schema or database.
const ddlTimeout = time.Minute

var (
	mainCalled atomic.Bool

	server struct {
		once sync.Once
		url  string
		err  error
	}

	mu      sync.Mutex
	cluster *Cluster               // the one Server started, for Main to stop
	admins  = map[string]*sql.DB{} // by URL, for the DDL of Schema and Database
)

// Main runs the tests of a package that uses [Server], [Schema] or
// [Database]; call it from TestMain. It stops the cluster that this
// process started, if any, and exits with the tests' code.
func Main(m *testing.M) {
	os.Exit(Wrap(m).Run())
}

// Wrap returns m whose Run also stops the cluster this process started,
// for a TestMain that hands m on to a runner of its own (testscript.Main)
// instead of calling [Main].
func Wrap(m interface{ Run() int }) interface{ Run() int } {
	mainCalled.Store(true)
	return wrapped{m}
}

type wrapped struct{ m interface{ Run() int } }

func (w wrapped) Run() int {
	code := w.m.Run()
	if err := shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func shutdown() error {
	mu.Lock()
	defer mu.Unlock()
	var errs []error
	for u, db := range admins {
		errs = append(errs, db.Close())
		delete(admins, u)
	}
	if cluster != nil {
		errs = append(errs, cluster.Stop())
		cluster = nil
	}
	return errors.Join(errs...)
}

// Server returns the URL of a PostgreSQL server for tests, as a superuser:
// $SLIPWAY_TEST_POSTGRES_URL when it is set, and otherwise that of a
// cluster that the first call in this process starts and [Main] stops. It
// fails the test, loudly, when PostgreSQL cannot be started.
func Server(tb testing.TB) string {
	tb.Helper()
	if !mainCalled.Load() {
		tb.Fatal("pgtest: call pgtest.Main(m) from this package's TestMain, so that the server it starts is stopped")
	}
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	server.once.Do(func() {
		dir, err := os.MkdirTemp("", "slipway-pgtest-") //nolint:usetesting // it outlives this test, and t.TempDir()'s parent is root's alone
		if err != nil {
			server.err = err
			return
		}
		c, err := Start(context.Background(), dir)
		if err != nil {
			server.err = err
			return
		}
		mu.Lock()
		cluster = c
		mu.Unlock()
		server.url = c.URL()
	})
	if server.err != nil {
		tb.Fatalf(`
**********************************************************************
pgtest: this test needs PostgreSQL, and it could not be started:
  %v
Fix it with one of:
  - install PostgreSQL: ./scripts/ensure-deps.sh (apt-get install postgresql)
  - point the tests at a running server:
      %s=postgres://USER@HOST:PORT/DB?sslmode=disable
**********************************************************************`, server.err, EnvURL)
	}
	return server.url
}

// Schema creates a schema of a random name (t_<hex>) on [Server] and
// returns a URL whose connections have it alone as their search_path (a
// search_path parameter in the URL's query, which pgx sends), so that
// the test's tables are its own. The schema is dropped, with all it holds,
// when the test ends.
func Schema(tb testing.TB) string {
	tb.Helper()
	base := Server(tb)
	name := randomName()
	ddl(tb, base, "CREATE SCHEMA "+name)
	tb.Cleanup(func() { ddl(tb, base, "DROP SCHEMA IF EXISTS "+name+" CASCADE") })
	return withURL(tb, base, func(u *url.URL) {
		q := u.Query()
		q.Set("search_path", name)
		u.RawQuery = q.Encode()
	})
}

// Database creates a database of a random name (t_<hex>) on [Server] and
// returns its URL, for a test that needs a whole database to itself. The
// database is dropped when the test ends, its sessions ended first.
func Database(tb testing.TB) string {
	tb.Helper()
	base := Server(tb)
	name := randomName()
	ddl(tb, base, "CREATE DATABASE "+name+" TEMPLATE template0")
	tb.Cleanup(func() { ddl(tb, base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	return withURL(tb, base, func(u *url.URL) { u.Path = "/" + name })
}

// ddl runs one statement on the server at base, failing the test when it
// fails.
func ddl(tb testing.TB, base, stmt string) {
	tb.Helper()
	db, err := admin(base)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ddlTimeout)
	defer cancel()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		tb.Fatalf("pgtest: %s: %v", stmt, err)
	}
}

// admin returns a connection pool to base, kept for the process.
func admin(base string) (*sql.DB, error) {
	mu.Lock()
	defer mu.Unlock()
	if db, ok := admins[base]; ok {
		return db, nil
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", base, err)
	}
	db.SetMaxIdleConns(4)
	admins[base] = db
	return db, nil
}

// withURL returns base changed by edit.
func withURL(tb testing.TB, base string, edit func(*url.URL)) string {
	tb.Helper()
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("pgtest: %s=%q is not a postgres:// URL", EnvURL, base)
	}
	edit(u)
	return u.String()
}

// randomName returns a fresh name for a schema or database: t_ and 16 hex
// digits.
func randomName() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "t_" + hex.EncodeToString(b)
}
