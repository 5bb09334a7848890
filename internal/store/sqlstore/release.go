package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

const releaseColumns = `seq, tool, environment, component, deployment_id, build_key, commit_sha, spec_hash,
	config_version, applied_at, outcome, actor`

// ReleaseAppend appends a release and returns its sequence number.
func (q *queries) ReleaseAppend(ctx context.Context, r slipway.Release) (int64, error) {
	var seq int64
	err := q.write.QueryRowContext(ctx,
		`INSERT INTO releases (`+strings.TrimPrefix(releaseColumns, "seq, ")+`)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
		r.Tool, r.Environment, r.Component, r.DeploymentID, r.BuildKey, r.Commit, r.SpecHash,
		r.ConfigVersion, encTime(r.AppliedAt), string(r.Outcome), r.Actor).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("record the release of %s of %s: %w", r.Component, r.Tool, err)
	}
	return seq, nil
}

// ReleaseList returns the releases f selects, newest first.
func (q *queries) ReleaseList(ctx context.Context, f store.ReleaseFilter) ([]slipway.Release, error) {
	where := []string{"tool = ?"}
	args := []any{f.Tool}
	for _, c := range []struct{ col, val string }{
		{"environment", f.Environment}, {"component", f.Component}, {"commit_sha", f.Commit}, {"deployment_id", f.DeploymentID},
	} {
		if c.val != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	if f.Before > 0 {
		where = append(where, "seq < ?")
		args = append(args, f.Before)
	}
	cond := strings.Join(where, " AND ")
	if f.Latest {
		// The newest of each (environment, component) among those selected.
		cond += ` AND seq IN (SELECT MAX(seq) FROM releases WHERE ` + cond + ` GROUP BY environment, component)`
		args = append(args, args...)
	}
	query := `SELECT ` + releaseColumns + ` FROM releases WHERE ` + cond + ` ORDER BY seq DESC`
	if f.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := q.read.QueryContext(ctx, query, args...)
	rs, err := collect(rows, err, scanRelease)
	if err != nil {
		return nil, fmt.Errorf("list the releases of %s: %w", f.Tool, err)
	}
	return rs, nil
}

// scanRelease reads one row of releaseColumns.
func scanRelease(row rowScanner) (slipway.Release, error) {
	var (
		r       slipway.Release
		outcome string
		applied sql.NullString
	)
	if err := row.Scan(&r.Seq, &r.Tool, &r.Environment, &r.Component, &r.DeploymentID, &r.BuildKey, &r.Commit,
		&r.SpecHash, &r.ConfigVersion, &applied, &outcome, &r.Actor); err != nil {
		return slipway.Release{}, err
	}
	r.Outcome = slipway.ReleaseOutcome(outcome)
	var err error
	r.AppliedAt, err = decTime(applied)
	return r, err
}

// ReleasePrune deletes up to limit releases applied before before,
// oldest first, that a newer release of the same component in the same
// environment superseded before before: the window from before on keeps
// every release applied in it and the one each component was on when it
// began (a live component's current release among them, however old).
func (q *queries) ReleasePrune(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit < 1 {
		return 0, fmt.Errorf("prune releases: limit is %d, want at least 1", limit)
	}
	cutoff := encTime(before)
	res, err := q.write.ExecContext(ctx,
		`DELETE FROM releases WHERE seq IN (
			SELECT r.seq FROM releases r
			WHERE r.applied_at < ? AND EXISTS (
				SELECT 1 FROM releases n
				WHERE n.tool = r.tool AND n.environment = r.environment AND n.component = r.component
				AND n.seq > r.seq AND n.applied_at < ?)
			ORDER BY r.seq LIMIT ?)`,
		cutoff, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("prune releases applied before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune releases: %w", err)
	}
	return int(n), nil
}

// ReleaseBuildKeys returns the distinct build keys of the tool's releases
// that release retention from since on keeps: those applied at since or
// later, and the one each component was on in each environment at since
// (all of them when since is zero).
func (q *queries) ReleaseBuildKeys(ctx context.Context, tool string, since time.Time) ([]string, error) {
	query := `SELECT DISTINCT build_key FROM releases r WHERE tool = ? AND build_key <> ''`
	args := []any{tool}
	if !since.IsZero() {
		query += ` AND (applied_at >= ? OR NOT EXISTS (
			SELECT 1 FROM releases n
			WHERE n.tool = r.tool AND n.environment = r.environment AND n.component = r.component
			AND n.seq > r.seq AND n.applied_at < ?))`
		args = append(args, encTime(since), encTime(since))
	}
	rows, err := q.read.QueryContext(ctx, query+` ORDER BY build_key`, args...)
	keys, err := collect(rows, err, scanString)
	if err != nil {
		return nil, fmt.Errorf("build keys of the releases of %s: %w", tool, err)
	}
	return keys, nil
}
