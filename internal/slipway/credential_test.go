package slipway

import (
	"context"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://alice:pw@example.org/a.git":         "https://***@example.org/a.git",
		"https://ghp_token@example.org/a.git":        "https://***@example.org/a.git",
		"https://a:p@ss@example.org:8443/x?y=1#z":    "https://***@example.org:8443/x?y=1#z",
		"https://***@example.org/a.git":              "https://***@example.org/a.git",
		"https://example.org/a.git":                  "https://example.org/a.git",
		"https://example.org/path@with-at/a.git":     "https://example.org/path@with-at/a.git",
		"ssh://git@example.org/a.git":                "ssh://***@example.org/a.git",
		"git@example.org:a.git":                      "git@example.org:a.git",
		"/srv/git/a@b":                               "/srv/git/a@b",
		"":                                           "",
		"https://u:p%zz@example.org/unparseable.git": "https://***@example.org/unparseable.git",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSplitURLCredential(t *testing.T) {
	t.Parallel()
	sp, err := SplitURLCredential("https://alice:p%40ss@example.org/a.git")
	if err != nil || !sp.HasCredential || sp.Stored || sp.Redacted != "https://***@example.org/a.git" ||
		sp.Credential != (Credential{Username: "alice", Password: "p@ss"}) {
		t.Errorf("split = %+v, %v", sp.Redacted, err)
	}
	sp, err = SplitURLCredential("https://***@example.org/a.git")
	if err != nil || sp.HasCredential || !sp.Stored {
		t.Errorf("marker: %+v, %v", sp.Redacted, err)
	}
	sp, err = SplitURLCredential("https://example.org/a.git")
	if err != nil || sp.HasCredential || sp.Stored || sp.Redacted != "https://example.org/a.git" {
		t.Errorf("no user info: %+v, %v", sp.Redacted, err)
	}
	for _, bad := range []string{"git://alice:pw-bad@example.org/a.git", "https://alice:pw-bad%0a@example.org/a.git", "https://:@example.org/a.git"} {
		if _, err := SplitURLCredential(bad); err == nil || strings.Contains(err.Error(), "pw-bad") {
			t.Errorf("SplitURLCredential(%q) = %v, want an error without the password", bad, err)
		}
	}
	if got := StripUserInfo("https://***@example.org/a.git"); got != "https://example.org/a.git" {
		t.Errorf("StripUserInfo(marker) = %q", got)
	}
	if got := StripUserInfo("https://alice:pw@example.org/a.git"); got != "https://example.org/a.git" {
		t.Errorf("StripUserInfo(credential) = %q", got)
	}
	if got := StripUserInfo("/srv/a@b"); got != "/srv/a@b" {
		t.Errorf("StripUserInfo(path) = %q", got)
	}
}

func TestContextValues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if a := ActorFrom(ctx); a != ActorInternal || !a.Admin {
		t.Errorf("no actor = %+v, want the internal admin", a)
	}
	if a := ActorFrom(WithActor(ctx, Actor{Name: "tool-token:x"})); a.Admin || a.Name != "tool-token:x" {
		t.Errorf("actor = %+v", a)
	}
	if _, ok := SourceScopeFrom(ctx); ok {
		t.Error("a scope in an empty context")
	}
	if sc, ok := SourceScopeFrom(WithSourceScope(ctx, SourceScope{Tool: "t"})); !ok || sc.Tool != "t" {
		t.Errorf("scope = %+v, %v", sc, ok)
	}
}

func TestActor_MayActOn(t *testing.T) {
	for _, c := range []struct {
		a  Actor
		on map[string]bool
	}{
		{ActorInternal, map[string]bool{"a": true, "b": true}},
		{Actor{Name: "admin", Admin: true}, map[string]bool{"a": true, "b": true}},
		{Actor{Name: "tool-token:x", Tool: "a"}, map[string]bool{"a": true, "b": false}},
		{Actor{Name: "tool-token:x"}, map[string]bool{"a": false, "": false}},
	} {
		for tool, want := range c.on {
			if got := c.a.MayActOn(tool); got != want {
				t.Errorf("%+v.MayActOn(%q) = %v, want %v", c.a, tool, got, want)
			}
		}
	}
}
