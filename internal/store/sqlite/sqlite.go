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
// The queries are sqlstore's, shared with PostgreSQL; this package opens
// the pools, holds the SQLite schema and says what a full disk is.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"slipway.dev/slipway/internal/store/sqlstore"
)

// readConns is the size of the read pool.
const readConns = 4

//go:embed migrations/*.sql
var migrationFS embed.FS

// dialect is SQLite's: ? placeholders, no row locks (a write transaction
// holds the database's one write lock from BEGIN IMMEDIATE on), and a
// full disk said as such.
var dialect = &sqlstore.Dialect{Name: "sqlite", Err: diskFull}

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
	*sqlstore.DB
	migrations sqlstore.Migrations
}

// Open opens the SQLite database at path, creating the file when it does not
// exist, and applies the missing migrations. path is a file path, not a DSN
// (":memory:" does not work: the two pools would see two databases).
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ms := sqlstore.Migrations{FS: migrationFS, Dir: "migrations", Now: opts.NowFunc, Logger: logger.With("component", "store.sqlite")}

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

	if err := write.PingContext(ctx); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := ms.Up(ctx, sqlstore.New(write, nil, dialect)); err != nil {
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
	return &DB{DB: sqlstore.New(write, read, dialect), migrations: ms}, nil
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
