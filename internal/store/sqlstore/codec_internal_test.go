package sqlstore

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// Ensure the fast time decoder agrees with time.Parse on what encTime
// writes, and leaves every other form to it.
func TestParseTimeFast(t *testing.T) {
	t.Parallel()
	for _, tm := range []time.Time{
		time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("CET", 3600)),
		time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
	} {
		v := encTime(tm).(string)
		got, ok := parseTimeFast(v)
		if !ok || !got.Equal(tm) || got.Location() != time.UTC {
			t.Errorf("parseTimeFast(%q) = %v, %v; want %v in UTC", v, got, ok, tm)
		}
	}
	for _, v := range []string{
		"2025-06-01T12:00:00Z", "2025-06-01T12:00:00.123456789+01:00", "2025-02-30T00:00:00.000000000Z",
		"2025-13-01T00:00:00.000000000Z", "2025-06-01T24:00:00.000000000Z", "2025-06-01 12:00:00.000000000Z",
		"2025-06-01T12:00:00.00000000xZ", "",
	} {
		if got, ok := parseTimeFast(v); ok {
			t.Errorf("parseTimeFast(%q) = %v, true; want it left to time.Parse", v, got)
		}
	}
}

// Ensure the fast needs decoder agrees with encoding/json on what
// encNeeds writes, and leaves every other form to it.
func TestSplitNeeds(t *testing.T) {
	t.Parallel()
	for _, needs := range [][]string{{}, {"build:web"}, {"build:web", "run:db", "run:cache"}, {"a,b"}, {`q"uote`}, {"<tag>"}, {"é"}} {
		enc, err := encNeeds(needs)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		if err := json.Unmarshal([]byte(enc.(string)), &want); err != nil {
			t.Fatal(err)
		}
		if got, ok := splitNeeds(enc.(string)); ok && !slices.Equal(got, want) {
			t.Errorf("splitNeeds(%s) = %q, want %q", enc, got, want)
		}
	}
	if got, ok := splitNeeds(`["build:web","run:db"]`); !ok || !slices.Equal(got, []string{"build:web", "run:db"}) {
		t.Errorf("splitNeeds of plain keys = %q, %v; want them, true", got, ok)
	}
	for _, v := range []string{`["a", "b"]`, `["a\"b"]`, `["a,b"]`, `[1]`, `{}`, `[`} {
		if got, ok := splitNeeds(v); ok {
			t.Errorf("splitNeeds(%s) = %q, true; want it left to encoding/json", v, got)
		}
	}
}
