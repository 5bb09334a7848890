package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"slipway.dev/slipway/internal/store"
)

// Table is one of Slipway's tables as [Copy] sees it: every column, the
// primary key (the order rows are read in) and the boolean columns
// (INTEGER 0/1 on SQLite, BOOLEAN on PostgreSQL).
type Table struct {
	Name    string
	Key     []string
	Columns []string
	Bools   []string
	// Serial names the column a sequence numbers (AUTOINCREMENT, an
	// identity column): after the copy the destination's sequence is moved
	// past the copied values ([Dialect.SyncSerial]).
	Serial string
}

// table makes a [Table] of comma-separated column lists.
func table(name, key, columns, bools string) Table {
	split := func(s string) []string {
		var out []string
		for c := range strings.SplitSeq(s, ",") {
			if c = strings.TrimSpace(c); c != "" {
				out = append(out, c)
			}
		}
		return out
	}
	return Table{Name: name, Key: split(key), Columns: split(columns), Bools: split(bools)}
}

// copyTables are the tables [Copy] moves, parents before the tables whose
// foreign keys name them (deployments before steps and events). Kept next
// to the queries: a migration that adds a table or a column adds it here
// too, and TestTables fails until it does (it compares this list with
// both dialects' schemas).
var copyTables = []Table{
	table("tools", "name", "name, created_at", ""),
	table("configs", "tool, version", "tool, version, raw, deleted, created_at, created_by, created_by_admin", "deleted, created_by_admin"),
	table("deployments", "id", `id, tool, created_at, description, config_version, tool_config, status, long_status,
		force_build, force_run, trigger_kind, actor, updated_at, finished_at, rollback_of, event_seq,
		environment, promoted_from, pins, rollback_release, rolled_back_by, flow, parent, parent_step`, "force_build, force_run"),
	table("steps", "deployment_id, step_key", `deployment_id, seq, step_key, kind, component, step_action, needs, reason,
		state, detail, attempt, build_key, commit_sha, spec_hash, started_at, finished_at`, ""),
	table("builds", "tool, id", `id, tool, component, build_key, repository, ref, commit_sha, status, artifact, log_path,
		error, created_at, updated_at, deleting`, "deleting"),
	table("live_runs", "tool, component", `tool, component, component_type, spec_hash, build_key, artifact, deployment_id,
		spec, applied_at, commit_sha, env_fingerprints`, ""),
	table("events", "deployment_id, seq", "deployment_id, seq, at, kind, step, state, message", ""),
	table("deploy_tokens", "tool", "tool, token_hash, created_at", ""),
	table("deploy_token_legacy_seals", "tool", "tool, token_sealed", ""),
	table("api_tokens", "id", "id, tool, hash, description, created_at, last_used_at", ""),
	table("job_runs", "tool, name", "tool, name, command, image_name, build_key, artifact, timeout, run_id, created_at", ""),
	table("envvars", "tool, name", "tool, name, value_sealed, updated_at", ""),
	table("repo_credentials", "tool, url", "tool, url, sealed, updated_at", ""),
	table("domains", "name", "name, tool, created_by, created_at", ""),
	table("certificates", "name", "name, sealed, updated_at", ""),
	table("webhooks", "tool", "tool, secret_sealed, created_at", ""),
	table("webhook_deliveries", "tool, id", `tool, id, provider, event, received_at, ref, commit_sha, pusher, outcome,
		message, deployment_id`, ""),
	table("poll_state", "tool, component", "tool, component, ref, commit_sha, seen_at", ""),
	table("cuts", "tool, name", `tool, name, repository, branch, base_commit, head_commit, state, picks, created_at,
		created_by, frozen_at, frozen_by, updated_at`, ""),
	table("change_requests", "tool, seq", `tool, seq, cut, commit_sha, reason, state, question_id, requested_by,
		requested_at, decided_by, decided_at, onto_commit, pick_commit, detail, updated_at`, ""),
	table("release_plans", "name", "name, members, stages, max_parallel, created_at, created_by, updated_at", ""),
	table("trains", "id", `id, plan, members, stages, mode, max_parallel, state, stage, answers, reason, created_at,
		created_by, updated_at, version`, ""),
	table("train_members", "train_id, stage, tool", "train_id, tool, stage, state, deployment_id, reason, started_at, finished_at", ""),
	table("notify_subscriptions", "id", "id, tool, kind, target, events, secret_sealed, created_at, created_by", ""),
	table("notify_deliveries", "id", `id, tool, subscription_id, event, subject, payload, created_at, state, attempts,
		max_attempts, last_status, last_error, updated_at`, ""),
	table("notify_attempts", "delivery_id, n", "delivery_id, n, tool, at, status_code, error, duration_ms, response", ""),
	table("sessions", "id_hash", "id_hash, credential, admin, tool, csrf_secret, created_at, last_seen_at, expires_at", "admin"),
	table("settings", "name", "name, value", ""),
	serial(table("questions", "seq", `seq, id, tool, deployment_id, step_key, ask_key, origin, prompt, options, fields,
		policy, initiator, created_at, deadline_at, on_deadline, default_value, state, value, settled_by, settled_at,
		comment, approvals`, ""), "seq"),
	serial(table("question_log", "seq", "seq, question_id, tool, kind, actor, value, comment, source, reason, at", ""), "seq"),
	serial(table("releases", "seq", `seq, tool, environment, component, deployment_id, build_key, commit_sha, spec_hash,
		config_version, applied_at, outcome, actor`, ""), "seq"),
}

// serial returns t with its sequence-numbered column.
func serial(t Table, column string) Table { t.Serial = column; return t }

// Tables returns the tables [Copy] moves, in the order it moves them.
func Tables() []Table {
	out := make([]Table, len(copyTables))
	for i, t := range copyTables {
		out[i] = Table{Name: t.Name, Key: slices.Clone(t.Key), Columns: slices.Clone(t.Columns), Bools: slices.Clone(t.Bools), Serial: t.Serial}
	}
	return out
}

// NotCopied are the tables of Slipway's schema that [Copy] leaves out,
// with the reason. River's tables (river_*) are left out too: the jobs of
// unfinished deployments are the only ones that matter, and Copy refuses
// a source that has any.
var NotCopied = map[string]string{
	"nodes":             "servers register themselves when they start",
	"build_leases":      "only running builds hold them, and Copy refuses a source with unfinished deployments",
	"slipway_locks":     "the destination's migrations made its rows",
	"slipway_migration": "the destination's migrations recorded themselves",
}

// ErrUnfinished is wrapped by the error of [Copy] when the source has
// deployments that are not final.
var ErrUnfinished = errors.New("the source has unfinished deployments")

// ErrNotEmpty is wrapped by the error of [Copy] when the destination
// already holds rows in one of the copied tables.
var ErrNotEmpty = errors.New("the destination already holds Slipway data")

// TableCopy is what [Copy] did to one table.
type TableCopy struct {
	Table string
	// Rows is the table's row count, the same on both sides.
	Rows int64
	// Elapsed is the time the copy and the count of the table took.
	Elapsed time.Duration
}

// CopyOptions are the optional settings of [Copy].
type CopyOptions struct {
	// BatchRows is how many rows one INSERT carries (default 500; fewer
	// for a table whose columns would pass the dialects' limit on
	// placeholders).
	BatchRows int
	// Progress, when set, is called after each table is copied and
	// counted, before the transaction commits.
	Progress func(TableCopy)
	// Now measures the elapsed times. Default: [time.Now].
	Now func() time.Time
}

// maxParams bounds the placeholders of one INSERT: SQLite allows 32766,
// PostgreSQL 65535.
const maxParams = 30000

// Copy copies every table of [Tables] from src to dst in one transaction
// of dst, and returns the row count of each: a failure anywhere leaves
// dst as it was. Rows are read in primary-key order in one read-only
// transaction of src, so the copy is of one moment even if src were
// written meanwhile (the caller should make sure it is not), and inserted
// in batches of multi-row INSERTs. Boolean columns are converted from
// SQLite's 0 and 1. Before the commit every table is counted on both
// sides, and a difference fails the copy, naming the table.
//
// Copy refuses, before writing anything, a src with unfinished
// deployments (wrapping [ErrUnfinished]: their queued jobs live in
// River's tables, which are not copied) and a dst with a row in any of
// the tables (wrapping [ErrNotEmpty]: it never merges or overwrites). It
// holds dst's [store.NodesLock] until it commits, so a server starting
// on dst, or a second copy into it, waits and then sees the rows.
func Copy(ctx context.Context, dst, src *DB, opts CopyOptions) ([]TableCopy, error) {
	if opts.BatchRows <= 0 {
		opts.BatchRows = 500
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	stx, err := src.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read the source: %w", src.d.err(err))
	}
	defer func() { _ = stx.Rollback() }() // read-only: nothing to commit
	from := conn{stx, src.d}
	if err := checkFinished(ctx, from); err != nil {
		return nil, err
	}
	var copied []TableCopy
	err = dst.d.err(runTx(ctx, dst.write, func(t *sql.Tx) error {
		to := conn{t, dst.d}
		q := &queries{read: to, write: to, d: dst.d}
		if err := q.NamedLock(ctx, store.NodesLock); err != nil {
			return fmt.Errorf("lock the destination: %w", err)
		}
		if err := checkEmpty(ctx, to); err != nil {
			return err
		}
		for _, tb := range copyTables {
			start := opts.Now()
			n, err := copyTable(ctx, to, from, tb, opts.BatchRows)
			if err != nil {
				return fmt.Errorf("copy %s: %w", tb.Name, err)
			}
			if err := verify(ctx, to, from, tb.Name, n); err != nil {
				return err
			}
			if tb.Serial != "" && dst.d.SyncSerial != nil {
				if _, err := to.ExecContext(ctx, dst.d.SyncSerial(tb.Name, tb.Serial)); err != nil {
					return fmt.Errorf("copy %s: move its sequence past the copied rows: %w", tb.Name, err)
				}
			}
			c := TableCopy{Table: tb.Name, Rows: n, Elapsed: opts.Now().Sub(start)}
			copied = append(copied, c)
			if opts.Progress != nil {
				opts.Progress(c)
			}
		}
		return nil
	}))
	if err != nil {
		return nil, err
	}
	return copied, nil
}

// checkFinished refuses a source with unfinished deployments, naming
// them.
func checkFinished(ctx context.Context, q querier) error {
	rows, err := q.QueryContext(ctx,
		`SELECT tool, id, status FROM deployments WHERE status NOT IN (`+inArgs(len(finalStatuses))+`)
		 ORDER BY created_at, id`, finalStatuses...)
	if err != nil {
		return fmt.Errorf("list the source's unfinished deployments: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var names []string
	for rows.Next() {
		var tool, id, status string
		if err := rows.Scan(&tool, &id, &status); err != nil {
			return fmt.Errorf("list the source's unfinished deployments: %w", err)
		}
		names = append(names, fmt.Sprintf("%s of %s (%s)", id, tool, status))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list the source's unfinished deployments: %w", err)
	}
	if len(names) == 0 {
		return nil
	}
	const shown = 10
	list := strings.Join(names[:min(len(names), shown)], ", ")
	if len(names) > shown {
		list += fmt.Sprintf(" and %d more", len(names)-shown)
	}
	return fmt.Errorf("%w, whose queued jobs would not be copied: %s; let them finish or cancel them, then copy again", ErrUnfinished, list)
}

// checkEmpty refuses a destination with a row in any copied table,
// naming the tables.
func checkEmpty(ctx context.Context, q querier) error {
	var held []string
	for _, tb := range copyTables {
		n, err := count(ctx, q, tb.Name)
		if err != nil {
			return fmt.Errorf("check that the destination is empty: %w", err)
		}
		if n > 0 {
			held = append(held, fmt.Sprintf("%s: %s", tb.Name, plural(n, "row")))
		}
	}
	if len(held) == 0 {
		return nil
	}
	return fmt.Errorf("%w (%s): a copy never merges into or overwrites an installation; copy into an empty database or schema", ErrNotEmpty, strings.Join(held, ", "))
}

// copyTable copies one table, in batches, and returns how many rows it
// inserted.
func copyTable(ctx context.Context, to, from querier, tb Table, batchRows int) (int64, error) {
	batchRows = max(1, min(batchRows, maxParams/len(tb.Columns)))
	cols := strings.Join(tb.Columns, ", ")
	rows, err := from.QueryContext(ctx, `SELECT `+cols+` FROM `+tb.Name+` ORDER BY `+strings.Join(tb.Key, ", "))
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	defer func() { _ = rows.Close() }()
	isBool := make([]bool, len(tb.Columns))
	for i, c := range tb.Columns {
		isBool[i] = slices.Contains(tb.Bools, c)
	}
	var (
		total int64
		batch = make([]any, 0, batchRows*len(tb.Columns))
		vals  = make([]any, len(tb.Columns))
		ptrs  = make([]any, len(tb.Columns))
	)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	flush := func() error {
		n := len(batch) / len(tb.Columns)
		if n == 0 {
			return nil
		}
		row := "(" + inArgs(len(tb.Columns)) + ")"
		query := `INSERT INTO ` + tb.Name + ` (` + cols + `) VALUES ` + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
		res, err := to.ExecContext(ctx, query, batch...)
		if err != nil {
			return fmt.Errorf("insert rows %d to %d: %w", total+1, total+int64(n), err)
		}
		got, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("insert rows %d to %d: %w", total+1, total+int64(n), err)
		}
		total += got
		batch = batch[:0]
		return nil
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, fmt.Errorf("read: %w", err)
		}
		for i, v := range vals {
			if isBool[i] {
				b, err := toBool(v)
				if err != nil {
					return 0, fmt.Errorf("read column %s: %w", tb.Columns[i], err)
				}
				v = b
			}
			batch = append(batch, v)
		}
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	if err := flush(); err != nil {
		return 0, err
	}
	return total, nil
}

// toBool converts a boolean column's value as a driver returns it: 0 or 1
// from SQLite, a bool from PostgreSQL.
func toBool(v any) (bool, error) {
	switch b := v.(type) {
	case bool:
		return b, nil
	case int64:
		if b == 0 || b == 1 {
			return b == 1, nil
		}
	}
	return false, fmt.Errorf("%v (%T) is not a boolean", v, v)
}

// verify counts the table on both sides and fails, naming it, when the
// counts differ from each other or from what was inserted.
func verify(ctx context.Context, to, from querier, name string, inserted int64) error {
	want, err := count(ctx, from, name)
	if err != nil {
		return fmt.Errorf("verify %s: count the source's rows: %w", name, err)
	}
	got, err := count(ctx, to, name)
	if err != nil {
		return fmt.Errorf("verify %s: count the destination's rows: %w", name, err)
	}
	if got != want || inserted != want {
		return fmt.Errorf("verify %s: the source has %s, the destination %s after inserting %d; the copy was rolled back",
			name, plural(want, "row"), plural(got, "row"), inserted)
	}
	return nil
}

// count returns the number of rows of a table.
func count(ctx context.Context, q querier, name string) (int64, error) {
	var n int64
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM `+name).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", name, err)
	}
	return n, nil
}

// plural returns "1 row", "2 rows".
func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
