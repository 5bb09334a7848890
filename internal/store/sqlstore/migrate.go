package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
)

// migration is one numbered pair of migration files.
type migration struct {
	version int
	name    string // e.g. "0001_init"
	up      string
	down    string
}

// Migrations are a dialect's schema: a directory of numbered pairs of
// files, NNNN_name.up.sql and NNNN_name.down.sql.
type Migrations struct {
	FS  fs.FS
	Dir string
	// Lock, when set, is run first in every migration transaction, to
	// serialize servers that start at once (PostgreSQL's
	// pg_advisory_xact_lock). SQLite's write lock does that by itself.
	Lock string
	// Now stamps applied migrations; Logger gets a line for each.
	Now    func() time.Time
	Logger *slog.Logger
}

// load returns the migrations by version. Every version has both an up
// and a down file, and versions are 1, 2, 3, …
func (ms Migrations) load() ([]migration, error) {
	entries, err := fs.ReadDir(ms.FS, ms.Dir)
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
		body, err := fs.ReadFile(ms.FS, ms.Dir+"/"+file)
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
	out := make([]migration, 0, len(byName))
	for _, m := range byName {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d", m.name, m.version, i+1)
		}
		if m.up == "" || m.down == "" {
			return nil, fmt.Errorf("migration %s: needs both an up and a down file", m.name)
		}
	}
	return out, nil
}

const createMigrationTable = `CREATE TABLE IF NOT EXISTS slipway_migration (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
)`

// appliedVersion returns the highest applied migration version, 0 for none.
func appliedVersion(ctx context.Context, q querier) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM slipway_migration`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// Up applies the migrations the database lacks, each in its own
// transaction, and fails when the database is newer than this binary.
func (ms Migrations) Up(ctx context.Context, db *DB) error {
	all, err := ms.load()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	now, logger := ms.Now, ms.Logger
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	for _, m := range all {
		applied := false
		err := db.runTx(ctx, func(t *sql.Tx) error {
			// Checked inside the transaction, which holds the write lock
			// (or the dialect's migration lock), so two servers opening
			// the database at once apply it once.
			q, err := ms.begin(ctx, conn{t, db.d})
			if err != nil {
				return err
			}
			v, err := appliedVersion(ctx, q)
			if err != nil {
				return err
			}
			if v > len(all) {
				return fmt.Errorf("database schema version %d is newer than this binary's %d", v, len(all))
			}
			if v >= m.version {
				return nil
			}
			if _, err := t.ExecContext(ctx, m.up); err != nil {
				return err
			}
			_, err = q.ExecContext(ctx, `INSERT INTO slipway_migration (version, name, applied_at) VALUES (?, ?, ?)`,
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

// Down reverts the applied migrations above version target, newest
// first, each in its own transaction.
func (ms Migrations) Down(ctx context.Context, db *DB, target int) error {
	all, err := ms.load()
	if err != nil {
		return fmt.Errorf("migrate down: %w", err)
	}
	for _, m := range slices.Backward(all) {
		if m.version <= target {
			break
		}
		err := db.runTx(ctx, func(t *sql.Tx) error {
			q, err := ms.begin(ctx, conn{t, db.d})
			if err != nil {
				return err
			}
			var n int
			err = q.QueryRowContext(ctx, `SELECT count(*) FROM slipway_migration WHERE version = ?`, m.version).Scan(&n)
			if err != nil || n == 0 {
				return err
			}
			if _, err := t.ExecContext(ctx, m.down); err != nil {
				return err
			}
			_, err = q.ExecContext(ctx, `DELETE FROM slipway_migration WHERE version = ?`, m.version)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate down: %s: %w", m.name, err)
		}
	}
	return nil
}

// begin takes the migration lock and makes sure the migration table
// exists, in the migration's transaction.
func (ms Migrations) begin(ctx context.Context, q querier) (querier, error) {
	if ms.Lock != "" {
		if _, err := q.ExecContext(ctx, ms.Lock); err != nil {
			return nil, fmt.Errorf("take the migration lock: %w", err)
		}
	}
	if _, err := q.ExecContext(ctx, createMigrationTable); err != nil {
		return nil, fmt.Errorf("create migration table: %w", err)
	}
	return q, nil
}
