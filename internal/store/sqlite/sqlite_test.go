package sqlite_test

import (
	"path/filepath"
	"sync"
	"testing"

	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/sqlite"
	"slipway.dev/slipway/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	var paths sync.Map // store.Store → path of its file

	open := func(t *testing.T, path string) store.Store {
		t.Helper()
		db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			if err := db.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		paths.Store(db, path)
		return db
	}
	factory := func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "slipway.db"))
	}
	restart := func(t *testing.T, s store.Store) store.Store {
		t.Helper()
		path, ok := paths.Load(s)
		if !ok {
			t.Fatalf("restart: store %p was not made by the factory", s)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("restart: Close: %v", err)
		}
		return open(t, path.(string))
	}
	storetest.Run(t, factory, restart)
}
