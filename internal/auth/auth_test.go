package auth_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
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
	d, c, st := newTokens(t)
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
	wantEnvVar(t, st, "tool", tok.Token)
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
	wantEnvVar(t, st, "tool", tok2.Token)

	deleted, err := d.Delete(ctx, "tool")
	if err != nil || deleted != tok2 {
		t.Errorf("Delete = %+v, %v; want %+v", deleted, err, tok2)
	}
	_, err = d.Get(ctx, "tool")
	wantErr(t, "Get after Delete", err, slipway.ENotFound, "")
	wantEnvVar(t, st, "tool", "")
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
	v, err := st.EnvVarGet(ctx, "tool", slipway.DeployTokenEnvVar)
	if err != nil {
		t.Fatal(err)
	}
	row, err := st.DeployTokenGet(ctx, "tool")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []store.EnvVar{
		{Tool: "tool", Name: slipway.DeployTokenEnvVar, Sealed: "!!not base64", UpdatedAt: v.UpdatedAt},
		{Tool: "tool", Name: slipway.DeployTokenEnvVar, Sealed: "c2hvcnQ", UpdatedAt: v.UpdatedAt},
		{Tool: "moved", Name: slipway.DeployTokenEnvVar, Sealed: v.Sealed, UpdatedAt: v.UpdatedAt},
	} {
		if err := st.DeployTokenPut(ctx, store.DeployToken{Tool: bad.Tool, Hash: row.Hash, CreatedAt: row.CreatedAt}); err != nil {
			t.Fatal(err)
		}
		if err := st.EnvVarPut(ctx, bad); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Get(ctx, bad.Tool); slipway.ErrorCode(err) != slipway.EInternal {
			t.Errorf("Get of sealed %q for %s = %v, want an internal error", bad.Sealed, bad.Tool, err)
		}
	}
}

// wantEnvVar checks the tool's TOOL_DEPLOY_TOKEN envvar: sealed (never in
// the clear) and holding token; absent when token is "".
func wantEnvVar(t *testing.T, st store.Store, tool, token string) {
	t.Helper()
	v, err := st.EnvVarGet(t.Context(), tool, slipway.DeployTokenEnvVar)
	if token == "" {
		if err == nil {
			t.Errorf("TOOL_DEPLOY_TOKEN of %s still exists", tool)
		}
		return
	}
	if err != nil {
		t.Fatalf("TOOL_DEPLOY_TOKEN of %s: %v", tool, err)
	}
	if strings.Contains(v.Sealed, token) {
		t.Errorf("TOOL_DEPLOY_TOKEN of %s is stored in the clear", tool)
	}
	s, err := auth.NewSealer(key(1))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.OpenEnvVar(tool, slipway.DeployTokenEnvVar, v.Sealed); err != nil || got != token {
		t.Errorf("TOOL_DEPLOY_TOKEN of %s opens to %q, %v; want the token", tool, got, err)
	}
}

// TestStoreHoldsNoPlainToken looks at every byte the store wrote (the
// database, its WAL and shared memory files): neither the token nor its
// hex or base64 spellings appear, and the stored hash is no credential.
func TestStoreHoldsNoPlainToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	d, err := auth.New(db, key(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for _, tool := range []string{"tool", "other"} {
		tok, err := d.Create(t.Context(), tool)
		if err != nil {
			t.Fatal(err)
		}
		tok2, err := d.Refresh(t.Context(), tool)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok.Token, tok2.Token)
	}
	files, err := filepath.Glob(filepath.Join(dir, "slipway.db*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("store files: %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range tokens {
			compact := strings.ReplaceAll(tok, "-", "")
			for _, spelling := range []string{tok, compact, base64.StdEncoding.EncodeToString([]byte(tok))} {
				if bytes.Contains(b, []byte(spelling)) {
					t.Errorf("%s holds a token in the clear (%q)", filepath.Base(f), spelling)
				}
			}
		}
	}
	row, err := db.DeployTokenGet(t.Context(), "tool")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Verify(t.Context(), "tool", row.Hash); slipway.ErrorCode(err) != slipway.EUnauthorized {
		t.Errorf("Verify(the stored hash) = %v, want unauthorized", err)
	}
}

// TestHiddenToken: a tool deleted its TOOL_DEPLOY_TOKEN envvar by hand. The
// token still works (only its hash is needed), Get says clearly that it
// cannot be shown and that refresh makes a new one, Delete still deletes
// it, and Refresh makes a new one that can be shown again.
func TestHiddenToken(t *testing.T) {
	t.Parallel()
	d, _, st := newTokens(t)
	ctx := t.Context()
	for _, tool := range []string{"tool", "gone"} {
		tok, err := d.Create(ctx, tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.EnvVarDelete(ctx, tool, slipway.DeployTokenEnvVar); err != nil {
			t.Fatal(err)
		}
		_, err = d.Get(ctx, tool)
		wantErr(t, "Get without the envvar", err, slipway.EConflict,
			"The deploy token of "+tool+" exists and still works, but it cannot be shown: its only copy, the tool's envvar TOOL_DEPLOY_TOKEN, was deleted (Slipway keeps only a hash of the token). Refresh it to get a new one: slipway components deploy-token refresh.")
		if err := d.Verify(ctx, tool, tok.Token); err != nil {
			t.Errorf("Verify without the envvar: %v", err)
		}
	}

	tok, err := d.Refresh(ctx, "tool")
	if err != nil {
		t.Fatalf("Refresh without the envvar: %v", err)
	}
	if got, err := d.Get(ctx, "tool"); err != nil || got != tok {
		t.Errorf("Get after Refresh = %+v, %v; want %+v", got, err, tok)
	}
	wantEnvVar(t, st, "tool", tok.Token)

	deleted, err := d.Delete(ctx, "gone")
	if err != nil || deleted.Token != "" || deleted.CreatedAt.IsZero() {
		t.Errorf("Delete without the envvar = %+v, %v; want the creation date and no token", deleted, err)
	}
	_, err = d.Get(ctx, "gone")
	wantErr(t, "Get after Delete", err, slipway.ENotFound, "")
}

// legacySeal seals token the way Slipway stored deploy tokens before
// migration 0006: AES-256-GCM under the key, the tool name as additional
// data, base64 without padding.
func legacySeal(t *testing.T, k []byte, tool, token string) string {
	t.Helper()
	block, err := aes.NewCipher(k)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.RawStdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(token), []byte(tool)))
}

// TestMoveLegacySeals plays the server's first start after migration 0006
// (which set the sealed copies aside in deploy_token_legacy_seals): each
// one becomes the tool's TOOL_DEPLOY_TOKEN envvar and `show` works again;
// one sealed under another key stays, is named in the error without its
// token, still verifies, and goes away when the token is refreshed.
func TestMoveLegacySeals(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx := t.Context()
	created := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
	legacy := map[string]string{
		"tool":     "7d6b1f0e-5d3c-4c1a-9b7e-2f4a6c8e0a11",
		"badkey":   "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b",
		"notokens": "11111111-2222-4333-8444-555555555555",
	}
	for tool, token := range legacy {
		k := key(1)
		if tool == "badkey" {
			k = key(9)
		}
		if tool != "notokens" { // a seal whose token row is gone
			if err := db.DeployTokenPut(ctx, store.DeployToken{Tool: tool, Hash: hashHex(token), CreatedAt: created}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := db.WriteDB().ExecContext(ctx, `INSERT INTO deploy_token_legacy_seals (tool, token_sealed) VALUES (?, ?)`,
			tool, legacySeal(t, k, tool, token))
		if err != nil {
			t.Fatal(err)
		}
	}
	d, err := auth.New(db, key(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Get(ctx, "tool")
	wantErr(t, "Get before the move", err, slipway.EConflict, "")

	moved, err := d.MoveLegacySeals(ctx)
	if moved != 1 || err == nil || !strings.Contains(err.Error(), "deploy token of badkey") {
		t.Errorf("MoveLegacySeals = %d, %v; want 1 moved and an error naming badkey", moved, err)
	}
	for _, token := range legacy {
		if err != nil && strings.Contains(err.Error(), token) {
			t.Errorf("the error %q holds a token", err)
		}
	}
	if got, err := d.Get(ctx, "tool"); err != nil || got.Token != legacy["tool"] || !got.CreatedAt.Equal(created) {
		t.Errorf("Get after the move = %+v, %v; want the legacy token and its creation date", got, err)
	}
	wantEnvVar(t, db, "tool", legacy["tool"])
	if err := d.Verify(ctx, "badkey", legacy["badkey"]); err != nil {
		t.Errorf("Verify of the token that could not be moved: %v", err)
	}
	seals, err := db.LegacyDeployTokenSeals(ctx)
	if err != nil || len(seals) != 1 || seals[0].Tool != "badkey" {
		t.Errorf("LegacyDeployTokenSeals after the move = %+v, %v; want badkey's only", seals, err)
	}

	// Every later start: nothing more to move, the same error.
	if moved, err := d.MoveLegacySeals(ctx); moved != 0 || err == nil {
		t.Errorf("second MoveLegacySeals = %d, %v; want 0 and badkey's error", moved, err)
	}
	if _, err := d.Refresh(ctx, "badkey"); err != nil {
		t.Fatal(err)
	}
	if moved, err := d.MoveLegacySeals(ctx); moved != 0 || err != nil {
		t.Errorf("MoveLegacySeals after refreshing badkey = %d, %v; want 0, nil", moved, err)
	}
}

// hashHex is the SHA-256 hex digest that the store keeps of a token.
func hashHex(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Ensure Info says when the token was made and until when it is accepted
// (after a refresh, from the refresh), and ENotFound without one; it
// never carries the token.
func TestInfo(t *testing.T) {
	t.Parallel()
	d, c, _ := newTokens(t)
	d.SetLifetime(48 * time.Hour)
	_, err := d.Info(t.Context(), "tool")
	wantErr(t, "info without a token", err, slipway.ENotFound, "No deploy token found for tool: tool")
	tok, err := d.Create(t.Context(), "tool")
	if err != nil {
		t.Fatal(err)
	}
	info, err := d.Info(t.Context(), "tool")
	if err != nil {
		t.Fatal(err)
	}
	if !info.CreatedAt.Equal(tok.CreatedAt) || !info.ExpiresAt.Equal(tok.CreatedAt.Add(48*time.Hour)) {
		t.Errorf("info = %+v, want created %v and expiring 48 h later", info, tok.CreatedAt)
	}
	c.add(time.Hour)
	tok, err = d.Refresh(t.Context(), "tool")
	if err != nil {
		t.Fatal(err)
	}
	if info, err = d.Info(t.Context(), "tool"); err != nil || !info.CreatedAt.Equal(tok.CreatedAt) {
		t.Errorf("info after refresh = %+v, %v; want created %v", info, err, tok.CreatedAt)
	}
}
