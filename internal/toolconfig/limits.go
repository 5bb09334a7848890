package toolconfig

import (
	"fmt"
	"slices"
	"strings"

	"slipway.dev/slipway/internal/slipway"
)

// CheckLimits checks cfg against a server's limits (slipway.Limits): the
// memory and cpu of each component against the minimum and maximum, its
// replicas against the tool's replica quota, the number of components of
// each type, and the memory, cpu and replicas that the continuous
// components need in all against the tool's quotas. A per-tool total is
// reported once, at the first component (in the user's order) that takes
// the tool over it, and only when no component is over a per-component
// bound already (such a component is over the total too).
//
// It returns nil, or an EInvalid [slipway.Error] wrapping a [*ParseError]
// whose problems have paths but no positions: the config is already parsed.
// [Locate] finds them in the document it was parsed from. cfg must have
// passed Parse (or ParseStored: values Parse refuses count as unset).
func CheckLimits(cfg slipway.ToolConfig, lim slipway.Limits) error {
	problems := limitProblems(cfg, lim)
	seen := map[Problem]bool{}
	for _, pr := range problems {
		seen[pr] = true
	}
	// Each environment runs the config with its overrides: those must fit
	// too, and a problem they make is reported at the override.
	for _, env := range cfg.Environments {
		if len(env.Overrides) == 0 {
			continue
		}
		for _, pr := range limitProblems(cfg.ForEnvironment(env), lim) {
			if seen[pr] {
				continue
			}
			seen[pr] = true
			pr.Path = overridePath(env.Name, pr.Path)
			pr.Message += " (in environment " + env.Name + ")"
			problems = append(problems, pr)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return problemsError(problems)
}

// overridePath returns the path of an environment's override of the run
// field at path (components.C.run.F), or path when it is not one.
func overridePath(env, path string) string {
	rest, ok := strings.CutPrefix(path, "components.")
	comp, field, ok2 := strings.Cut(rest, ".run.")
	if !ok || !ok2 {
		return path
	}
	return "x-slipway.environments." + env + ".overrides." + comp + "." + field
}

// limitProblems returns cfg's problems with lim.
func limitProblems(cfg slipway.ToolConfig, lim slipway.Limits) []Problem {
	var problems []Problem
	add := func(path, format string, args ...any) {
		problems = append(problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	counts := map[slipway.ComponentType]int{}
	quotas := map[slipway.ComponentType]int{
		slipway.Continuous: lim.Quota.Continuous, slipway.Scheduled: lim.Quota.Scheduled, slipway.OneOff: lim.Quota.OneOff,
	}
	for _, name := range cfg.Names() {
		c := cfg.Components[name]
		counts[c.Type]++
		if n, q := counts[c.Type], quotas[c.Type]; n == q+1 {
			add(join("components", name), "this is the %s %s component, over the tool's quota of %d %s %s",
				ordinal(n), c.Type, q, c.Type, pluralize(q, "component"))
		}
		run := join(join("components", name), "run")
		res := c.Run.Resources(lim.Default)
		if c.Run.Memory != "" {
			switch m := res.MemoryBytes; {
			case m > lim.Max.MemoryBytes:
				add(join(run, "memory"), "memory must be at most %s (this server's maximum for a component), got %q", slipway.FormatMemory(lim.Max.MemoryBytes), c.Run.Memory)
			case m < lim.Min.MemoryBytes:
				add(join(run, "memory"), "memory must be at least %s (this server's minimum for a component), got %q", slipway.FormatMemory(lim.Min.MemoryBytes), c.Run.Memory)
			}
		}
		if c.Run.CPU != "" {
			switch m := res.MilliCPU; {
			case m > lim.Max.MilliCPU:
				add(join(run, "cpu"), "cpu must be at most %s (this server's maximum for a component), got %q", slipway.FormatCPU(lim.Max.MilliCPU), c.Run.CPU)
			case m < lim.Min.MilliCPU:
				add(join(run, "cpu"), "cpu must be at least %s (this server's minimum for a component), got %q", slipway.FormatCPU(lim.Min.MilliCPU), c.Run.CPU)
			}
		}
		if c.Type == slipway.Continuous && c.Run.Replicas > lim.Quota.Replicas {
			add(join(run, "replicas"), "replicas must be at most %d (the tool's replica quota), got %d", lim.Quota.Replicas, c.Run.Replicas)
		}
	}
	if !slices.ContainsFunc(problems, func(p Problem) bool { return strings.HasSuffix(parentPath(p.Path), ".run") }) {
		problems = append(problems, checkTotals(cfg, lim)...)
	}
	return problems
}

// checkTotals checks the tool's quotas of memory, cpu and replicas against
// the sum over its continuous components.
func checkTotals(cfg slipway.ToolConfig, lim slipway.Limits) []Problem {
	var problems []Problem
	var mem, cpu int64
	var replicas int
	var before []string // the continuous components counted so far
	memDone, cpuDone, repDone := false, false, false
	for _, name := range cfg.Names() {
		c := cfg.Components[name]
		if c.Type != slipway.Continuous {
			continue
		}
		run := join(join("components", name), "run")
		n := c.Run.ReplicaCount()
		res := c.Run.Resources(lim.Default)
		// Where a total is reported: the replicas when set, as they
		// multiply, else the field of the quantity, else the run.
		at := func(field, value string) string {
			switch {
			case c.Run.Replicas > 0:
				return join(run, "replicas")
			case value != "":
				return join(run, field)
			}
			return run
		}
		others := ""
		if len(before) > 0 {
			others = " for " + andList(before)
		}
		total := res.Times(n)
		sum := slipway.Resources{MemoryBytes: mem, MilliCPU: cpu}.Plus(total)
		if m := total.MemoryBytes; !memDone && sum.MemoryBytes > lim.Quota.MemoryBytes {
			memDone = true
			what := fmt.Sprintf("%s × %s%s = %s of memory", replicaText(n), slipway.FormatMemory(res.MemoryBytes), defaultText(c.Run.Memory), slipway.FormatMemory(m))
			if mem > 0 {
				what += fmt.Sprintf(", with the %s%s, makes %s", slipway.FormatMemory(mem), others, slipway.FormatMemory(sum.MemoryBytes))
			}
			problems = append(problems, Problem{Path: at("memory", c.Run.Memory), Message: fmt.Sprintf("%s: over the tool's memory quota of %s", what, slipway.FormatMemory(lim.Quota.MemoryBytes))})
		}
		if m := total.MilliCPU; !cpuDone && sum.MilliCPU > lim.Quota.MilliCPU {
			cpuDone = true
			what := fmt.Sprintf("%s × %s%s = %s of cpu", replicaText(n), slipway.FormatCPU(res.MilliCPU), defaultText(c.Run.CPU), slipway.FormatCPU(m))
			if cpu > 0 {
				what += fmt.Sprintf(", with the %s%s, makes %s", slipway.FormatCPU(cpu), others, slipway.FormatCPU(sum.MilliCPU))
			}
			problems = append(problems, Problem{Path: at("cpu", c.Run.CPU), Message: fmt.Sprintf("%s: over the tool's cpu quota of %s", what, slipway.FormatCPU(lim.Quota.MilliCPU))})
		}
		if !repDone && replicas+n > lim.Quota.Replicas {
			repDone = true
			problems = append(problems, Problem{Path: at("replicas", ""), Message: fmt.Sprintf("%s, with the %d%s, makes %d: over the tool's quota of %d replicas",
				replicaText(n), replicas, others, replicas+n, lim.Quota.Replicas)})
		}
		mem, cpu = sum.MemoryBytes, sum.MilliCPU
		replicas += n
		before = append(before, name)
	}
	return problems
}

// andList names components for a message: "a", "a and b", "a, b and c",
// at most 10 and then how many more.
func andList(names []string) string {
	if len(names) > 10 {
		return strings.Join(names[:10], ", ") + fmt.Sprintf(" and %d more", len(names)-10)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func replicaText(n int) string { return fmt.Sprintf("%d %s", n, pluralize(n, "replica")) }

// defaultText says that a quantity is the server's default.
func defaultText(set string) string {
	if set == "" {
		return " (the default)"
	}
	return ""
}

func pluralize(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// ordinal returns 1st, 2nd, 3rd, 4th, …, 11th, 12th, 13th, …, 21st.
func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprintf("%d%s", n, suffix)
}

// Locate gives the problems of err that have a path but no position the
// line and column of their field in data, the document the config was
// parsed from (a field the document does not have, such as a replicas
// left to its default, gets the position of the closest enclosing one). err
// is returned as it is unless it is an EInvalid error of this package's
// making (CheckLimits'); then it is rebuilt with the positions in its
// message.
func Locate(err error, data []byte) error {
	// Only the error itself, not one that wraps it: rebuilding would drop
	// what the wrapper says (a source_url's failure, for one).
	se, ok := err.(*slipway.Error) //nolint:errorlint // this error, not one wrapping it
	if !ok {
		return err
	}
	pe, ok := se.Err.(*ParseError) //nolint:errorlint // the direct cause that problemsError sets
	if !ok || !slices.ContainsFunc(pe.Problems, func(p Problem) bool { return p.Line == 0 && p.Path != "" }) {
		return err
	}
	return problemsError(LocateProblems(pe.Problems, data))
}

// LocateProblems returns problems with those that have a path but no
// position given the line and column of their field in data, as Locate
// does.
func LocateProblems(problems []Problem, data []byte) []Problem {
	p := newParser(data)
	p.nodes = map[string]*yamlNode{}
	p.parse(data)
	out := slices.Clone(problems)
	for i, pr := range out {
		if pr.Line > 0 {
			continue
		}
		for path := pr.Path; path != ""; path = parentPath(path) {
			if n, ok := p.nodes[path]; ok {
				out[i].Line, out[i].Column = n.Line, n.Column
				break
			}
		}
	}
	return out
}

// parentPath returns the path of the field that holds path's: a.b.c → a.b,
// a.b[2] → a.b, a → "".
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i > 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i > 0 {
		return path[:i]
	}
	return ""
}
