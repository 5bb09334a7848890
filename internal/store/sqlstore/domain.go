package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// DomainAdd inserts a tool's custom domain.
func (q *queries) DomainAdd(ctx context.Context, d slipway.Domain) error {
	_, err := q.write.ExecContext(ctx,
		`INSERT INTO domains (name, tool, created_by, created_at) VALUES (?, ?, ?, ?)`,
		d.Name, d.Tool, d.CreatedBy, encTime(d.CreatedAt))
	if err != nil {
		return fmt.Errorf("add domain %s of %s: %w", d.Name, d.Tool, err)
	}
	return nil
}

// DomainList returns a tool's custom domains, or everyone's, by name.
func (q *queries) DomainList(ctx context.Context, tool string) ([]slipway.Domain, error) {
	query, args := `SELECT name, tool, created_by, created_at FROM domains`, []any{}
	if tool != "" {
		query += ` WHERE tool = ?`
		args = append(args, tool)
	}
	rows, err := q.read.QueryContext(ctx, query+` ORDER BY name`, args...)
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	defer rows.Close()
	var out []slipway.Domain
	for rows.Next() {
		var d slipway.Domain
		var created sql.NullString
		if err := rows.Scan(&d.Name, &d.Tool, &d.CreatedBy, &created); err != nil {
			return nil, fmt.Errorf("list domains: %w", err)
		}
		if d.CreatedAt, err = decTime(created); err != nil {
			return nil, fmt.Errorf("domain %s: %w", d.Name, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	return out, nil
}

// DomainDelete deletes a tool's custom domain.
func (q *queries) DomainDelete(ctx context.Context, tool, name string) error {
	res, err := q.write.ExecContext(ctx, `DELETE FROM domains WHERE tool = ? AND name = ?`, tool, name)
	if err != nil {
		return fmt.Errorf("delete domain %s of %s: %w", name, tool, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete domain %s of %s: %w", name, tool, err)
	} else if n == 0 {
		return fmt.Errorf("domain %s of %s: %w", name, tool, store.ErrNotFound)
	}
	return nil
}

// CertificatePut stores a certificate (insert or replace).
func (q *queries) CertificatePut(ctx context.Context, c store.Certificate) error {
	if c.Sealed == "" {
		return fmt.Errorf("put certificate %s: nothing sealed", c.Name)
	}
	if _, err := q.write.ExecContext(ctx, upsert("certificates", "name, sealed, updated_at", "name"),
		c.Name, c.Sealed, encTime(c.UpdatedAt)); err != nil {
		return fmt.Errorf("put certificate %s: %w", c.Name, err)
	}
	return nil
}

// CertificateGet returns a certificate; ErrNotFound when there is none.
func (q *queries) CertificateGet(ctx context.Context, name string) (store.Certificate, error) {
	c := store.Certificate{Name: name}
	var updated sql.NullString
	err := q.read.QueryRowContext(ctx, `SELECT sealed, updated_at FROM certificates WHERE name = ?`, name).Scan(&c.Sealed, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Certificate{}, fmt.Errorf("certificate %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.Certificate{}, fmt.Errorf("get certificate %s: %w", name, err)
	}
	if c.UpdatedAt, err = decTime(updated); err != nil {
		return store.Certificate{}, fmt.Errorf("certificate %s: %w", name, err)
	}
	return c, nil
}

// CertificateDelete deletes a certificate.
func (q *queries) CertificateDelete(ctx context.Context, name string) error {
	if _, err := q.write.ExecContext(ctx, `DELETE FROM certificates WHERE name = ?`, name); err != nil {
		return fmt.Errorf("delete certificate %s: %w", name, err)
	}
	return nil
}
