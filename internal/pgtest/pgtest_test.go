package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestMain(m *testing.M) { Main(m) }

func open(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func queryString(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	var s string
	if err := db.QueryRowContext(t.Context(), q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

func TestServer(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	db := open(t, Server(t))
	t.Logf("Server: %s", time.Since(t0))
	if os.Getenv(EnvURL) != "" {
		return // tuned or not, it is not ours
	}
	for setting, want := range map[string]string{"fsync": "off", "synchronous_commit": "off", "max_connections": "500", "server_encoding": "UTF8"} {
		if got := queryString(t, db, "SHOW "+setting); got != want {
			t.Errorf("%s = %s, want %s", setting, got, want)
		}
	}
}

func TestSchemaIsolation(t *testing.T) {
	t.Parallel()
	Server(t)
	t0 := time.Now()
	urlA := Schema(t)
	t.Logf("Schema: %s", time.Since(t0))
	a, b := open(t, urlA), open(t, Schema(t))
	if got := queryString(t, a, "SELECT current_schema()"); !strings.HasPrefix(got, "t_") {
		t.Fatalf("current_schema() = %q, want t_<hex>", got)
	}
	if _, err := a.ExecContext(t.Context(), "CREATE TABLE things (id int)"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExecContext(t.Context(), "INSERT INTO things VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	var n int
	err := b.QueryRowContext(t.Context(), "SELECT count(*) FROM things").Scan(&n)
	if pgErr := (*pgconn.PgError)(nil); !errors.As(err, &pgErr) || pgErr.Code != "42P01" {
		t.Fatalf("the other schema's table: err = %v, want undefined_table (42P01)", err)
	}
	// Each schema has its own table of that name.
	if _, err := b.ExecContext(t.Context(), "CREATE TABLE things (id int)"); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, b, "SELECT count(*)::text FROM things"); got != "0" {
		t.Errorf("rows in the second schema's table = %s, want 0", got)
	}
}

//nolint:tparallel // the subtest must end, cleanups and all, before the check
func TestSchemaDroppedAtCleanup(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("use", func(t *testing.T) {
		db := open(t, Schema(t))
		name = queryString(t, db, "SELECT current_schema()")
		if _, err := db.ExecContext(t.Context(), "CREATE TABLE things (id int)"); err != nil {
			t.Fatal(err)
		}
	})
	var n int
	if err := open(t, Server(t)).QueryRowContext(t.Context(), "SELECT count(*) FROM pg_namespace WHERE nspname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("schema %s is still there after its test", name)
	}
}

//nolint:tparallel // the subtest must end, cleanups and all, before the check
func TestDatabase(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("use", func(t *testing.T) {
		Server(t)
		t0 := time.Now()
		url := Database(t)
		t.Logf("Database: %s", time.Since(t0))
		db := open(t, url)
		name = queryString(t, db, "SELECT current_database()")
		if !strings.HasPrefix(name, "t_") {
			t.Fatalf("current_database() = %q, want t_<hex>", name)
		}
		if _, err := db.ExecContext(t.Context(), "CREATE TABLE things (id int)"); err != nil {
			t.Fatal(err)
		}
		// A session still open at cleanup does not keep the database.
		conn, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
	})
	var n int
	if err := open(t, Server(t)).QueryRowContext(t.Context(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s is still there after its test", name)
	}
}

// tempDir returns an empty directory for a cluster of a test's own, in
// os.TempDir() so that the postgres user reaches it.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgtest-test-") //nolint:usetesting // t.TempDir()'s parent is root's alone: the postgres user could not reach it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func TestStartStop(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	t0 := time.Now()
	c, err := Start(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Start to ready: %s", time.Since(t0))
	t.Cleanup(func() { _ = c.Stop() })
	if got := queryString(t, open(t, c.URL()), "SELECT 'up'"); got != "up" {
		t.Fatalf("got %q", got)
	}
	pid := c.cmd.Process.Pid

	t0 = time.Now()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Stop: %s", time.Since(t0))
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after Stop: %v, want it gone", dir, err)
	}
	// Nothing of its process group is left: not the postmaster, no backend.
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d after Stop: kill 0 = %v, want ESRCH", pid, err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStartFails(t *testing.T) {
	t.Parallel()
	dir := tempDir(t)
	if err := os.MkdirAll(filepath.Join(dir, "data", "base"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Start(t.Context(), dir)
	if err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Fatalf("Start in a directory in use: err = %v, want it to say it is not empty", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "base")); err != nil {
		t.Errorf("Start removed what was in a directory it did not make: %v", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = Start(ctx, filepath.Join(dir, "other"))
	if err == nil || !strings.HasPrefix(err.Error(), "start postgres: initdb: ") {
		t.Fatalf("Start with a cancelled context: err = %v, want start postgres: initdb: ...", err)
	}

	if os.Geteuid() == 0 {
		// t.TempDir()'s parent is root's alone: initdb, as postgres, fails.
		_, err = Start(t.Context(), filepath.Join(t.TempDir(), "cluster"))
		if err == nil || !strings.HasPrefix(err.Error(), "start postgres: initdb: ") || !strings.Contains(err.Error(), "the postgres user must reach") {
			t.Fatalf("Start in a directory the postgres user cannot reach: err = %v, want start postgres: initdb: ...the postgres user must reach...", err)
		}
		t.Log(err)
	}
}

func BenchmarkSchema(b *testing.B) {
	Server(b)
	for b.Loop() {
		Schema(b)
	}
}

func BenchmarkDatabase(b *testing.B) {
	Server(b)
	for b.Loop() {
		Database(b)
	}
}
