package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// BuildDelete deletes a build record, marked deleting or not.
func (q *queries) BuildDelete(ctx context.Context, tool, id string) error {
	res, err := q.write.ExecContext(ctx, `DELETE FROM builds WHERE tool = ? AND id = ?`, tool, id)
	if err != nil {
		return fmt.Errorf("delete build %s of %s: %w", id, tool, err)
	}
	return oneRow(res, fmt.Sprintf("build %s of %s", id, tool))
}

// BuildSetDeleting marks a build record as being deleted, or unmarks it.
func (q *queries) BuildSetDeleting(ctx context.Context, tool, id string, deleting bool) error {
	res, err := q.write.ExecContext(ctx, `UPDATE builds SET deleting = ? WHERE tool = ? AND id = ?`, deleting, tool, id)
	if err != nil {
		return fmt.Errorf("mark build %s of %s: %w", id, tool, err)
	}
	return oneRow(res, fmt.Sprintf("build %s of %s", id, tool))
}

// BuildListDeleting returns the records marked deleting, of every tool.
func (q *queries) BuildListDeleting(ctx context.Context) ([]slipway.Build, error) {
	bs, err := q.builds(ctx, `WHERE deleting`)
	if err != nil {
		return nil, fmt.Errorf("list builds being deleted: %w", err)
	}
	return bs, nil
}

// oneRow returns ErrNotFound, naming what, when res changed no row.
func oneRow(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}
