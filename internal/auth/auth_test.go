package auth_test

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/sqlite"
)

var uuid4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func key(b byte) []byte { return bytes.Repeat([]byte{b}, auth.KeySize) }

func newTokens(t *testing.T) (*auth.DeployTokens, *clock, store.Store) {
	t.Helper()
	st := openStore(t)
	c := &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)}
	d, err := auth.New(st, key(1), c.now)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d, c, st
}

// wantErr fails unless err has the code and, when msg is not empty, the
// user-facing message.
func wantErr(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	if got := slipway.ErrorCode(err); got != code {
		t.Errorf("%s: code = %q (%v), want %q", what, got, err, code)
		return
	}
	if msg != "" {
		if got := slipway.ErrorMessage(err); got != msg {
			t.Errorf("%s: message = %q, want %q", what, got, msg)
		}
	}
}

func TestNew_KeySize(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := auth.New(st, make([]byte, n), nil); err == nil {
			t.Errorf("New with a %d-byte key succeeded", n)
		}
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	d, c, _ := newTokens(t)
	ctx := t.Context()

	_, err := d.Get(ctx, "tool")
	wantErr(t, "Get before Create", err, slipway.ENotFound, "")
	_, err = d.Refresh(ctx, "tool")
	wantErr(t, "Refresh before Create", err, slipway.ENotFound, "")
	_, err = d.Delete(ctx, "tool")
	wantErr(t, "Delete before Create", err, slipway.ENotFound, "")

	tok, err := d.Create(ctx, "tool")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if !uuid4.MatchString(tok.Token) {
		t.Errorf("token %q is not a UUIDv4", tok.Token)
	}
	if want := c.now().Truncate(time.Microsecond); !tok.CreatedAt.Equal(want) || tok.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want %v in UTC", tok.CreatedAt, want)
	}
	if got, err := d.Get(ctx, "tool"); err != nil || got != tok {
		t.Errorf("Get = %+v, %v; want %+v", got, err, tok)
	}
	_, err = d.Create(ctx, "tool")
	wantErr(t, "second Create", err, slipway.EConflict,
		"Deploy token already exists. Use the 'refresh' subcommand or PUT /tool/tool/deployment/token to refresh it.")

	c.add(time.Hour)
	tok2, err := d.Refresh(ctx, "tool")
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if tok2.Token == tok.Token || !tok2.CreatedAt.Equal(c.now().Truncate(time.Microsecond)) {
		t.Errorf("Refresh = %+v; want a new token created now (old %+v)", tok2, tok)
	}
	if err := d.Verify(ctx, "tool", tok.Token); err == nil {
		t.Error("the old token still verifies after Refresh")
	}
	if err := d.Verify(ctx, "tool", tok2.Token); err != nil {
		t.Errorf("Verify(new token): %v", err)
	}

	deleted, err := d.Delete(ctx, "tool")
	if err != nil || deleted != tok2 {
		t.Errorf("Delete = %+v, %v; want %+v", deleted, err, tok2)
	}
	_, err = d.Get(ctx, "tool")
	wantErr(t, "Get after Delete", err, slipway.ENotFound, "")
	if _, err := d.Create(ctx, "tool"); err != nil {
		t.Errorf("Create after Delete: %v", err)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	d, c, _ := newTokens(t)
	ctx := t.Context()
	tok, err := d.Create(ctx, "tool")
	if err != nil {
		t.Fatal(err)
	}
	other, err := d.Create(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	const mismatch = "The token passed does not match the tool's token"
	tests := []struct {
		name, tool, token, msg string
	}{
		{"valid", "tool", tok.Token, ""},
		{"no token yet", "none", tok.Token, "The tool 'none' has no deploy token yet, you have to create one before using it"},
		{"wrong", "tool", "00000000-0000-4000-8000-000000000000", mismatch},
		{"malformed", "tool", "3fae991e-193c-4b86-9f6a-im1nv4l1d", mismatch},
		{"empty", "tool", "", mismatch},
		{"another tool's", "tool", other.Token, mismatch},
		{"upper case", "tool", strings.ToUpper(tok.Token), mismatch},
		{"with spaces", "tool", " " + tok.Token, mismatch},
	}
	for _, tt := range tests {
		err := d.Verify(ctx, tt.tool, tt.token)
		if tt.msg == "" {
			if err != nil {
				t.Errorf("%s: Verify = %v, want nil", tt.name, err)
			}
			continue
		}
		wantErr(t, tt.name, err, slipway.EUnauthorized, tt.msg)
		if tt.token != "" && strings.Contains(err.Error(), tt.token) {
			t.Errorf("%s: the error %q echoes the token", tt.name, err)
		}
	}

	// Expiry: accepted until created + 365 days, refused from then on.
	c.add(slipway.DeployTokenLifetime - time.Second)
	if err := d.Verify(ctx, "tool", tok.Token); err != nil {
		t.Errorf("Verify a second before expiry: %v", err)
	}
	c.add(time.Second)
	err = d.Verify(ctx, "tool", tok.Token)
	wantErr(t, "expired", err, slipway.EUnauthorized, "The token passed has expired, please create a new one")
	// A wrong token is still "does not match", not "expired".
	wantErr(t, "wrong and expired", d.Verify(ctx, "tool", "nope"), slipway.EUnauthorized, mismatch)
	// Refreshing starts the lifetime again.
	tok2, err := d.Refresh(ctx, "tool")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Verify(ctx, "tool", tok2.Token); err != nil {
		t.Errorf("Verify after Refresh: %v", err)
	}
}

func TestWrongKey(t *testing.T) {
	t.Parallel()
	d, c, st := newTokens(t)
	ctx := t.Context()
	tok, err := d.Create(ctx, "tool")
	if err != nil {
		t.Fatal(err)
	}
	other, err := auth.New(st, key(2), c.now)
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.Get(ctx, "tool")
	if err == nil || slipway.ErrorCode(err) != slipway.EInternal {
		t.Errorf("Get with another key = %v, want an internal error", err)
	}
	if err != nil && strings.Contains(err.Error(), tok.Token) {
		t.Errorf("the error %q contains the token", err)
	}
	_, err = other.Delete(ctx, "tool")
	if err == nil {
		t.Error("Delete with another key succeeded")
	}
	// Verification only needs the hash, so it still works.
	if err := other.Verify(ctx, "tool", tok.Token); err != nil {
		t.Errorf("Verify with another key: %v", err)
	}

	// A damaged sealed copy, or one moved to another tool, fails cleanly too.
	row, err := st.DeployTokenGet(ctx, "tool")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []store.DeployToken{
		{Tool: "tool", Hash: row.Hash, Sealed: "!!not base64", CreatedAt: row.CreatedAt},
		{Tool: "tool", Hash: row.Hash, Sealed: "c2hvcnQ", CreatedAt: row.CreatedAt},
		{Tool: "moved", Hash: row.Hash, Sealed: row.Sealed, CreatedAt: row.CreatedAt},
	} {
		if err := st.DeployTokenPut(ctx, bad); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Get(ctx, bad.Tool); err == nil {
			t.Errorf("Get of sealed %q for %s succeeded", bad.Sealed, bad.Tool)
		}
	}
}

func TestStoreHoldsNoPlainToken(t *testing.T) {
	t.Parallel()
	d, _, st := newTokens(t)
	tok, err := d.Create(t.Context(), "tool")
	if err != nil {
		t.Fatal(err)
	}
	row, err := st.DeployTokenGet(t.Context(), "tool")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(row.Hash+row.Sealed, tok.Token) {
		t.Errorf("the stored row %+v holds the token in the clear", row)
	}
	if err := d.Verify(t.Context(), "tool", row.Hash); slipway.ErrorCode(err) != slipway.EUnauthorized {
		t.Errorf("Verify(the stored hash) = %v, want unauthorized", err)
	}
}
