// Package sqlstore implements [store.Store] once, over database/sql, for
// every SQL dialect Slipway speaks: the queries are written a single time
// in the SQL that SQLite (3.35 and newer) and PostgreSQL (13 and newer)
// share, with ? placeholders, and a [Dialect] supplies the few things that
// differ — placeholder syntax, row locks, how a driver error reads, which
// failed transactions may run again. The sqlite and postgres packages open
// their pools, carry their own migrations (the DDL does differ) and hand
// both to [New].
//
// # Concurrency
//
// The contract is [store.Store]'s: a transaction that reads to decide
// takes the tool's lock and then the deployment's ([store.Tx.ToolLock],
// [store.Tx.DeploymentLock]) before it reads. On PostgreSQL those are
// SELECT … FOR UPDATE on the tools and deployments rows (READ COMMITTED:
// every statement after the lock sees what the previous holder
// committed); on SQLite a write transaction already holds the database's
// single write lock, so they are plain reads.
//
// # Values
//
// Times are stored as UTC text with a fixed-width nanosecond layout in
// both dialects (see codec.go): it sorts as it compares, round-trips
// exactly (PostgreSQL's timestamptz keeps microseconds) and keeps one codec.
// Times always come from the caller, never from SQL, so no query needs date
// arithmetic.
package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
)

// Dialect is what differs between the SQL databases.
type Dialect struct {
	// Name names the dialect in errors: "sqlite", "postgres".
	Name string
	// Numbered is true when the driver wants $1, $2, … instead of ?.
	Numbered bool
	// ForUpdate is appended to a SELECT that locks the rows it reads
	// (" FOR UPDATE"); empty when a write transaction already excludes
	// every other writer.
	ForUpdate string
	// Err translates a driver error into what Slipway says of it (SQLite's
	// full disk); nil leaves errors as they are.
	Err func(error) error
	// Retryable reports whether a transaction that failed with err may be
	// run again from the start (PostgreSQL's serialization failures and
	// deadlocks); nil: never.
	Retryable func(error) bool
	// SyncSerial returns the statement that moves the sequence of table's
	// column past its highest value, after rows were inserted with their
	// numbers (by a copy); nil when the database does that itself (SQLite's
	// AUTOINCREMENT).
	SyncSerial func(table, column string) string
	// Notify, when set, is the statement that announces a change of a
	// deployment (its ID the one argument) to other processes when the
	// transaction commits (PostgreSQL's pg_notify); see [store.Notifier].
	// Empty: one process owns the database and hears its own changes.
	Notify string

	bound sync.Map // query → the query with numbered placeholders
}

// bind returns query with its ? placeholders numbered when the dialect
// wants that. Slipway's queries have no ? inside string literals.
func (d *Dialect) bind(query string) string {
	if !d.Numbered {
		return query
	}
	if b, ok := d.bound.Load(query); ok {
		return b.(string)
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	d.bound.Store(query, b.String())
	return b.String()
}

// err translates a driver error (see [Dialect.Err]).
func (d *Dialect) err(err error) error {
	if err == nil || d.Err == nil {
		return err
	}
	return d.Err(err)
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn is a querier speaking the dialect: it numbers placeholders and
// translates errors. QueryRowContext's error comes with Scan: [runTx]
// translates what a transaction returns.
type conn struct {
	q querier
	d *Dialect
}

func (c conn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := c.q.ExecContext(ctx, c.d.bind(query), args...)
	return res, c.d.err(err)
}

func (c conn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := c.q.QueryContext(ctx, c.d.bind(query), args...)
	return rows, c.d.err(err)
}

func (c conn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return c.q.QueryRowContext(ctx, c.d.bind(query), args...)
}
