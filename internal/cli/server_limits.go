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
	// help is the flag's help, to which register adds the environment
	// variable and the default.
	help string
	dst  func(l *slipway.Limits) any // *int64 for memory and cpu, *int for counts
}

func limitFlagList() []limitFlag {
	return []limitFlag{
		{"default-memory", "memory", "memory of a component that sets none", func(l *slipway.Limits) any { return &l.Default.MemoryBytes }},
		{"default-cpu", "cpu", "cpu of a component that sets none", func(l *slipway.Limits) any { return &l.Default.MilliCPU }},
		{"min-memory", "memory", "least memory a component may set", func(l *slipway.Limits) any { return &l.Min.MemoryBytes }},
		{"min-cpu", "cpu", "least cpu a component may set", func(l *slipway.Limits) any { return &l.Min.MilliCPU }},
		{"max-memory", "memory", "most memory a component (each replica) may set", func(l *slipway.Limits) any { return &l.Max.MemoryBytes }},
		{"max-cpu", "cpu", "most cpu a component (each replica) may set", func(l *slipway.Limits) any { return &l.Max.MilliCPU }},
		{"quota-memory", "memory", "memory of a tool's continuous components in all, replicas counted", func(l *slipway.Limits) any { return &l.Quota.MemoryBytes }},
		{"quota-cpu", "cpu", "cpu of a tool's continuous components in all, replicas counted", func(l *slipway.Limits) any { return &l.Quota.MilliCPU }},
		{"quota-replicas", "count", "replicas of a tool's continuous components in all, and so of one", func(l *slipway.Limits) any { return &l.Quota.Replicas }},
		{"quota-continuous", "count", "continuous components of a tool", func(l *slipway.Limits) any { return &l.Quota.Continuous }},
		{"quota-scheduled", "count", "scheduled components of a tool", func(l *slipway.Limits) any { return &l.Quota.Scheduled }},
		{"quota-one-off", "count", "one-off components of a tool, and ad-hoc jobs it lists", func(l *slipway.Limits) any { return &l.Quota.OneOff }},
		{"quota-concurrent-one-offs", "count", "one-off runs of a tool at once, ad-hoc and deployments'", func(l *slipway.Limits) any { return &l.Quota.ConcurrentOneOffs }},
	}
}

// usage returns l's help with its environment variable and its value in
// d: "… (default $SLIPWAY_QUOTA_CPU or 2)".
func (l limitFlag) usage(d *slipway.Limits) string {
	var def string
	switch v := l.dst(d).(type) {
	case *int64:
		def = slipway.FormatMemory(*v)
		if l.kind == "cpu" {
			def = slipway.FormatCPU(*v)
		}
	case *int:
		def = strconv.Itoa(*v)
	}
	return l.help + " (default $" + envName(l.name) + " or " + def + ")"
}

func (f *limitFlags) register(cmd *cobra.Command) {
	f.values = map[string]*string{}
	d := slipway.DefaultLimits()
	for _, l := range limitFlagList() {
		f.values[l.name] = cmd.Flags().String(l.name, "", l.usage(&d))
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
			n, err := parseCount(l.name, v)
			if err != nil {
				return err
			}
			*dst = n
		}
	}
	return nil
}
