package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

const planColumns = `name, members, stages, max_parallel, created_at, created_by, updated_at`

// PlanPut inserts a plan or replaces the one of its name (keeping its
// creation).
func (q *queries) PlanPut(ctx context.Context, p slipway.ReleasePlan) error {
	members, err := encJSON(p.Members)
	if err != nil {
		return fmt.Errorf("put plan %s: %w", p.Name, err)
	}
	stages, err := encJSON(p.Stages)
	if err != nil {
		return fmt.Errorf("put plan %s: %w", p.Name, err)
	}
	if members == nil || stages == nil || p.CreatedAt.IsZero() {
		return fmt.Errorf("put plan %s: no members, stages or creation time", p.Name)
	}
	_, err = q.write.ExecContext(ctx, `INSERT INTO release_plans (`+planColumns+`) VALUES (`+inArgs(7)+`)
		ON CONFLICT (name) DO UPDATE SET members = excluded.members, stages = excluded.stages,
		max_parallel = excluded.max_parallel, updated_at = excluded.updated_at`,
		p.Name, members, stages, p.MaxParallel, encTime(p.CreatedAt), p.CreatedBy, encTime(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put plan %s: %w", p.Name, err)
	}
	return nil
}

// PlanGet returns one plan.
func (q *queries) PlanGet(ctx context.Context, name string) (slipway.ReleasePlan, error) {
	p, err := scanPlan(q.read.QueryRowContext(ctx, `SELECT `+planColumns+` FROM release_plans WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("plan %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("get plan %s: %w", name, err)
	}
	return p, nil
}

// PlanList returns every plan by name.
func (q *queries) PlanList(ctx context.Context) ([]slipway.ReleasePlan, error) {
	rows, err := q.read.QueryContext(ctx, `SELECT `+planColumns+` FROM release_plans ORDER BY name`)
	ps, err := collect(rows, err, scanPlan)
	if err != nil {
		return nil, fmt.Errorf("list plans: %w", err)
	}
	return ps, nil
}

// PlanDelete deletes a plan.
func (q *queries) PlanDelete(ctx context.Context, name string) (bool, error) {
	n, err := q.execCount(ctx, "delete plan "+name, `DELETE FROM release_plans WHERE name = ?`, name)
	return n == 1, err
}

func scanPlan(row rowScanner) (slipway.ReleasePlan, error) {
	var (
		p                slipway.ReleasePlan
		members, stages  sql.NullString
		created, updated sql.NullString
		maxParallel      int64
	)
	if err := row.Scan(&p.Name, &members, &stages, &maxParallel, &created, &p.CreatedBy, &updated); err != nil {
		return slipway.ReleasePlan{}, err
	}
	p.MaxParallel = int(maxParallel)
	var err error
	if err = decJSON(members, &p.Members); err != nil {
		return p, fmt.Errorf("decode members of plan %s: %w", p.Name, err)
	}
	if err = decJSON(stages, &p.Stages); err != nil {
		return p, fmt.Errorf("decode stages of plan %s: %w", p.Name, err)
	}
	if p.CreatedAt, err = decTime(created); err != nil {
		return p, err
	}
	p.UpdatedAt, err = decTime(updated)
	return p, err
}

const trainColumns = `id, plan, members, stages, mode, max_parallel, state, stage, answers, reason, created_at, created_by,
	updated_at, version`

const cellColumns = `train_id, tool, stage, state, deployment_id, reason, started_at, finished_at`

// TrainCreate inserts a train and its cells.
func (q *queries) TrainCreate(ctx context.Context, t slipway.Train, cells []slipway.TrainMember) error {
	members, err := encJSON(t.Members)
	if err != nil {
		return fmt.Errorf("create train %s: %w", t.ID, err)
	}
	stages, err := encJSON(t.Stages)
	if err != nil {
		return fmt.Errorf("create train %s: %w", t.ID, err)
	}
	answers, err := encJSON(t.Answers)
	if err != nil {
		return fmt.Errorf("create train %s: %w", t.ID, err)
	}
	if members == nil || stages == nil || t.CreatedAt.IsZero() || t.State == "" {
		return fmt.Errorf("create train %s: no members, stages, creation time or state", t.ID)
	}
	if _, err := q.write.ExecContext(ctx, `INSERT INTO trains (`+trainColumns+`) VALUES (`+inArgs(14)+`)`,
		t.ID, t.Plan, members, stages, string(t.Mode), t.MaxParallel, string(t.State), t.Stage, answers, t.Reason,
		encTime(t.CreatedAt), t.CreatedBy, encTime(t.UpdatedAt), 1); err != nil {
		return fmt.Errorf("create train %s: %w", t.ID, err)
	}
	for _, c := range cells {
		if _, err := q.write.ExecContext(ctx, `INSERT INTO train_members (`+cellColumns+`) VALUES (`+inArgs(8)+`)`,
			t.ID, c.Tool, c.Stage, string(c.State), c.DeploymentID, c.Reason, encTime(c.StartedAt), encTime(c.FinishedAt)); err != nil {
			return fmt.Errorf("create train %s: member %s, stage %d: %w", t.ID, c.Tool, c.Stage, err)
		}
	}
	return nil
}

// TrainGet returns one train.
func (q *queries) TrainGet(ctx context.Context, id string) (slipway.Train, error) {
	t, err := scanTrain(q.read.QueryRowContext(ctx, `SELECT `+trainColumns+` FROM trains WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("train %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("get train %s: %w", id, err)
	}
	return t, nil
}

// TrainList returns the trains newest first.
func (q *queries) TrainList(ctx context.Context, limit int) ([]slipway.Train, error) {
	query := `SELECT ` + trainColumns + ` FROM trains ORDER BY created_at DESC, id DESC`
	var args []any
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := q.read.QueryContext(ctx, query, args...)
	ts, err := collect(rows, err, scanTrain)
	if err != nil {
		return nil, fmt.Errorf("list trains: %w", err)
	}
	return ts, nil
}

// TrainUpdate writes a train's moving parts over the version read.
func (q *queries) TrainUpdate(ctx context.Context, t slipway.Train) (bool, error) {
	answers, err := encJSON(t.Answers)
	if err != nil {
		return false, fmt.Errorf("update train %s: %w", t.ID, err)
	}
	n, err := q.execCount(ctx, "update train "+t.ID,
		`UPDATE trains SET state = ?, stage = ?, answers = ?, reason = ?, updated_at = ?, version = ?
		WHERE id = ? AND version = ?`,
		string(t.State), t.Stage, answers, t.Reason, encTime(t.UpdatedAt), t.Version+1, t.ID, t.Version)
	return n == 1, err
}

// TrainMemberList returns a train's cells.
func (q *queries) TrainMemberList(ctx context.Context, trainID string) ([]slipway.TrainMember, error) {
	rows, err := q.read.QueryContext(ctx, `SELECT `+cellColumns+` FROM train_members WHERE train_id = ? ORDER BY stage, tool`, trainID)
	cs, err := collect(rows, err, scanCell)
	if err != nil {
		return nil, fmt.Errorf("list members of train %s: %w", trainID, err)
	}
	return cs, nil
}

// TrainMemberUpdate writes a cell's state, reason and times.
func (q *queries) TrainMemberUpdate(ctx context.Context, m slipway.TrainMember) error {
	n, err := q.execCount(ctx, fmt.Sprintf("update member %s of train %s, stage %d", m.Tool, m.TrainID, m.Stage),
		`UPDATE train_members SET state = ?, reason = ?, started_at = ?, finished_at = ? WHERE train_id = ? AND stage = ? AND tool = ?`,
		string(m.State), m.Reason, encTime(m.StartedAt), encTime(m.FinishedAt), m.TrainID, m.Stage, m.Tool)
	if err == nil && n == 0 {
		err = fmt.Errorf("member %s of train %s, stage %d: %w", m.Tool, m.TrainID, m.Stage, store.ErrNotFound)
	}
	return err
}

// TrainMemberClaim records a cell's deployment unless it has one.
func (q *queries) TrainMemberClaim(ctx context.Context, m slipway.TrainMember) (bool, error) {
	if m.DeploymentID == "" {
		return false, fmt.Errorf("claim member %s of train %s: no deployment", m.Tool, m.TrainID)
	}
	n, err := q.execCount(ctx, fmt.Sprintf("claim member %s of train %s, stage %d", m.Tool, m.TrainID, m.Stage),
		`UPDATE train_members SET deployment_id = ?, state = ?, reason = ?, started_at = ?
		WHERE train_id = ? AND stage = ? AND tool = ? AND deployment_id = ''`,
		m.DeploymentID, string(m.State), m.Reason, encTime(m.StartedAt), m.TrainID, m.Stage, m.Tool)
	return n == 1, err
}

func scanTrain(row rowScanner) (slipway.Train, error) {
	var (
		t                        slipway.Train
		members, stages, answers sql.NullString
		mode, state              string
		created, updated         sql.NullString
		maxParallel, stage       int64
	)
	if err := row.Scan(&t.ID, &t.Plan, &members, &stages, &mode, &maxParallel, &state, &stage, &answers, &t.Reason,
		&created, &t.CreatedBy, &updated, &t.Version); err != nil {
		return slipway.Train{}, err
	}
	t.Mode, t.State, t.MaxParallel, t.Stage = slipway.TrainMode(mode), slipway.TrainState(state), int(maxParallel), int(stage)
	var err error
	for what, dst := range map[*sql.NullString]any{&members: &t.Members, &stages: &t.Stages, &answers: &t.Answers} {
		if err = decJSON(*what, dst); err != nil {
			return t, fmt.Errorf("decode train %s: %w", t.ID, err)
		}
	}
	if t.CreatedAt, err = decTime(created); err != nil {
		return t, err
	}
	t.UpdatedAt, err = decTime(updated)
	return t, err
}

func scanCell(row rowScanner) (slipway.TrainMember, error) {
	var (
		m                 slipway.TrainMember
		state             string
		stage             int64
		started, finished sql.NullString
	)
	if err := row.Scan(&m.TrainID, &m.Tool, &stage, &state, &m.DeploymentID, &m.Reason, &started, &finished); err != nil {
		return slipway.TrainMember{}, err
	}
	m.Stage, m.State = int(stage), slipway.MemberState(state)
	var err error
	if m.StartedAt, err = decTime(started); err != nil {
		return m, err
	}
	m.FinishedAt, err = decTime(finished)
	return m, err
}
