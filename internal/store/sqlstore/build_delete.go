package sqlite

import (
	"context"
	"fmt"

	"slipway.dev/slipway/internal/store"
)

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
