package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// queries implements [store.Queries]. On a [DB], read is the read pool,
// write the write pool and begin starts a transaction; in a [tx], read and
// write are the transaction and begin is nil.
type queries struct {
	read  querier
	write querier
	d     *Dialect
	begin func(ctx context.Context, fn func(t *sql.Tx) error) error
}

// atomic runs fn with queries that are all in one write transaction: a new
// one on a DB, the current one in a tx. Methods that read before they write
// use it, so that nothing changes between the read and the write.
func (q *queries) atomic(ctx context.Context, fn func(q *queries) error) error {
	if q.begin == nil {
		return fn(q)
	}
	return q.begin(ctx, func(t *sql.Tx) error {
		c := conn{t, q.d}
		return fn(&queries{read: c, write: c, d: q.d})
	})
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// upsert returns an INSERT of columns (a comma-separated list) into table
// that replaces the row with the same key columns: ON CONFLICT … DO
// UPDATE, which both dialects speak.
func upsert(table, columns, key string) string {
	cols := strings.Split(columns, ",")
	keys := map[string]bool{}
	for k := range strings.SplitSeq(key, ",") {
		keys[strings.TrimSpace(k)] = true
	}
	var set []string
	for _, c := range cols {
		if c = strings.TrimSpace(c); !keys[c] {
			set = append(set, c+" = excluded."+c)
		}
	}
	return `INSERT INTO ` + table + ` (` + columns + `) VALUES (` + inArgs(len(cols)) + `)
		ON CONFLICT (` + key + `) DO UPDATE SET ` + strings.Join(set, ", ")
}

// inArgs returns "?, ?, …" for n placeholders.
func inArgs(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// notify announces a change of deployment id to the other processes
// sharing the database when the transaction q writes in commits (see
// [Dialect.Notify]); nothing where one process owns the database.
func (q *queries) notify(ctx context.Context, id string) error {
	if q.d.Notify == "" {
		return nil
	}
	if _, err := q.write.ExecContext(ctx, q.d.Notify, id); err != nil {
		return fmt.Errorf("notify the change of deployment %s: %w", id, err)
	}
	return nil
}

// ToolEnsure creates the tool if it does not exist.
func (q *queries) ToolEnsure(ctx context.Context, name string, now time.Time) error {
	_, err := q.write.ExecContext(ctx,
		`INSERT INTO tools (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`,
		name, encTime(now))
	if err != nil {
		return fmt.Errorf("ensure tool %s: %w", name, err)
	}
	return nil
}

// ToolList returns every tool name, sorted.
func (q *queries) ToolList(ctx context.Context) ([]string, error) {
	rows, err := q.read.QueryContext(ctx, `SELECT name FROM tools ORDER BY name`)
	names, err := collect(rows, err, scanString)
	if err != nil {
		return nil, fmt.Errorf("list tools: %w", err)
	}
	return names, nil
}

// scanString reads a row of one text column.
func scanString(r rowScanner) (string, error) {
	var s string
	err := r.Scan(&s)
	return s, err
}

// ToolLock makes sure the tool's row exists (created at now when it did
// not) and locks it until the transaction ends.
func (q *queries) ToolLock(ctx context.Context, tool string, now time.Time) error {
	if err := q.ToolEnsure(ctx, tool, now); err != nil {
		return err
	}
	return q.lockTool(ctx, tool)
}

// lockTool locks the tool's row, when it exists, until the transaction
// ends.
func (q *queries) lockTool(ctx context.Context, tool string) error {
	var name string
	err := q.write.QueryRowContext(ctx, `SELECT name FROM tools WHERE name = ?`+q.d.ForUpdate, tool).Scan(&name)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("lock tool %s: %w", tool, err)
	}
	return nil
}

// DeploymentLock locks the deployment's tool and then the deployment,
// until the transaction ends, and returns the deployment as it is once
// both are held.
func (q *queries) DeploymentLock(ctx context.Context, tool, id string) (slipway.Deployment, error) {
	if err := q.lockTool(ctx, tool); err != nil {
		return slipway.Deployment{}, err
	}
	d, err := scanDeployment(q.write.QueryRowContext(ctx,
		`SELECT `+deploymentColumns+` FROM deployments WHERE id = ? AND tool = ?`+q.d.ForUpdate, id, tool))
	if errors.Is(err, sql.ErrNoRows) {
		return slipway.Deployment{}, fmt.Errorf("deployment %s of %s: %w", id, tool, store.ErrNotFound)
	}
	if err != nil {
		return slipway.Deployment{}, fmt.Errorf("lock deployment %s of %s: %w", id, tool, err)
	}
	return d, nil
}

const configColumns = `tool, version, raw, deleted, created_at, created_by, created_by_admin`

func scanConfig(r rowScanner) (store.StoredConfig, error) {
	var (
		c       store.StoredConfig
		raw     sql.NullString
		created sql.NullString
		err     error
	)
	if err = r.Scan(&c.Tool, &c.Version, &raw, &c.Deleted, &created, &c.CreatedBy, &c.CreatedByAdmin); err != nil {
		return store.StoredConfig{}, err
	}
	c.Raw = decRaw(raw)
	if c.CreatedAt, err = decTime(created); err != nil {
		return store.StoredConfig{}, err
	}
	return c, nil
}

// configLatest returns the tool's newest config row, deletion markers
// included; ErrNotFound when there is none.
func configLatest(ctx context.Context, q querier, tool string) (store.StoredConfig, error) {
	c, err := scanConfig(q.QueryRowContext(ctx,
		`SELECT `+configColumns+` FROM configs WHERE tool = ? ORDER BY version DESC LIMIT 1`, tool))
	if errors.Is(err, sql.ErrNoRows) {
		return store.StoredConfig{}, fmt.Errorf("config of %s: %w", tool, store.ErrNotFound)
	}
	if err != nil {
		return store.StoredConfig{}, fmt.Errorf("get latest config of %s: %w", tool, err)
	}
	return c, nil
}

// ConfigVersions returns every tool's newest config version.
func (q *queries) ConfigVersions(ctx context.Context) (map[string]int, error) {
	rows, err := q.read.QueryContext(ctx, `SELECT tool, MAX(version) FROM configs GROUP BY tool`)
	if err != nil {
		return nil, fmt.Errorf("config versions: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := map[string]int{}
	for rows.Next() {
		var (
			tool string
			v    int
		)
		if err := rows.Scan(&tool, &v); err != nil {
			return nil, fmt.Errorf("config versions: %w", err)
		}
		out[tool] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("config versions: %w", err)
	}
	return out, nil
}

// ConfigCreate stores a new config version and returns its number.
func (q *queries) ConfigCreate(ctx context.Context, tool string, raw json.RawMessage, now time.Time) (int, error) {
	return q.ConfigCreateBy(ctx, tool, raw, slipway.Actor{}, now)
}

// ConfigCreateBy stores a new config version created by by.
// The tool's lock makes the next version number the writer's alone.
func (q *queries) ConfigCreateBy(ctx context.Context, tool string, raw json.RawMessage, by slipway.Actor, now time.Time) (int, error) {
	var version int
	err := q.atomic(ctx, func(q *queries) error {
		if err := q.ToolLock(ctx, tool, now); err != nil {
			return err
		}
		err := q.write.QueryRowContext(ctx,
			`INSERT INTO configs (tool, version, raw, deleted, created_at, created_by, created_by_admin)
			 SELECT ?, COALESCE(MAX(version), 0) + 1, ?, FALSE, ?, ?, ? FROM configs WHERE tool = ?
			 RETURNING version`,
			tool, encRaw(raw), encTime(now), by.Name, by.Admin, tool).Scan(&version)
		if err != nil {
			return fmt.Errorf("create config of %s: %w", tool, q.d.err(err))
		}
		return nil
	})
	return version, err
}

// ConfigGetLatest returns the newest version; ErrNotFound when there is none
// or the newest is a deletion marker.
func (q *queries) ConfigGetLatest(ctx context.Context, tool string) (store.StoredConfig, error) {
	c, err := configLatest(ctx, q.read, tool)
	if err != nil {
		return store.StoredConfig{}, err
	}
	if c.Deleted {
		return store.StoredConfig{}, fmt.Errorf("config of %s (deleted in version %d): %w", tool, c.Version, store.ErrNotFound)
	}
	return c, nil
}

// ConfigGet returns one version, deletion markers included.
func (q *queries) ConfigGet(ctx context.Context, tool string, version int) (store.StoredConfig, error) {
	c, err := scanConfig(q.read.QueryRowContext(ctx,
		`SELECT `+configColumns+` FROM configs WHERE tool = ? AND version = ?`, tool, version))
	if errors.Is(err, sql.ErrNoRows) {
		return store.StoredConfig{}, fmt.Errorf("config version %d of %s: %w", version, tool, store.ErrNotFound)
	}
	if err != nil {
		return store.StoredConfig{}, fmt.Errorf("get config version %d of %s: %w", version, tool, err)
	}
	return c, nil
}

// ConfigDelete appends a deletion marker and returns the config it deleted;
// ErrNotFound when there is no live config.
func (q *queries) ConfigDelete(ctx context.Context, tool string, now time.Time) (store.StoredConfig, error) {
	var deleted store.StoredConfig
	err := q.atomic(ctx, func(q *queries) error {
		if err := q.ToolLock(ctx, tool, now); err != nil {
			return err
		}
		c, err := configLatest(ctx, q.write, tool)
		if err != nil {
			return err
		}
		if c.Deleted {
			return fmt.Errorf("config of %s (deleted in version %d): %w", tool, c.Version, store.ErrNotFound)
		}
		_, err = q.write.ExecContext(ctx,
			`INSERT INTO configs (tool, version, raw, deleted, created_at) VALUES (?, ?, NULL, TRUE, ?)`,
			tool, c.Version+1, encTime(now))
		if err != nil {
			return fmt.Errorf("delete config of %s: %w", tool, err)
		}
		deleted = c
		return nil
	})
	if err != nil {
		return store.StoredConfig{}, err
	}
	return deleted, nil
}

const deploymentColumns = `id, tool, created_at, description, config_version, tool_config, status,
	long_status, force_build, force_run, trigger_kind, actor, updated_at, finished_at, rollback_of,
	environment, promoted_from, pins, rollback_release, rolled_back_by, flow, parent, parent_step`

func scanDeployment(r rowScanner) (slipway.Deployment, error) {
	return newDeploymentRow().scan(r)
}

// deploymentRow is the scan destinations of a deployment row, made once
// per query and reused for each of its rows: a list of a hundred
// deployments scans two thousand columns, and fresh destinations would
// each escape to the heap.
type deploymentRow struct {
	d                          slipway.Deployment
	created, updated, finished sql.NullString
	toolConfig                 sql.NullString
	pins                       string
	dest                       []any
}

func newDeploymentRow() *deploymentRow {
	r := &deploymentRow{}
	d := &r.d
	r.dest = []any{
		&d.ID, &d.Tool, &r.created, &d.Description, &d.ConfigVersion, &r.toolConfig, &d.Status,
		&d.LongStatus, &d.ForceBuild, &d.ForceRun, &d.Trigger, &d.Actor, &r.updated, &r.finished, &d.RollbackOf,
		&d.Environment, &d.PromotedFrom, &r.pins, &d.RollbackRelease, &d.RolledBackBy, &d.Flow, &d.Parent, &d.ParentStep,
	}
	return r
}

// scan reads one row of [deploymentColumns].
func (r *deploymentRow) scan(rs rowScanner) (slipway.Deployment, error) {
	if err := rs.Scan(r.dest...); err != nil {
		return slipway.Deployment{}, err
	}
	d := r.d
	d.Pins = nil
	if r.pins != "" {
		if err := json.Unmarshal([]byte(r.pins), &d.Pins); err != nil {
			return slipway.Deployment{}, fmt.Errorf("deployment %s: pins: %w", d.ID, err)
		}
	}
	d.ToolConfig = decRaw(r.toolConfig)
	var err error
	if d.CreatedAt, err = decTime(r.created); err != nil {
		return slipway.Deployment{}, err
	}
	if d.UpdatedAt, err = decTime(r.updated); err != nil {
		return slipway.Deployment{}, err
	}
	if d.FinishedAt, err = decTime(r.finished); err != nil {
		return slipway.Deployment{}, err
	}
	return d, nil
}

func scanDeployments(rows *sql.Rows, err error) ([]slipway.Deployment, error) {
	return collect(rows, err, newDeploymentRow().scan)
}

// collect reads every row of a query's result with scan, and closes it;
// it returns err, the query's error, when there is one. An empty result
// is an empty slice, not nil.
func collect[T any](rows *sql.Rows, err error, scan func(rowScanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// DeploymentCreate inserts a deployment (without steps).
func (q *queries) DeploymentCreate(ctx context.Context, d slipway.Deployment) error {
	pins := ""
	if len(d.Pins) > 0 {
		b, err := json.Marshal(d.Pins)
		if err != nil {
			return fmt.Errorf("create deployment %s of %s: pins: %w", d.ID, d.Tool, err)
		}
		pins = string(b)
	}
	_, err := q.write.ExecContext(ctx,
		`INSERT INTO deployments (`+deploymentColumns+`) VALUES (`+inArgs(23)+`)`,
		d.ID, d.Tool, encTime(d.CreatedAt), d.Description, d.ConfigVersion, encRaw(d.ToolConfig), d.Status,
		d.LongStatus, d.ForceBuild, d.ForceRun, d.Trigger, d.Actor, encTime(d.UpdatedAt), encTime(d.FinishedAt), d.RollbackOf,
		cmp.Or(d.Environment, slipway.DefaultEnvironment), d.PromotedFrom, pins, d.RollbackRelease, d.RolledBackBy,
		d.Flow, d.Parent, d.ParentStep)
	if err != nil {
		return fmt.Errorf("create deployment %s of %s: %w", d.ID, d.Tool, err)
	}
	return nil
}

// DeploymentGet returns a deployment without its steps.
func (q *queries) DeploymentGet(ctx context.Context, tool, id string) (slipway.Deployment, error) {
	d, err := scanDeployment(q.read.QueryRowContext(ctx,
		`SELECT `+deploymentColumns+` FROM deployments WHERE id = ? AND tool = ?`, id, tool))
	if errors.Is(err, sql.ErrNoRows) {
		return slipway.Deployment{}, fmt.Errorf("deployment %s of %s: %w", id, tool, store.ErrNotFound)
	}
	if err != nil {
		return slipway.Deployment{}, fmt.Errorf("get deployment %s of %s: %w", id, tool, err)
	}
	return d, nil
}

// DeploymentLatest returns the tool's newest deployment.
func (q *queries) DeploymentLatest(ctx context.Context, tool string) (slipway.Deployment, error) {
	d, err := scanDeployment(q.read.QueryRowContext(ctx,
		`SELECT `+deploymentColumns+` FROM deployments WHERE tool = ?
		 ORDER BY created_at DESC, id DESC LIMIT 1`, tool))
	if errors.Is(err, sql.ErrNoRows) {
		return slipway.Deployment{}, fmt.Errorf("latest deployment of %s: %w", tool, store.ErrNotFound)
	}
	if err != nil {
		return slipway.Deployment{}, fmt.Errorf("get latest deployment of %s: %w", tool, err)
	}
	return d, nil
}

// DeploymentList returns the tool's deployments, oldest first.
func (q *queries) DeploymentList(ctx context.Context, tool string) ([]slipway.Deployment, error) {
	ds, err := scanDeployments(q.read.QueryContext(ctx,
		`SELECT `+deploymentColumns+` FROM deployments WHERE tool = ? ORDER BY created_at, id`, tool))
	if err != nil {
		return nil, fmt.Errorf("list deployments of %s: %w", tool, err)
	}
	return ds, nil
}

// deploymentStatuses are all the deployment statuses; finalStatuses are the
// final ones, by [slipway.DeploymentStatus.Final]. A status missing here
// counts as unfinished, which is the safe side.
var (
	deploymentStatuses = []slipway.DeploymentStatus{
		slipway.DeploymentPending, slipway.DeploymentRunning, slipway.DeploymentSuccessful,
		slipway.DeploymentFailed, slipway.DeploymentTimedOut, slipway.DeploymentCancelling,
		slipway.DeploymentCancelled,
	}
	finalStatuses = func() []any {
		var fs []any
		for _, s := range deploymentStatuses {
			if s.Final() {
				fs = append(fs, string(s))
			}
		}
		return fs
	}()
)

// DeploymentListUnfinished returns the unfinished deployments of tool (of
// every tool for ""), oldest first. With a tool it reads the tool's
// deployments by their index, not every tool's unfinished ones.
func (q *queries) DeploymentListUnfinished(ctx context.Context, tool string) ([]slipway.Deployment, error) {
	query := `SELECT ` + deploymentColumns + ` FROM deployments WHERE status NOT IN (` + inArgs(len(finalStatuses)) + `)`
	args := finalStatuses
	if tool != "" {
		query += ` AND tool = ?`
		args = append(slices.Clone(args), tool)
	}
	ds, err := scanDeployments(q.read.QueryContext(ctx, query+` ORDER BY created_at, id`, args...))
	if err != nil {
		return nil, fmt.Errorf("list unfinished deployments: %w", err)
	}
	return ds, nil
}

// DeploymentUpdateStatus changes a status; ok is false when IfStatusIn did
// not match (nothing changed).
func (q *queries) DeploymentUpdateStatus(ctx context.Context, u store.DeploymentStatusUpdate) (bool, error) {
	query := `UPDATE deployments SET status = ?, long_status = ?, finished_at = ?, updated_at = ?
		WHERE id = ? AND tool = ?`
	args := []any{u.Status, u.LongStatus, encTime(u.FinishedAt), encTime(u.UpdatedAt), u.ID, u.Tool}
	if len(u.IfStatusIn) > 0 {
		query += ` AND status IN (` + inArgs(len(u.IfStatusIn)) + `)`
		for _, s := range u.IfStatusIn {
			args = append(args, s)
		}
	}
	ok := false
	err := q.atomic(ctx, func(q *queries) error {
		res, err := q.write.ExecContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("update deployment %s of %s: %w", u.ID, u.Tool, err)
		}
		if ok, err = updated(ctx, res, q.write, `SELECT count(*) FROM deployments WHERE id = ? AND tool = ?`, u.ID, u.Tool); err != nil {
			return fmt.Errorf("update deployment %s of %s: %w", u.ID, u.Tool, err)
		}
		if !ok {
			return nil
		}
		return q.notify(ctx, u.ID)
	})
	if errors.Is(err, errNoRow) {
		return false, fmt.Errorf("deployment %s of %s: %w", u.ID, u.Tool, store.ErrNotFound)
	}
	return ok, err
}

// errNoRow says that [updated] found no row to update.
var errNoRow = errors.New("no such row")

// updated reports whether an UPDATE changed a row. When it did not, it runs
// the count query exists to tell a missing row (errNoRow) from a condition
// that did not match (false).
func updated(ctx context.Context, res sql.Result, q querier, exists string, args ...any) (bool, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if n > 0 {
		return true, nil
	}
	var count int
	if err := q.QueryRowContext(ctx, exists, args...).Scan(&count); err != nil {
		return false, err
	}
	if count == 0 {
		return false, errNoRow
	}
	return false, nil
}

// DeploymentSetRolledBackBy records the deployment that rolled id back.
func (q *queries) DeploymentSetRolledBackBy(ctx context.Context, tool, id, by string) error {
	res, err := q.write.ExecContext(ctx, `UPDATE deployments SET rolled_back_by = ? WHERE id = ? AND tool = ?`, by, id, tool)
	if err != nil {
		return fmt.Errorf("record that %s of %s was rolled back: %w", id, tool, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("record that %s of %s was rolled back: %w", id, tool, err)
	} else if n == 0 {
		return fmt.Errorf("deployment %s of %s: %w", id, tool, store.ErrNotFound)
	}
	return nil
}

// DeploymentDelete deletes a deployment with its steps and events (by
// foreign key cascade).
func (q *queries) DeploymentDelete(ctx context.Context, tool, id string) error {
	res, err := q.write.ExecContext(ctx, `DELETE FROM deployments WHERE id = ? AND tool = ?`, id, tool)
	if err != nil {
		return fmt.Errorf("delete deployment %s of %s: %w", id, tool, err)
	}
	return oneRow(res, fmt.Sprintf("deployment %s of %s", id, tool))
}

// DeploymentPrune deletes the tool's oldest final deployments beyond the
// newest keep ones (counting every deployment of the tool), and returns the
// deleted IDs, oldest first. Unfinished deployments are never deleted.
func (q *queries) DeploymentPrune(ctx context.Context, tool string, keep int) ([]string, error) {
	if keep < 0 {
		return nil, fmt.Errorf("prune deployments of %s: keep is %d, want at least 0", tool, keep)
	}
	deleted := []string{}
	err := q.atomic(ctx, func(q *queries) error {
		rows, err := q.write.QueryContext(ctx,
			`SELECT id FROM deployments WHERE tool = ? AND status IN (`+inArgs(len(finalStatuses))+`) AND id NOT IN (
				SELECT id FROM deployments WHERE tool = ? ORDER BY created_at DESC, id DESC LIMIT ?
			) ORDER BY created_at, id`,
			append(append([]any{tool}, finalStatuses...), tool, keep)...)
		if deleted, err = collect(rows, err, scanString); err != nil {
			return fmt.Errorf("prune deployments of %s: %w", tool, err)
		}
		for _, id := range deleted {
			if _, err := q.write.ExecContext(ctx, `DELETE FROM deployments WHERE id = ?`, id); err != nil {
				return fmt.Errorf("prune deployments of %s: delete %s: %w", tool, id, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return deleted, nil
}

const stepColumns = `deployment_id, step_key, kind, component, step_action, needs, reason, state, detail,
	attempt, build_key, commit_sha, spec_hash, started_at, finished_at`

func scanStep(r rowScanner) (slipway.Step, error) {
	return newStepRow().scan(r)
}

// stepRow is the scan destinations of a step row, made once per query and
// reused for each of its rows, like [deploymentRow].
type stepRow struct {
	s                        slipway.Step
	needs, started, finished sql.NullString
	dest                     []any
}

func newStepRow() *stepRow {
	r := &stepRow{}
	s := &r.s
	r.dest = []any{
		&s.DeploymentID, &s.Key, &s.Kind, &s.Component, &s.Action, &r.needs, &s.Reason, &s.State, &s.Detail,
		&s.Attempt, &s.BuildKey, &s.Commit, &s.SpecHash, &r.started, &r.finished,
	}
	return r
}

// stepBriefColumns are the first of [stepColumns]: all but the commit,
// the spec hash and the times, which a list of deployments does not show
// (they were a quarter of reading a tool's steps).
const stepBriefColumns = `deployment_id, step_key, kind, component, step_action, needs, reason, state, detail,
	attempt, build_key`

// newStepBriefRow is [newStepRow] for a row of [stepBriefColumns]; the
// steps it scans have no commit, spec hash or times.
func newStepBriefRow() *stepRow {
	r := newStepRow()
	r.dest = r.dest[:11]
	return r
}

// scan reads one row of [stepColumns].
func (r *stepRow) scan(rs rowScanner) (slipway.Step, error) {
	if err := rs.Scan(r.dest...); err != nil {
		return slipway.Step{}, err
	}
	s := r.s
	var err error
	if s.Needs, err = decNeeds(r.needs); err != nil {
		return slipway.Step{}, err
	}
	if s.StartedAt, err = decTime(r.started); err != nil {
		return slipway.Step{}, err
	}
	if s.FinishedAt, err = decTime(r.finished); err != nil {
		return slipway.Step{}, err
	}
	return s, nil
}

// StepsCreate inserts a deployment's plan, after any steps it already has,
// keeping the order. It returns ErrNotFound when a step's deployment does not
// exist.
func (q *queries) StepsCreate(ctx context.Context, steps []slipway.Step) error {
	if len(steps) == 0 {
		return nil
	}
	return q.atomic(ctx, func(q *queries) error {
		next := map[string]int{}
		for _, s := range steps {
			seq, seen := next[s.DeploymentID]
			if !seen {
				// The deployment's lock makes the next numbers the
				// writer's alone.
				var id string
				err := q.write.QueryRowContext(ctx, `SELECT id FROM deployments WHERE id = ?`+q.d.ForUpdate, s.DeploymentID).Scan(&id)
				if errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("create steps: deployment %s: %w", s.DeploymentID, store.ErrNotFound)
				} else if err != nil {
					return fmt.Errorf("create steps of deployment %s: %w", s.DeploymentID, err)
				}
				err = q.write.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM steps WHERE deployment_id = ?`, s.DeploymentID).Scan(&seq)
				if err != nil {
					return fmt.Errorf("create steps of deployment %s: %w", s.DeploymentID, err)
				}
			}
			seq++
			next[s.DeploymentID] = seq
			needs, err := encNeeds(s.Needs)
			if err != nil {
				return fmt.Errorf("create step %s of deployment %s: %w", s.Key, s.DeploymentID, err)
			}
			_, err = q.write.ExecContext(ctx,
				`INSERT INTO steps (seq, `+stepColumns+`) VALUES (`+inArgs(16)+`)`,
				seq, s.DeploymentID, s.Key, s.Kind, s.Component, s.Action, needs, s.Reason, s.State, s.Detail,
				s.Attempt, s.BuildKey, s.Commit, s.SpecHash, encTime(s.StartedAt), encTime(s.FinishedAt))
			if err != nil {
				return fmt.Errorf("create step %s of deployment %s: %w", s.Key, s.DeploymentID, err)
			}
		}
		return nil
	})
}

// StepList returns a deployment's steps in plan order (empty, not an error,
// before the plan exists or when the deployment does not exist).
func (q *queries) StepList(ctx context.Context, deploymentID string) ([]slipway.Step, error) {
	rows, err := q.read.QueryContext(ctx,
		`SELECT `+stepColumns+` FROM steps WHERE deployment_id = ? ORDER BY seq`, deploymentID)
	steps, err := collect(rows, err, newStepRow().scan)
	if err != nil {
		return nil, fmt.Errorf("list steps of deployment %s: %w", deploymentID, err)
	}
	return steps, nil
}

// StepListToolBrief returns the steps of every deployment of the tool,
// by deployment ID, each in plan order, without their commit, spec hash
// and times.
func (q *queries) StepListToolBrief(ctx context.Context, tool string) (map[string][]slipway.Step, error) {
	rows, err := q.read.QueryContext(ctx,
		`SELECT `+prefixed("s", stepBriefColumns)+` FROM steps s JOIN deployments d ON d.id = s.deployment_id
		 WHERE d.tool = ? ORDER BY s.deployment_id, s.seq`, tool)
	out, err := groupSteps(rows, err, newStepBriefRow())
	if err != nil {
		return nil, fmt.Errorf("list steps of %s: %w", tool, err)
	}
	return out, nil
}

// groupSteps reads steps ordered by deployment with r, and closes rows; it
// returns err, the query's error, when there is one. Each deployment's
// steps get a slice of their own, made as long as the previous
// deployment's (a tool's plans are mostly alike), rather than one slice
// of every step that grows by copying.
func groupSteps(rows *sql.Rows, err error, r *stepRow) (map[string][]slipway.Step, error) {
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	out := map[string][]slipway.Step{}
	var cur []slipway.Step
	size := 8
	for rows.Next() {
		s, err := r.scan(rows)
		if err != nil {
			return nil, err
		}
		if len(cur) > 0 && s.DeploymentID != cur[0].DeploymentID {
			out[cur[0].DeploymentID] = cur
			size, cur = len(cur), nil
		}
		if cur == nil {
			cur = make([]slipway.Step, 0, size)
		}
		cur = append(cur, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(cur) > 0 {
		out[cur[0].DeploymentID] = cur
	}
	return out, nil
}

// prefixed returns columns (a comma-separated list) each qualified with
// table alias a.
func prefixed(a, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = a + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// StepGet returns one step.
func (q *queries) StepGet(ctx context.Context, deploymentID, key string) (slipway.Step, error) {
	s, err := scanStep(q.read.QueryRowContext(ctx,
		`SELECT `+stepColumns+` FROM steps WHERE deployment_id = ? AND step_key = ?`, deploymentID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return slipway.Step{}, fmt.Errorf("step %s of deployment %s: %w", key, deploymentID, store.ErrNotFound)
	}
	if err != nil {
		return slipway.Step{}, fmt.Errorf("get step %s of deployment %s: %w", key, deploymentID, err)
	}
	return s, nil
}

// StepUpdate changes a step; ok is false when IfStateIn did not match.
func (q *queries) StepUpdate(ctx context.Context, u store.StepUpdate) (bool, error) {
	query := `UPDATE steps SET state = ?, detail = ?, started_at = ?, finished_at = ?,
		attempt = CASE WHEN ? = 0 THEN attempt ELSE ? END,
		build_key = CASE WHEN ? = '' THEN build_key ELSE ? END,
		commit_sha = CASE WHEN ? = '' THEN commit_sha ELSE ? END
		WHERE deployment_id = ? AND step_key = ?`
	args := []any{
		u.State, u.Detail, encTime(u.StartedAt), encTime(u.FinishedAt),
		u.Attempt, u.Attempt, u.BuildKey, u.BuildKey, u.Commit, u.Commit, u.DeploymentID, u.Key,
	}
	if len(u.IfStateIn) > 0 {
		query += ` AND state IN (` + inArgs(len(u.IfStateIn)) + `)`
		for _, s := range u.IfStateIn {
			args = append(args, s)
		}
	}
	ok := false
	err := q.atomic(ctx, func(q *queries) error {
		res, err := q.write.ExecContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("update step %s of deployment %s: %w", u.Key, u.DeploymentID, err)
		}
		ok, err = updated(ctx, res, q.write,
			`SELECT count(*) FROM steps WHERE deployment_id = ? AND step_key = ?`, u.DeploymentID, u.Key)
		if err != nil {
			return fmt.Errorf("update step %s of deployment %s: %w", u.Key, u.DeploymentID, err)
		}
		if !ok {
			return nil
		}
		return q.notify(ctx, u.DeploymentID)
	})
	if errors.Is(err, errNoRow) {
		return false, fmt.Errorf("step %s of deployment %s: %w", u.Key, u.DeploymentID, store.ErrNotFound)
	}
	return ok, err
}

// buildColumns are the columns of a build record. The table's log_path
// column is no longer read: the builder finds an attempt's log by its tool
// and ID. New records write "" there (dropping the column would take a
// migration for nothing).
const buildColumns = `id, tool, component, build_key, repository, ref, commit_sha, status, artifact,
	error, created_at, updated_at`

// buildInsertColumns are buildColumns and log_path, written "".
const buildInsertColumns = buildColumns + `, log_path`

func scanBuild(r rowScanner) (slipway.Build, error) {
	var (
		b                slipway.Build
		created, updated sql.NullString
		err              error
	)
	err = r.Scan(&b.ID, &b.Tool, &b.Component, &b.Key, &b.Repository, &b.Ref, &b.Commit, &b.Status, &b.Artifact,
		&b.Error, &created, &updated)
	if err != nil {
		return slipway.Build{}, err
	}
	if b.CreatedAt, err = decTime(created); err != nil {
		return slipway.Build{}, err
	}
	if b.UpdatedAt, err = decTime(updated); err != nil {
		return slipway.Build{}, err
	}
	return b, nil
}

// BuildCreate inserts a build record.
func (q *queries) BuildCreate(ctx context.Context, b slipway.Build) error {
	_, err := q.write.ExecContext(ctx,
		`INSERT INTO builds (`+buildInsertColumns+`) VALUES (`+inArgs(12)+`, '')`,
		b.ID, b.Tool, b.Component, b.Key, b.Repository, b.Ref, b.Commit, b.Status, b.Artifact,
		b.Error, encTime(b.CreatedAt), encTime(b.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create build %s of %s: %w", b.ID, b.Tool, err)
	}
	return nil
}

// BuildUpsert inserts a build record, or replaces the mutable fields of
// the one with its (tool, ID), in one statement: two components building
// the same attempt at once both succeed.
func (q *queries) BuildUpsert(ctx context.Context, b slipway.Build) error {
	_, err := q.write.ExecContext(ctx,
		`INSERT INTO builds (`+buildInsertColumns+`) VALUES (`+inArgs(12)+`, '')
		 ON CONFLICT (tool, id) DO UPDATE SET status = excluded.status, commit_sha = excluded.commit_sha,
		 artifact = excluded.artifact, error = excluded.error, updated_at = excluded.updated_at`,
		b.ID, b.Tool, b.Component, b.Key, b.Repository, b.Ref, b.Commit, b.Status, b.Artifact,
		b.Error, encTime(b.CreatedAt), encTime(b.UpdatedAt))
	if err != nil {
		return fmt.Errorf("record build %s of %s: %w", b.ID, b.Tool, err)
	}
	return nil
}

// BuildUpdate replaces the mutable fields (status, commit, artifact, error,
// updated time) of a build.
func (q *queries) BuildUpdate(ctx context.Context, b slipway.Build) error {
	res, err := q.write.ExecContext(ctx,
		`UPDATE builds SET status = ?, commit_sha = ?, artifact = ?, error = ?, updated_at = ?
		 WHERE id = ? AND tool = ?`,
		b.Status, b.Commit, b.Artifact, b.Error, encTime(b.UpdatedAt), b.ID, b.Tool)
	if err != nil {
		return fmt.Errorf("update build %s of %s: %w", b.ID, b.Tool, err)
	}
	return oneRow(res, fmt.Sprintf("build %s of %s", b.ID, b.Tool))
}

// BuildGet returns a build by ID.
func (q *queries) BuildGet(ctx context.Context, tool, id string) (slipway.Build, error) {
	b, err := scanBuild(q.read.QueryRowContext(ctx,
		`SELECT `+buildColumns+` FROM builds WHERE id = ? AND tool = ? AND NOT deleting`, id, tool))
	if errors.Is(err, sql.ErrNoRows) {
		return slipway.Build{}, fmt.Errorf("build %s of %s: %w", id, tool, store.ErrNotFound)
	}
	if err != nil {
		return slipway.Build{}, fmt.Errorf("get build %s of %s: %w", id, tool, err)
	}
	return b, nil
}

// BuildFindSuccessful returns the newest successful build with this key, for
// any component of any tool.
func (q *queries) BuildFindSuccessful(ctx context.Context, key string) (slipway.Build, error) {
	b, err := scanBuild(q.read.QueryRowContext(ctx,
		`SELECT `+buildColumns+` FROM builds WHERE build_key = ? AND status = ? AND NOT deleting
		 ORDER BY created_at DESC, id DESC LIMIT 1`, key, slipway.BuildSuccessful))
	if errors.Is(err, sql.ErrNoRows) {
		return slipway.Build{}, fmt.Errorf("successful build with key %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return slipway.Build{}, fmt.Errorf("find successful build with key %s: %w", key, err)
	}
	return b, nil
}

// BuildList returns the tool's builds, newest first.
func (q *queries) BuildList(ctx context.Context, tool string) ([]slipway.Build, error) {
	bs, err := q.builds(ctx, `WHERE tool = ? AND NOT deleting`, tool)
	if err != nil {
		return nil, fmt.Errorf("list builds of %s: %w", tool, err)
	}
	return bs, nil
}

// builds returns the build records that where selects, newest first.
func (q *queries) builds(ctx context.Context, where string, args ...any) ([]slipway.Build, error) {
	rows, err := q.read.QueryContext(ctx,
		`SELECT `+buildColumns+` FROM builds `+where+` ORDER BY created_at DESC, id DESC`, args...)
	return collect(rows, err, scanBuild)
}

const liveRunColumns = `tool, component, component_type, spec_hash, build_key, artifact, deployment_id, spec,
	applied_at, commit_sha, env_fingerprints`

// LiveRunPut records what was applied for a component (insert or replace).
func (q *queries) LiveRunPut(ctx context.Context, r slipway.LiveRun) error {
	spec, err := encComponent(r.Spec)
	if err != nil {
		return fmt.Errorf("put live run %s of %s: %w", r.Component, r.Tool, err)
	}
	env, err := encStringMap(r.EnvFingerprints)
	if err != nil {
		return fmt.Errorf("put live run %s of %s: env fingerprints: %w", r.Component, r.Tool, err)
	}
	_, err = q.write.ExecContext(ctx,
		upsert("live_runs", liveRunColumns, "tool, component"),
		r.Tool, r.Component, r.Type, r.SpecHash, r.BuildKey, r.Artifact, r.DeploymentID, spec, encTime(r.AppliedAt), r.Commit, env)
	if err != nil {
		return fmt.Errorf("put live run %s of %s: %w", r.Component, r.Tool, err)
	}
	return nil
}

func (q *queries) liveRuns(ctx context.Context, where string, args ...any) ([]slipway.LiveRun, error) {
	rows, err := q.read.QueryContext(ctx,
		`SELECT `+liveRunColumns+` FROM live_runs `+where+` ORDER BY tool, component`, args...)
	return collect(rows, err, scanLiveRun)
}

func scanLiveRun(row rowScanner) (slipway.LiveRun, error) {
	var (
		r       slipway.LiveRun
		spec    string
		applied sql.NullString
		env     sql.NullString
	)
	err := row.Scan(&r.Tool, &r.Component, &r.Type, &r.SpecHash, &r.BuildKey, &r.Artifact, &r.DeploymentID,
		&spec, &applied, &r.Commit, &env)
	if err != nil {
		return slipway.LiveRun{}, err
	}
	if r.EnvFingerprints, err = decStringMap(env); err != nil {
		return slipway.LiveRun{}, fmt.Errorf("live run %s of %s: env fingerprints: %w", r.Component, r.Tool, err)
	}
	if r.Spec, err = decComponent(spec); err != nil {
		return slipway.LiveRun{}, fmt.Errorf("live run %s of %s: %w", r.Component, r.Tool, err)
	}
	if r.AppliedAt, err = decTime(applied); err != nil {
		return slipway.LiveRun{}, fmt.Errorf("live run %s of %s: %w", r.Component, r.Tool, err)
	}
	return r, nil
}

// LiveRunList returns the tool's live components, by name.
func (q *queries) LiveRunList(ctx context.Context, tool string) ([]slipway.LiveRun, error) {
	rs, err := q.liveRuns(ctx, `WHERE tool = ?`, tool)
	if err != nil {
		return nil, fmt.Errorf("list live runs of %s: %w", tool, err)
	}
	return rs, nil
}

// LiveRunListAll returns every tool's live components, by tool then name.
func (q *queries) LiveRunListAll(ctx context.Context) ([]slipway.LiveRun, error) {
	rs, err := q.liveRuns(ctx, ``)
	if err != nil {
		return nil, fmt.Errorf("list live runs: %w", err)
	}
	return rs, nil
}

// LiveRunDelete forgets a component; deleting an unknown one is not an
// error.
func (q *queries) LiveRunDelete(ctx context.Context, tool, component string) error {
	_, err := q.write.ExecContext(ctx, `DELETE FROM live_runs WHERE tool = ? AND component = ?`, tool, component)
	if err != nil {
		return fmt.Errorf("delete live run %s of %s: %w", component, tool, err)
	}
	return nil
}

// EventAppend appends an event and returns its sequence number, the
// deployment's next. It returns ErrNotFound when the deployment does not
// exist.
//
// The number is counted on the deployment's row, whose update locks it
// until the transaction ends: a second writer waits, then counts on, so
// numbers follow commit order and a watcher reading "after N" never skips
// one committed later with a smaller number.
func (q *queries) EventAppend(ctx context.Context, e slipway.Event) (int64, error) {
	var seq int64
	err := q.atomic(ctx, func(q *queries) error {
		err := q.write.QueryRowContext(ctx,
			`UPDATE deployments SET event_seq = event_seq + 1 WHERE id = ? RETURNING event_seq`, e.DeploymentID).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("append event: deployment %s: %w", e.DeploymentID, store.ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("append event to deployment %s: %w", e.DeploymentID, q.d.err(err))
		}
		_, err = q.write.ExecContext(ctx,
			`INSERT INTO events (deployment_id, seq, at, kind, step, state, message) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			e.DeploymentID, seq, encTime(e.Time), e.Kind, e.Step, e.State, e.Message)
		if err != nil {
			return fmt.Errorf("append event to deployment %s: %w", e.DeploymentID, err)
		}
		return q.notify(ctx, e.DeploymentID)
	})
	return seq, err
}

// EventList returns a deployment's events with Seq > after, oldest first, at
// most limit (0 or less: no limit).
func (q *queries) EventList(ctx context.Context, deploymentID string, after int64, limit int) ([]slipway.Event, error) {
	query := `SELECT seq, deployment_id, at, kind, step, state, message FROM events
		WHERE deployment_id = ? AND seq > ? ORDER BY seq`
	args := []any{deploymentID, after}
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := q.read.QueryContext(ctx, query, args...)
	es, err := collect(rows, err, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("list events of deployment %s: %w", deploymentID, err)
	}
	return es, nil
}

func scanEvent(r rowScanner) (slipway.Event, error) {
	var (
		e  slipway.Event
		at sql.NullString
	)
	err := r.Scan(&e.Seq, &e.DeploymentID, &at, &e.Kind, &e.Step, &e.State, &e.Message)
	if err == nil {
		e.Time, err = decTime(at)
	}
	return e, err
}

// DeployTokenGet returns the tool's deploy token.
func (q *queries) DeployTokenGet(ctx context.Context, tool string) (store.DeployToken, error) {
	var (
		t       = store.DeployToken{Tool: tool}
		created sql.NullString
	)
	err := q.read.QueryRowContext(ctx,
		`SELECT token_hash, created_at FROM deploy_tokens WHERE tool = ?`, tool).
		Scan(&t.Hash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return store.DeployToken{}, fmt.Errorf("deploy token of %s: %w", tool, store.ErrNotFound)
	}
	if err != nil {
		return store.DeployToken{}, fmt.Errorf("get deploy token of %s: %w", tool, err)
	}
	if t.CreatedAt, err = decTime(created); err != nil {
		return store.DeployToken{}, fmt.Errorf("deploy token of %s: %w", tool, err)
	}
	return t, nil
}

// DeployTokenPut stores the tool's deploy token (insert or replace).
func (q *queries) DeployTokenPut(ctx context.Context, t store.DeployToken) error {
	if t.CreatedAt.IsZero() {
		return fmt.Errorf("put deploy token of %s: no creation time", t.Tool)
	}
	_, err := q.write.ExecContext(ctx,
		upsert("deploy_tokens", "tool, token_hash, created_at", "tool"),
		t.Tool, t.Hash, encTime(t.CreatedAt))
	if err != nil {
		return fmt.Errorf("put deploy token of %s: %w", t.Tool, err)
	}
	return nil
}

// DeployTokenDelete deletes the tool's deploy token; ErrNotFound when it has
// none.
func (q *queries) DeployTokenDelete(ctx context.Context, tool string) error {
	res, err := q.write.ExecContext(ctx, `DELETE FROM deploy_tokens WHERE tool = ?`, tool)
	if err != nil {
		return fmt.Errorf("delete deploy token of %s: %w", tool, err)
	}
	return oneRow(res, fmt.Sprintf("deploy token of %s", tool))
}

// APITokenCreate inserts an API token.
func (q *queries) APITokenCreate(ctx context.Context, t store.APIToken) error {
	if t.CreatedAt.IsZero() {
		return fmt.Errorf("create API token %s: no creation time", t.ID)
	}
	_, err := q.write.ExecContext(ctx,
		`INSERT INTO api_tokens (id, tool, hash, description, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, t.Tool, t.Hash, t.Description, encTime(t.CreatedAt), encTime(t.LastUsedAt))
	if err != nil {
		return fmt.Errorf("create API token %s: %w", t.ID, err)
	}
	return nil
}

// scanAPIToken reads one row of the columns id, tool, hash, description,
// created_at, last_used_at, in this order.
func scanAPIToken(r rowScanner) (store.APIToken, error) {
	var (
		t             store.APIToken
		created, used sql.NullString
	)
	if err := r.Scan(&t.ID, &t.Tool, &t.Hash, &t.Description, &created, &used); err != nil {
		return store.APIToken{}, err
	}
	var err error
	if t.CreatedAt, err = decTime(created); err != nil {
		return store.APIToken{}, err
	}
	if t.LastUsedAt, err = decTime(used); err != nil {
		return store.APIToken{}, err
	}
	return t, nil
}

// APITokenByHash returns the API token with this hash.
func (q *queries) APITokenByHash(ctx context.Context, hash string) (store.APIToken, error) {
	row := q.read.QueryRowContext(ctx, `SELECT id, tool, hash, description, created_at, last_used_at FROM api_tokens WHERE hash = ?`, hash)
	t, err := scanAPIToken(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.APIToken{}, fmt.Errorf("API token: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.APIToken{}, fmt.Errorf("get API token: %w", err)
	}
	return t, nil
}

// APITokenList returns the tool's API tokens (every tool's for ""), oldest
// first.
func (q *queries) APITokenList(ctx context.Context, tool string) ([]store.APIToken, error) {
	rows, err := q.read.QueryContext(ctx,
		`SELECT id, tool, hash, description, created_at, last_used_at FROM api_tokens WHERE ? = '' OR tool = ? ORDER BY created_at, id`, tool, tool)
	ts, err := collect(rows, err, scanAPIToken)
	if err != nil {
		return nil, fmt.Errorf("list API tokens: %w", err)
	}
	return ts, nil
}

// APITokenDelete deletes an API token; ErrNotFound when it does not exist.
func (q *queries) APITokenDelete(ctx context.Context, id string) error {
	res, err := q.write.ExecContext(ctx, `DELETE FROM api_tokens WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete API token %s: %w", id, err)
	}
	return oneRow(res, fmt.Sprintf("API token %s", id))
}
