package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"slipway.dev/slipway/internal/flock"
	"slipway.dev/slipway/internal/store/postgres"
	"slipway.dev/slipway/internal/store/sqlite"
	"slipway.dev/slipway/internal/store/sqlstore"
)

// MigrateStore copies the state of the installation in dataDir, kept in
// SQLite (DBFile), to the PostgreSQL database at database, which must be
// empty, with [sqlstore.Copy]: in one transaction, verified before it
// commits, refused while a deployment is unfinished. It holds the data
// directory's lock meanwhile, so it is refused while a server runs there
// and no server starts there until it is done. progress, when set, is
// called after each table. The SQLite database is only read (its schema
// brought up to date first, as a server's start would).
func MigrateStore(ctx context.Context, dataDir, database string, progress func(sqlstore.TableCopy)) ([]sqlstore.TableCopy, error) {
	if !isPostgres(database) {
		return nil, fmt.Errorf("%s is not a postgres:// URL", postgres.Redact(database))
	}
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(dir, DBFile)
	// Checked, since opening a file that is not there would create it.
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no Slipway database in %s (%s does not exist): want the data directory of an installation that ran on SQLite", dir, path)
	} else if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	lock := filepath.Join(dir, LockFile)
	unlock, err := flock.TryLock(lock)
	if errors.Is(err, flock.ErrLocked) {
		return nil, fmt.Errorf("a slipway server is running on %s (it holds %s): stop it first, so that nothing changes while its store is copied", dir, lock)
	} else if err != nil {
		return nil, fmt.Errorf("lock the data directory %s: %w", dir, err)
	}
	defer unlock()

	src, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return nil, fmt.Errorf("open the source: %w", err)
	}
	defer func() { _ = src.Close() }() // only read
	dst, err := postgres.Open(ctx, database, postgres.Options{MaxConns: 2})
	if err != nil {
		return nil, fmt.Errorf("open the destination: %w", err)
	}
	defer func() { _ = dst.Close() }() // committed or rolled back by now
	return sqlstore.Copy(ctx, dst.DB, src.DB, sqlstore.CopyOptions{Progress: progress})
}
