package slipway

import (
	"fmt"
	"strconv"
	"strings"
)

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

// ParseMemory parses a memory quantity as the tool config writes it: a
// number of bytes with an optional binary (Ki, Mi, Gi, Ti) or decimal (k, K,
// M, G, T) suffix, such as "512Mi" or "1G".
func ParseMemory(s string) (int64, error) {
	num, mult := s, float64(1)
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || v*mult >= 1<<62 || strings.ContainsAny(num, "eEinfINFxX+-") {
		return 0, fmt.Errorf("memory %q: want a number of bytes with an optional suffix such as 512Mi or 1Gi", s)
	}
	return int64(v * mult), nil
}

// ParseCPU parses a CPU quantity, a number of cores ("0.5", "2") or of
// millicores ("500m"), into millicores.
func ParseCPU(s string) (int64, error) {
	num, mult := s, 1000.0
	if n, ok := strings.CutSuffix(s, "m"); ok {
		num, mult = n, 1
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || v*mult >= 1<<53 || strings.ContainsAny(num, "eEinfINFxX+-") {
		return 0, fmt.Errorf("cpu %q: want a number of cores such as 0.5 or millicores such as 500m", s)
	}
	return int64(v * mult), nil
}
