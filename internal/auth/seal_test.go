package auth_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/auth"
)

func TestSealer_RoundTripAndBinding(t *testing.T) {
	t.Parallel()
	s, err := auth.NewSealer(key(1))
	if err != nil {
		t.Fatal(err)
	}
	other, err := auth.NewSealer(key(2))
	if err != nil {
		t.Fatal(err)
	}
	for _, value := range []string{"", "s3cret", strings.Repeat("x", 32<<10), "multi\nline\tvalue ✓"} {
		sealed := s.SealEnvVar("tool", "API_KEY", value)
		if value != "" && strings.Contains(sealed, value) {
			t.Errorf("sealed %q holds the value", sealed)
		}
		if got, err := s.OpenEnvVar("tool", "API_KEY", sealed); err != nil || got != value {
			t.Errorf("OpenEnvVar = %q, %v; want the value back", got, err)
		}
		if n, err := s.SealedEnvVarSize(sealed); err != nil || n != len(value) {
			t.Errorf("SealedEnvVarSize = %d, %v; want %d", n, err, len(value))
		}
		if again := s.SealEnvVar("tool", "API_KEY", value); again == sealed {
			t.Error("sealing the same value twice gave the same text (no random nonce)")
		}
		// Moved to another tool or name, or opened with another key: an
		// error, never the value.
		for _, c := range []struct {
			s          *auth.Sealer
			tool, name string
		}{{s, "other", "API_KEY"}, {s, "tool", "API_KEY2"}, {s, "tool\x00API", "KEY"}, {other, "tool", "API_KEY"}} {
			if got, err := c.s.OpenEnvVar(c.tool, c.name, sealed); err == nil {
				t.Errorf("OpenEnvVar(%q, %q) of another binding = %q, want an error", c.tool, c.name, got)
			}
		}
	}
	for _, bad := range []string{"", "!!", "c2hvcnQ"} {
		if _, err := s.OpenEnvVar("tool", "API_KEY", bad); err == nil {
			t.Errorf("OpenEnvVar(%q) succeeded", bad)
		}
	}
	if _, err := auth.NewSealer(make([]byte, 16)); err == nil {
		t.Error("NewSealer with a 16-byte key succeeded")
	}
}

func TestSealer_Fingerprint(t *testing.T) {
	t.Parallel()
	s, err := auth.NewSealer(key(1))
	if err != nil {
		t.Fatal(err)
	}
	other, err := auth.NewSealer(key(2))
	if err != nil {
		t.Fatal(err)
	}
	fp := s.Fingerprint("tool", "API_KEY", "s3cret")
	if len(fp) != 64 || fp != s.Fingerprint("tool", "API_KEY", "s3cret") {
		t.Errorf("Fingerprint = %q, want 64 hex digits, the same every time", fp)
	}
	plain := sha256.Sum256([]byte("s3cret"))
	for name, got := range map[string]string{
		"another value":        s.Fingerprint("tool", "API_KEY", "s3cret2"),
		"another name":         s.Fingerprint("tool", "API_KEY2", "s3cret"),
		"another tool":         s.Fingerprint("other", "API_KEY", "s3cret"),
		"another key":          other.Fingerprint("tool", "API_KEY", "s3cret"),
		"a plain hash":         hex.EncodeToString(plain[:]),
		"fields moved across ": s.Fingerprint("tool", "API_KEY\x00s3", "cret"),
	} {
		if got == fp {
			t.Errorf("%s gives the same fingerprint", name)
		}
	}
}

// A webhook secret opens only as the same tool's webhook secret: not as
// another tool's, not as an envvar, and an envvar not as a webhook secret.
func TestSealer_WebhookSecret(t *testing.T) {
	t.Parallel()
	s, err := auth.NewSealer(key(1))
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.SealWebhookSecret("tool", "hook-secret")
	if strings.Contains(sealed, "hook-secret") {
		t.Fatalf("sealed %q holds the secret", sealed)
	}
	if got, err := s.OpenWebhookSecret("tool", sealed); err != nil || got != "hook-secret" {
		t.Errorf("OpenWebhookSecret = %q, %v; want the secret back", got, err)
	}
	if got, err := s.OpenWebhookSecret("other", sealed); err == nil {
		t.Errorf("OpenWebhookSecret of another tool = %q, want an error", got)
	}
	if got, err := s.OpenEnvVar("tool", "", sealed); err == nil {
		t.Errorf("a webhook secret opened as an envvar: %q", got)
	}
	if got, err := s.OpenWebhookSecret("tool", s.SealEnvVar("tool", "X", "v")); err == nil {
		t.Errorf("an envvar opened as a webhook secret: %q", got)
	}
}
