package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

const cutColumns = `tool, name, repository, branch, base_commit, head_commit, state, picks, created_at, created_by,
	frozen_at, frozen_by, updated_at`

// CutCreate inserts a cut unless the tool has one of its name.
func (q *queries) CutCreate(ctx context.Context, c slipway.Cut) (bool, error) {
	if c.CreatedAt.IsZero() || c.Head == "" || c.State == "" {
		return false, fmt.Errorf("create cut %s of %s: no creation time, head or state", c.Name, c.Tool)
	}
	n, err := q.execCount(ctx, "create cut "+c.Name+" of "+c.Tool,
		`INSERT INTO cuts (`+cutColumns+`) VALUES (`+inArgs(13)+`) ON CONFLICT (tool, name) DO NOTHING`,
		c.Tool, c.Name, c.Repository, c.Branch, c.Base, c.Head, string(c.State), c.Picks, encTime(c.CreatedAt), c.CreatedBy,
		encTime(c.FrozenAt), c.FrozenBy, encTime(c.UpdatedAt))
	return n == 1, err
}

// CutGet returns one of a tool's cuts.
func (q *queries) CutGet(ctx context.Context, tool, name string) (slipway.Cut, error) {
	c, err := scanCut(q.read.QueryRowContext(ctx, `SELECT `+cutColumns+` FROM cuts WHERE tool = ? AND name = ?`, tool, name))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("cut %s of %s: %w", name, tool, store.ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("get cut %s of %s: %w", name, tool, err)
	}
	return c, nil
}

// CutList returns a tool's cuts, newest first.
func (q *queries) CutList(ctx context.Context, tool string) ([]slipway.Cut, error) {
	rows, err := q.read.QueryContext(ctx, `SELECT `+cutColumns+` FROM cuts WHERE tool = ? ORDER BY created_at DESC, name DESC`, tool)
	cs, err := collect(rows, err, scanCut)
	if err != nil {
		return nil, fmt.Errorf("list cuts of %s: %w", tool, err)
	}
	return cs, nil
}

// CutUpdate writes a cut's moving parts if its head and state are still
// the ones read.
func (q *queries) CutUpdate(ctx context.Context, c slipway.Cut, fromHead string, fromState slipway.CutState) (bool, error) {
	n, err := q.execCount(ctx, "update cut "+c.Name+" of "+c.Tool,
		`UPDATE cuts SET head_commit = ?, state = ?, picks = ?, frozen_at = ?, frozen_by = ?, updated_at = ?
		WHERE tool = ? AND name = ? AND head_commit = ? AND state = ?`,
		c.Head, string(c.State), c.Picks, encTime(c.FrozenAt), c.FrozenBy, encTime(c.UpdatedAt),
		c.Tool, c.Name, fromHead, string(fromState))
	return n == 1, err
}

func scanCut(row rowScanner) (slipway.Cut, error) {
	var (
		c                        slipway.Cut
		state                    string
		created, frozen, updated sql.NullString
	)
	if err := row.Scan(&c.Tool, &c.Name, &c.Repository, &c.Branch, &c.Base, &c.Head, &state, &c.Picks, &created, &c.CreatedBy,
		&frozen, &c.FrozenBy, &updated); err != nil {
		return slipway.Cut{}, err
	}
	c.State = slipway.CutState(state)
	var err error
	if c.CreatedAt, err = decTime(created); err != nil {
		return slipway.Cut{}, err
	}
	if c.FrozenAt, err = decTime(frozen); err != nil {
		return slipway.Cut{}, err
	}
	if c.UpdatedAt, err = decTime(updated); err != nil {
		return slipway.Cut{}, err
	}
	return c, nil
}

const crColumns = `tool, seq, cut, commit_sha, reason, state, question_id, requested_by, requested_at, decided_by,
	decided_at, onto_commit, pick_commit, detail, updated_at`

// ChangeRequestCreate inserts a change request with the tool's next seq.
func (q *queries) ChangeRequestCreate(ctx context.Context, cr slipway.ChangeRequest) (slipway.ChangeRequest, error) {
	if cr.RequestedAt.IsZero() || cr.State == "" {
		return cr, fmt.Errorf("create change request of %s: no request time or state", cr.Tool)
	}
	if err := q.write.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM change_requests WHERE tool = ?`, cr.Tool).Scan(&cr.Seq); err != nil {
		return cr, fmt.Errorf("create change request of %s: %w", cr.Tool, err)
	}
	_, err := q.write.ExecContext(ctx, `INSERT INTO change_requests (`+crColumns+`) VALUES (`+inArgs(15)+`)`,
		cr.Tool, cr.Seq, cr.Cut, cr.Commit, cr.Reason, string(cr.State), cr.QuestionID, cr.RequestedBy, encTime(cr.RequestedAt),
		cr.DecidedBy, encTime(cr.DecidedAt), cr.Onto, cr.Pick, cr.Detail, encTime(cr.UpdatedAt))
	if err != nil {
		return cr, fmt.Errorf("create change request %d of %s: %w", cr.Seq, cr.Tool, err)
	}
	return cr, nil
}

// ChangeRequestGet returns one of a tool's change requests.
func (q *queries) ChangeRequestGet(ctx context.Context, tool string, seq int64) (slipway.ChangeRequest, error) {
	cr, err := scanChangeRequest(q.read.QueryRowContext(ctx, `SELECT `+crColumns+` FROM change_requests WHERE tool = ? AND seq = ?`, tool, seq))
	if errors.Is(err, sql.ErrNoRows) {
		return cr, fmt.Errorf("change request %d of %s: %w", seq, tool, store.ErrNotFound)
	}
	if err != nil {
		return cr, fmt.Errorf("get change request %d of %s: %w", seq, tool, err)
	}
	return cr, nil
}

// ChangeRequestList returns a tool's change requests, newest first.
func (q *queries) ChangeRequestList(ctx context.Context, tool, cut string) ([]slipway.ChangeRequest, error) {
	query, args := `SELECT `+crColumns+` FROM change_requests WHERE tool = ?`, []any{tool}
	if cut != "" {
		query += ` AND cut = ?`
		args = append(args, cut)
	}
	rows, err := q.read.QueryContext(ctx, query+` ORDER BY seq DESC`, args...)
	crs, err := collect(rows, err, scanChangeRequest)
	if err != nil {
		return nil, fmt.Errorf("list change requests of %s: %w", tool, err)
	}
	return crs, nil
}

// ChangeRequestUpdate writes a change request's progress if its state is
// still from.
func (q *queries) ChangeRequestUpdate(ctx context.Context, cr slipway.ChangeRequest, from slipway.ChangeRequestState) (bool, error) {
	n, err := q.execCount(ctx, fmt.Sprintf("update change request %d of %s", cr.Seq, cr.Tool),
		`UPDATE change_requests SET state = ?, decided_by = ?, decided_at = ?, onto_commit = ?, pick_commit = ?, detail = ?,
		updated_at = ? WHERE tool = ? AND seq = ? AND state = ?`,
		string(cr.State), cr.DecidedBy, encTime(cr.DecidedAt), cr.Onto, cr.Pick, cr.Detail, encTime(cr.UpdatedAt),
		cr.Tool, cr.Seq, string(from))
	return n == 1, err
}

func scanChangeRequest(row rowScanner) (slipway.ChangeRequest, error) {
	var (
		cr                          slipway.ChangeRequest
		state                       string
		requested, decided, updated sql.NullString
	)
	if err := row.Scan(&cr.Tool, &cr.Seq, &cr.Cut, &cr.Commit, &cr.Reason, &state, &cr.QuestionID, &cr.RequestedBy, &requested,
		&cr.DecidedBy, &decided, &cr.Onto, &cr.Pick, &cr.Detail, &updated); err != nil {
		return slipway.ChangeRequest{}, err
	}
	cr.State = slipway.ChangeRequestState(state)
	var err error
	if cr.RequestedAt, err = decTime(requested); err != nil {
		return slipway.ChangeRequest{}, err
	}
	if cr.DecidedAt, err = decTime(decided); err != nil {
		return slipway.ChangeRequest{}, err
	}
	if cr.UpdatedAt, err = decTime(updated); err != nil {
		return slipway.ChangeRequest{}, err
	}
	return cr, nil
}
