package auth_test

import (
	"strings"
	"testing"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/slipway"
)

// Ensure an ask token round-trips its scope, and that a token of another
// key, a changed scope or signature, or no ask token at all is refused.
func TestAskTokens(t *testing.T) {
	a := auth.NewAskTokens([]byte("0123456789abcdef0123456789abcdef"))
	other := auth.NewAskTokens([]byte("another key, another installation"))
	scope := slipway.AskScope{Tool: "tool-a", DeploymentID: "20250601-120000-abcdefghij", Step: "run:migrate"}
	tok := a.Issue(scope)
	if !strings.HasPrefix(tok, slipway.AskTokenPrefix) {
		t.Fatalf("token %q lacks the prefix", tok)
	}
	if got, ok := a.Parse(tok); !ok || got != scope {
		t.Fatalf("Parse(Issue) = %+v, %v; want %+v", got, ok, scope)
	}
	forged := a.Issue(slipway.AskScope{Tool: "tool-b", DeploymentID: scope.DeploymentID, Step: scope.Step})
	body, _, _ := strings.Cut(strings.TrimPrefix(forged, slipway.AskTokenPrefix), ".")
	_, mac, _ := strings.Cut(tok, ".")
	for name, bad := range map[string]string{
		"another key's":               other.Issue(scope),
		"tool-b's body, a's mac":      slipway.AskTokenPrefix + body + "." + mac,
		"no mac":                      strings.Split(tok, ".")[0],
		"truncated mac":               tok[:len(tok)-2],
		"an API token":                "slp_0123456789",
		"empty":                       "",
		"prefix only":                 slipway.AskTokenPrefix,
		"huge":                        slipway.AskTokenPrefix + strings.Repeat("A", 5000),
		"a scope with a missing part": signedBody(a, "tool\x00\x00run:x"),
	} {
		if got, ok := a.Parse(bad); ok {
			t.Errorf("%s token accepted: %+v", name, got)
		}
	}
}

// signedBody returns a validly signed token over a raw body, to prove
// the scope itself is checked.
func signedBody(a *auth.AskTokens, raw string) string {
	// Issue joins with NULs; a step "x\x00y" makes 4 parts, refused too.
	return a.Issue(slipway.AskScope{Tool: raw, DeploymentID: "d", Step: "s"})
}

// Ensure a scheduled run's scope (no deployment) round-trips, and that no
// other scope without a deployment is accepted.
func TestAskTokens_ScheduledRun(t *testing.T) {
	a := auth.NewAskTokens([]byte("0123456789abcdef0123456789abcdef"))
	scope := slipway.AskScope{Tool: "tool-a", Step: slipway.ScheduledAskStep("nightly", "20260101-020000")}
	if got, ok := a.Parse(a.Issue(scope)); !ok || got != scope {
		t.Fatalf("Parse(Issue(scheduled)) = %+v, %v", got, ok)
	}
	if c, run, ok := scope.Scheduled(); !ok || c != "nightly" || run != "20260101-020000" {
		t.Errorf("Scheduled() = %q, %q, %v", c, run, ok)
	}
	for _, bad := range []slipway.AskScope{
		{Tool: "tool-a", Step: "run:job"},
		{Tool: "tool-a", Step: "scheduled:nightly"},
		{Tool: "tool-a", Step: "scheduled:/run"},
	} {
		if got, ok := a.Parse(a.Issue(bad)); ok {
			t.Errorf("a scope without a deployment accepted: %+v", got)
		}
	}
}
