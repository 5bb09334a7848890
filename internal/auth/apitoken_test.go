package auth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

var apiTokenRE = regexp.MustCompile(`^slw_t_[A-Za-z0-9_-]{43}$`)

func newAPITokens(t *testing.T) (*auth.APITokens, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)}
	return auth.NewAPITokens(openStore(t), c.now), c
}

func TestAPITokens_CreateIdentifyRevoke(t *testing.T) {
	t.Parallel()
	a, c := newAPITokens(t)
	ctx := t.Context()

	id1, tok1, err := a.Create(ctx, "one", "CI")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if !apiTokenRE.MatchString(tok1) {
		t.Errorf("token %q does not look like slw_t_ + 32 bytes of base64url", tok1)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok1, auth.APITokenPrefix))
	if err != nil || len(raw) != 32 {
		t.Errorf("token secret: %d bytes, err %v; want 32", len(raw), err)
	}
	c.add(time.Minute)
	id2, tok2, err := a.Create(ctx, "two", "")
	if err != nil {
		t.Fatalf("Create(two): %v", err)
	}
	if id1 == id2 || tok1 == tok2 {
		t.Fatalf("two tokens share id or secret: %s %s", id1, id2)
	}

	for _, tc := range []struct {
		bearer, tool string
		ok           bool
	}{
		{tok1, "one", true},
		{tok2, "two", true},
		{"", "", false},
		{"slw_t_", "", false},
		{tok1 + "x", "", false},
		{tok1[:len(tok1)-1], "", false},
		{"not-a-token", "", false},
		{hash(tok1), "", false}, // the stored hash is no credential
	} {
		tool, ok, err := a.Identify(ctx, tc.bearer)
		if err != nil || ok != tc.ok || tool != tc.tool {
			t.Errorf("Identify(%.12q…) = %q, %v, %v; want %q, %v, nil", tc.bearer, tool, ok, err, tc.tool, tc.ok)
		}
	}

	list, err := a.List(ctx, "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != 2 || list[0].ID != id1 || list[0].Tool != "one" || list[0].Description != "CI" ||
		!list[0].CreatedAt.Equal(time.Date(2025, 6, 1, 12, 0, 0, 123456000, time.UTC)) || list[1].ID != id2 {
		t.Errorf("List = %+v", list)
	}
	one, err := a.List(ctx, "one")
	if err != nil || len(one) != 1 || one[0].ID != id1 {
		t.Errorf("List(one) = %+v, %v", one, err)
	}
	if _, err := a.List(ctx, "Bad Name"); slipway.ErrorCode(err) != slipway.EInvalid {
		t.Errorf("List(bad name): err = %v, want EInvalid", err)
	}

	if err := a.Revoke(ctx, id1); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if tool, ok, err := a.Identify(ctx, tok1); ok || err != nil || tool != "" {
		t.Errorf("Identify after revoke = %q, %v, %v", tool, ok, err)
	}
	if _, ok, _ := a.Identify(ctx, tok2); !ok {
		t.Error("revoking one token revoked another")
	}
	wantErr(t, "second Revoke", a.Revoke(ctx, id1), slipway.ENotFound, "No API token found with id: "+id1)
}

func TestAPITokens_InvalidTool(t *testing.T) {
	t.Parallel()
	a, _ := newAPITokens(t)
	for _, tool := range []string{"", "Upper", "-dash", "a/b", strings.Repeat("x", 200)} {
		if _, _, err := a.Create(t.Context(), tool, ""); slipway.ErrorCode(err) != slipway.EInvalid {
			t.Errorf("Create(%q): err = %v, want EInvalid", tool, err)
		}
	}
}

func TestAPITokens_StoresHashOnly(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	a := auth.NewAPITokens(st, nil)
	_, tok, err := a.Create(t.Context(), "one", "x")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	rows, err := st.APITokenList(t.Context(), "one")
	if err != nil || len(rows) != 1 {
		t.Fatalf("APITokenList = %v, %v", rows, err)
	}
	if rows[0].Hash != hash(tok) || strings.Contains(rows[0].Hash, tok) {
		t.Errorf("stored hash %q is not the SHA-256 of the token", rows[0].Hash)
	}
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Ensure revoking a token deletes the web UI sessions opened with it, and
// no other session.
func TestAPITokens_RevokeEndsItsSessions(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	a := auth.NewAPITokens(st, nil)
	ctx := t.Context()
	id, _, err := a.Create(ctx, "one", "")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := a.Create(ctx, "one", "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for h, cred := range map[string]string{"mine": slipway.APITokenActorName(id), "other": slipway.APITokenActorName(other)} {
		if err := st.SessionCreate(ctx, store.Session{
			IDHash: h, Credential: cred, Tool: "one", CSRFSecret: "c",
			CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour),
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Revoke(ctx, id); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if _, err := st.SessionGet(ctx, "mine"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session of the revoked token: SessionGet = %v, want not found", err)
	}
	if _, err := st.SessionGet(ctx, "other"); err != nil {
		t.Errorf("session of another token: SessionGet = %v, want it kept", err)
	}
	if err := a.Revoke(ctx, id); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("second Revoke = %v, want ENotFound", err)
	}
}
