package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"slipway.dev/slipway/internal/store"
)

const sessionColumns = `id_hash, credential, admin, tool, csrf_secret, created_at, last_seen_at, expires_at`

// SessionCreate inserts a web UI session.
func (q *queries) SessionCreate(ctx context.Context, s store.Session) error {
	if s.CreatedAt.IsZero() || s.LastSeenAt.IsZero() || s.ExpiresAt.IsZero() {
		return errors.New("create session: a time is missing")
	}
	_, err := q.write.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		s.IDHash, s.Credential, s.Admin, s.Tool, s.CSRFSecret, encTime(s.CreatedAt), encTime(s.LastSeenAt), encTime(s.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionGet returns the session with this id hash.
func (q *queries) SessionGet(ctx context.Context, idHash string) (store.Session, error) {
	s, err := scanSession(q.read.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id_hash = ?`, idHash))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("get session: %w", err)
	}
	return s, nil
}

// SessionTouch records a request of the session.
func (q *queries) SessionTouch(ctx context.Context, idHash string, seen time.Time) error {
	res, err := q.write.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?`, encTime(seen), idHash)
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return oneRow(res, "touch session")
}

// SessionDelete deletes a session; deleting none is not an error.
func (q *queries) SessionDelete(ctx context.Context, idHash string) error {
	if _, err := q.write.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// SessionDeleteByCredential deletes the sessions opened with credential.
func (q *queries) SessionDeleteByCredential(ctx context.Context, credential string) (int, error) {
	res, err := q.write.ExecContext(ctx, `DELETE FROM sessions WHERE credential = ?`, credential)
	if err != nil {
		return 0, fmt.Errorf("delete sessions of %s: %w", credential, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete sessions of %s: %w", credential, err)
	}
	return int(n), nil
}

// SessionPrune deletes the expired and idle sessions.
func (q *queries) SessionPrune(ctx context.Context, now, idleSince time.Time) (int, error) {
	res, err := q.write.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at < ?`,
		encTime(now), encTime(idleSince))
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	return int(n), nil
}

func scanSession(r rowScanner) (store.Session, error) {
	var (
		s                      store.Session
		created, seen, expires sql.NullString
		err                    error
	)
	if err = r.Scan(&s.IDHash, &s.Credential, &s.Admin, &s.Tool, &s.CSRFSecret, &created, &seen, &expires); err != nil {
		return store.Session{}, err
	}
	if s.CreatedAt, err = decTime(created); err != nil {
		return store.Session{}, err
	}
	if s.LastSeenAt, err = decTime(seen); err != nil {
		return store.Session{}, err
	}
	if s.ExpiresAt, err = decTime(expires); err != nil {
		return store.Session{}, err
	}
	return s, nil
}
