package slipway

import (
	"cmp"
	"errors"
	"fmt"
)

// Limits are what a server lets each tool ask for: the resources a
// component gets when it sets none, the bounds of one component's (one
// replica's) memory and CPU, and the tool's quotas. They are server
// settings; [DefaultLimits] are Toolforge's values (ARCHITECTURE.md,
// "Limits and quotas").
type Limits struct {
	// Default is what a component that sets no memory or cpu gets.
	Default Resources
	// Min and Max bound the memory and cpu of one component (each of its
	// replicas).
	Min, Max Resources
	// Quota bounds the tool as a whole.
	Quota Quota
}

// Quota is what one tool may have at once.
type Quota struct {
	// MemoryBytes and MilliCPU bound the sum over the replicas of the
	// tool's continuous components (scheduled and one-off runs come and go;
	// Max bounds each of them and ConcurrentOneOffs their number).
	MemoryBytes int64
	MilliCPU    int64
	// Replicas bounds the replicas of the tool's continuous components, in
	// all and so of any one of them.
	Replicas int
	// Continuous, Scheduled and OneOff bound the tool's components of each
	// type; OneOff also bounds the ad-hoc one-off jobs listed at once.
	Continuous, Scheduled, OneOff int
	// ConcurrentOneOffs bounds the one-off runs of the tool at once: ad-hoc
	// jobs (`jobs run`) and the one-off components of its deployments.
	ConcurrentOneOffs int
}

// DefaultLimits returns Toolforge's per-tool values (the tool namespace's
// LimitRange and ResourceQuota, and jobs-api's default memory), except for
// Min.MemoryBytes and Default.MilliCPU; ARCHITECTURE.md says why.
func DefaultLimits() Limits {
	return Limits{
		Default: Resources{MemoryBytes: 512 << 20, MilliCPU: 500},
		Min:     Resources{MemoryBytes: 16 << 20, MilliCPU: 50},
		Max:     Resources{MemoryBytes: 4 << 30, MilliCPU: 1000},
		Quota: Quota{
			MemoryBytes: 8 << 30, MilliCPU: 4000, Replicas: 10,
			Continuous: 3, Scheduled: 50, OneOff: 15, ConcurrentOneOffs: 15,
		},
	}
}

// or returns r with each zero field set to d's.
func (r Resources) or(d Resources) Resources {
	r.MemoryBytes = cmp.Or(r.MemoryBytes, d.MemoryBytes)
	r.MilliCPU = cmp.Or(r.MilliCPU, d.MilliCPU)
	return r
}

// WithDefaults returns l with each zero field set to DefaultLimits'.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	l.Default = l.Default.or(d.Default)
	l.Min = l.Min.or(d.Min)
	l.Max = l.Max.or(d.Max)
	l.Quota.MemoryBytes = cmp.Or(l.Quota.MemoryBytes, d.Quota.MemoryBytes)
	l.Quota.MilliCPU = cmp.Or(l.Quota.MilliCPU, d.Quota.MilliCPU)
	l.Quota.Replicas = cmp.Or(l.Quota.Replicas, d.Quota.Replicas)
	l.Quota.Continuous = cmp.Or(l.Quota.Continuous, d.Quota.Continuous)
	l.Quota.Scheduled = cmp.Or(l.Quota.Scheduled, d.Quota.Scheduled)
	l.Quota.OneOff = cmp.Or(l.Quota.OneOff, d.Quota.OneOff)
	l.Quota.ConcurrentOneOffs = cmp.Or(l.Quota.ConcurrentOneOffs, d.Quota.ConcurrentOneOffs)
	return l
}

// Validate returns an error naming the settings that contradict each
// other: every value must be positive, Min ≤ Default ≤ Max, and the
// default must fit the tool's quota.
func (l Limits) Validate() error {
	var errs []error
	for _, v := range []struct {
		name string
		n    int64
	}{
		{"default memory", l.Default.MemoryBytes},
		{"default cpu", l.Default.MilliCPU},
		{"minimum memory", l.Min.MemoryBytes},
		{"minimum cpu", l.Min.MilliCPU},
		{"maximum memory", l.Max.MemoryBytes},
		{"maximum cpu", l.Max.MilliCPU},
		{"memory quota", l.Quota.MemoryBytes},
		{"cpu quota", l.Quota.MilliCPU},
		{"replicas quota", int64(l.Quota.Replicas)},
		{"continuous components quota", int64(l.Quota.Continuous)},
		{"scheduled components quota", int64(l.Quota.Scheduled)},
		{"one-off components quota", int64(l.Quota.OneOff)},
		{"concurrent one-offs quota", int64(l.Quota.ConcurrentOneOffs)},
	} {
		if v.n <= 0 {
			errs = append(errs, fmt.Errorf("the %s must be more than 0", v.name))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	mem := FormatMemory
	if l.Min.MemoryBytes > l.Default.MemoryBytes || l.Default.MemoryBytes > l.Max.MemoryBytes {
		errs = append(errs, fmt.Errorf("memory: the minimum (%s) ≤ the default (%s) ≤ the maximum (%s) does not hold",
			mem(l.Min.MemoryBytes), mem(l.Default.MemoryBytes), mem(l.Max.MemoryBytes)))
	}
	if l.Min.MilliCPU > l.Default.MilliCPU || l.Default.MilliCPU > l.Max.MilliCPU {
		errs = append(errs, fmt.Errorf("cpu: the minimum (%s) ≤ the default (%s) ≤ the maximum (%s) does not hold",
			FormatCPU(l.Min.MilliCPU), FormatCPU(l.Default.MilliCPU), FormatCPU(l.Max.MilliCPU)))
	}
	if l.Default.MemoryBytes > l.Quota.MemoryBytes {
		errs = append(errs, fmt.Errorf("the default memory (%s) is over the memory quota (%s)", mem(l.Default.MemoryBytes), mem(l.Quota.MemoryBytes)))
	}
	if l.Default.MilliCPU > l.Quota.MilliCPU {
		errs = append(errs, fmt.Errorf("the default cpu (%s) is over the cpu quota (%s)", FormatCPU(l.Default.MilliCPU), FormatCPU(l.Quota.MilliCPU)))
	}
	return errors.Join(errs...)
}

// QuotaCategory is a named group of a tool's limits with what it uses of
// them, as Toolforge's jobs API reports them (GET …/quotas).
type QuotaCategory struct {
	Name  string
	Items []QuotaItem
}

// QuotaItem is one limit: the limit and what the tool uses, each a count or
// a quantity; Used is "" where nothing is counted (a per-job limit).
type QuotaItem struct {
	Name, Limit, Used string
}
