package storetest

import (
	"testing"

	"slipway.dev/slipway/internal/store"
)

func testNode(t *testing.T, f Factory) {
	t.Parallel()

	// Ensure heartbeats insert, then replace; the list is by ID; deleting
	// forgets one, and an unknown one is no error.
	t.Run("BeatListDelete", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		diff(t, "NodeList of none", []store.Node{}, must(s.NodeList(b.ctx))(t))
		n2 := store.Node{ID: "n2", Host: "host-b", PID: 42, Target: "local", StartedAt: at(0).In(cet), SeenAt: at(1)}
		n1 := store.Node{ID: "n1", Host: "host-a", PID: 7, Target: "local", StartedAt: at(0), SeenAt: at(1)}
		mustDo(t, s.NodeBeat(b.ctx, n2))
		mustDo(t, s.NodeBeat(b.ctx, n1))
		n2.SeenAt = at(2)
		mustDo(t, s.NodeBeat(b.ctx, n2))
		diff(t, "NodeList", []store.Node{n1, n2}, must(s.NodeList(b.ctx))(t))
		mustDo(t, s.NodeDelete(b.ctx, "n1"))
		mustDo(t, s.NodeDelete(b.ctx, "n1"))
		diff(t, "NodeList after delete", []store.Node{n2}, must(s.NodeList(b.ctx))(t))
	})

	// Ensure the nodes lock exists and an unknown name is ErrNotFound.
	t.Run("NamedLock", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		mustDo(t, s.InTx(b.ctx, func(tx store.Tx) error { return tx.NamedLock(b.ctx, store.NodesLock) }))
		wantNotFound(t, "NamedLock(nope)", s.InTx(b.ctx, func(tx store.Tx) error { return tx.NamedLock(b.ctx, "nope") }))
	})

	// Ensure settings insert, replace and are ErrNotFound when missing.
	t.Run("Setting", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		_, err := s.SettingGet(b.ctx, "key_fingerprint")
		wantNotFound(t, "SettingGet of a missing setting", err)
		mustDo(t, s.SettingPut(b.ctx, "key_fingerprint", "a"))
		mustDo(t, s.SettingPut(b.ctx, "key_fingerprint", "b"))
		if v := must(s.SettingGet(b.ctx, "key_fingerprint"))(t); v != "b" {
			t.Errorf("SettingGet = %q, want b", v)
		}
	})
}
