package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

const jobRunColumns = `tool, name, command, image_name, build_key, artifact, timeout, run_id, created_at`

// JobRunPut records an ad-hoc one-off job (insert or replace).
func (q *queries) JobRunPut(ctx context.Context, r slipway.JobRun) error {
	_, err := q.write.ExecContext(ctx,
		upsert("job_runs", jobRunColumns, "tool, name"),
		r.Tool, r.Name, r.Command, r.ImageName, r.BuildKey, r.Artifact, r.Timeout, r.RunID, encTime(r.CreatedAt))
	if err != nil {
		return fmt.Errorf("put job run %s of %s: %w", r.Name, r.Tool, err)
	}
	return nil
}

// JobRunGet returns one ad-hoc one-off job; ErrNotFound when there is none.
func (q *queries) JobRunGet(ctx context.Context, tool, name string) (slipway.JobRun, error) {
	r, err := scanJobRun(q.read.QueryRowContext(ctx,
		`SELECT `+jobRunColumns+` FROM job_runs WHERE tool = ? AND name = ?`, tool, name))
	if errors.Is(err, sql.ErrNoRows) {
		return slipway.JobRun{}, fmt.Errorf("job run %s of %s: %w", name, tool, store.ErrNotFound)
	}
	if err != nil {
		return slipway.JobRun{}, fmt.Errorf("get job run %s of %s: %w", name, tool, err)
	}
	return r, nil
}

// JobRunList returns the tool's ad-hoc one-off jobs, by name.
func (q *queries) JobRunList(ctx context.Context, tool string) ([]slipway.JobRun, error) {
	rows, err := q.read.QueryContext(ctx,
		`SELECT `+jobRunColumns+` FROM job_runs WHERE tool = ? ORDER BY name`, tool)
	rs, err := collect(rows, err, scanJobRun)
	if err != nil {
		return nil, fmt.Errorf("list job runs of %s: %w", tool, err)
	}
	return rs, nil
}

// JobRunDelete forgets an ad-hoc one-off job; deleting an unknown one is
// not an error.
func (q *queries) JobRunDelete(ctx context.Context, tool, name string) error {
	_, err := q.write.ExecContext(ctx, `DELETE FROM job_runs WHERE tool = ? AND name = ?`, tool, name)
	if err != nil {
		return fmt.Errorf("delete job run %s of %s: %w", name, tool, err)
	}
	return nil
}

// scanJobRun reads one row of jobRunColumns.
func scanJobRun(row rowScanner) (slipway.JobRun, error) {
	var (
		r       slipway.JobRun
		created sql.NullString
	)
	if err := row.Scan(&r.Tool, &r.Name, &r.Command, &r.ImageName, &r.BuildKey, &r.Artifact, &r.Timeout, &r.RunID, &created); err != nil {
		return slipway.JobRun{}, err
	}
	var err error
	if r.CreatedAt, err = decTime(created); err != nil {
		return slipway.JobRun{}, err
	}
	return r, nil
}
