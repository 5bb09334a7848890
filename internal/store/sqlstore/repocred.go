package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"slipway.dev/slipway/internal/store"
)

// RepoCredentialPut stores the credential of a tool's URL (insert or
// replace).
func (q *queries) RepoCredentialPut(ctx context.Context, c store.RepoCredential) error {
	if c.Sealed == "" {
		return fmt.Errorf("put credential of %s for %s: nothing sealed", c.Tool, c.URL)
	}
	_, err := q.write.ExecContext(ctx,
		upsert("repo_credentials", "tool, url, sealed, updated_at", "tool, url"),
		c.Tool, c.URL, c.Sealed, encTime(c.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put credential of %s for %s: %w", c.Tool, c.URL, err)
	}
	return nil
}

// RepoCredentialGet returns the credential of a tool's URL; ErrNotFound
// when there is none.
func (q *queries) RepoCredentialGet(ctx context.Context, tool, url string) (store.RepoCredential, error) {
	c := store.RepoCredential{Tool: tool, URL: url}
	var updated sql.NullString
	err := q.read.QueryRowContext(ctx,
		`SELECT sealed, updated_at FROM repo_credentials WHERE tool = ? AND url = ?`, tool, url).
		Scan(&c.Sealed, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return store.RepoCredential{}, fmt.Errorf("credential of %s for %s: %w", tool, url, store.ErrNotFound)
	}
	if err != nil {
		return store.RepoCredential{}, fmt.Errorf("get credential of %s for %s: %w", tool, url, err)
	}
	if c.UpdatedAt, err = decTime(updated); err != nil {
		return store.RepoCredential{}, fmt.Errorf("credential of %s for %s: %w", tool, url, err)
	}
	return c, nil
}

// RepoCredentialPrune deletes the tool's credentials whose URL is not in
// keep.
func (q *queries) RepoCredentialPrune(ctx context.Context, tool string, keep []string) (int, error) {
	query := `DELETE FROM repo_credentials WHERE tool = ?`
	args := []any{tool}
	if len(keep) > 0 {
		query += ` AND url NOT IN (` + inArgs(len(keep)) + `)`
		for _, u := range keep {
			args = append(args, u)
		}
	}
	res, err := q.write.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("prune credentials of %s: %w", tool, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune credentials of %s: %w", tool, err)
	}
	return int(n), nil
}
