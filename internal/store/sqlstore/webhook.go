package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// WebhookPut stores a tool's push webhook secret (insert or replace).
func (q *queries) WebhookPut(ctx context.Context, w store.Webhook) error {
	if w.Sealed == "" || w.CreatedAt.IsZero() {
		return fmt.Errorf("put webhook of %s: no sealed secret or no creation time", w.Tool)
	}
	_, err := q.write.ExecContext(ctx,
		upsert("webhooks", "tool, secret_sealed, created_at", "tool"),
		w.Tool, w.Sealed, encTime(w.CreatedAt))
	if err != nil {
		return fmt.Errorf("put webhook of %s: %w", w.Tool, err)
	}
	return nil
}

// WebhookGet returns a tool's push webhook; ErrNotFound when there is none.
func (q *queries) WebhookGet(ctx context.Context, tool string) (store.Webhook, error) {
	w := store.Webhook{Tool: tool}
	var created sql.NullString
	err := q.read.QueryRowContext(ctx,
		`SELECT secret_sealed, created_at FROM webhooks WHERE tool = ?`, tool).Scan(&w.Sealed, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Webhook{}, fmt.Errorf("webhook of %s: %w", tool, store.ErrNotFound)
	}
	if err != nil {
		return store.Webhook{}, fmt.Errorf("get webhook of %s: %w", tool, err)
	}
	if w.CreatedAt, err = decTime(created); err != nil {
		return store.Webhook{}, fmt.Errorf("webhook of %s: %w", tool, err)
	}
	return w, nil
}

// WebhookDelete deletes a tool's push webhook; ErrNotFound when there is
// none.
func (q *queries) WebhookDelete(ctx context.Context, tool string) error {
	return q.deleteOne(ctx, "webhook of "+tool, `DELETE FROM webhooks WHERE tool = ?`, tool)
}

// deleteOne runs a DELETE of at most one row; ErrNotFound when it deleted
// none.
func (q *queries) deleteOne(ctx context.Context, what, query string, args ...any) error {
	n, err := q.execCount(ctx, "delete "+what, query, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// execCount runs a write and returns how many rows it changed; its error
// starts with op.
func (q *queries) execCount(ctx context.Context, op, query string, args ...any) (int, error) {
	res, err := q.write.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	return int(n), nil
}

const deliveryColumns = `tool, id, provider, event, received_at, ref, commit_sha, pusher, outcome, message, deployment_id`

// WebhookDeliveryAdd records a delivery unless the tool has one with its
// ID; false is a replay.
func (q *queries) WebhookDeliveryAdd(ctx context.Context, d slipway.WebhookDelivery) (bool, error) {
	if d.ReceivedAt.IsZero() || d.Outcome == "" {
		return false, fmt.Errorf("add delivery %s of %s: no receive time or no outcome", d.ID, d.Tool)
	}
	n, err := q.execCount(ctx, "add delivery "+d.ID+" of "+d.Tool,
		`INSERT INTO webhook_deliveries (`+deliveryColumns+`) VALUES (`+inArgs(11)+`) ON CONFLICT (tool, id) DO NOTHING`,
		d.Tool, d.ID, d.Provider, d.Event, encTime(d.ReceivedAt), d.Ref, d.Commit, d.Pusher, string(d.Outcome), d.Message, d.DeploymentID)
	return n == 1, err
}

// WebhookDeliveryGet returns one of a tool's deliveries.
func (q *queries) WebhookDeliveryGet(ctx context.Context, tool, id string) (slipway.WebhookDelivery, error) {
	d, err := scanDelivery(q.read.QueryRowContext(ctx,
		`SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE tool = ? AND id = ?`, tool, id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("delivery %s of %s: %w", id, tool, store.ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("get delivery %s of %s: %w", id, tool, err)
	}
	return d, nil
}

// WebhookDeliveryUpdate writes a delivery's outcome, message and
// deployment.
func (q *queries) WebhookDeliveryUpdate(ctx context.Context, d slipway.WebhookDelivery) error {
	n, err := q.execCount(ctx, "update delivery "+d.ID+" of "+d.Tool,
		`UPDATE webhook_deliveries SET ref = ?, commit_sha = ?, pusher = ?, outcome = ?, message = ?, deployment_id = ? WHERE tool = ? AND id = ?`,
		d.Ref, d.Commit, d.Pusher, string(d.Outcome), d.Message, d.DeploymentID, d.Tool, d.ID)
	if err == nil && n == 0 {
		err = fmt.Errorf("update delivery %s of %s: %w", d.ID, d.Tool, store.ErrNotFound)
	}
	return err
}

// WebhookDeliveryList returns the tool's deliveries, newest first.
func (q *queries) WebhookDeliveryList(ctx context.Context, tool string, limit int) ([]slipway.WebhookDelivery, error) {
	query := `SELECT ` + deliveryColumns + ` FROM webhook_deliveries WHERE tool = ? ORDER BY received_at DESC, id DESC`
	args := []any{tool}
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := q.read.QueryContext(ctx, query, args...)
	ds, err := collect(rows, err, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("list deliveries of %s: %w", tool, err)
	}
	return ds, nil
}

// WebhookDeliveryPrune deletes the deliveries received before before.
func (q *queries) WebhookDeliveryPrune(ctx context.Context, before time.Time) (int, error) {
	return q.execCount(ctx, "prune webhook deliveries", `DELETE FROM webhook_deliveries WHERE received_at < ?`, encTime(before))
}

func scanDelivery(row rowScanner) (slipway.WebhookDelivery, error) {
	var (
		d        slipway.WebhookDelivery
		received sql.NullString
		outcome  string
	)
	if err := row.Scan(&d.Tool, &d.ID, &d.Provider, &d.Event, &received, &d.Ref, &d.Commit, &d.Pusher, &outcome, &d.Message, &d.DeploymentID); err != nil {
		return slipway.WebhookDelivery{}, err
	}
	d.Outcome = slipway.WebhookOutcome(outcome)
	var err error
	if d.ReceivedAt, err = decTime(received); err != nil {
		return slipway.WebhookDelivery{}, err
	}
	return d, nil
}
