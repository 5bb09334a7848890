package sqlite

import (
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
