package sqlite

import (
	"context"
	"fmt"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// BuildListByKey returns every tool's builds with this key, newest first.
func (q *queries) BuildListByKey(ctx context.Context, key string) ([]slipway.Build, error) {
	rows, err := q.read.QueryContext(ctx,
		`SELECT `+buildColumns+` FROM builds WHERE build_key = ? ORDER BY created_at DESC, tool DESC, id DESC`, key)
	if err != nil {
		return nil, fmt.Errorf("list builds with key %s: %w", key, err)
	}
	defer func() { _ = rows.Close() }()
	bs := []slipway.Build{}
	for rows.Next() {
		b, err := scanBuild(rows)
		if err != nil {
			return nil, fmt.Errorf("list builds with key %s: %w", key, err)
		}
		bs = append(bs, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list builds with key %s: %w", key, err)
	}
	return bs, nil
}

// BuildDelete deletes a build record.
func (q *queries) BuildDelete(ctx context.Context, tool, id string) error {
	res, err := q.write.ExecContext(ctx, `DELETE FROM builds WHERE tool = ? AND id = ?`, tool, id)
	if err != nil {
		return fmt.Errorf("delete build %s of %s: %w", id, tool, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete build %s of %s: %w", id, tool, err)
	}
	if n == 0 {
		return fmt.Errorf("build %s of %s: %w", id, tool, store.ErrNotFound)
	}
	return nil
}
