package slipway

import "strconv"

// FormatMemory writes a number of bytes as a Kubernetes quantity, the way a
// tool config would: 64Mi, 1Gi, 1536Ki, or plain bytes.
func FormatMemory(n int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// OutOfMemory describes an out-of-memory kill: "out of memory: limit 64Mi"
// (limit in bytes; 1 or less when unknown).
func OutOfMemory(limit int64) string {
	if limit <= 1 {
		return "out of memory"
	}
	return "out of memory: limit " + FormatMemory(limit)
}
