package slipwaytest

import "regexp"

// volatile are what changes from run to run in the answers and output of
// a real server, each with what [Normalise] puts in its place.
var volatile = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`), "<time>"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC`), "<time>"},
	{regexp.MustCompile(`\d{8}-\d{6}-[a-z0-9]{10}`), "<deploy-id>"},
	{regexp.MustCompile(`builds/[0-9a-f]{16}`), "builds/<key>"},
	{regexp.MustCompile(`\b[0-9a-f]{40}\b`), "<commit>"},
	{regexp.MustCompile(`\b([a-z0-9-]+)-[0-9a-f]{8}\b`), "$1-<run>"},
	{regexp.MustCompile(`pid \d+`), "pid <pid>"},
	{regexp.MustCompile(`\b(\d+h)?(\d+m)?\d+(\.\d+)?(ns|µs|ms|s)\b`), "<duration>"},
}

// Normalise replaces the parts of s that change from run to run (times,
// deployment IDs, build keys, commits, run suffixes, pids, durations) by
// placeholders, for golden files.
func Normalise(s string) string {
	for _, v := range volatile {
		s = v.re.ReplaceAllString(s, v.with)
	}
	return s
}
