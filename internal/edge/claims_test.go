package edge_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/edge"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/sqlite"
)

// openStore opens a SQLite store in a temporary directory.
func openStore(t *testing.T) store.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func newDomains(t *testing.T, st store.Store, allowed ...string) *edge.Domains {
	t.Helper()
	d, err := edge.NewDomains(t.Context(), st, edge.DomainConfig{AppsDomain: "apps.test", AllowedDomains: allowed},
		func() time.Time { return time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC) }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewDomains: %v", err)
	}
	return d
}

func as(t *testing.T, tool string) context.Context {
	if tool == "" {
		return slipway.WithActor(t.Context(), slipway.Actor{Name: "admin", Admin: true})
	}
	return slipway.WithActor(t.Context(), slipway.Actor{Name: "tool-token:" + tool, Tool: tool})
}

// Ensure the claim rules: allowed suffixes for a tool's own token, the
// apps domain only under the tool's own name, no overlap with another
// tool's names (409, owner-neutral), nothing stored on a refusal; and
// that Lookup serves what was claimed, from every server of the store.
func TestDomains_Add(t *testing.T) {
	st := openStore(t)
	d := newDomains(t, st, "example.org")
	other := newDomains(t, st, "example.org") // a second server of the store

	if _, err := d.Add(as(t, "alpha"), "alpha", "www.example.org"); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if _, err := d.Add(as(t, "alpha"), "alpha", "www.alpha.apps.test"); err != nil {
		t.Fatalf("Add under its own apps name: %v", err)
	}
	if got, ok := d.Lookup("WWW.Example.org.:443"); !ok || got != "alpha" {
		t.Errorf("Lookup(www.example.org) = %q, %v", got, ok)
	}
	if got, ok := d.Lookup("beta--staging.apps.test"); !ok || got != "beta--staging" {
		t.Errorf("Lookup(apps domain) = %q, %v", got, ok)
	}
	if _, ok := other.Lookup("www.example.org"); ok {
		t.Error("the other server knew the name before reloading")
	}
	if err := other.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, ok := other.Lookup("www.example.org"); !ok || got != "alpha" {
		t.Errorf("other server's Lookup after Reload = %q, %v", got, ok)
	}

	for _, c := range []struct {
		ctx        context.Context
		tool, name string
		code, msg  string
	}{
		{as(t, "beta"), "beta", "www.example.org", slipway.EConflict, "another tool uses"},
		{as(t, "beta"), "beta", "a.www.example.org", slipway.EConflict, "another tool uses"},
		{as(t, ""), "beta", "example.org", slipway.EConflict, "another tool uses"},
		{as(t, "alpha"), "alpha", "www.example.org", slipway.EConflict, "already one of tool alpha's"},
		{as(t, "beta"), "beta", "x.alpha.apps.test", slipway.EForbidden, "under the apps domain"},
		{as(t, ""), "beta", "alpha.apps.test", slipway.EForbidden, "under the apps domain"},
		{as(t, "beta"), "beta", "beta.apps.test", slipway.EForbidden, "which it already has"},
		{as(t, "beta"), "beta", "apps.test", slipway.EForbidden, "under the apps domain"},
		{as(t, "beta"), "beta", "example.net", slipway.EForbidden, "not under a domain tools may claim here (example.org)"},
		{as(t, "beta"), "beta", "badexample.org", slipway.EForbidden, "not under a domain"},
		{as(t, "beta"), "alpha", "b.example.org", slipway.EForbidden, "not yours"},
		{as(t, "beta"), "beta", "Www.Example.org", slipway.EInvalid, "name: "},
		{as(t, "beta"), "beta", "b.example.org.", slipway.EInvalid, "trailing dot"},
		{as(t, "beta"), "beta", "*.example.org", slipway.EInvalid, "wildcard"},
		{as(t, "beta"), "beta", "bücher.example.org", slipway.EInvalid, "xn--"},
		{as(t, "beta"), "Beta", "b.example.org", slipway.EInvalid, "Tool name"},
	} {
		_, err := d.Add(c.ctx, c.tool, c.name)
		if slipway.ErrorCode(err) != c.code || err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Add(%s, %q) = %v, want %s saying %q", c.tool, c.name, err, c.code, c.msg)
		}
		if strings.Contains(err.Error(), "alpha") && c.tool != "alpha" && c.code == slipway.EConflict {
			t.Errorf("Add(%s, %q) names the owner: %v", c.tool, c.name, err)
		}
	}
	all, err := st.DomainList(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Errorf("stored after the refusals: %v, want alpha's two", all)
	}

	// The admin may claim outside the allowed domains; removing frees the
	// name for another tool.
	if _, err := d.Add(as(t, ""), "beta", "beta.example.net"); err != nil {
		t.Fatalf("admin Add: %v", err)
	}
	if err := d.Remove(as(t, "beta"), "beta", "www.example.org"); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("Remove of another tool's = %v, want ENotFound", err)
	}
	if err := d.Remove(as(t, "alpha"), "alpha", "www.example.org"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, ok := d.Lookup("www.example.org"); ok {
		t.Error("Lookup still serves a removed name")
	}
	if _, err := d.Add(as(t, "beta"), "beta", "www.example.org"); err != nil {
		t.Errorf("Add of a freed name: %v", err)
	}
}
