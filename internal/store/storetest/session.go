package storetest

import (
	"testing"

	"slipway.dev/slipway/internal/store"
)

func testSession(t *testing.T, f Factory) {
	t.Parallel()

	t.Run("CreateGetTouchDelete", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		_, err := s.SessionGet(b.ctx, "nope")
		wantNotFound(t, "SessionGet of an unknown hash", err)
		wantNotFound(t, "SessionTouch of an unknown hash", s.SessionTouch(b.ctx, "nope", at(1)))
		mustDo(t, s.SessionDelete(b.ctx, "nope")) // deleting none is no error

		admin := store.Session{
			IDHash: "h-admin", Credential: "admin", Admin: true, CSRFSecret: "c1",
			CreatedAt: at(0).In(cet), LastSeenAt: at(0), ExpiresAt: at(720),
		}
		tool := store.Session{
			IDHash: "h-tool", Credential: "tool-token:t1", Tool: "one", CSRFSecret: "c2",
			CreatedAt: at(1), LastSeenAt: at(1), ExpiresAt: at(721),
		}
		mustDo(t, s.SessionCreate(b.ctx, admin))
		mustDo(t, s.SessionCreate(b.ctx, tool))
		if err := s.SessionCreate(b.ctx, store.Session{
			IDHash: "h-admin", Credential: "x", CSRFSecret: "c",
			CreatedAt: at(2), LastSeenAt: at(2), ExpiresAt: at(3),
		}); err == nil {
			t.Error("SessionCreate with an existing hash: no error")
		}
		if err := s.SessionCreate(b.ctx, store.Session{IDHash: "h-x", Credential: "x"}); err == nil {
			t.Error("SessionCreate without times: no error")
		}
		diff(t, "SessionGet(admin)", admin, must(s.SessionGet(b.ctx, "h-admin"))(t))
		diff(t, "SessionGet(tool)", tool, must(s.SessionGet(b.ctx, "h-tool"))(t))

		mustDo(t, s.SessionTouch(b.ctx, "h-tool", at(30)))
		tool.LastSeenAt = at(30)
		diff(t, "SessionGet after SessionTouch", tool, must(s.SessionGet(b.ctx, "h-tool"))(t))

		mustDo(t, s.SessionDelete(b.ctx, "h-admin"))
		_, err = s.SessionGet(b.ctx, "h-admin")
		wantNotFound(t, "SessionGet after SessionDelete", err)
		diff(t, "SessionGet(tool) after deleting another", tool, must(s.SessionGet(b.ctx, "h-tool"))(t))
	})

	t.Run("DeleteByCredential", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		for i, c := range []string{"tool-token:a", "tool-token:a", "tool-token:b", "admin"} {
			mustDo(t, s.SessionCreate(b.ctx, store.Session{
				IDHash: "h" + string(rune('0'+i)), Credential: c, Tool: "one",
				CSRFSecret: "c", CreatedAt: at(0), LastSeenAt: at(0), ExpiresAt: at(720),
			}))
		}
		diff(t, "SessionDeleteByCredential(a)", 2, must(s.SessionDeleteByCredential(b.ctx, "tool-token:a"))(t))
		diff(t, "SessionDeleteByCredential(a) again", 0, must(s.SessionDeleteByCredential(b.ctx, "tool-token:a"))(t))
		for _, h := range []string{"h0", "h1"} {
			_, err := s.SessionGet(b.ctx, h)
			wantNotFound(t, "SessionGet of a session of the deleted credential", err)
		}
		for _, h := range []string{"h2", "h3"} {
			if _, err := s.SessionGet(b.ctx, h); err != nil {
				t.Errorf("SessionGet(%s) of another credential's session: %v", h, err)
			}
		}
	})

	t.Run("Prune", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		sessions := map[string]store.Session{
			"expired": {ExpiresAt: at(100), LastSeenAt: at(99)},
			"idle":    {ExpiresAt: at(700), LastSeenAt: at(9)},
			"fresh":   {ExpiresAt: at(700), LastSeenAt: at(10)},
			"edge":    {ExpiresAt: at(101), LastSeenAt: at(50)},
		}
		for h, ses := range sessions {
			ses.IDHash, ses.Credential, ses.CSRFSecret, ses.CreatedAt = h, "admin", "c", at(0)
			mustDo(t, s.SessionCreate(b.ctx, ses))
		}
		// Now is minute 100; sessions idle since before minute 10 go.
		diff(t, "SessionPrune", 2, must(s.SessionPrune(b.ctx, at(100), at(10)))(t))
		for h := range sessions {
			_, err := s.SessionGet(b.ctx, h)
			if h == "expired" || h == "idle" {
				wantNotFound(t, "SessionGet of pruned "+h, err)
			} else if err != nil {
				t.Errorf("SessionGet(%s) after prune: %v", h, err)
			}
		}
	})

	t.Run("InTx", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		ses := store.Session{IDHash: "h", Credential: "admin", Admin: true, CSRFSecret: "c", CreatedAt: at(0), LastSeenAt: at(0), ExpiresAt: at(1)}
		mustDo(t, s.InTx(b.ctx, func(tx store.Tx) error {
			if err := tx.SessionCreate(b.ctx, ses); err != nil {
				return err
			}
			if _, err := tx.SessionDeleteByCredential(b.ctx, "admin"); err != nil {
				return err
			}
			_, err := tx.SessionGet(b.ctx, "h")
			wantNotFound(t, "SessionGet in the transaction after deleting", err)
			return tx.SessionCreate(b.ctx, ses)
		}))
		diff(t, "SessionGet after commit", ses, must(s.SessionGet(b.ctx, "h"))(t))
	})
}
