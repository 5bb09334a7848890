// Package auth issues and checks deploy tokens: one per tool, a UUIDv4 that
// CI sends as ?token= (or as a bearer) to create a deployment and to poll it.
//
// The deploy token table holds only the token's SHA-256 hash, which
// requests are compared against in constant time. As Toolforge's components
// API does, creating or refreshing a token also writes it as the tool's
// TOOL_DEPLOY_TOKEN envvar (sealed with AES-256-GCM under the server's
// secret key, like every envvar; see [Sealer]), so that the tool's
// processes can use it and `deploy-token show` can display it again;
// deleting the token deletes the envvar. Tokens are never logged.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// KeySize is the length of the secret key: AES-256.
const KeySize = 32

// Messages of the errors Verify returns (Toolforge's, except that the
// mismatch and expiry ones do not echo the token).
const (
	msgMismatch = "The token passed does not match the tool's token"
	msgExpired  = "The token passed has expired, please create a new one"
	msgExists   = "Deploy token already exists. Use the 'refresh' subcommand or PUT /tool/%s/deployment/token to refresh it."
	// msgHidden says why a token that exists cannot be shown.
	msgHidden = "The deploy token of %s exists and still works, but it cannot be shown: %s (Slipway keeps only a hash of the token). Refresh it to get a new one: slipway components deploy-token refresh."
)

// DeployTokens manages the deploy tokens of every tool.
type DeployTokens struct {
	st       store.Store
	sealer   *Sealer
	now      func() time.Time
	lifetime time.Duration
}

// SetLifetime sets how long a token is accepted after it was created or
// refreshed; 0 means Toolforge's [slipway.DeployTokenLifetime]. Call it
// before the first request.
func (d *DeployTokens) SetLifetime(l time.Duration) {
	if l <= 0 {
		l = slipway.DeployTokenLifetime
	}
	d.lifetime = l
}

// New returns the deploy-token manager over st. key is the server's 32-byte
// secret key; now is the clock (time.Now when nil).
func New(st store.Store, key []byte, now func() time.Time) (*DeployTokens, error) {
	sealer, err := NewSealer(key)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &DeployTokens{st: st, sealer: sealer, now: now, lifetime: slipway.DeployTokenLifetime}, nil
}

// Create issues the tool's first token; EConflict when it has one.
func (d *DeployTokens) Create(ctx context.Context, tool string) (slipway.DeployToken, error) {
	var tok slipway.DeployToken
	err := d.st.InTx(ctx, func(tx store.Tx) error {
		_, err := tx.DeployTokenGet(ctx, tool)
		switch {
		case err == nil:
			return slipway.Errorf(slipway.EConflict, msgExists, tool)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		tok, err = d.put(ctx, tx, tool)
		return err
	})
	if err != nil {
		return slipway.DeployToken{}, wrap("create", tool, err)
	}
	return tok, nil
}

// Refresh replaces the tool's token with a new one (new UUID, new creation
// date); ENotFound when it has none.
func (d *DeployTokens) Refresh(ctx context.Context, tool string) (slipway.DeployToken, error) {
	var tok slipway.DeployToken
	err := d.st.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.DeployTokenGet(ctx, tool); err != nil {
			return notFound(tool, err)
		}
		var err error
		tok, err = d.put(ctx, tx, tool)
		return err
	})
	if err != nil {
		return slipway.DeployToken{}, wrap("refresh", tool, err)
	}
	return tok, nil
}

// Get returns the tool's token, read from its TOOL_DEPLOY_TOKEN envvar;
// ENotFound when it has none, EConflict (saying why and that refresh makes
// a new one) when the token exists but that envvar was deleted or does not
// hold it.
func (d *DeployTokens) Get(ctx context.Context, tool string) (slipway.DeployToken, error) {
	row, err := d.st.DeployTokenGet(ctx, tool)
	if err != nil {
		return slipway.DeployToken{}, wrap("get", tool, notFound(tool, err))
	}
	tok, err := d.show(ctx, d.st, row)
	if err != nil {
		return slipway.DeployToken{}, wrap("get", tool, err)
	}
	return tok, nil
}

// Info says when the tool's token was made and until when it is accepted,
// without reading the token; ENotFound when it has none. (The web UI shows
// this; it never shows a token again after creating it.)
func (d *DeployTokens) Info(ctx context.Context, tool string) (slipway.DeployTokenInfo, error) {
	row, err := d.st.DeployTokenGet(ctx, tool)
	if err != nil {
		return slipway.DeployTokenInfo{}, wrap("info", tool, notFound(tool, err))
	}
	created := row.CreatedAt.UTC()
	return slipway.DeployTokenInfo{CreatedAt: created, ExpiresAt: created.Add(d.lifetime)}, nil
}

// Delete deletes the tool's token and its TOOL_DEPLOY_TOKEN envvar, and
// returns the token; ENotFound when it has none. When the envvar was
// deleted by hand the token is still deleted, and returned with an empty
// Token.
func (d *DeployTokens) Delete(ctx context.Context, tool string) (slipway.DeployToken, error) {
	var tok slipway.DeployToken
	err := d.st.InTx(ctx, func(tx store.Tx) error {
		row, err := tx.DeployTokenGet(ctx, tool)
		if err != nil {
			return notFound(tool, err)
		}
		tok, err = d.show(ctx, tx, row)
		if slipway.ErrorCode(err) == slipway.EConflict {
			tok, err = slipway.DeployToken{CreatedAt: row.CreatedAt.UTC()}, nil
		}
		if err != nil {
			return err
		}
		if err := tx.DeployTokenDelete(ctx, tool); err != nil {
			return err
		}
		if err := tx.EnvVarDelete(ctx, tool, slipway.DeployTokenEnvVar); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.LegacyDeployTokenSealDelete(ctx, tool)
	})
	if err != nil {
		return slipway.DeployToken{}, wrap("delete", tool, err)
	}
	return tok, nil
}

// Verify checks a token presented for tool. It returns nil when it is the
// tool's token and has not expired, else an EUnauthorized error whose
// message is safe to send back (it never contains the presented token).
func (d *DeployTokens) Verify(ctx context.Context, tool, presented string) error {
	row, err := d.st.DeployTokenGet(ctx, tool)
	if errors.Is(err, store.ErrNotFound) {
		return slipway.Errorf(slipway.EUnauthorized,
			"The tool '%s' has no deploy token yet, you have to create one before using it", tool)
	}
	if err != nil {
		return wrap("verify", tool, err)
	}
	got := hash(presented)
	if presented == "" || subtle.ConstantTimeCompare([]byte(got), []byte(row.Hash)) != 1 {
		return slipway.Errorf(slipway.EUnauthorized, msgMismatch)
	}
	if !d.now().Before(row.CreatedAt.Add(d.lifetime)) {
		return slipway.Errorf(slipway.EUnauthorized, msgExpired)
	}
	return nil
}

// put makes a new token for tool and stores it in tx: its hash, and the
// token itself as the tool's TOOL_DEPLOY_TOKEN envvar (platform-written:
// neither the reserved-name rule nor the quota applies).
func (d *DeployTokens) put(ctx context.Context, tx store.Tx, tool string) (slipway.DeployToken, error) {
	tok := slipway.DeployToken{Token: newUUID(), CreatedAt: d.now().UTC().Truncate(time.Microsecond)}
	if err := tx.DeployTokenPut(ctx, store.DeployToken{Tool: tool, Hash: hash(tok.Token), CreatedAt: tok.CreatedAt}); err != nil {
		return slipway.DeployToken{}, err
	}
	if err := d.putEnvVar(ctx, tx, tool, tok.Token); err != nil {
		return slipway.DeployToken{}, err
	}
	if err := tx.LegacyDeployTokenSealDelete(ctx, tool); err != nil {
		return slipway.DeployToken{}, err
	}
	return tok, nil
}

// putEnvVar stores token as the tool's TOOL_DEPLOY_TOKEN envvar.
func (d *DeployTokens) putEnvVar(ctx context.Context, tx store.Tx, tool, token string) error {
	return tx.EnvVarPut(ctx, store.EnvVar{
		Tool: tool, Name: slipway.DeployTokenEnvVar,
		Sealed:    d.sealer.SealEnvVar(tool, slipway.DeployTokenEnvVar, token),
		UpdatedAt: d.now().UTC(),
	})
}

// show returns the token of row from the tool's TOOL_DEPLOY_TOKEN envvar:
// EConflict when that envvar is gone or holds something else (the token
// still works), an internal error when it cannot be opened (a wrong key).
func (d *DeployTokens) show(ctx context.Context, q store.Queries, row store.DeployToken) (slipway.DeployToken, error) {
	v, err := q.EnvVarGet(ctx, row.Tool, slipway.DeployTokenEnvVar)
	if errors.Is(err, store.ErrNotFound) {
		return slipway.DeployToken{}, &slipway.Error{
			Code:    slipway.EConflict,
			Message: fmt.Sprintf(msgHidden, row.Tool, "its only copy, the tool's envvar "+slipway.DeployTokenEnvVar+", was deleted"),
			Err:     err,
		}
	}
	if err != nil {
		return slipway.DeployToken{}, err
	}
	token, err := d.sealer.OpenEnvVar(row.Tool, slipway.DeployTokenEnvVar, v.Sealed)
	if err != nil {
		return slipway.DeployToken{}, err
	}
	if subtle.ConstantTimeCompare([]byte(hash(token)), []byte(row.Hash)) != 1 {
		return slipway.DeployToken{}, slipway.Errorf(slipway.EConflict, msgHidden, row.Tool,
			"the tool's envvar "+slipway.DeployTokenEnvVar+" no longer holds it")
	}
	return slipway.DeployToken{Token: token, CreatedAt: row.CreatedAt.UTC()}, nil
}

// MoveLegacySeals turns the deploy tokens that an older Slipway kept
// sealed in its deploy token table (migration 0006 set them aside) into
// the tools' TOOL_DEPLOY_TOKEN envvars, one transaction per tool, and
// returns how many it moved. A token that cannot be opened (a wrong key)
// is left where it is and named in the error, which never holds a token;
// the token keeps working (only its hash is needed), and refreshing it
// replaces it. The server calls it at every start; once everything is
// moved it does nothing.
func (d *DeployTokens) MoveLegacySeals(ctx context.Context) (int, error) {
	seals, err := d.st.LegacyDeployTokenSeals(ctx)
	if err != nil {
		return 0, fmt.Errorf("move sealed deploy tokens into envvars: %w", err)
	}
	moved := 0
	var errs []error
	for _, seal := range seals {
		put := false
		err := d.st.InTx(ctx, func(tx store.Tx) error {
			put = false
			row, err := tx.DeployTokenGet(ctx, seal.Tool)
			if errors.Is(err, store.ErrNotFound) {
				return tx.LegacyDeployTokenSealDelete(ctx, seal.Tool) // the token is gone: nothing to keep
			}
			if err != nil {
				return err
			}
			token, err := d.sealer.openLegacyDeployToken(seal.Tool, seal.Sealed)
			if err != nil {
				return err
			}
			if subtle.ConstantTimeCompare([]byte(hash(token)), []byte(row.Hash)) != 1 {
				return errors.New("the sealed copy does not match the stored hash")
			}
			if err := d.putEnvVar(ctx, tx, seal.Tool, token); err != nil {
				return err
			}
			put = true
			return tx.LegacyDeployTokenSealDelete(ctx, seal.Tool)
		})
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("deploy token of %s: %w", seal.Tool, err))
		case put:
			moved++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return moved, fmt.Errorf("move sealed deploy tokens into envvars: %w", err)
	}
	return moved, nil
}

// hash returns the SHA-256 hex digest of a token.
func hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newUUID returns a random (version 4) UUID string.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// notFound turns the store's ErrNotFound into the API's 404.
func notFound(tool string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return &slipway.Error{Code: slipway.ENotFound, Message: fmt.Sprintf("No deploy token found for tool: %s", tool), Err: err}
	}
	return err
}

// wrap adds context to errors that are not already application errors.
func wrap(op, tool string, err error) error {
	if _, ok := errors.AsType[*slipway.Error](err); ok {
		return err
	}
	return fmt.Errorf("deploy token of %s: %s: %w", tool, op, err)
}
