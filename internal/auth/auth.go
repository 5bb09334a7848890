// Package auth issues and checks deploy tokens: one per tool, a UUIDv4 that
// CI sends as ?token= (or as a bearer) to create a deployment and to poll it.
//
// The store never holds a token in the clear. It keeps the SHA-256 hash,
// which requests are compared against in constant time, and a copy sealed
// with AES-256-GCM under the server's secret key, so that `deploy-token
// show` can display the token again as Toolforge's CLI does. The sealed copy
// is bound to its tool (the tool name is the additional data), so it cannot
// be moved to another row. Tokens are never logged.
package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
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
)

// DeployTokens manages the deploy tokens of every tool.
type DeployTokens struct {
	st       store.Store
	aead     cipher.AEAD
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
	if len(key) != KeySize {
		return nil, fmt.Errorf("auth: secret key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &DeployTokens{st: st, aead: aead, now: now, lifetime: slipway.DeployTokenLifetime}, nil
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

// Get returns the tool's token; ENotFound when it has none.
func (d *DeployTokens) Get(ctx context.Context, tool string) (slipway.DeployToken, error) {
	row, err := d.st.DeployTokenGet(ctx, tool)
	if err != nil {
		return slipway.DeployToken{}, wrap("get", tool, notFound(tool, err))
	}
	tok, err := d.open(row)
	if err != nil {
		return slipway.DeployToken{}, wrap("get", tool, err)
	}
	return tok, nil
}

// Delete deletes the tool's token and returns it; ENotFound when it has
// none.
func (d *DeployTokens) Delete(ctx context.Context, tool string) (slipway.DeployToken, error) {
	var tok slipway.DeployToken
	err := d.st.InTx(ctx, func(tx store.Tx) error {
		row, err := tx.DeployTokenGet(ctx, tool)
		if err != nil {
			return notFound(tool, err)
		}
		if tok, err = d.open(row); err != nil {
			return err
		}
		return tx.DeployTokenDelete(ctx, tool)
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

// put makes a new token for tool and stores it in tx.
func (d *DeployTokens) put(ctx context.Context, tx store.Tx, tool string) (slipway.DeployToken, error) {
	tok := slipway.DeployToken{Token: newUUID(), CreatedAt: d.now().UTC().Truncate(time.Microsecond)}
	nonce := make([]byte, d.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	sealed := d.aead.Seal(nonce, nonce, []byte(tok.Token), []byte(tool))
	row := store.DeployToken{
		Tool:      tool,
		Hash:      hash(tok.Token),
		Sealed:    base64.RawStdEncoding.EncodeToString(sealed),
		CreatedAt: tok.CreatedAt,
	}
	if err := tx.DeployTokenPut(ctx, row); err != nil {
		return slipway.DeployToken{}, err
	}
	return tok, nil
}

// open unseals a stored token. A wrong key or a damaged row is an error,
// never a panic.
func (d *DeployTokens) open(row store.DeployToken) (slipway.DeployToken, error) {
	raw, err := base64.RawStdEncoding.DecodeString(row.Sealed)
	if err != nil {
		return slipway.DeployToken{}, fmt.Errorf("sealed token: %w", err)
	}
	n := d.aead.NonceSize()
	if len(raw) < n+d.aead.Overhead() {
		return slipway.DeployToken{}, errors.New("sealed token: too short")
	}
	plain, err := d.aead.Open(nil, raw[:n], raw[n:], []byte(row.Tool))
	if err != nil {
		return slipway.DeployToken{}, fmt.Errorf("sealed token: cannot open it with this server's secret key: %w", err)
	}
	tok := slipway.DeployToken{Token: string(plain), CreatedAt: row.CreatedAt.UTC()}
	if subtle.ConstantTimeCompare([]byte(hash(tok.Token)), []byte(row.Hash)) != 1 {
		return slipway.DeployToken{}, errors.New("sealed token: does not match the stored hash")
	}
	return tok, nil
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
