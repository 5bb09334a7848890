package slipway

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseRetention reads a retention period as the server's flags take it:
// "0" (none: keep forever, or never remove automatically), a whole
// number of days ("365d"), or a Go duration ("720h", "90m"). It returns
// an error naming what is valid for anything else, a negative period
// included.
func ParseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("%q is not a retention period: want 0 (forever), whole days such as 365d, or a duration such as 720h", s)
	if s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*366 {
			return 0, bad
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, bad
	}
	return d, nil
}

// FormatRetention writes a retention period as ParseRetention reads it:
// "0", whole days as "365d", else a Go duration.
func FormatRetention(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// PrunedBuild is a build whose artifact artifact retention removed (or,
// in a dry run, would remove), with its record and log.
type PrunedBuild struct {
	Tool      string
	ID        string
	Key       string
	Component string
	Commit    string
	// Size is the artifact's size on disk in bytes (0 when the builder
	// cannot tell, e.g. an image).
	Size int64
	// FinishedAt is when the build ended.
	FinishedAt time.Time
}

// BuildPruneOptions narrow an artifact retention pass.
type BuildPruneOptions struct {
	// DryRun lists what would be removed and removes nothing.
	DryRun bool
	// OlderThan spares builds that ended less than this long ago; 0 spares
	// none; nil is the server's default (its artifact retention, or
	// [DefaultPruneAge] when that is off).
	OlderThan *time.Duration
}

// DefaultPruneAge is the age bound of an artifact retention pass asked for
// on a server whose automatic one is off.
const DefaultPruneAge = 7 * 24 * time.Hour

// BuildPrune is what an artifact retention pass removed: every successful
// build no live component runs, no unfinished deployment needs and no
// release that release retention keeps references, that ended before the
// pass's age bound.
type BuildPrune struct {
	DryRun  bool
	Removed []PrunedBuild
	// Bytes is the total size of the removed artifacts.
	Bytes int64
	// Kept counts the successful builds kept, and KeptReleased those of
	// them kept because a release in the window references them.
	Kept         int
	KeptReleased int
}

// FormatSize writes a size in bytes for people: "512 B", "1.5 KiB",
// "12.3 MiB", "2.0 GiB".
func FormatSize(bytes int64) string {
	if bytes < 1024 {
		return strconv.FormatInt(bytes, 10) + " B"
	}
	f, unit := float64(bytes)/1024, "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB", "PiB"} {
		if f < 1024 {
			break
		}
		f, unit = f/1024, u
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + unit
}
