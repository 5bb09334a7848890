package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one numbered pair of migration files.
type migration struct {
	version int
	name    string // e.g. "0001_init"
	up      string
	down    string
}

// loadMigrations returns the embedded migrations by version. Every version
// has both an up and a down file, and versions are 1, 2, 3, …
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	byName := map[string]*migration{}
	for _, e := range entries {
		file := e.Name()
		base, dir, ok := strings.Cut(strings.TrimSuffix(file, ".sql"), ".")
		if !ok || (dir != "up" && dir != "down") {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.up.sql or .down.sql", file)
		}
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %s: version: %w", file, err)
		}
		body, err := fs.ReadFile(migrationFS, "migrations/"+file)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", file, err)
		}
		m := byName[base]
		if m == nil {
			m = &migration{version: v, name: base}
			byName[base] = m
		}
		if dir == "up" {
			m.up = string(body)
		} else {
			m.down = string(body)
		}
	}
	ms := make([]migration, 0, len(byName))
	for _, m := range byName {
		ms = append(ms, *m)
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d", m.name, m.version, i+1)
		}
		if m.up == "" || m.down == "" {
			return nil, fmt.Errorf("migration %s: needs both an up and a down file", m.name)
		}
	}
	return ms, nil
}

const createMigrationTable = `CREATE TABLE IF NOT EXISTS slipway_migration (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
) STRICT`

// appliedVersion returns the highest applied migration version, 0 for none.
func appliedVersion(ctx context.Context, q querier) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM slipway_migration`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// migrateUp applies the migrations the database lacks, each in its own
// transaction, and fails when the database is newer than this binary.
func migrateUp(ctx context.Context, pool *sql.DB, now func() time.Time, logger *slog.Logger) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := pool.ExecContext(ctx, createMigrationTable); err != nil {
		return fmt.Errorf("migrate: create migration table: %w", err)
	}
	for _, m := range ms {
		applied := false
		err := inTx(ctx, pool, func(t *sql.Tx) error {
			// Checked inside the transaction, which holds the write lock,
			// so two processes opening the file at once apply it once.
			v, err := appliedVersion(ctx, t)
			if err != nil {
				return err
			}
			if v > len(ms) {
				return fmt.Errorf("database schema version %d is newer than this binary's %d", v, len(ms))
			}
			if v >= m.version {
				return nil
			}
			if _, err := t.ExecContext(ctx, m.up); err != nil {
				return err
			}
			_, err = t.ExecContext(ctx, `INSERT INTO slipway_migration (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, encTime(now()))
			applied = err == nil
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate: %s: %w", m.name, err)
		}
		if applied {
			logger.InfoContext(ctx, "migration applied", "migration", m.name)
		}
	}
	return nil
}

// migrateDown reverts the applied migrations above version target, newest
// first, each in its own transaction.
func migrateDown(ctx context.Context, pool *sql.DB, target int) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("migrate down: %w", err)
	}
	for _, m := range slices.Backward(ms) {
		if m.version <= target {
			break
		}
		err := inTx(ctx, pool, func(t *sql.Tx) error {
			var n int
			err := t.QueryRowContext(ctx, `SELECT count(*) FROM slipway_migration WHERE version = ?`, m.version).Scan(&n)
			if err != nil || n == 0 {
				return err
			}
			if _, err := t.ExecContext(ctx, m.down); err != nil {
				return err
			}
			_, err = t.ExecContext(ctx, `DELETE FROM slipway_migration WHERE version = ?`, m.version)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate down: %s: %w", m.name, err)
		}
	}
	return nil
}
