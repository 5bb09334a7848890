package sqlite

import (
	"context"
	"database/sql"
	"errors"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"slipway.dev/slipway/internal/slipway"
)

// diskFullMessage is what a client is told when a write found the disk
// full. SQLite rolls back the statement and the transaction (nothing half
// written reaches the file), so the store is as it was.
const diskFullMessage = "The server's disk is full: the change was not saved, and nothing stored was damaged. " +
	"Ask the server's admin to free disk space (healthz reports it), then try again."

// diskFull returns err as an [slipway.EUnavailable] error saying the disk
// is full when SQLite answered SQLITE_FULL (the database, its WAL or a
// temporary file could not grow), and err itself otherwise.
func diskFull(err error) error {
	var se *sqlitedrv.Error
	if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_FULL {
		return err
	}
	if _, done := errors.AsType[*slipway.Error](err); done {
		return err
	}
	return &slipway.Error{Code: slipway.EUnavailable, Message: diskFullMessage, Err: err}
}

// fullWriter is the write pool with SQLITE_FULL errors translated by
// [diskFull]. QueryRowContext's error comes with Scan: the writes that
// scan a row translate it themselves (ConfigCreate) or run in a
// transaction, whose error inTx translates.
type fullWriter struct{ *sql.DB }

func (w fullWriter) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := w.DB.ExecContext(ctx, query, args...)
	return res, diskFull(err)
}

func (w fullWriter) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := w.DB.QueryContext(ctx, query, args...)
	return rows, diskFull(err)
}
