// Package postgres implements [store.Store] over PostgreSQL (13 or newer),
// with the pgx driver through database/sql, so that River's
// riverdatabasesql driver shares its transactions.
//
// The queries are sqlstore's, shared with SQLite; this package opens the
// pool, holds the PostgreSQL schema (migrations/, applied at [Open] under
// an advisory lock, so that servers starting at once apply each migration
// once) and says which errors are worth running a transaction again for.
//
// Transactions run at READ COMMITTED, PostgreSQL's default; the store's
// concurrency contract (store.Tx.ToolLock, DeploymentLock) is SELECT … FOR
// UPDATE on the tools and deployments rows.
//
// The store announces each change of a deployment on commit (pg_notify on
// [Channel]) and implements [store.Notifier], so that the servers sharing
// the database wake their watchers at once (listen.go).
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationLock is the advisory lock key the migrations hold ("slipway"
// as a number), for the length of each migration's transaction.
const migrationLock = `SELECT pg_advisory_xact_lock(7236676223170355577)`

// dialect is PostgreSQL's: numbered placeholders, row locks, and
// deadlocks and serialization failures retried.
var dialect = &sqlstore.Dialect{
	Name: "postgres", Numbered: true, ForUpdate: " FOR UPDATE",
	Err: translate, Retryable: retryable,
	Notify: `SELECT pg_notify('` + Channel + `', ?)`,
	SyncSerial: func(table, column string) string {
		return fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%[1]s', '%[2]s'), COALESCE((SELECT MAX(%[2]s) FROM %[1]s), 0) + 1, false)`, table, column)
	},
}

// Options are the optional settings of [Open].
type Options struct {
	// NowFunc stamps applied migrations. Default: [time.Now].
	NowFunc func() time.Time
	// Logger receives a line per applied migration. Default: discard.
	Logger *slog.Logger
	// MaxConns bounds the pool (default 20): River's workers and the
	// HTTP handlers share it.
	MaxConns int
}

// DB is a PostgreSQL database. It implements [store.Store].
type DB struct {
	*sqlstore.DB
	migrations sqlstore.Migrations
	// dsn and logger are for [DB.Listen]'s connection.
	dsn    string
	logger *slog.Logger
}

// Open connects to the database at dsn (postgres://user:pass@host/db?…, or
// a key=value string), and applies the missing migrations.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ms := sqlstore.Migrations{
		FS: migrationFS, Dir: "migrations", Lock: migrationLock,
		Now: opts.NowFunc, Logger: logger.With("component", "store.postgres"),
	}
	pool, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", Redact(dsn), err)
	}
	maxConns := opts.MaxConns
	if maxConns <= 0 {
		maxConns = 20
	}
	pool.SetMaxOpenConns(maxConns)
	pool.SetMaxIdleConns(maxConns)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	if err := pool.PingContext(ctx); err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", Redact(dsn), err)
	}
	db := &DB{DB: sqlstore.New(pool, nil, dialect), migrations: ms, dsn: dsn, logger: logger.With("component", "store.postgres")}
	if err := ms.Up(ctx, db.DB); err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", Redact(dsn), err)
	}
	return db, nil
}

// Redact returns dsn with its password replaced by ***, for errors and
// logs: the URL's (user:***@host) and a password parameter's
// (?password=***).
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		// A key=value string: drop the password pair.
		fields := strings.Fields(dsn)
		for i, f := range fields {
			if strings.HasPrefix(f, "password=") {
				fields[i] = "password=***"
			}
		}
		return strings.Join(fields, " ")
	}
	params := strings.Split(u.RawQuery, "&")
	for i, p := range params {
		if k, _, _ := strings.Cut(p, "="); k == "password" {
			params[i] = "password=***"
		}
	}
	u.RawQuery = strings.Join(params, "&")
	_, withPassword := u.User.Password()
	if !withPassword {
		return u.String()
	}
	// Spliced in by hand: url.UserPassword would escape *** as %2A%2A%2A.
	u.User = url.User(u.User.Username())
	head := u.Scheme + "://" + u.User.String()
	return head + ":***" + strings.TrimPrefix(u.String(), head)
}

// diskFullMessage is what a client is told when PostgreSQL found its disk
// full: the transaction was rolled back, nothing half written stays.
const diskFullMessage = "The database server's disk is full: the change was not saved, and nothing stored was damaged. " +
	"Ask the server's admin to free disk space, then try again."

// translate says what a PostgreSQL error means to a client: a full disk
// (53100) is unavailable.
func translate(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "53100" {
		return err
	}
	if _, done := errors.AsType[*slipway.Error](err); done {
		return err
	}
	return &slipway.Error{Code: slipway.EUnavailable, Message: diskFullMessage, Err: err}
}

// retryable reports a serialization failure (40001) or a deadlock
// (40P01): PostgreSQL aborted the transaction, which may run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}
