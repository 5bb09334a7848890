package cli

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipway"
)

// limitFlags are the server's limits: the memory and cpu a component gets
// by default, at least and at most, and each tool's quotas.
type limitFlags struct {
	values map[string]*string // by flag name
}

// limitFlag is one limit setting.
type limitFlag struct {
	name string
	kind string // "memory", "cpu" or "count"
	help string
	dst  func(l *slipway.Limits) any // *int64 for memory and cpu, *int for counts
}

func limitFlagList() []limitFlag {
	d := slipway.DefaultLimits()
	mem, cpu := slipway.FormatMemory, slipway.FormatCPU
	return []limitFlag{
		{
			"default-memory", "memory", "memory of a component that sets none (default $SLIPWAY_DEFAULT_MEMORY or " + mem(d.Default.MemoryBytes) + ")",
			func(l *slipway.Limits) any { return &l.Default.MemoryBytes },
		},
		{
			"default-cpu", "cpu", "cpu of a component that sets none (default $SLIPWAY_DEFAULT_CPU or " + cpu(d.Default.MilliCPU) + ")",
			func(l *slipway.Limits) any { return &l.Default.MilliCPU },
		},
		{
			"min-memory", "memory", "least memory a component may set (default $SLIPWAY_MIN_MEMORY or " + mem(d.Min.MemoryBytes) + ")",
			func(l *slipway.Limits) any { return &l.Min.MemoryBytes },
		},
		{
			"min-cpu", "cpu", "least cpu a component may set (default $SLIPWAY_MIN_CPU or " + cpu(d.Min.MilliCPU) + ")",
			func(l *slipway.Limits) any { return &l.Min.MilliCPU },
		},
		{
			"max-memory", "memory", "most memory a component (each replica) may set (default $SLIPWAY_MAX_MEMORY or " + mem(d.Max.MemoryBytes) + ")",
			func(l *slipway.Limits) any { return &l.Max.MemoryBytes },
		},
		{
			"max-cpu", "cpu", "most cpu a component (each replica) may set (default $SLIPWAY_MAX_CPU or " + cpu(d.Max.MilliCPU) + ")",
			func(l *slipway.Limits) any { return &l.Max.MilliCPU },
		},
		{
			"quota-memory", "memory", "memory of a tool's continuous components in all, replicas counted (default $SLIPWAY_QUOTA_MEMORY or " + mem(d.Quota.MemoryBytes) + ")",
			func(l *slipway.Limits) any { return &l.Quota.MemoryBytes },
		},
		{
			"quota-cpu", "cpu", "cpu of a tool's continuous components in all, replicas counted (default $SLIPWAY_QUOTA_CPU or " + cpu(d.Quota.MilliCPU) + ")",
			func(l *slipway.Limits) any { return &l.Quota.MilliCPU },
		},
		{
			"quota-replicas", "count", "replicas of a tool's continuous components in all, and so of one (default $SLIPWAY_QUOTA_REPLICAS or " + strconv.Itoa(d.Quota.Replicas) + ")",
			func(l *slipway.Limits) any { return &l.Quota.Replicas },
		},
		{
			"quota-continuous", "count", "continuous components of a tool (default $SLIPWAY_QUOTA_CONTINUOUS or " + strconv.Itoa(d.Quota.Continuous) + ")",
			func(l *slipway.Limits) any { return &l.Quota.Continuous },
		},
		{
			"quota-scheduled", "count", "scheduled components of a tool (default $SLIPWAY_QUOTA_SCHEDULED or " + strconv.Itoa(d.Quota.Scheduled) + ")",
			func(l *slipway.Limits) any { return &l.Quota.Scheduled },
		},
		{
			"quota-one-off", "count", "one-off components of a tool, and ad-hoc jobs it lists (default $SLIPWAY_QUOTA_ONE_OFF or " + strconv.Itoa(d.Quota.OneOff) + ")",
			func(l *slipway.Limits) any { return &l.Quota.OneOff },
		},
		{
			"quota-concurrent-one-offs", "count", "one-off runs of a tool at once, ad-hoc and deployments' (default $SLIPWAY_QUOTA_CONCURRENT_ONE_OFFS or " + strconv.Itoa(d.Quota.ConcurrentOneOffs) + ")",
			func(l *slipway.Limits) any { return &l.Quota.ConcurrentOneOffs },
		},
	}
}

func (f *limitFlags) register(cmd *cobra.Command) {
	f.values = map[string]*string{}
	for _, l := range limitFlagList() {
		f.values[l.name] = cmd.Flags().String(l.name, "", l.help)
	}
}

// envName returns the environment variable of a flag: SLIPWAY_QUOTA_CPU
// for quota-cpu.
func envName(flag string) string {
	return "SLIPWAY_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// apply sets cfg.Limits from the flags and the environment; what neither
// sets keeps its default. Contradicting limits are left for server.New to
// report, with every contradiction named.
func (f *limitFlags) apply(e *env, cfg *server.Config) error {
	for _, l := range limitFlagList() {
		v := cmp.Or(*f.values[l.name], e.getenv(envName(l.name)))
		if v == "" {
			continue
		}
		switch dst := l.dst(&cfg.Limits).(type) {
		case *int64:
			parse := slipway.ParseMemory
			if l.kind == "cpu" {
				parse = slipway.ParseCPU
			}
			n, err := parse(v)
			if err != nil {
				return &usageError{fmt.Errorf("--%s: %w", l.name, err)}
			}
			*dst = n
		case *int:
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return &usageError{fmt.Errorf("--%s: want a whole number of at least 1, got %q", l.name, v)}
			}
			*dst = n
		}
	}
	return nil
}
