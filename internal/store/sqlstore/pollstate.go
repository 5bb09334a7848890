package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"slipway.dev/slipway/internal/store"
)

// PollStateList returns the polled components' states by tool and
// component.
func (q *queries) PollStateList(ctx context.Context, tool string) ([]store.PollState, error) {
	query := `SELECT tool, component, ref, commit_sha, seen_at FROM poll_state`
	var args []any
	if tool != "" {
		query += ` WHERE tool = ?`
		args = append(args, tool)
	}
	rows, err := q.read.QueryContext(ctx, query+` ORDER BY tool, component`, args...)
	ps, err := collect(rows, err, func(row rowScanner) (store.PollState, error) {
		var (
			p    store.PollState
			seen sql.NullString
		)
		if err := row.Scan(&p.Tool, &p.Component, &p.Ref, &p.Commit, &seen); err != nil {
			return p, err
		}
		var err error
		p.SeenAt, err = decTime(seen)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("list poll states: %w", err)
	}
	return ps, nil
}

// PollStateAdvance moves a component's state to next if it still holds
// commit from ("": none yet).
func (q *queries) PollStateAdvance(ctx context.Context, from string, next store.PollState) (bool, error) {
	if next.Commit == "" || next.SeenAt.IsZero() {
		return false, fmt.Errorf("advance poll state of %s/%s: no commit or no time", next.Tool, next.Component)
	}
	op := "advance poll state of " + next.Tool + "/" + next.Component
	if from == "" {
		n, err := q.execCount(ctx, op,
			`INSERT INTO poll_state (tool, component, ref, commit_sha, seen_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (tool, component) DO NOTHING`,
			next.Tool, next.Component, next.Ref, next.Commit, encTime(next.SeenAt))
		return n == 1, err
	}
	n, err := q.execCount(ctx, op,
		`UPDATE poll_state SET ref = ?, commit_sha = ?, seen_at = ? WHERE tool = ? AND component = ? AND commit_sha = ?`,
		next.Ref, next.Commit, encTime(next.SeenAt), next.Tool, next.Component, from)
	return n == 1, err
}

// PollStateDelete forgets the states of the tool's components not in keep.
func (q *queries) PollStateDelete(ctx context.Context, tool string, keep []string) (int, error) {
	query := `DELETE FROM poll_state WHERE tool = ?`
	args := []any{tool}
	if len(keep) > 0 {
		query += ` AND component NOT IN (` + inArgs(len(keep)) + `)`
		for _, k := range keep {
			args = append(args, k)
		}
	}
	return q.execCount(ctx, "forget poll states of "+tool, query, args...)
}
