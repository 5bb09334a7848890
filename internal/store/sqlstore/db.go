package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"slipway.dev/slipway/internal/store"
)

// Interface guards.
var (
	_ store.Store = (*DB)(nil)
	_ store.Tx    = (*tx)(nil)
)

// maxAttempts bounds how often [DB.InTx] runs a transaction whose failure
// the dialect calls retryable.
const maxAttempts = 5

// DB implements [store.Store] over a write pool and a read pool (the same
// pool when the database has no single-writer rule) of one dialect.
type DB struct {
	queries
	write *sql.DB
	read  *sql.DB
	d     *Dialect

	closeOnce sync.Once
	closeErr  error
}

// New returns the store over write (transactions, writes, River) and read
// (reads outside transactions; write itself when nil). Close closes both.
func New(write, read *sql.DB, d *Dialect) *DB {
	if read == nil {
		read = write
	}
	db := &DB{write: write, read: read, d: d}
	db.queries = queries{read: conn{read, d}, write: conn{write, d}, d: d, begin: db.runTx}
	return db
}

// InTx runs fn in one write transaction: everything fn does through tx
// commits together, or is rolled back when fn returns an error or panics
// (the panic then continues). When the dialect calls the failure
// retryable (a deadlock or serialization failure), fn runs again from the
// start, at most 5 times in all: fn must have no effect outside tx.
//
// fn must use tx, never db: on SQLite db's writes need the single write
// connection, which tx holds until fn returns, so they would deadlock.
func (db *DB) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	return db.runTx(ctx, func(t *sql.Tx) error {
		c := conn{t, db.d}
		return fn(&tx{queries: queries{read: c, write: c, d: db.d}, tx: t})
	})
}

// runTx runs fn in a transaction of the write pool, again while it fails
// retryably, and translates the error.
func (db *DB) runTx(ctx context.Context, fn func(t *sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := db.d.err(runTx(ctx, db.write, fn))
		if err == nil || db.d.Retryable == nil || !db.d.Retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			return err
		}
	}
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

// WriteDB returns the write pool, for River.
func (db *DB) WriteDB() *sql.DB { return db.write }

// ReadDB returns the read pool.
func (db *DB) ReadDB() *sql.DB { return db.read }

// Close closes both pools. It is safe to call more than once; later calls
// return what the first returned.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		errs := []error{db.write.Close()}
		if db.read != db.write {
			errs = append(errs, db.read.Close())
		}
		if err := errors.Join(errs...); err != nil {
			db.closeErr = fmt.Errorf("close %s: %w", db.d.Name, err)
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
