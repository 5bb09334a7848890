package storetest

import (
	"testing"

	"slipway.dev/slipway/internal/store"
)

func testAPIToken(t *testing.T, f Factory) {
	t.Parallel()

	t.Run("CreateGetListDelete", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		_, err := s.APITokenByHash(b.ctx, "nope")
		wantNotFound(t, "APITokenByHash of an unknown hash", err)
		wantNotFound(t, "APITokenDelete of an unknown id", s.APITokenDelete(b.ctx, "nope"))
		diff(t, "APITokenList of nothing", []store.APIToken{}, must(s.APITokenList(b.ctx, ""))(t))

		a1 := store.APIToken{ID: "a1", Tool: "one", Hash: "h-a1", Description: "CI", CreatedAt: at(1).In(cet)}
		a2 := store.APIToken{ID: "a2", Tool: "two", Hash: "h-a2", Description: "", CreatedAt: at(2), LastUsedAt: at(3)}
		a3 := store.APIToken{ID: "a3", Tool: "one", Hash: "h-a3", Description: "laptop", CreatedAt: at(3)}
		for _, tok := range []store.APIToken{a1, a2, a3} {
			mustDo(t, s.APITokenCreate(b.ctx, tok))
		}
		if err := s.APITokenCreate(b.ctx, store.APIToken{ID: "a1", Tool: "x", Hash: "h-new", CreatedAt: at(4)}); err == nil {
			t.Error("APITokenCreate with an existing id: no error")
		}
		if err := s.APITokenCreate(b.ctx, store.APIToken{ID: "a4", Tool: "x", Hash: "h-a1", CreatedAt: at(4)}); err == nil {
			t.Error("APITokenCreate with an existing hash: no error")
		}
		diff(t, "APITokenByHash", a1, must(s.APITokenByHash(b.ctx, "h-a1"))(t))
		diff(t, "APITokenByHash(a2)", a2, must(s.APITokenByHash(b.ctx, "h-a2"))(t))
		diff(t, "APITokenList(all)", []store.APIToken{a1, a2, a3}, must(s.APITokenList(b.ctx, ""))(t))
		diff(t, "APITokenList(one)", []store.APIToken{a1, a3}, must(s.APITokenList(b.ctx, "one"))(t))
		diff(t, "APITokenList(none)", []store.APIToken{}, must(s.APITokenList(b.ctx, "none"))(t))

		mustDo(t, s.APITokenDelete(b.ctx, "a1"))
		_, err = s.APITokenByHash(b.ctx, "h-a1")
		wantNotFound(t, "APITokenByHash after delete", err)
		wantNotFound(t, "second APITokenDelete", s.APITokenDelete(b.ctx, "a1"))
		diff(t, "APITokenList(one) after delete", []store.APIToken{a3}, must(s.APITokenList(b.ctx, "one"))(t))
	})

	t.Run("InTx", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		tok := store.APIToken{ID: "a1", Tool: "tool", Hash: "h", Description: "d", CreatedAt: at(1)}
		mustDo(t, s.InTx(b.ctx, func(tx store.Tx) error {
			if err := tx.APITokenCreate(b.ctx, tok); err != nil {
				return err
			}
			got, err := tx.APITokenByHash(b.ctx, "h")
			if err != nil {
				return err
			}
			diff(t, "APITokenByHash in the transaction", tok, got)
			return nil
		}))
		diff(t, "APITokenByHash after commit", tok, must(s.APITokenByHash(b.ctx, "h"))(t))
	})
}
