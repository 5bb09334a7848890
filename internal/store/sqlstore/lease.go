package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// BuildLeaseTake takes a build slot of the tool for a step, unless limit
// steps of the tool already hold one.
func (q *queries) BuildLeaseTake(ctx context.Context, tool, deploymentID, key string, limit int, now time.Time) (ok bool, held int, err error) {
	err = q.atomic(ctx, func(q *queries) error {
		if err := q.ToolLock(ctx, tool, now); err != nil {
			return err
		}
		// Leases whose step ended (or is gone) were left by a server that
		// stopped before releasing them.
		_, err := q.write.ExecContext(ctx,
			`DELETE FROM build_leases WHERE tool = ? AND NOT EXISTS (
				SELECT 1 FROM steps s WHERE s.deployment_id = build_leases.deployment_id
				AND s.step_key = build_leases.step_key AND s.state IN ('pending', 'running'))`, tool)
		if err != nil {
			return err
		}
		var mine int
		err = q.write.QueryRowContext(ctx,
			`SELECT count(*), COALESCE(SUM(CASE WHEN deployment_id = ? AND step_key = ? THEN 1 ELSE 0 END), 0)
			 FROM build_leases WHERE tool = ?`, deploymentID, key, tool).Scan(&held, &mine)
		if err != nil {
			return err
		}
		if mine > 0 {
			ok = true
			return nil
		}
		if held >= limit {
			return nil
		}
		_, err = q.write.ExecContext(ctx,
			`INSERT INTO build_leases (tool, deployment_id, step_key, taken_at) VALUES (?, ?, ?, ?)`,
			tool, deploymentID, key, encTime(now))
		ok, held = err == nil, held+1
		return err
	})
	if err != nil {
		return false, 0, fmt.Errorf("take a build slot of %s for %s of %s: %w", tool, key, deploymentID, err)
	}
	return ok, held, nil
}

// BuildLeaseRelease gives a step's build slot back.
func (q *queries) BuildLeaseRelease(ctx context.Context, deploymentID, key string) error {
	_, err := q.write.ExecContext(ctx, `DELETE FROM build_leases WHERE deployment_id = ? AND step_key = ?`, deploymentID, key)
	if err != nil {
		return fmt.Errorf("release the build slot of %s of %s: %w", key, deploymentID, err)
	}
	return nil
}
