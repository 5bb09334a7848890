package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// migrationRows returns the slipway_migration table.
func migrationRows(t *testing.T, db *DB) []string {
	t.Helper()
	rows, err := db.ReadDB().QueryContext(t.Context(), `SELECT version || ' ' || name || ' ' || applied_at FROM slipway_migration ORDER BY version`)
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

	if err := db.migrations.Down(ctx, db.DB, 0); err != nil {
		t.Fatalf("migrateDown: %v", err)
	}
	var tables int
	err = db.WriteDB().QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT IN ('slipway_migration', 'sqlite_sequence')`).Scan(&tables)
	if err != nil || tables != 0 {
		t.Errorf("tables after migrating down = %d, %v; want 0", tables, err)
	}
	if got := migrationRows(t, db); len(got) != 0 {
		t.Errorf("migrations after migrating down = %q, want none", got)
	}

	if err := db.migrations.Up(ctx, db.DB); err != nil {
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
	_, err = db.WriteDB().ExecContext(t.Context(),
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
	if err := db.ReadDB().QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := db.WriteDB().QueryRowContext(t.Context(), `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys on the write pool = %d, %v; want 1", fk, err)
	}
	if _, err := db.ReadDB().ExecContext(t.Context(), `CREATE TABLE nope (x)`); err == nil {
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
	if err := db.migrations.Down(ctx, db.DB, 5); err != nil {
		t.Fatalf("migrateDown to 5: %v", err)
	}
	created := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, row := range [][]any{{"tool", "hash-1", "sealed-1"}, {"other", "hash-2", "sealed-2"}} {
		_, err := db.WriteDB().ExecContext(ctx, `INSERT INTO deploy_tokens (tool, token_hash, token_sealed, created_at) VALUES (?, ?, ?, ?)`,
			row[0], row[1], row[2], created.Format("2006-01-02T15:04:05.000000000Z07:00"))
		if err != nil {
			t.Fatalf("insert a schema-5 token: %v", err)
		}
	}
	if err := db.migrations.Up(ctx, db.DB); err != nil {
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
	if err := db.WriteDB().QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('deploy_tokens') WHERE name = 'token_sealed'`).Scan(&cols); err != nil || cols != 0 {
		t.Errorf("deploy_tokens still has token_sealed (%d, %v)", cols, err)
	}

	// The server moved one; down and up again keeps the other waiting.
	if err := db.LegacyDeployTokenSealDelete(ctx, "tool"); err != nil {
		t.Fatal(err)
	}
	if err := db.migrations.Down(ctx, db.DB, 5); err != nil {
		t.Fatalf("migrateDown to 5 again: %v", err)
	}
	var sealed string
	if err := db.WriteDB().QueryRowContext(ctx, `SELECT token_sealed FROM deploy_tokens WHERE tool = 'other'`).Scan(&sealed); err != nil || sealed != "sealed-2" {
		t.Errorf("token_sealed of the unmoved token after down = %q, %v; want sealed-2", sealed, err)
	}
	if err := db.migrations.Up(ctx, db.DB); err != nil {
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

// TestMigrate_0009CountsEventsPerDeployment opens a database an older
// binary (schema 8) left with events numbered across deployments:
// migration 0009 keeps their numbers, and each deployment counts on from
// its own highest one, so a watcher's "after N" stays valid.
func TestMigrate_0009CountsEventsPerDeployment(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "slipway.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.migrations.Down(ctx, db.DB, 8); err != nil {
		t.Fatalf("migrateDown to 8: %v", err)
	}
	for _, id := range []string{"d1", "d2"} {
		_, err := db.WriteDB().ExecContext(ctx, `INSERT INTO deployments (id, tool, description, config_version, status, long_status,
			force_build, force_run, trigger_kind, actor) VALUES (?, 'tool', '', 1, 'running', '', 0, 0, 'api', '')`, id)
		if err != nil {
			t.Fatalf("insert a schema-8 deployment: %v", err)
		}
	}
	for _, id := range []string{"d1", "d2", "d1", "d2", "d2"} { // seq 1…5
		if _, err := db.WriteDB().ExecContext(ctx, `INSERT INTO events (deployment_id, kind, step, state, message) VALUES (?, 'step', '', '', '')`, id); err != nil {
			t.Fatalf("insert a schema-8 event: %v", err)
		}
	}
	if err := db.migrations.Up(ctx, db.DB); err != nil {
		t.Fatalf("migrateUp: %v", err)
	}
	for id, want := range map[string][]int64{"d1": {1, 3, 4}, "d2": {2, 4, 5, 6}} {
		seq, err := db.EventAppend(ctx, slipway.Event{DeploymentID: id, Kind: "step"})
		if err != nil {
			t.Fatal(err)
		}
		es, err := db.EventList(ctx, id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, e := range es {
			got = append(got, e.Seq)
		}
		if d := cmp.Diff(want, got); d != "" || seq != want[len(want)-1] {
			t.Errorf("events of %s after 0009 and one append (-want +got):\n%s (append = %d)", id, d, seq)
		}
	}
	if err := db.migrations.Down(ctx, db.DB, 8); err != nil {
		t.Fatalf("migrateDown to 8 again: %v", err)
	}
	var n int
	if err := db.WriteDB().QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil || n != 7 {
		t.Errorf("events after down = %d, %v; want all 7 kept", n, err)
	}
}
