package target

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/robfig/cron/v3"
)

// cronParser parses the 5-field schedules every driver runs.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// ActualSchedule returns the concrete 5-field cron expression of schedule
// for a tool's component: Toolforge macros (@hourly, @daily, @weekly,
// @monthly, @yearly) get minute, hour, day and month fields chosen
// pseudo-randomly but stably from "<tool> <component>" (Toolforge's
// schedule_actual); any other schedule is returned as given after
// validation.
func ActualSchedule(tool, component, schedule string) (string, error) {
	schedule = strings.TrimSpace(schedule)
	sum := sha256.Sum256([]byte(tool + " " + component))
	rnd := rand.New(rand.NewPCG(binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:16]))) //nolint:gosec // deterministic spread of schedule times (jitter), not security
	minute, hour := rnd.IntN(60), rnd.IntN(24)
	dow, dom, month := rnd.IntN(7), 1+rnd.IntN(28), 1+rnd.IntN(12)
	var expr string
	switch schedule {
	case "@hourly":
		expr = fmt.Sprintf("%d * * * *", minute)
	case "@daily":
		expr = fmt.Sprintf("%d %d * * *", minute, hour)
	case "@weekly":
		expr = fmt.Sprintf("%d %d * * %d", minute, hour, dow)
	case "@monthly":
		expr = fmt.Sprintf("%d %d %d * *", minute, hour, dom)
	case "@yearly", "@annually":
		expr = fmt.Sprintf("%d %d %d %d *", minute, hour, dom, month)
	default:
		if strings.HasPrefix(schedule, "@") || len(strings.Fields(schedule)) != 5 {
			return "", fmt.Errorf("schedule %q: want 5 cron fields or a macro", schedule)
		}
		expr = schedule
	}
	if _, err := cronParser.Parse(expr); err != nil {
		return "", fmt.Errorf("schedule %q: %w", schedule, err)
	}
	return expr, nil
}
