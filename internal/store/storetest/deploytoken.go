package storetest

import (
	"testing"

	"slipway.dev/slipway/internal/store"
)

func testDeployToken(t *testing.T, f Factory) {
	t.Parallel()

	t.Run("PutGetDelete", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		_, err := s.DeployTokenGet(b.ctx, "tool")
		wantNotFound(t, "DeployTokenGet of a tool without a token", err)
		wantNotFound(t, "DeployTokenDelete of a tool without a token", s.DeployTokenDelete(b.ctx, "tool"))

		tok := store.DeployToken{Tool: "tool", Hash: "hash-1", CreatedAt: at(1).In(cet)}
		other := store.DeployToken{Tool: "other", Hash: "hash-o", CreatedAt: at(2)}
		mustDo(t, s.DeployTokenPut(b.ctx, tok))
		mustDo(t, s.DeployTokenPut(b.ctx, other))
		diff(t, "DeployTokenGet", tok, must(s.DeployTokenGet(b.ctx, "tool"))(t))
		diff(t, "DeployTokenGet(other)", other, must(s.DeployTokenGet(b.ctx, "other"))(t))

		// Put replaces.
		tok2 := store.DeployToken{Tool: "tool", Hash: "hash-2", CreatedAt: at(3)}
		mustDo(t, s.DeployTokenPut(b.ctx, tok2))
		diff(t, "DeployTokenGet after replace", tok2, must(s.DeployTokenGet(b.ctx, "tool"))(t))

		mustDo(t, s.DeployTokenDelete(b.ctx, "tool"))
		_, err = s.DeployTokenGet(b.ctx, "tool")
		wantNotFound(t, "DeployTokenGet after delete", err)
		wantNotFound(t, "second DeployTokenDelete", s.DeployTokenDelete(b.ctx, "tool"))
		diff(t, "DeployTokenGet(other) after deleting tool's", other, must(s.DeployTokenGet(b.ctx, "other"))(t))
	})

	t.Run("InTx", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		tok := store.DeployToken{Tool: "tool", Hash: "h", CreatedAt: at(1)}
		mustDo(t, s.InTx(b.ctx, func(tx store.Tx) error {
			if err := tx.DeployTokenPut(b.ctx, tok); err != nil {
				return err
			}
			got, err := tx.DeployTokenGet(b.ctx, "tool")
			if err != nil {
				return err
			}
			diff(t, "DeployTokenGet in the transaction", tok, got)
			return nil
		}))
		diff(t, "DeployTokenGet after commit", tok, must(s.DeployTokenGet(b.ctx, "tool"))(t))
	})
}
