package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

const questionColumns = `seq, id, tool, deployment_id, step_key, ask_key, origin, prompt, options, fields, policy,
	initiator, created_at, deadline_at, on_deadline, default_value, state, value, settled_by, settled_at, comment, approvals`

// QuestionCreate inserts q unless its step already asked with its key.
func (q *queries) QuestionCreate(ctx context.Context, qu slipway.Question) (slipway.Question, bool, error) {
	existing, err := scanQuestion(q.write.QueryRowContext(ctx,
		`SELECT `+questionColumns+` FROM questions WHERE tool = ? AND deployment_id = ? AND step_key = ? AND ask_key = ?`,
		qu.Tool, qu.DeploymentID, qu.StepKey, qu.Key))
	if err == nil {
		return existing, false, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return slipway.Question{}, false, fmt.Errorf("create question %s of %s: %w", qu.ID, qu.Tool, err)
	}
	vals, err := questionValues(qu)
	if err != nil {
		return slipway.Question{}, false, fmt.Errorf("create question %s of %s: %w", qu.ID, qu.Tool, err)
	}
	cols := strings.TrimPrefix(questionColumns, "seq, ")
	err = q.write.QueryRowContext(ctx,
		`INSERT INTO questions (`+cols+`) VALUES (`+inArgs(len(vals))+`) RETURNING seq`, vals...).Scan(&qu.Seq)
	if err != nil {
		return slipway.Question{}, false, fmt.Errorf("create question %s of %s: %w", qu.ID, qu.Tool, err)
	}
	return qu, true, nil
}

// questionValues returns q's column values, after seq.
func questionValues(q slipway.Question) ([]any, error) {
	options, err := encJSON(q.Options)
	if err != nil {
		return nil, err
	}
	fields, err := encJSON(q.Fields)
	if err != nil {
		return nil, err
	}
	policy, err := encJSON(q.Policy)
	if err != nil {
		return nil, err
	}
	approvals, err := encJSON(q.Approvals)
	if err != nil {
		return nil, err
	}
	return []any{
		q.ID, q.Tool, q.DeploymentID, q.StepKey, q.Key, string(q.Origin), q.Prompt, options, fields, policy,
		q.Initiator, encTime(q.CreatedAt), encTime(q.DeadlineAt), string(q.OnDeadline), q.Default, string(q.State),
		q.Value, q.SettledBy, encTime(q.SettledAt), q.Comment, approvals,
	}, nil
}

// QuestionGet returns one of the tool's questions.
func (q *queries) QuestionGet(ctx context.Context, tool, id string) (slipway.Question, error) {
	qu, err := scanQuestion(q.read.QueryRowContext(ctx,
		`SELECT `+questionColumns+` FROM questions WHERE tool = ? AND id = ?`, tool, id))
	if errors.Is(err, sql.ErrNoRows) {
		return slipway.Question{}, fmt.Errorf("question %s of %s: %w", id, tool, store.ErrNotFound)
	}
	if err != nil {
		return slipway.Question{}, fmt.Errorf("get question %s of %s: %w", id, tool, err)
	}
	return qu, nil
}

// QuestionList returns the questions f selects, newest first.
func (q *queries) QuestionList(ctx context.Context, f store.QuestionFilter) ([]slipway.Question, error) {
	var (
		where []string
		args  []any
	)
	for _, c := range []struct{ col, val string }{
		{"tool", f.Tool}, {"deployment_id", f.DeploymentID}, {"state", string(f.State)},
	} {
		if c.val != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	query := `SELECT ` + questionColumns + ` FROM questions`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY seq DESC`
	if f.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := q.read.QueryContext(ctx, query, args...)
	qs, err := collect(rows, err, scanQuestion)
	if err != nil {
		return nil, fmt.Errorf("list questions: %w", err)
	}
	return qs, nil
}

// QuestionUpdate writes a question's answer if it is still in state from.
func (q *queries) QuestionUpdate(ctx context.Context, qu slipway.Question, from slipway.QuestionState) (bool, error) {
	approvals, err := encJSON(qu.Approvals)
	if err != nil {
		return false, fmt.Errorf("update question %s of %s: %w", qu.ID, qu.Tool, err)
	}
	res, err := q.write.ExecContext(ctx,
		`UPDATE questions SET state = ?, value = ?, settled_by = ?, settled_at = ?, comment = ?, approvals = ?, deadline_at = ?
		 WHERE tool = ? AND id = ? AND state = ?`,
		string(qu.State), qu.Value, qu.SettledBy, encTime(qu.SettledAt), qu.Comment, approvals, encTime(qu.DeadlineAt),
		qu.Tool, qu.ID, string(from))
	if err != nil {
		return false, fmt.Errorf("update question %s of %s: %w", qu.ID, qu.Tool, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("update question %s of %s: %w", qu.ID, qu.Tool, err)
	}
	if n == 1 && qu.DeploymentID != "" {
		if err := q.notify(ctx, qu.DeploymentID); err != nil {
			return false, err
		}
	}
	return n == 1, nil
}

const questionLogColumns = `seq, question_id, tool, kind, actor, value, comment, source, reason, at`

// QuestionLogAppend appends to a question's log.
func (q *queries) QuestionLogAppend(ctx context.Context, e slipway.QuestionLogEntry) (int64, error) {
	var seq int64
	err := q.write.QueryRowContext(ctx,
		`INSERT INTO question_log (`+strings.TrimPrefix(questionLogColumns, "seq, ")+`)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
		e.QuestionID, e.Tool, string(e.Kind), e.Actor, e.Value, e.Comment, e.Source, e.Reason, encTime(e.At)).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("log %s of question %s: %w", e.Kind, e.QuestionID, err)
	}
	return seq, nil
}

// QuestionLogList returns a question's log, oldest first.
func (q *queries) QuestionLogList(ctx context.Context, tool, questionID string) ([]slipway.QuestionLogEntry, error) {
	rows, err := q.read.QueryContext(ctx,
		`SELECT `+questionLogColumns+` FROM question_log WHERE tool = ? AND question_id = ? ORDER BY seq`, tool, questionID)
	es, err := collect(rows, err, scanQuestionLog)
	if err != nil {
		return nil, fmt.Errorf("read the log of question %s: %w", questionID, err)
	}
	return es, nil
}

// scanQuestion reads one row of questionColumns.
func scanQuestion(row rowScanner) (slipway.Question, error) {
	var (
		q                                  slipway.Question
		origin, onDeadline, state          string
		options, fields, policy, approvals sql.NullString
		created, deadline, settled         sql.NullString
	)
	if err := row.Scan(&q.Seq, &q.ID, &q.Tool, &q.DeploymentID, &q.StepKey, &q.Key, &origin, &q.Prompt, &options, &fields,
		&policy, &q.Initiator, &created, &deadline, &onDeadline, &q.Default, &state, &q.Value, &q.SettledBy, &settled,
		&q.Comment, &approvals); err != nil {
		return slipway.Question{}, err
	}
	q.Origin, q.OnDeadline, q.State = slipway.QuestionOrigin(origin), slipway.DeadlinePolicy(onDeadline), slipway.QuestionState(state)
	for _, d := range []struct {
		s   sql.NullString
		dst any
	}{{options, &q.Options}, {fields, &q.Fields}, {policy, &q.Policy}, {approvals, &q.Approvals}} {
		if err := decJSON(d.s, d.dst); err != nil {
			return slipway.Question{}, fmt.Errorf("question %s: %w", q.ID, err)
		}
	}
	var err error
	if q.CreatedAt, err = decTime(created); err != nil {
		return slipway.Question{}, err
	}
	if q.DeadlineAt, err = decTime(deadline); err != nil {
		return slipway.Question{}, err
	}
	if q.SettledAt, err = decTime(settled); err != nil {
		return slipway.Question{}, err
	}
	return q, nil
}

// scanQuestionLog reads one row of questionLogColumns.
func scanQuestionLog(row rowScanner) (slipway.QuestionLogEntry, error) {
	var (
		e    slipway.QuestionLogEntry
		kind string
		at   sql.NullString
	)
	if err := row.Scan(&e.Seq, &e.QuestionID, &e.Tool, &kind, &e.Actor, &e.Value, &e.Comment, &e.Source, &e.Reason, &at); err != nil {
		return slipway.QuestionLogEntry{}, err
	}
	e.Kind = slipway.QuestionLogKind(kind)
	var err error
	e.At, err = decTime(at)
	return e, err
}

// encJSON encodes v as JSON text, NULL for an empty slice.
func encJSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if string(b) == "null" || string(b) == "[]" {
		return nil, nil
	}
	return string(b), nil
}

// decJSON decodes JSON text into dst; NULL leaves dst as it is.
func decJSON(s sql.NullString, dst any) error {
	if !s.Valid || s.String == "" {
		return nil
	}
	return json.Unmarshal([]byte(s.String), dst)
}
