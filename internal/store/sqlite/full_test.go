package sqlite_test

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/sqlite"
)

// Ensure a write that finds the database unable to grow (SQLITE_FULL, made
// here with max_page_count, as a full disk makes it) is an unavailable
// error saying the disk is full, inside a transaction and outside, and
// that what was stored before is intact.
func TestDB_DiskFull(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, now := t.Context(), time.Now()
	if err := db.ToolEnsure(ctx, "tool1", now); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ConfigCreate(ctx, "tool1", json.RawMessage(`{"components":{}}`), now); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := db.WriteDB().QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := db.WriteDB().ExecContext(ctx, "PRAGMA max_page_count = "+strconv.Itoa(pages)); err != nil {
		t.Fatal(err)
	}
	big := json.RawMessage(`{"components":{},"x":"` + strings.Repeat("x", 1<<20) + `"}`)
	check := func(what string, err error) {
		t.Helper()
		if slipway.ErrorCode(err) != slipway.EUnavailable || !strings.Contains(slipway.ErrorMessage(err), "The server's disk is full") {
			t.Errorf("%s on a full database = %v; want unavailable, the disk is full", what, err)
		}
	}
	_, err = db.ConfigCreate(ctx, "tool1", big, now)
	check("ConfigCreate", err)
	check("InTx", db.InTx(ctx, func(tx store.Tx) error {
		_, err := tx.ConfigCreate(ctx, "tool1", big, now)
		return err
	}))
	if _, err := db.WriteDB().ExecContext(ctx, "PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	c, err := db.ConfigGetLatest(ctx, "tool1")
	if err != nil || c.Version != 1 {
		t.Errorf("the config stored before: %+v, %v", c, err)
	}
	var res string
	if err := db.WriteDB().QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Errorf("integrity_check = %q, %v", res, err)
	}
}
