package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"slipway.dev/slipway/internal/store"
)

const nodeColumns = `id, host, pid, target, started_at, seen_at`

// NodeBeat records a server's heartbeat (insert or replace).
func (q *queries) NodeBeat(ctx context.Context, n store.Node) error {
	_, err := q.write.ExecContext(ctx, upsert("nodes", nodeColumns, "id"),
		n.ID, n.Host, n.PID, n.Target, encTime(n.StartedAt), encTime(n.SeenAt))
	if err != nil {
		return fmt.Errorf("record heartbeat of node %s: %w", n.ID, err)
	}
	return nil
}

// NodeList returns the servers that beat, by ID.
func (q *queries) NodeList(ctx context.Context) ([]store.Node, error) {
	rows, err := q.read.QueryContext(ctx, `SELECT `+nodeColumns+` FROM nodes ORDER BY id`)
	ns, err := collect(rows, err, scanNode)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return ns, nil
}

func scanNode(r rowScanner) (store.Node, error) {
	var (
		n             store.Node
		started, seen sql.NullString
		err           error
	)
	if err = r.Scan(&n.ID, &n.Host, &n.PID, &n.Target, &started, &seen); err != nil {
		return store.Node{}, err
	}
	if n.StartedAt, err = decTime(started); err != nil {
		return store.Node{}, err
	}
	if n.SeenAt, err = decTime(seen); err != nil {
		return store.Node{}, err
	}
	return n, nil
}

// NodeDelete forgets a server.
func (q *queries) NodeDelete(ctx context.Context, id string) error {
	if _, err := q.write.ExecContext(ctx, `DELETE FROM nodes WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete node %s: %w", id, err)
	}
	return nil
}

// NamedLock holds a named lock until the transaction ends.
func (q *queries) NamedLock(ctx context.Context, name string) error {
	var got string
	err := q.write.QueryRowContext(ctx, `SELECT name FROM slipway_locks WHERE name = ?`+q.d.ForUpdate, name).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("lock %s: %w", name, store.ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	return nil
}

// SettingGet returns an installation setting.
func (q *queries) SettingGet(ctx context.Context, name string) (string, error) {
	var v string
	err := q.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("setting %s: %w", name, store.ErrNotFound)
	} else if err != nil {
		return "", fmt.Errorf("get setting %s: %w", name, err)
	}
	return v, nil
}

// SettingPut stores an installation setting.
func (q *queries) SettingPut(ctx context.Context, name, value string) error {
	if _, err := q.write.ExecContext(ctx, upsert("settings", "name, value", "name"), name, value); err != nil {
		return fmt.Errorf("put setting %s: %w", name, err)
	}
	return nil
}
