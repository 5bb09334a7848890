package storetest

import (
	"testing"
	"time"

	"slipway.dev/slipway/internal/store"
)

// envVar returns an envvar row; the store treats Sealed as opaque text.
func envVar(tool, name, sealed string, updated time.Time) store.EnvVar {
	return store.EnvVar{Tool: tool, Name: name, Sealed: sealed, UpdatedAt: updated}
}

func testEnvVar(t *testing.T, f Factory) {
	t.Parallel()

	t.Run("PutGetListDelete", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		diff(t, "EnvVarList of a tool without envvars", []store.EnvVar{}, must(s.EnvVarList(b.ctx, "tool"))(t))
		_, err := s.EnvVarGet(b.ctx, "tool", "API_KEY")
		wantNotFound(t, "EnvVarGet of a missing envvar", err)
		wantNotFound(t, "EnvVarDelete of a missing envvar", s.EnvVarDelete(b.ctx, "tool", "API_KEY"))

		key := envVar("tool", "API_KEY", "sealed-key", at(1).In(cet))
		db := envVar("tool", "DB_URL", "sealed-db", at(2))
		mustDo(t, s.EnvVarPut(b.ctx, db))
		mustDo(t, s.EnvVarPut(b.ctx, key))
		diff(t, "EnvVarGet", key, must(s.EnvVarGet(b.ctx, "tool", "API_KEY"))(t))
		diff(t, "EnvVarList (by name)", []store.EnvVar{key, db}, must(s.EnvVarList(b.ctx, "tool"))(t))

		// Put replaces.
		key2 := envVar("tool", "API_KEY", "sealed-key-2", at(3))
		mustDo(t, s.EnvVarPut(b.ctx, key2))
		diff(t, "EnvVarGet after replace", key2, must(s.EnvVarGet(b.ctx, "tool", "API_KEY"))(t))
		diff(t, "EnvVarList after replace", []store.EnvVar{key2, db}, must(s.EnvVarList(b.ctx, "tool"))(t))

		mustDo(t, s.EnvVarDelete(b.ctx, "tool", "API_KEY"))
		_, err = s.EnvVarGet(b.ctx, "tool", "API_KEY")
		wantNotFound(t, "EnvVarGet after delete", err)
		wantNotFound(t, "second EnvVarDelete", s.EnvVarDelete(b.ctx, "tool", "API_KEY"))
		diff(t, "EnvVarList after delete", []store.EnvVar{db}, must(s.EnvVarList(b.ctx, "tool"))(t))
	})

	t.Run("NoTimeIsAnError", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		if err := s.EnvVarPut(b.ctx, store.EnvVar{Tool: "tool", Name: "API_KEY", Sealed: "x"}); err == nil {
			t.Error("EnvVarPut without an update time succeeded")
		}
		diff(t, "EnvVarList after the refused put", []store.EnvVar{}, must(s.EnvVarList(b.ctx, "tool"))(t))
	})

	// One tool's envvars are invisible to another tool, and the same name in
	// two tools is two envvars: neither a read, a list, a replace nor a
	// delete crosses over.
	t.Run("CrossToolIsolation", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		a := envVar("tool-a", "API_KEY", "sealed-a", at(1))
		bv := envVar("tool-b", "API_KEY", "sealed-b", at(2))
		bOnly := envVar("tool-b", "ONLY_B", "sealed-only-b", at(3))
		for _, v := range []store.EnvVar{a, bv, bOnly} {
			mustDo(t, s.EnvVarPut(b.ctx, v))
		}
		diff(t, "EnvVarList(tool-a)", []store.EnvVar{a}, must(s.EnvVarList(b.ctx, "tool-a"))(t))
		diff(t, "EnvVarList(tool-b)", []store.EnvVar{bv, bOnly}, must(s.EnvVarList(b.ctx, "tool-b"))(t))
		_, err := s.EnvVarGet(b.ctx, "tool-a", "ONLY_B")
		wantNotFound(t, "EnvVarGet of tool-b's name in tool-a", err)
		wantNotFound(t, "EnvVarDelete of tool-b's name in tool-a", s.EnvVarDelete(b.ctx, "tool-a", "ONLY_B"))

		mustDo(t, s.EnvVarPut(b.ctx, envVar("tool-a", "API_KEY", "sealed-a2", at(4))))
		diff(t, "tool-b's API_KEY after tool-a replaced its own", bv, must(s.EnvVarGet(b.ctx, "tool-b", "API_KEY"))(t))
		mustDo(t, s.EnvVarDelete(b.ctx, "tool-a", "API_KEY"))
		diff(t, "tool-b's envvars after tool-a deleted its API_KEY", []store.EnvVar{bv, bOnly}, must(s.EnvVarList(b.ctx, "tool-b"))(t))
		diff(t, "EnvVarList(tool-a) after delete", []store.EnvVar{}, must(s.EnvVarList(b.ctx, "tool-a"))(t))
	})

	t.Run("InTx", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		v := envVar("tool", "API_KEY", "sealed", at(1))
		mustDo(t, s.InTx(b.ctx, func(tx store.Tx) error {
			if err := tx.EnvVarPut(b.ctx, v); err != nil {
				return err
			}
			got, err := tx.EnvVarList(b.ctx, "tool")
			if err != nil {
				return err
			}
			diff(t, "EnvVarList in the transaction", []store.EnvVar{v}, got)
			return nil
		}))
		diff(t, "EnvVarGet after commit", v, must(s.EnvVarGet(b.ctx, "tool", "API_KEY"))(t))

		// A transaction that fails leaves nothing behind.
		failed := envVar("tool", "LOST_ONE", "sealed", at(2))
		err := s.InTx(b.ctx, func(tx store.Tx) error {
			if err := tx.EnvVarPut(b.ctx, failed); err != nil {
				return err
			}
			if err := tx.EnvVarDelete(b.ctx, "tool", "API_KEY"); err != nil {
				return err
			}
			return errRollback
		})
		if err == nil {
			t.Fatal("InTx returned nil for a failing function")
		}
		diff(t, "EnvVarList after a rolled back transaction", []store.EnvVar{v}, must(s.EnvVarList(b.ctx, "tool"))(t))
	})

	t.Run("LegacyDeployTokenSeals", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		// A new store has none (migration 0006 fills the table only from
		// tokens sealed by an older schema; see the sqlite migration test).
		diff(t, "LegacyDeployTokenSeals of a new store", []store.LegacyDeployTokenSeal{}, must(s.LegacyDeployTokenSeals(b.ctx))(t))
		mustDo(t, s.LegacyDeployTokenSealDelete(b.ctx, "tool"))
	})
}
