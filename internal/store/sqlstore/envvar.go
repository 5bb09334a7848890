package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"slipway.dev/slipway/internal/store"
)

// EnvVarPut stores one of a tool's envvars (insert or replace).
func (q *queries) EnvVarPut(ctx context.Context, v store.EnvVar) error {
	if v.UpdatedAt.IsZero() {
		return fmt.Errorf("put envvar %s of %s: no update time", v.Name, v.Tool)
	}
	_, err := q.write.ExecContext(ctx,
		upsert("envvars", "tool, name, value_sealed, updated_at", "tool, name"),
		v.Tool, v.Name, v.Sealed, encTime(v.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put envvar %s of %s: %w", v.Name, v.Tool, err)
	}
	return nil
}

// EnvVarGet returns one of a tool's envvars; ErrNotFound when there is none.
func (q *queries) EnvVarGet(ctx context.Context, tool, name string) (store.EnvVar, error) {
	v, err := scanEnvVar(q.read.QueryRowContext(ctx,
		`SELECT tool, name, value_sealed, updated_at FROM envvars WHERE tool = ? AND name = ?`, tool, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.EnvVar{}, fmt.Errorf("envvar %s of %s: %w", name, tool, store.ErrNotFound)
	}
	if err != nil {
		return store.EnvVar{}, fmt.Errorf("get envvar %s of %s: %w", name, tool, err)
	}
	return v, nil
}

// EnvVarList returns the tool's envvars by name.
func (q *queries) EnvVarList(ctx context.Context, tool string) ([]store.EnvVar, error) {
	rows, err := q.read.QueryContext(ctx,
		`SELECT tool, name, value_sealed, updated_at FROM envvars WHERE tool = ? ORDER BY name`, tool)
	vs, err := collect(rows, err, scanEnvVar)
	if err != nil {
		return nil, fmt.Errorf("list envvars of %s: %w", tool, err)
	}
	return vs, nil
}

// EnvVarDelete deletes one of a tool's envvars; ErrNotFound when it does not
// exist.
func (q *queries) EnvVarDelete(ctx context.Context, tool, name string) error {
	res, err := q.write.ExecContext(ctx, `DELETE FROM envvars WHERE tool = ? AND name = ?`, tool, name)
	if err != nil {
		return fmt.Errorf("delete envvar %s of %s: %w", name, tool, err)
	}
	return oneRow(res, fmt.Sprintf("envvar %s of %s", name, tool))
}

// scanEnvVar reads one row of tool, name, value_sealed, updated_at.
func scanEnvVar(row rowScanner) (store.EnvVar, error) {
	var (
		v       store.EnvVar
		updated sql.NullString
	)
	if err := row.Scan(&v.Tool, &v.Name, &v.Sealed, &updated); err != nil {
		return store.EnvVar{}, err
	}
	var err error
	if v.UpdatedAt, err = decTime(updated); err != nil {
		return store.EnvVar{}, err
	}
	return v, nil
}

// LegacyDeployTokenSeals returns the deploy tokens sealed before migration
// 0006 that are still to be moved into envvars, by tool.
func (q *queries) LegacyDeployTokenSeals(ctx context.Context) ([]store.LegacyDeployTokenSeal, error) {
	rows, err := q.read.QueryContext(ctx, `SELECT tool, token_sealed FROM deploy_token_legacy_seals ORDER BY tool`)
	out, err := collect(rows, err, func(r rowScanner) (store.LegacyDeployTokenSeal, error) {
		var s store.LegacyDeployTokenSeal
		err := r.Scan(&s.Tool, &s.Sealed)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("list legacy deploy token seals: %w", err)
	}
	return out, nil
}

// LegacyDeployTokenSealDelete forgets the tool's legacy sealed token;
// deleting none is not an error.
func (q *queries) LegacyDeployTokenSealDelete(ctx context.Context, tool string) error {
	if _, err := q.write.ExecContext(ctx, `DELETE FROM deploy_token_legacy_seals WHERE tool = ?`, tool); err != nil {
		return fmt.Errorf("delete legacy deploy token seal of %s: %w", tool, err)
	}
	return nil
}
