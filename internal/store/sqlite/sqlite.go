// Package sqlite implements [store.Store] over an SQLite file, with the pure
// Go driver modernc.org/sqlite.
//
// # Connections
//
// A [DB] holds two pools over the same file, both in WAL mode with
// foreign keys on, a 10 s busy timeout and synchronous=NORMAL:
//
//   - the write pool has exactly one connection. Every transaction
//     ([DB.InTx]) and every write outside a transaction goes through it, and
//     [DB.WriteDB] hands it to River, whose SQLite driver wants a single
//     connection. Its transactions begin IMMEDIATE, so they take the write
//     lock up front and never fail with SQLITE_BUSY when upgrading from a
//     read.
//   - the read pool has a few query-only connections for reads outside
//     transactions. In WAL mode readers never wait for the writer, so reads
//     stay fast while a long write transaction is open.
//
// Because there is one write connection, code running inside [DB.InTx] must
// use the [store.Tx] it is given, never the [DB]: a write (or a
// multi-statement read-modify-write) on the DB would wait for the connection
// the transaction holds, forever.
//
// # Schema
//
// The schema is created by embedded, numbered migrations
// (migrations/NNNN_name.up.sql and .down.sql), each applied in one
// transaction and recorded in the slipway_migration table. [Open] applies the
// missing ones, so opening an existing file is cheap and idempotent.
//
// Times are stored as UTC text with a fixed-width nanosecond layout
// (2006-01-02T15:04:05.000000000Z), which sorts as it compares; the zero time
// is stored as NULL. Both round-trip exactly ([time.Time.Equal]).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"slipway.dev/slipway/internal/store"
)

// Interface guards.
var (
	_ store.Store = (*DB)(nil)
	_ store.Tx    = (*tx)(nil)
)

// readConns is the size of the read pool.
const readConns = 4

// Options are the optional settings of [Open].
type Options struct {
	// NowFunc returns the current time. It stamps applied migrations; the
	// queries take their times from the caller. Default: [time.Now].
	NowFunc func() time.Time
	// Logger receives a line per applied migration. Default: discard.
	Logger *slog.Logger
}

// DB is an SQLite database. It implements [store.Store]. Create it with
// [Open] and release it with [DB.Close].
type DB struct {
	queries
	write  *sql.DB
	read   *sql.DB
	now    func() time.Time
	logger *slog.Logger

	closeOnce sync.Once
	closeErr  error
}

// Open opens the SQLite database at path, creating the file when it does not
// exist, and applies the missing migrations. path is a file path, not a DSN
// (":memory:" does not work: the two pools would see two databases).
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	db := &DB{now: opts.NowFunc, logger: opts.Logger}
	if db.now == nil {
		db.now = time.Now
	}
	if db.logger == nil {
		db.logger = slog.New(slog.DiscardHandler)
	}
	db.logger = db.logger.With("component", "store.sqlite")

	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write, err := sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	db.write = write

	if err := write.PingContext(ctx); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := migrateUp(ctx, write, db.now, db.logger); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}

	// The read pool opens after the migrations, so its connections never
	// race the writer that turns the file into WAL mode.
	read, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read.SetMaxOpenConns(readConns)
	read.SetMaxIdleConns(readConns)
	if err := read.PingContext(ctx); err != nil {
		_ = read.Close()
		_ = write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.read = read

	db.queries = queries{read: read, write: fullWriter{write}, pool: write}
	return db, nil
}

// dsn returns the driver's data source name for the file at abs, an absolute
// path. See the modernc.org/sqlite Driver.Open documentation for the keys.
func dsn(abs string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	if readOnly {
		// Last, so the pragmas above may still write the header.
		q.Add("_pragma", "query_only(1)")
	} else {
		// BEGIN IMMEDIATE: take the write lock when the transaction starts.
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// InTx runs fn in one write transaction on the write connection: everything
// fn does through tx commits together, or is rolled back when fn returns an
// error or panics (the panic then continues).
//
// fn must use tx, never db: db's writes need the single write connection,
// which tx holds until fn returns, so they would deadlock. Reads through db
// do not deadlock but do not see tx's uncommitted writes.
func (db *DB) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	return inTx(ctx, db.write, func(t *sql.Tx) error {
		return fn(&tx{queries: queries{read: t, write: t}, tx: t})
	})
}

// inTx runs fn in a transaction of pool, which begins IMMEDIATE (see dsn).
// A full disk (SQLITE_FULL) is an error that says so ([diskFull]).
func inTx(ctx context.Context, pool *sql.DB, fn func(t *sql.Tx) error) error {
	return diskFull(runTx(ctx, pool, fn))
}

func runTx(ctx context.Context, pool *sql.DB, fn func(t *sql.Tx) error) (err error) {
	t, err := pool.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	done := false
	defer func() {
		// Reached without done on an error and on a panic, which keeps
		// unwinding after the rollback.
		if !done {
			_ = t.Rollback()
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	done = true
	if err := t.Commit(); err != nil {
		_ = t.Rollback()
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// WriteDB returns the single-connection write pool, for River.
func (db *DB) WriteDB() *sql.DB { return db.write }

// Close closes both pools. It is safe to call more than once; later calls
// return what the first returned.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.closeErr = errors.Join(db.read.Close(), db.write.Close())
		if db.closeErr != nil {
			db.closeErr = fmt.Errorf("close sqlite: %w", db.closeErr)
		}
	})
	return db.closeErr
}

// tx is a [store.Tx]: the queries, all on one *sql.Tx.
type tx struct {
	queries
	tx *sql.Tx
}

// SQL returns the underlying transaction.
func (t *tx) SQL() *sql.Tx { return t.tx }
