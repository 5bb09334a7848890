package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

const subscriptionColumns = `id, tool, kind, target, events, secret_sealed, created_at, created_by`

// NotifySubscriptionCreate inserts a notification subscription.
func (q *queries) NotifySubscriptionCreate(ctx context.Context, s store.NotifySubscription) error {
	if s.ID == "" || s.Tool == "" || s.Target == "" || s.CreatedAt.IsZero() {
		return fmt.Errorf("create subscription of %s: no ID, target or creation time", s.Tool)
	}
	events := make([]string, len(s.Events))
	for i, e := range s.Events {
		events[i] = string(e)
	}
	_, err := q.write.ExecContext(ctx,
		`INSERT INTO notify_subscriptions (`+subscriptionColumns+`) VALUES (`+inArgs(8)+`)`,
		s.ID, s.Tool, string(s.Kind), s.Target, strings.Join(events, ","), s.Sealed, encTime(s.CreatedAt), s.CreatedBy)
	if err != nil {
		return fmt.Errorf("create subscription %s of %s: %w", s.ID, s.Tool, err)
	}
	return nil
}

// NotifySubscriptionGet returns one of a tool's subscriptions.
func (q *queries) NotifySubscriptionGet(ctx context.Context, tool, id string) (store.NotifySubscription, error) {
	s, err := scanSubscription(q.read.QueryRowContext(ctx,
		`SELECT `+subscriptionColumns+` FROM notify_subscriptions WHERE tool = ? AND id = ?`, tool, id))
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("subscription %s of %s: %w", id, tool, store.ErrNotFound)
	}
	if err != nil {
		return s, fmt.Errorf("get subscription %s of %s: %w", id, tool, err)
	}
	return s, nil
}

// NotifySubscriptionList returns the tool's subscriptions, oldest first.
func (q *queries) NotifySubscriptionList(ctx context.Context, tool string) ([]store.NotifySubscription, error) {
	rows, err := q.read.QueryContext(ctx,
		`SELECT `+subscriptionColumns+` FROM notify_subscriptions WHERE tool = ? ORDER BY created_at, id`, tool)
	ss, err := collect(rows, err, scanSubscription)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions of %s: %w", tool, err)
	}
	return ss, nil
}

// NotifySubscriptionDelete deletes one of a tool's subscriptions.
func (q *queries) NotifySubscriptionDelete(ctx context.Context, tool, id string) error {
	return q.deleteOne(ctx, "subscription "+id+" of "+tool, `DELETE FROM notify_subscriptions WHERE tool = ? AND id = ?`, tool, id)
}

func scanSubscription(row rowScanner) (store.NotifySubscription, error) {
	var (
		s            store.NotifySubscription
		kind, events string
		created      sql.NullString
	)
	if err := row.Scan(&s.ID, &s.Tool, &kind, &s.Target, &events, &s.Sealed, &created, &s.CreatedBy); err != nil {
		return store.NotifySubscription{}, err
	}
	s.Kind = slipway.NotifyKind(kind)
	if events != "" {
		for e := range strings.SplitSeq(events, ",") {
			s.Events = append(s.Events, slipway.NotifyEvent(e))
		}
	}
	var err error
	if s.CreatedAt, err = decTime(created); err != nil {
		return store.NotifySubscription{}, err
	}
	return s, nil
}

const notifyDeliveryColumns = `id, tool, subscription_id, event, subject, payload, created_at, state, attempts, max_attempts,
	last_status, last_error, updated_at`

// NotifyDeliveryAdd records a delivery unless its subscription has one for
// the same event and subject.
func (q *queries) NotifyDeliveryAdd(ctx context.Context, d slipway.NotifyDelivery) (bool, error) {
	if d.ID == "" || d.CreatedAt.IsZero() || d.State == "" {
		return false, fmt.Errorf("add notification %s of %s: no ID, creation time or state", d.ID, d.Tool)
	}
	n, err := q.execCount(ctx, "add notification "+d.ID+" of "+d.Tool,
		`INSERT INTO notify_deliveries (`+notifyDeliveryColumns+`) VALUES (`+inArgs(13)+`)
		ON CONFLICT (subscription_id, event, subject) DO NOTHING`,
		d.ID, d.Tool, d.SubscriptionID, string(d.Event), d.Subject, string(d.Payload), encTime(d.CreatedAt), string(d.State),
		d.Attempts, d.MaxAttempts, d.LastStatus, d.LastError, encTime(d.UpdatedAt))
	return n == 1, err
}

// NotifyDeliveryGet returns one of a tool's deliveries.
func (q *queries) NotifyDeliveryGet(ctx context.Context, tool, id string) (slipway.NotifyDelivery, error) {
	d, err := scanNotifyDelivery(q.read.QueryRowContext(ctx,
		`SELECT `+notifyDeliveryColumns+` FROM notify_deliveries WHERE tool = ? AND id = ?`, tool, id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("notification %s of %s: %w", id, tool, store.ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("get notification %s of %s: %w", id, tool, err)
	}
	return d, nil
}

// NotifyDeliveryUpdate writes a delivery's state, attempts, last status
// and error.
func (q *queries) NotifyDeliveryUpdate(ctx context.Context, d slipway.NotifyDelivery) error {
	n, err := q.execCount(ctx, "update notification "+d.ID+" of "+d.Tool,
		`UPDATE notify_deliveries SET state = ?, attempts = ?, max_attempts = ?, last_status = ?, last_error = ?, updated_at = ?
		WHERE tool = ? AND id = ?`,
		string(d.State), d.Attempts, d.MaxAttempts, d.LastStatus, d.LastError, encTime(d.UpdatedAt), d.Tool, d.ID)
	if err == nil && n == 0 {
		err = fmt.Errorf("update notification %s of %s: %w", d.ID, d.Tool, store.ErrNotFound)
	}
	return err
}

// NotifyDeliveryList returns the tool's deliveries, newest first.
func (q *queries) NotifyDeliveryList(ctx context.Context, tool, subscription string, limit int) ([]slipway.NotifyDelivery, error) {
	query := `SELECT ` + notifyDeliveryColumns + ` FROM notify_deliveries WHERE tool = ?`
	args := []any{tool}
	if subscription != "" {
		query += ` AND subscription_id = ?`
		args = append(args, subscription)
	}
	query += ` ORDER BY created_at DESC, id DESC`
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := q.read.QueryContext(ctx, query, args...)
	ds, err := collect(rows, err, scanNotifyDelivery)
	if err != nil {
		return nil, fmt.Errorf("list notifications of %s: %w", tool, err)
	}
	return ds, nil
}

func scanNotifyDelivery(row rowScanner) (slipway.NotifyDelivery, error) {
	var (
		d                     slipway.NotifyDelivery
		event, payload, state string
		created, updated      sql.NullString
	)
	if err := row.Scan(&d.ID, &d.Tool, &d.SubscriptionID, &event, &d.Subject, &payload, &created, &state,
		&d.Attempts, &d.MaxAttempts, &d.LastStatus, &d.LastError, &updated); err != nil {
		return slipway.NotifyDelivery{}, err
	}
	d.Event, d.Payload, d.State = slipway.NotifyEvent(event), []byte(payload), slipway.NotifyState(state)
	var err error
	if d.CreatedAt, err = decTime(created); err != nil {
		return slipway.NotifyDelivery{}, err
	}
	if d.UpdatedAt, err = decTime(updated); err != nil {
		return slipway.NotifyDelivery{}, err
	}
	return d, nil
}

const notifyAttemptColumns = `delivery_id, n, tool, at, status_code, error, duration_ms, response`

// NotifyAttemptAdd records an attempt of a delivery.
func (q *queries) NotifyAttemptAdd(ctx context.Context, a slipway.NotifyAttempt) error {
	if a.DeliveryID == "" || a.N < 1 || a.At.IsZero() {
		return fmt.Errorf("add attempt %d of notification %s: no delivery, number or time", a.N, a.DeliveryID)
	}
	_, err := q.write.ExecContext(ctx,
		`INSERT INTO notify_attempts (`+notifyAttemptColumns+`) VALUES (`+inArgs(8)+`)`,
		a.DeliveryID, a.N, a.Tool, encTime(a.At), a.StatusCode, a.Error, a.Duration.Milliseconds(), a.Response)
	if err != nil {
		return fmt.Errorf("add attempt %d of notification %s: %w", a.N, a.DeliveryID, err)
	}
	return nil
}

// NotifyAttemptList returns a delivery's attempts, oldest first.
func (q *queries) NotifyAttemptList(ctx context.Context, tool, deliveryID string) ([]slipway.NotifyAttempt, error) {
	rows, err := q.read.QueryContext(ctx,
		`SELECT `+notifyAttemptColumns+` FROM notify_attempts WHERE tool = ? AND delivery_id = ? ORDER BY n`, tool, deliveryID)
	as, err := collect(rows, err, func(row rowScanner) (slipway.NotifyAttempt, error) {
		var (
			a  slipway.NotifyAttempt
			at sql.NullString
			ms int64
		)
		if err := row.Scan(&a.DeliveryID, &a.N, &a.Tool, &at, &a.StatusCode, &a.Error, &ms, &a.Response); err != nil {
			return a, err
		}
		a.Duration = time.Duration(ms) * time.Millisecond
		var err error
		a.At, err = decTime(at)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("list attempts of notification %s: %w", deliveryID, err)
	}
	return as, nil
}

// NotifyDeliveryPrune deletes the deliveries created before before, with
// their attempts.
func (q *queries) NotifyDeliveryPrune(ctx context.Context, before time.Time) (int, error) {
	if _, err := q.execCount(ctx, "prune notification attempts",
		`DELETE FROM notify_attempts WHERE delivery_id IN (SELECT id FROM notify_deliveries WHERE created_at < ?)`, encTime(before)); err != nil {
		return 0, err
	}
	return q.execCount(ctx, "prune notifications", `DELETE FROM notify_deliveries WHERE created_at < ?`, encTime(before))
}
