package auth_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/sqlite"
)

func TestRepoCredentials(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	key := bytes.Repeat([]byte{7}, auth.KeySize)
	rc, err := auth.NewRepoCredentials(db, key)
	if err != nil {
		t.Fatal(err)
	}
	const url = "https://***@example.org/app.git"
	cred := slipway.Credential{Username: "alice", Password: "hunter2-distinct"}
	sealed, err := rc.SealCredential("tool-a", url, cred)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "hunter2") || strings.Contains(sealed, "alice") {
		t.Fatalf("sealed value shows the credential: %s", sealed)
	}
	if again, _ := rc.SealCredential("tool-a", url, cred); again == sealed {
		t.Error("two seals of one credential are equal: the nonce is not random")
	}
	got, err := rc.OpenCredential("tool-a", url, sealed)
	if err != nil || got != cred {
		t.Fatalf("OpenCredential = %+v, %v", got.Username, err)
	}
	// Bound to its tool and URL, and to the key.
	if _, err := rc.OpenCredential("tool-b", url, sealed); err == nil {
		t.Error("opened as another tool's")
	}
	if _, err := rc.OpenCredential("tool-a", "https://***@example.org/other.git", sealed); err == nil {
		t.Error("opened as another URL's")
	}
	other, _ := auth.NewRepoCredentials(db, bytes.Repeat([]byte{8}, auth.KeySize))
	if _, err := other.OpenCredential("tool-a", url, sealed); err == nil {
		t.Error("opened with another key")
	}
	for _, bad := range []string{"", "!!", "c2hvcnQ"} {
		if _, err := rc.OpenCredential("tool-a", url, bad); err == nil {
			t.Errorf("opened %q", bad)
		}
	}
	if _, err := auth.NewRepoCredentials(db, []byte("short")); err == nil {
		t.Error("a short key is accepted")
	}

	// Lookup reads the store.
	if _, err := rc.Lookup(t.Context(), "tool-a", url); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("Lookup of nothing = %v, want ENotFound", err)
	}
	if err := db.RepoCredentialPut(t.Context(), store.RepoCredential{Tool: "tool-a", URL: url, Sealed: sealed, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if got, err := rc.Lookup(t.Context(), "tool-a", url); err != nil || got != cred {
		t.Errorf("Lookup = %v", err)
	}
	if _, err := rc.Lookup(t.Context(), "tool-b", url); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("Lookup as tool-b = %v, want ENotFound", err)
	}
}

// TestCredential_NeverPrinted: a Credential printed by mistake, in any
// verb or as JSON, shows ***.
func TestCredential_NeverPrinted(t *testing.T) {
	t.Parallel()
	c := slipway.Credential{Username: "alice", Password: "hunter2"}
	for _, s := range []string{
		fmtSprint("%v", c), fmtSprint("%+v", c), fmtSprint("%#v", c), fmtSprint("%s", c), fmtSprint("%q", c),
		fmtSprint("%v", &c), fmtSprint("%+v", struct{ C slipway.Credential }{c}), jsonString(t, c),
	} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "alice") {
			t.Errorf("printed as %s", s)
		}
	}
}

func fmtSprint(format string, v any) string { return fmt.Sprintf(format, v) }

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
