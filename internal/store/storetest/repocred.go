package storetest

import (
	"encoding/json"
	"errors"
	"testing"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// testRepoCredential checks the credentials of repository URLs and the
// recorded creator of config versions, both kept across a restart.
func testRepoCredential(t *testing.T, f Factory, rf RestartFactory) {
	t.Parallel()

	t.Run("PutGetPrune", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		const u1, u2 = "https://***@example.org/a.git", "https://***@example.org/b.git"
		_, err := s.RepoCredentialGet(b.ctx, "tool", u1)
		wantNotFound(t, "RepoCredentialGet of nothing", err)

		c1 := store.RepoCredential{Tool: "tool", URL: u1, Sealed: "sealed-1", UpdatedAt: at(1).In(cet)}
		c2 := store.RepoCredential{Tool: "tool", URL: u2, Sealed: "sealed-2", UpdatedAt: at(2)}
		other := store.RepoCredential{Tool: "other", URL: u1, Sealed: "sealed-o", UpdatedAt: at(3)}
		for _, c := range []store.RepoCredential{c1, c2, other} {
			mustDo(t, s.RepoCredentialPut(b.ctx, c))
		}
		diff(t, "RepoCredentialGet(tool, u1)", c1, must(s.RepoCredentialGet(b.ctx, "tool", u1))(t))
		diff(t, "RepoCredentialGet(other, u1)", other, must(s.RepoCredentialGet(b.ctx, "other", u1))(t))

		// Put replaces.
		c1b := store.RepoCredential{Tool: "tool", URL: u1, Sealed: "sealed-1b", UpdatedAt: at(4)}
		mustDo(t, s.RepoCredentialPut(b.ctx, c1b))
		diff(t, "RepoCredentialGet after replace", c1b, must(s.RepoCredentialGet(b.ctx, "tool", u1))(t))
		if err := s.RepoCredentialPut(b.ctx, store.RepoCredential{Tool: "tool", URL: u1}); err == nil {
			t.Error("RepoCredentialPut with nothing sealed: no error")
		}

		// Prune keeps what is named, and only touches its own tool.
		if n := must(s.RepoCredentialPrune(b.ctx, "tool", []string{u2}))(t); n != 1 {
			t.Errorf("RepoCredentialPrune(keep u2) = %d, want 1", n)
		}
		_, err = s.RepoCredentialGet(b.ctx, "tool", u1)
		wantNotFound(t, "RepoCredentialGet of a pruned credential", err)
		diff(t, "RepoCredentialGet(tool, u2) after prune", c2, must(s.RepoCredentialGet(b.ctx, "tool", u2))(t))
		if n := must(s.RepoCredentialPrune(b.ctx, "tool", nil))(t); n != 1 {
			t.Errorf("RepoCredentialPrune(keep nothing) = %d, want 1", n)
		}
		diff(t, "RepoCredentialGet(other) after pruning tool", other, must(s.RepoCredentialGet(b.ctx, "other", u1))(t))
	})

	t.Run("RolledBack", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		boom := errors.New("boom")
		err := s.InTx(b.ctx, func(tx store.Tx) error {
			if err := tx.RepoCredentialPut(b.ctx, store.RepoCredential{Tool: "tool", URL: "u", Sealed: "s", UpdatedAt: at(1)}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want boom", err)
		}
		_, err = s.RepoCredentialGet(b.ctx, "tool", "u")
		wantNotFound(t, "RepoCredentialGet after a rollback", err)
	})

	t.Run("ConfigCreator", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		raw := json.RawMessage(`{"components":{}}`)
		must(s.ConfigCreate(b.ctx, "tool", raw, at(1)))(t)
		v := must(s.ConfigCreateBy(b.ctx, "tool", raw, slipway.Actor{Name: "admin", Admin: true}, at(2)))(t)
		if v != 2 {
			t.Errorf("ConfigCreateBy version = %d, want 2", v)
		}
		must(s.ConfigCreateBy(b.ctx, "tool", raw, slipway.Actor{Name: "tool-token:abc"}, at(3)))(t)
		check := func(s store.Store, when string) {
			t.Helper()
			for _, c := range []struct {
				version int
				by      string
				admin   bool
			}{{1, "", false}, {2, "admin", true}, {3, "tool-token:abc", false}} {
				got := must(s.ConfigGet(b.ctx, "tool", c.version))(t)
				if got.CreatedBy != c.by || got.CreatedByAdmin != c.admin {
					t.Errorf("%s: version %d created by %q (admin %v), want %q (admin %v)", when, c.version, got.CreatedBy, got.CreatedByAdmin, c.by, c.admin)
				}
			}
			latest := must(s.ConfigGetLatest(b.ctx, "tool"))(t)
			if latest.CreatedBy != "tool-token:abc" || latest.CreatedByAdmin {
				t.Errorf("%s: latest created by %q (admin %v)", when, latest.CreatedBy, latest.CreatedByAdmin)
			}
		}
		check(s, "before restart")
		c := store.RepoCredential{Tool: "tool", URL: "https://***@h/r.git", Sealed: "s", UpdatedAt: at(4)}
		mustDo(t, s.RepoCredentialPut(b.ctx, c))
		s2 := rf(t, s)
		t.Cleanup(func() { _ = s2.Close() })
		check(s2, "after restart")
		diff(t, "RepoCredentialGet after restart", c, must(s2.RepoCredentialGet(b.ctx, "tool", c.URL))(t))
	})
}
