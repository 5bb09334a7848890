package envvars_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/envvars"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/sqlite"
)

// bundle is the envvars over a real SQLite store in a temporary directory.
type bundle struct {
	vars   *envvars.Vars
	db     *sqlite.DB
	dir    string
	tokens *auth.DeployTokens
}

func setup(t *testing.T, quota int) *bundle {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	key := bytes.Repeat([]byte{7}, auth.KeySize)
	sealer, err := auth.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.New(db, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{vars: envvars.New(db, sealer, envvars.Config{Quota: quota}), db: db, dir: dir, tokens: tokens}
}

// wantErr fails unless err has the code and its message contains each of
// parts.
func wantErr(t *testing.T, what string, err error, code string, parts ...string) {
	t.Helper()
	if got := slipway.ErrorCode(err); got != code {
		t.Errorf("%s: code %q (%v), want %q", what, got, err, code)
		return
	}
	for _, p := range parts {
		if msg := slipway.ErrorMessage(err); !strings.Contains(msg, p) {
			t.Errorf("%s: message %q does not say %q", what, msg, p)
		}
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := t.Context()

	if got, err := b.vars.List(ctx, "tool"); err != nil || len(got) != 0 || got == nil {
		t.Errorf("List of a tool without envvars = %#v, %v; want an empty list", got, err)
	}
	_, err := b.vars.Get(ctx, "tool", "API_KEY")
	wantErr(t, "Get of a missing envvar", err, slipway.ENotFound, "Envvar API_KEY not found for tool tool")
	_, err = b.vars.Delete(ctx, "tool", "API_KEY")
	wantErr(t, "Delete of a missing envvar", err, slipway.ENotFound, "Envvar API_KEY not found for tool tool")

	v, created, err := b.vars.Put(ctx, "tool", "API_KEY", "s3cret")
	if err != nil || !created || v != (slipway.EnvVar{Name: "API_KEY", Value: "s3cret"}) {
		t.Fatalf("Put = %+v, %v, %v; want created", v, created, err)
	}
	if _, created, err := b.vars.Put(ctx, "tool", "DB_URL", ""); err != nil || !created {
		t.Fatalf("Put of an empty value = %v, %v; want created", created, err)
	}
	if _, created, err := b.vars.Put(ctx, "tool", "API_KEY", "n3w\nline"); err != nil || created {
		t.Fatalf("overwrite = %v, %v; want not created", created, err)
	}
	if got, err := b.vars.Get(ctx, "tool", "API_KEY"); err != nil || got.Value != "n3w\nline" {
		t.Errorf("Get after overwrite = %+v, %v", got, err)
	}
	want := []slipway.EnvVar{{Name: "API_KEY", Value: "n3w\nline"}, {Name: "DB_URL", Value: ""}}
	if got, err := b.vars.List(ctx, "tool"); err != nil || !cmp.Equal(got, want) {
		t.Errorf("List = %+v, %v; want %+v", got, err, want)
	}
	if q, err := b.vars.Quota(ctx, "tool"); err != nil || q != (slipway.EnvVarQuota{Quota: slipway.DefaultEnvVarQuota, Used: 2}) {
		t.Errorf("Quota = %+v, %v", q, err)
	}

	last, err := b.vars.Delete(ctx, "tool", "API_KEY")
	if err != nil || last != want[0] {
		t.Errorf("Delete = %+v, %v; want the last value %+v", last, err, want[0])
	}
	_, err = b.vars.Get(ctx, "tool", "API_KEY")
	wantErr(t, "Get after Delete", err, slipway.ENotFound)
}

// TestBadInput: every refusal names the rule or the limit, and stores
// nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := t.Context()
	const rule = "^[A-Z][A-Z_0-9]{2,}[A-Z0-9]$"
	cases := []struct {
		name, value string
		want        []string
	}{
		{"api_key", "x", []string{`Invalid envvar name "api_key"`, rule}},
		{"ABC", "x", []string{rule}},
		{"1ABC", "x", []string{rule}},
		{"ABC_", "x", []string{"does not end with an underscore", rule}},
		{"_ABC", "x", []string{rule}},
		{"AB-CD", "x", []string{rule}},
		{"", "x", []string{rule}},
		{"A" + strings.Repeat("B", 253), "x", []string{"4 to 253 characters"}},
		{"PORT", "8080", []string{"Cannot set envvar PORT: Slipway sets it for every process (the port the component listens on)"}},
		{"HOME", "/tmp", []string{"Cannot set envvar HOME", "the tool's home directory"}},
		{"TOOL_NAME", "x", []string{"Cannot set envvar TOOL_NAME"}},
		{"COMPONENT", "x", []string{"Cannot set envvar COMPONENT"}},
		{"SLIPWAY_INSTANCE", "x", []string{"Cannot set envvar SLIPWAY_INSTANCE: names starting with SLIPWAY_ are reserved"}},
		{"TOOL_DEPLOY_TOKEN", "x", []string{"Cannot set envvar TOOL_DEPLOY_TOKEN: Slipway writes it from the tool's deploy token", "deploy-token create|refresh"}},
		{"BIG_ONE", strings.Repeat("x", slipway.MaxEnvVarValueBytes+1), []string{"The value of envvar BIG_ONE is 32769 bytes; the limit is 32768 bytes."}},
		{"NUL_BYTE", "ab\x00cd", []string{"The value of envvar NUL_BYTE has a NUL byte at byte 2"}},
	}
	for _, c := range cases {
		_, _, err := b.vars.Put(ctx, "tool", c.name, c.value)
		wantErr(t, fmt.Sprintf("Put(%.20q)", c.name), err, slipway.EInvalid, c.want...)
	}
	for _, name := range []string{"api_key", "ABC", "X"} {
		_, err := b.vars.Get(ctx, "tool", name)
		wantErr(t, "Get("+name+")", err, slipway.EInvalid, rule)
		_, err = b.vars.Delete(ctx, "tool", name)
		wantErr(t, "Delete("+name+")", err, slipway.EInvalid, rule)
	}
	for _, tool := range []string{"Bad_Tool", "", strings.Repeat("t", 60)} {
		_, _, err := b.vars.Put(ctx, tool, "API_KEY", "x")
		wantErr(t, "Put for tool "+tool, err, slipway.EInvalid, "Tool name")
		_, err = b.vars.List(ctx, tool)
		wantErr(t, "List for tool "+tool, err, slipway.EInvalid, "Tool name")
	}
	// A name just at the limits is fine.
	if _, _, err := b.vars.Put(ctx, "tool", "A"+strings.Repeat("B", 252), strings.Repeat("x", slipway.MaxEnvVarValueBytes)); err != nil {
		t.Errorf("Put of a 253-character name and a 32 KiB value: %v", err)
	}
	if q, err := b.vars.Quota(ctx, "tool"); err != nil || q.Used != 1 {
		t.Errorf("after the refusals: %+v, %v; want only the last one stored", q, err)
	}
}

func TestQuota(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	ctx := t.Context()
	for _, n := range []string{"ONE_", "TWO_", "THREE"} {
		if _, _, err := b.vars.Put(ctx, "tool", n+"X", "v"); err != nil {
			t.Fatalf("Put %s: %v", n, err)
		}
	}
	_, _, err := b.vars.Put(ctx, "tool", "FOUR_X", "v")
	wantErr(t, "Put over the quota", err, slipway.EConflict, "Tool tool already has 3 envvars, its quota is 3", "slipway envvars delete NAME")
	if _, created, err := b.vars.Put(ctx, "tool", "ONE_X", "w"); err != nil || created {
		t.Errorf("overwrite at the quota = %v, %v; want it done", created, err)
	}
	// Another tool has a quota of its own.
	if _, _, err := b.vars.Put(ctx, "other", "FOUR_X", "v"); err != nil {
		t.Errorf("Put in another tool: %v", err)
	}
	// Slipway's own TOOL_DEPLOY_TOKEN is never refused, and counts as used.
	tok, err := b.tokens.Create(ctx, "tool")
	if err != nil {
		t.Fatalf("deploy token of a tool at its quota: %v", err)
	}
	if q, err := b.vars.Quota(ctx, "tool"); err != nil || q != (slipway.EnvVarQuota{Quota: 3, Used: 4}) {
		t.Errorf("Quota = %+v, %v; want 3 and 4 used", q, err)
	}
	if v, err := b.vars.Get(ctx, "tool", slipway.DeployTokenEnvVar); err != nil || v.Value != tok.Token {
		t.Errorf("Get TOOL_DEPLOY_TOKEN = %+v, %v; want the deploy token", v, err)
	}
	if _, err := b.vars.Delete(ctx, "tool", "TWO_X"); err != nil {
		t.Fatal(err)
	}
	_, _, err = b.vars.Put(ctx, "tool", "FOUR_X", "v")
	wantErr(t, "Put with TOOL_DEPLOY_TOKEN taking the freed place", err, slipway.EConflict, "already has 3 envvars")
}

func TestTotalSize(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := t.Context()
	big := strings.Repeat("x", slipway.MaxEnvVarValueBytes)
	for i := range 15 {
		if _, _, err := b.vars.Put(ctx, "tool", fmt.Sprintf("BIG_%02d", i), big); err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	_, _, err := b.vars.Put(ctx, "tool", "BIG_15", big)
	wantErr(t, "Put past the total", err, slipway.EConflict, "would take 524384 bytes together", "the limit is 524288 bytes")
	// Overwriting one with less fits; the one refused is not stored.
	if _, _, err := b.vars.Put(ctx, "tool", "BIG_00", "small"); err != nil {
		t.Errorf("overwrite with a small value: %v", err)
	}
	if _, err := b.vars.Get(ctx, "tool", "BIG_15"); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("the refused envvar: %v, want not found", err)
	}
	if _, _, err := b.vars.Put(ctx, "tool", "BIG_15", big); err != nil {
		t.Errorf("Put after room was made: %v", err)
	}
}

// TestCrossTool: a tool sees, changes and deletes its own envvars only,
// and a sealed value moved to another tool's or name's row does not open.
func TestCrossTool(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := t.Context()
	if _, _, err := b.vars.Put(ctx, "tool-a", "API_KEY", "a-secret"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.vars.Put(ctx, "tool-b", "OTHER_KEY", "b-secret"); err != nil {
		t.Fatal(err)
	}
	_, err := b.vars.Get(ctx, "tool-b", "API_KEY")
	wantErr(t, "tool-b reading tool-a's name", err, slipway.ENotFound)
	_, err = b.vars.Delete(ctx, "tool-b", "API_KEY")
	wantErr(t, "tool-b deleting tool-a's name", err, slipway.ENotFound)
	if got, err := b.vars.List(ctx, "tool-b"); err != nil || len(got) != 1 || got[0].Name != "OTHER_KEY" {
		t.Errorf("List(tool-b) = %+v, %v", got, err)
	}
	if env, err := b.vars.Environ(ctx, "tool-b"); err != nil || len(env.Values) != 1 || env.Values["OTHER_KEY"] != "b-secret" {
		t.Errorf("Environ(tool-b) = %+v, %v; want tool-b's only", env, err)
	}

	// Someone with write access to the database copies tool-a's sealed
	// value into tool-b, and under another name in tool-a.
	row, err := b.db.EnvVarGet(ctx, "tool-a", "API_KEY")
	if err != nil {
		t.Fatal(err)
	}
	for _, moved := range []store.EnvVar{
		{Tool: "tool-b", Name: "API_KEY", Sealed: row.Sealed, UpdatedAt: row.UpdatedAt},
		{Tool: "tool-a", Name: "COPY_KEY", Sealed: row.Sealed, UpdatedAt: row.UpdatedAt},
	} {
		if err := b.db.EnvVarPut(ctx, moved); err != nil {
			t.Fatal(err)
		}
		got, err := b.vars.Get(ctx, moved.Tool, moved.Name)
		if err == nil || strings.Contains(err.Error(), "a-secret") {
			t.Errorf("Get of a moved value in %s/%s = %+v, %v; want an error without the value", moved.Tool, moved.Name, got, err)
		}
		if _, err := b.vars.Environ(ctx, moved.Tool); err == nil || !strings.Contains(err.Error(), moved.Name) {
			t.Errorf("Environ(%s) with a moved value = %v; want an error naming %s", moved.Tool, err, moved.Name)
		}
	}
}

func TestEnviron(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := t.Context()
	env, err := b.vars.Environ(ctx, "tool")
	if err != nil || env.Values == nil || len(env.Values) != 0 || env.Fingerprints == nil {
		t.Errorf("Environ of a tool without envvars = %+v, %v; want empty maps", env, err)
	}
	for _, kv := range [][2]string{{"API_KEY", "s3cret"}, {"DB_URL", "postgres://x"}} {
		if _, _, err := b.vars.Put(ctx, "tool", kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	before, err := b.vars.Environ(ctx, "tool")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"API_KEY": "s3cret", "DB_URL": "postgres://x"}, before.Values); d != "" {
		t.Errorf("Environ values (-want +got):\n%s", d)
	}
	for name, fp := range before.Fingerprints {
		if len(fp) != 64 || strings.Contains(fp, before.Values[name]) {
			t.Errorf("fingerprint of %s = %q", name, fp)
		}
	}
	// Overwriting with the same value changes nothing; another value
	// changes that name's fingerprint only.
	if _, _, err := b.vars.Put(ctx, "tool", "DB_URL", "postgres://x"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.vars.Put(ctx, "tool", "API_KEY", "rotated"); err != nil {
		t.Fatal(err)
	}
	after, err := b.vars.Environ(ctx, "tool")
	if err != nil {
		t.Fatal(err)
	}
	if after.Fingerprints["DB_URL"] != before.Fingerprints["DB_URL"] || after.Fingerprints["API_KEY"] == before.Fingerprints["API_KEY"] {
		t.Errorf("fingerprints before %v, after %v; want API_KEY's changed only", before.Fingerprints, after.Fingerprints)
	}
}

// TestDeleteDeployToken: a tool may delete TOOL_DEPLOY_TOKEN; the token
// still works and `show` then explains why it cannot be shown.
func TestDeleteDeployToken(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := t.Context()
	tok, err := b.tokens.Create(ctx, "tool")
	if err != nil {
		t.Fatal(err)
	}
	last, err := b.vars.Delete(ctx, "tool", slipway.DeployTokenEnvVar)
	if err != nil || last.Value != tok.Token {
		t.Fatalf("Delete TOOL_DEPLOY_TOKEN = %+v, %v; want the token as its last value", last, err)
	}
	if err := b.tokens.Verify(ctx, "tool", tok.Token); err != nil {
		t.Errorf("Verify after the envvar was deleted: %v", err)
	}
	_, err = b.tokens.Get(ctx, "tool")
	wantErr(t, "show after the envvar was deleted", err, slipway.EConflict, "cannot be shown", "deploy-token refresh")
}

// TestNoValueInTheClear writes envvars and reads every byte of the store's
// files: no value appears.
func TestNoValueInTheClear(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := t.Context()
	values := map[string]string{"API_KEY": "correct-horse-battery", "PASSWORD": "Tr0ub4dor&3-secret", "LONG_ONE": strings.Repeat("secretvalue", 100)}
	for n, v := range values {
		if _, _, err := b.vars.Put(ctx, "tool", n, v); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := b.vars.Put(ctx, "tool", "PASSWORD", "rotated-Tr0ub4dor"); err != nil {
		t.Fatal(err)
	}
	values["OLD_PASSWORD"] = "Tr0ub4dor&3-secret" // the overwritten value was never in the clear either
	values["PASSWORD"] = "rotated-Tr0ub4dor"
	files, err := filepath.Glob(filepath.Join(b.dir, "slipway.db*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("store files: %v %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for n, v := range values {
			if bytes.Contains(data, []byte(v[:min(len(v), 20)])) {
				t.Errorf("%s holds the value of %s in the clear", filepath.Base(f), n)
			}
		}
	}
}
