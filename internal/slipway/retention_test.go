package slipway

import (
	"strings"
	"testing"
	"time"
)

// Ensure retention periods read 0, days and Go durations, refuse
// anything else with what is valid, and print back as they are read.
func TestParseRetention(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"0": 0, "365d": 365 * 24 * time.Hour, "1d": 24 * time.Hour, "720h": 720 * time.Hour, "90m": 90 * time.Minute, "\t7d\n": 7 * 24 * time.Hour,
	} {
		got, err := ParseRetention(in)
		if err != nil || got != want {
			t.Errorf("ParseRetention(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "forever", "-1d", "-5m", "1.5d", "d", "7 days", "99999999d"} {
		if _, err := ParseRetention(in); err == nil || !strings.Contains(err.Error(), "want 0 (forever), whole days such as 365d") {
			t.Errorf("ParseRetention(%q) = %v, want an error saying what is valid", in, err)
		}
	}
	for in, want := range map[time.Duration]string{0: "0", 365 * 24 * time.Hour: "365d", 90 * time.Minute: "1h30m0s"} {
		if got := FormatRetention(in); got != want {
			t.Errorf("FormatRetention(%v) = %q, want %q", in, got, want)
		}
		if back, err := ParseRetention(FormatRetention(in)); err != nil || back != in {
			t.Errorf("ParseRetention(FormatRetention(%v)) = %v, %v", in, back, err)
		}
	}
}

func TestFormatSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 12900000: "12.3 MiB", 2 << 30: "2.0 GiB", 3 << 40: "3.0 TiB"} {
		if got := FormatSize(in); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", in, got, want)
		}
	}
}
