package slipway

import (
	"fmt"
	"strconv"
	"strings"
)

// ScheduleForms describes the valid schedules, for messages.
const ScheduleForms = `a cron expression with 5 fields (minute hour day-of-month month day-of-week, such as "*/5 * * * *") or one of @hourly, @daily, @weekly, @monthly, @yearly`

// CheckSchedule returns what is wrong with a scheduled component's
// schedule, or "": it must be a 5-field cron expression as a Kubernetes
// CronJob takes it (names for months and days, ranges, lists and steps; no
// seconds and no time zone) or one of the descriptors Toolforge allows.
// The reasons it gives for a bad cron expression are those of
// github.com/robfig/cron/v3, which the local target schedules with (a test
// in toolconfig holds the two to the same answers).
func CheckSchedule(s string) string {
	t := strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(t, "@"):
		switch t {
		case "@hourly", "@daily", "@weekly", "@monthly", "@yearly":
			return ""
		}
		return fmt.Sprintf("schedule must be %s, got %q", ScheduleForms, s)
	case strings.HasPrefix(t, "TZ=") || strings.HasPrefix(t, "CRON_TZ="):
		return fmt.Sprintf("schedule must be %s, got %q: time zones are not supported", ScheduleForms, s)
	}
	if err := checkCron(t); err != "" {
		return fmt.Sprintf("schedule must be %s, got %q: %s", ScheduleForms, s, err)
	}
	return ""
}

// cronField is the range of one cron field and its names.
type cronField struct {
	lo, hi int
	names  map[string]int
}

var cronFields = [5]cronField{
	{0, 59, nil}, // minute
	{0, 23, nil}, // hour
	{1, 31, nil}, // day of month
	{1, 12, map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
	}},
	{0, 6, map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}},
}

// checkCron returns what is wrong with a 5-field cron expression, or "".
func checkCron(spec string) string {
	if spec == "" {
		return "empty spec string"
	}
	fields := strings.Fields(spec)
	if len(fields) != len(cronFields) {
		return fmt.Sprintf("expected exactly %d fields, found %d: %v", len(cronFields), len(fields), fields)
	}
	for i, f := range fields {
		for expr := range strings.SplitSeq(f, ",") {
			if expr == "" {
				continue
			}
			if msg := checkCronRange(expr, cronFields[i]); msg != "" {
				return msg
			}
		}
	}
	return ""
}

// checkCronRange checks one item of a cron field's list: *, ?, a number or
// name, or a range, each maybe with a /step.
func checkCronRange(expr string, r cronField) string {
	rangeAndStep := strings.Split(expr, "/")
	lowAndHigh := strings.Split(rangeAndStep[0], "-")
	var start, end int
	if lowAndHigh[0] == "*" || lowAndHigh[0] == "?" {
		start, end = r.lo, r.hi
	} else {
		var msg string
		if start, msg = cronNumber(lowAndHigh[0], r.names); msg != "" {
			return msg
		}
		switch len(lowAndHigh) {
		case 1:
			end = start
		case 2:
			if end, msg = cronNumber(lowAndHigh[1], r.names); msg != "" {
				return msg
			}
		default:
			return "too many hyphens: " + expr
		}
	}
	step := 1
	switch len(rangeAndStep) {
	case 1:
	case 2:
		var msg string
		if step, msg = cronNumber(rangeAndStep[1], nil); msg != "" {
			return msg
		}
		if len(lowAndHigh) == 1 {
			end = r.hi // "N/step" means "N-max/step"
		}
	default:
		return "too many slashes: " + expr
	}
	switch {
	case start < r.lo:
		return fmt.Sprintf("beginning of range (%d) below minimum (%d): %s", start, r.lo, expr)
	case end > r.hi:
		return fmt.Sprintf("end of range (%d) above maximum (%d): %s", end, r.hi, expr)
	case start > end:
		return fmt.Sprintf("beginning of range (%d) beyond end of range (%d): %s", start, end, expr)
	case step == 0:
		return "step of range should be a positive number: " + expr
	}
	return ""
}

// cronNumber reads a non-negative number or one of names (in any case).
func cronNumber(s string, names map[string]int) (int, string) {
	if n, ok := names[strings.ToLower(s)]; ok {
		return n, ""
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return 0, fmt.Sprintf("failed to parse int from %s: %s", s, err)
	case n < 0:
		return 0, fmt.Sprintf("negative number (%d) not allowed: %s", n, s)
	}
	return n, ""
}
