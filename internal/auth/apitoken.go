package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// APITokenPrefix starts every tool-scoped API token, so that one is easy to
// recognise (and to find in a leak scanner).
const APITokenPrefix = "slw_t_"

// APITokens manages tool-scoped API tokens: bearers that act for one tool
// only. A token is "slw_t_" and 32 random bytes in URL-safe base64; the
// store keeps only its SHA-256 hash, so it is shown once, when created.
type APITokens struct {
	st  store.Store
	now func() time.Time
}

// NewAPITokens returns the API-token manager over st; now is the clock
// (time.Now when nil).
func NewAPITokens(st store.Store, now func() time.Time) *APITokens {
	if now == nil {
		now = time.Now
	}
	return &APITokens{st: st, now: now}
}

// Create issues a new token for tool and returns its id and the token, which
// is never available again. EInvalid when tool is not a valid tool name.
func (a *APITokens) Create(ctx context.Context, tool, description string) (id, token string, err error) {
	info, token, err := a.CreateToken(ctx, tool, description)
	return info.ID, token, err
}

// CreateToken is Create returning the whole description of the new token.
func (a *APITokens) CreateToken(ctx context.Context, tool, description string) (slipway.APIToken, string, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.APIToken{}, "", err
	}
	var secret [32]byte
	_, _ = rand.Read(secret[:]) // crypto/rand.Read never fails
	token := APITokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	row := store.APIToken{
		ID:          hex.EncodeToString(idb[:]),
		Tool:        tool,
		Hash:        hash(token),
		Description: description,
		CreatedAt:   a.now().UTC().Truncate(time.Microsecond),
	}
	if err := a.st.APITokenCreate(ctx, row); err != nil {
		return slipway.APIToken{}, "", fmt.Errorf("API token of %s: create: %w", tool, err)
	}
	return fromRow(row), token, nil
}

// List returns the tool's tokens (every tool's when tool is ""), oldest
// first.
func (a *APITokens) List(ctx context.Context, tool string) ([]slipway.APIToken, error) {
	if tool != "" {
		if err := slipway.ValidateToolName(tool); err != nil {
			return nil, err
		}
	}
	rows, err := a.st.APITokenList(ctx, tool)
	if err != nil {
		return nil, fmt.Errorf("API tokens: list: %w", err)
	}
	out := make([]slipway.APIToken, 0, len(rows))
	for _, r := range rows {
		out = append(out, fromRow(r))
	}
	return out, nil
}

// Revoke deletes a token and, in the same transaction, the web UI
// sessions opened with it; ENotFound when there is none with this id.
func (a *APITokens) Revoke(ctx context.Context, id string) error {
	err := a.st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.APITokenDelete(ctx, id); err != nil {
			return err
		}
		_, err := tx.SessionDeleteByCredential(ctx, slipway.APITokenActorName(id))
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return &slipway.Error{Code: slipway.ENotFound, Message: fmt.Sprintf("No API token found with id: %s", id), Err: err}
	}
	if err != nil {
		return fmt.Errorf("API token %s: revoke: %w", id, err)
	}
	return nil
}

// Identify returns the tool of the API token bearer, and the token's id.
// ok is false (and err nil) when bearer is not a live API token.
func (a *APITokens) Identify(ctx context.Context, bearer string) (tool string, ok bool, err error) {
	tok, ok, err := a.IdentifyToken(ctx, bearer)
	return tok.Tool, ok, err
}

// IdentifyToken is Identify returning the whole description of the token.
func (a *APITokens) IdentifyToken(ctx context.Context, bearer string) (slipway.APIToken, bool, error) {
	// The prefix is public; checking it only spares a lookup.
	if !strings.HasPrefix(bearer, APITokenPrefix) {
		return slipway.APIToken{}, false, nil
	}
	row, err := a.st.APITokenByHash(ctx, hash(bearer))
	if errors.Is(err, store.ErrNotFound) {
		return slipway.APIToken{}, false, nil
	}
	if err != nil {
		return slipway.APIToken{}, false, fmt.Errorf("API token: identify: %w", err)
	}
	return fromRow(row), true, nil
}

func fromRow(r store.APIToken) slipway.APIToken {
	t := slipway.APIToken{ID: r.ID, Tool: r.Tool, Description: r.Description, CreatedAt: r.CreatedAt.UTC()}
	if !r.LastUsedAt.IsZero() {
		t.LastUsedAt = r.LastUsedAt.UTC()
	}
	return t
}
