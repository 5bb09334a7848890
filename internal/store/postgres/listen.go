package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"slipway.dev/slipway/internal/store"
)

// Channel is the PostgreSQL notification channel on which a transaction
// announces, as it commits, a change of a deployment (its events, status,
// steps or questions); the payload is the deployment's ID, far below
// PostgreSQL's 8000-byte limit. PostgreSQL sends the same notification
// once per transaction, however often it was made.
//
// Channels are per database, not per schema: installations sharing a
// database in schemas of their own hear each other's changes, which only
// makes a watcher read the store once more.
const Channel = "slipway_changes"

// The listener's timing: how long a silent connection is trusted before
// it is pinged, how long a ping or a connection attempt may take, and
// the bounds of the backoff between connection attempts.
const (
	listenIdle       = 30 * time.Second
	listenPing       = 5 * time.Second
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

// Interface guard.
var _ store.Notifier = (*DB)(nil)

// Listen implements [store.Notifier]: it holds one connection of its own
// (outside the pools; its application_name is the DSN's, or "slipway",
// followed by " listen") that LISTENs on [Channel], and sends a [store.Change]
// per notification. When the connection fails (or is silent for 30s and
// then does not answer a ping), it connects again, backing off from
// 100ms to 5s, and sends a Change with All set once it listens again.
// The first connection's error is returned.
func (db *DB) Listen(ctx context.Context) (<-chan store.Change, error) {
	conn, err := db.listenConn(ctx)
	if err != nil {
		return nil, err
	}
	ch := make(chan store.Change, 64)
	go db.listen(ctx, conn, ch)
	return ch, nil
}

// listenConn connects and LISTENs.
func (db *DB) listenConn(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(db.dsn)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", Redact(db.dsn), err)
	}
	name := cmp.Or(cfg.RuntimeParams["application_name"], "slipway")
	cfg.RuntimeParams["application_name"] = name + " listen"
	cctx, cancel := context.WithTimeout(ctx, listenPing)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", Redact(db.dsn), err)
	}
	if _, err := conn.Exec(cctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("listen on %s: LISTEN %s: %w", Redact(db.dsn), Channel, err)
	}
	return conn, nil
}

// listen delivers the notifications of conn to ch, and makes a new
// connection whenever conn fails, until ctx ends; then it closes ch.
func (db *DB) listen(ctx context.Context, conn *pgx.Conn, ch chan<- store.Change) {
	defer close(ch)
	defer func() {
		if conn != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
		}
	}()
	send := func(c store.Change) bool {
		select {
		case ch <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	backoff := listenBackoffMin
	for {
		if conn == nil {
			var err error
			if conn, err = db.listenConn(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				db.logger.WarnContext(ctx, "listen for changes: connect again", "in", backoff, "error", err.Error())
				t := time.NewTimer(backoff)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
				backoff = min(2*backoff, listenBackoffMax)
				continue
			}
			backoff = listenBackoffMin
			db.logger.InfoContext(ctx, "listening for changes again")
			// Whatever was committed while no connection listened is
			// unheard: every watcher looks again.
			if !send(store.Change{All: true}) {
				return
			}
		}
		wctx, cancel := context.WithTimeout(ctx, listenIdle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			if !send(store.Change{DeploymentID: n.Payload}) {
				return
			}
			continue
		case pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded):
			// Silent for a while: make sure the server is still there
			// (a connection cut without a reset would wait forever).
			pctx, cancel := context.WithTimeout(ctx, listenPing)
			err = conn.Ping(pctx)
			cancel()
			if err == nil {
				continue
			}
		}
		if ctx.Err() != nil {
			return
		}
		db.logger.WarnContext(ctx, "listen for changes: connection lost", "error", err.Error())
		_ = conn.Close(context.WithoutCancel(ctx))
		conn = nil
	}
}
