package toolconfig_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/robfig/cron/v3"

	"slipway.dev/slipway/internal/slipway"
)

// cronParser parses schedules as the local target does.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// robfigSchedule is what a schedule check that asks robfig/cron says.
func robfigSchedule(s string) string {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "@") || strings.HasPrefix(t, "TZ=") || strings.HasPrefix(t, "CRON_TZ=") {
		return slipway.CheckSchedule(s) // no cron parsing involved
	}
	if _, err := cronParser.Parse(t); err != nil {
		return fmt.Sprintf("schedule must be %s, got %q: %v", slipway.ScheduleForms, s, err)
	}
	return ""
}

var scheduleSeeds = []string{
	"*/5 * * * *", "0 9 * JAN-mar mon-FRI", "", " ", "61 * * * *", "0 0 0 * *", "5-1 * * * *",
	"*/0 * * * *", "1-2-3 * * * *", "*/2/3 * * * *", "x * * * *", "-1 * * * *", "0,,5 * * * *",
	"? ? ? ? ?", "* * * *", "0 * * * * *", "1-70/0 * * * *", "*-3 * * * *", "0 0 * * 7", "0 0 * 13 *",
	"9999999999999999999999 * * * *", "0 0 1/31 * *", "sun * * * *", "0 0 * * sun-sat", ",,, * * * *",
}

// Ensure the domain's schedule check, which is stdlib only, says what
// robfig/cron, which the local target runs schedules with, says.
func TestCheckSchedule_AgreesWithCron(t *testing.T) {
	t.Parallel()
	for _, s := range scheduleSeeds {
		if got, want := slipway.CheckSchedule(s), robfigSchedule(s); got != want {
			t.Errorf("CheckSchedule(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzCheckSchedule(f *testing.F) {
	for _, s := range scheduleSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := slipway.CheckSchedule(s), robfigSchedule(s); got != want {
			t.Errorf("CheckSchedule(%q) = %q, want %q", s, got, want)
		}
	})
}
