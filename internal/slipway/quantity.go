package slipway

import "strconv"

// FormatMemory returns bytes as a quantity: with the largest binary suffix
// that divides it (6Gi, 1536Mi), else the largest decimal one (1500M), else
// a number of bytes.
func FormatMemory(bytes int64) string {
	if bytes == 0 {
		return "0"
	}
	for _, s := range []struct {
		suffix string
		shift  uint
	}{{"Ei", 60}, {"Pi", 50}, {"Ti", 40}, {"Gi", 30}, {"Mi", 20}, {"Ki", 10}} {
		if bytes%(1<<s.shift) == 0 {
			return strconv.FormatInt(bytes>>s.shift, 10) + s.suffix
		}
	}
	for _, s := range []struct {
		suffix string
		unit   int64
	}{{"E", 1e18}, {"P", 1e15}, {"T", 1e12}, {"G", 1e9}, {"M", 1e6}, {"k", 1e3}} {
		if bytes%s.unit == 0 {
			return strconv.FormatInt(bytes/s.unit, 10) + s.suffix
		}
	}
	return strconv.FormatInt(bytes, 10)
}

// OutOfMemory describes an out-of-memory kill: "out of memory: limit 64Mi"
// (limit in bytes; 1 or less when unknown).
func OutOfMemory(limit int64) string {
	if limit <= 1 {
		return "out of memory"
	}
	return "out of memory: limit " + FormatMemory(limit)
}
