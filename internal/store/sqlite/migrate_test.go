package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/store"
)

// migrationRows returns the slipway_migration table.
func migrationRows(t *testing.T, db *DB) []string {
	t.Helper()
	rows, err := db.read.QueryContext(t.Context(), `SELECT version || ' ' || name || ' ' || applied_at FROM slipway_migration ORDER BY version`)
	if err != nil {
		t.Fatalf("read migrations: %v", err)
	}
	defer func() { _ = rows.Close() }()
	var got []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("read migrations: %v", err)
		}
		got = append(got, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read migrations: %v", err)
	}
	return got
}

func TestOpen_Idempotent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "slipway.db")
	first := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	second := first.Add(time.Hour)

	db, err := Open(t.Context(), path, Options{NowFunc: func() time.Time { return first }})
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	want := migrationRows(t, db)
	if len(want) == 0 {
		t.Fatal("no migrations recorded after the first Open")
	}
	if err := db.ToolEnsure(t.Context(), "tool", first); err != nil {
		t.Fatalf("ToolEnsure: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// Reopening applies nothing: the rows keep the first Open's time.
	db, err = Open(t.Context(), path, Options{NowFunc: func() time.Time { return second }})
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if d := cmp.Diff(want, migrationRows(t, db)); d != "" {
		t.Errorf("migrations after reopen (-want +got):\n%s", d)
	}
	tools, err := db.ToolList(t.Context())
	if err != nil || len(tools) != 1 {
		t.Errorf("ToolList after reopen = %q, %v; want [tool]", tools, err)
	}
}

func TestMigrate_DownAndUp(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "slipway.db")
	db, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx := t.Context()

	if err := migrateDown(ctx, db.write, 0); err != nil {
		t.Fatalf("migrateDown: %v", err)
	}
	var tables int
	err = db.write.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT IN ('slipway_migration', 'sqlite_sequence')`).Scan(&tables)
	if err != nil || tables != 0 {
		t.Errorf("tables after migrating down = %d, %v; want 0", tables, err)
	}
	if got := migrationRows(t, db); len(got) != 0 {
		t.Errorf("migrations after migrating down = %q, want none", got)
	}

	if err := migrateUp(ctx, db.write, time.Now, db.logger); err != nil {
		t.Fatalf("migrateUp: %v", err)
	}
	if err := db.ToolEnsure(ctx, "tool", time.Now()); err != nil {
		t.Errorf("ToolEnsure after migrating up again: %v", err)
	}
}

func TestOpen_NewerSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "slipway.db")
	db, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	_, err = db.write.ExecContext(t.Context(),
		`INSERT INTO slipway_migration (version, name, applied_at) VALUES (9999, '9999_future', 'x')`)
	if err != nil {
		t.Fatalf("insert: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if db, err := Open(t.Context(), path, Options{}); err == nil {
		_ = db.Close()
		t.Errorf("Open of a database with a newer schema succeeded")
	}
}

func TestDSN(t *testing.T) {
	t.Parallel()
	// A path with characters that mean something in a URI still opens the
	// file it names.
	dir := filepath.Join(t.TempDir(), "a dir?#%")
	path := filepath.Join(dir, "slip way.db")
	if err := mkdir(dir); err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if !exists(path) {
		t.Errorf("Open(%q) did not create that file", path)
	}
	var mode string
	if err := db.read.QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := db.write.QueryRowContext(t.Context(), `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys on the write pool = %d, %v; want 1", fk, err)
	}
	if _, err := db.read.ExecContext(t.Context(), `CREATE TABLE nope (x)`); err == nil {
		t.Errorf("the read pool accepted a write")
	}
}

// TestMigrate_0006MovesSealedDeployTokens opens a database that an older
// binary (schema 5) left with a sealed deploy token: migration 0006 keeps
// the hash in deploy_tokens, moves the sealed copy into
// deploy_token_legacy_seals (for the server to turn into an envvar) and
// drops the column. Down and up again round-trips it.
func TestMigrate_0006MovesSealedDeployTokens(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "slipway.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := migrateDown(ctx, db.write, 5); err != nil {
		t.Fatalf("migrateDown to 5: %v", err)
	}
	created := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, row := range [][]any{{"tool", "hash-1", "sealed-1"}, {"other", "hash-2", "sealed-2"}} {
		_, err := db.write.ExecContext(ctx, `INSERT INTO deploy_tokens (tool, token_hash, token_sealed, created_at) VALUES (?, ?, ?, ?)`,
			row[0], row[1], row[2], encTime(created))
		if err != nil {
			t.Fatalf("insert a schema-5 token: %v", err)
		}
	}
	if err := migrateUp(ctx, db.write, time.Now, db.logger); err != nil {
		t.Fatalf("migrateUp: %v", err)
	}
	tok, err := db.DeployTokenGet(ctx, "tool")
	if err != nil || tok.Hash != "hash-1" || !tok.CreatedAt.Equal(created) {
		t.Errorf("DeployTokenGet after 0006 = %+v, %v; want the hash and creation time kept", tok, err)
	}
	seals, err := db.LegacyDeployTokenSeals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.LegacyDeployTokenSeal{{Tool: "other", Sealed: "sealed-2"}, {Tool: "tool", Sealed: "sealed-1"}}
	if d := cmp.Diff(want, seals); d != "" {
		t.Errorf("LegacyDeployTokenSeals after 0006 (-want +got):\n%s", d)
	}
	var cols int
	if err := db.write.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('deploy_tokens') WHERE name = 'token_sealed'`).Scan(&cols); err != nil || cols != 0 {
		t.Errorf("deploy_tokens still has token_sealed (%d, %v)", cols, err)
	}

	// The server moved one; down and up again keeps the other waiting.
	if err := db.LegacyDeployTokenSealDelete(ctx, "tool"); err != nil {
		t.Fatal(err)
	}
	if err := migrateDown(ctx, db.write, 5); err != nil {
		t.Fatalf("migrateDown to 5 again: %v", err)
	}
	var sealed string
	if err := db.write.QueryRowContext(ctx, `SELECT token_sealed FROM deploy_tokens WHERE tool = 'other'`).Scan(&sealed); err != nil || sealed != "sealed-2" {
		t.Errorf("token_sealed of the unmoved token after down = %q, %v; want sealed-2", sealed, err)
	}
	if err := migrateUp(ctx, db.write, time.Now, db.logger); err != nil {
		t.Fatalf("migrateUp again: %v", err)
	}
	seals, err = db.LegacyDeployTokenSeals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]store.LegacyDeployTokenSeal{{Tool: "other", Sealed: "sealed-2"}}, seals); d != "" {
		t.Errorf("LegacyDeployTokenSeals after down and up (-want +got):\n%s", d)
	}
}
