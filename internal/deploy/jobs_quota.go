package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/toolconfig"
)

// limitWords turns toolconfig's limit messages into the jobs API's words.
var limitWords = strings.NewReplacer("components", "jobs", "component", "job")

// checkJobLimits checks that the tool's live jobs, with def in place of
// the job of its name (or added), stay within this server's limits. The
// messages use the jobs API's words; a problem about another job than def
// names it.
func (s *Jobs) checkJobLimits(ctx context.Context, tool string, def slipway.Job) error {
	live, err := s.store.LiveRunList(ctx, tool)
	if err != nil {
		return fmt.Errorf("list live components of %s: %w", tool, err)
	}
	cfg := slipway.ToolConfig{Components: map[string]slipway.Component{}}
	for _, r := range live {
		if r.Component == def.Component.Name {
			continue
		}
		c := r.Spec
		c.Name, c.Type = r.Component, r.Type
		cfg.Components[c.Name] = c
		cfg.Order = append(cfg.Order, c.Name)
	}
	slices.Sort(cfg.Order)
	// The job last: a total it takes the tool over is reported at it.
	cfg.Components[def.Component.Name] = def.Component
	cfg.Order = append(cfg.Order, def.Component.Name)
	err = toolconfig.CheckLimits(cfg, s.cfg.Limits)
	pe, ok := errors.AsType[*toolconfig.ParseError](err)
	if !ok {
		return err
	}
	msgs := make([]string, len(pe.Problems))
	for i, p := range pe.Problems {
		msgs[i] = limitWords.Replace(p.Message)
		if name := componentOf(p.Path); name != def.Component.Name {
			msgs[i] = "job " + name + ": " + msgs[i]
		}
	}
	return &slipway.Error{Code: slipway.EInvalid, Message: strings.Join(msgs, "\n")}
}

// componentOf returns the component name in a problem path
// "components.<name>[.…]".
func componentOf(path string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(path, "components."), ".")
	return name
}

// JobQuota returns the tool's limits and what it uses of them, in the
// categories of Toolforge's jobs API: running jobs (continuous replicas,
// one-off runs going on, and the memory and cpu of the continuous
// replicas), per-job limits, and job definitions (live jobs by type, and
// ad-hoc jobs listed). What is used is counted over what runs, not the
// config: the next deployment may change it.
func (s *Jobs) JobQuota(ctx context.Context, tool string) ([]slipway.QuotaCategory, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return nil, err
	}
	live, runs, err := s.jobRecords(ctx, tool)
	if err != nil {
		return nil, err
	}
	lim := s.cfg.Limits
	var replicas int
	var used slipway.Resources
	count := map[slipway.ComponentType]int{}
	for _, r := range live {
		count[r.Type]++
		if r.Type != slipway.Continuous {
			continue
		}
		n := r.Spec.Run.ReplicaCount()
		res := r.Spec.Run.Resources(lim.Default)
		replicas += n
		used = used.Plus(res.Times(n))
	}
	mem, cpu := used.MemoryBytes, used.MilliCPU
	itoa := strconv.Itoa
	return []slipway.QuotaCategory{
		{Name: "Running jobs", Items: []slipway.QuotaItem{
			{Name: "Replicas of continuous jobs at once", Limit: itoa(lim.Quota.Replicas), Used: itoa(replicas)},
			{Name: "Running one-off jobs (ad-hoc and deployments')", Limit: itoa(lim.Quota.ConcurrentOneOffs), Used: itoa(s.eng.oneOffsRunning(tool))},
			{Name: "CPU", Limit: slipway.FormatCPU(lim.Quota.MilliCPU), Used: slipway.FormatCPU(cpu)},
			{Name: "Memory", Limit: slipway.FormatMemory(lim.Quota.MemoryBytes), Used: slipway.FormatMemory(mem)},
		}},
		{Name: "Per-job limits", Items: []slipway.QuotaItem{
			{Name: "CPU", Limit: slipway.FormatCPU(lim.Max.MilliCPU)},
			{Name: "Memory", Limit: slipway.FormatMemory(lim.Max.MemoryBytes)},
			{Name: "CPU when not set", Limit: slipway.FormatCPU(lim.Default.MilliCPU)},
			{Name: "Memory when not set", Limit: slipway.FormatMemory(lim.Default.MemoryBytes)},
		}},
		{Name: "Job definitions", Items: []slipway.QuotaItem{
			{Name: "Cron jobs", Limit: itoa(lim.Quota.Scheduled), Used: itoa(count[slipway.Scheduled])},
			{Name: "Continuous jobs (including web services)", Limit: itoa(lim.Quota.Continuous), Used: itoa(count[slipway.Continuous])},
			{Name: "One-off jobs of the config", Limit: itoa(lim.Quota.OneOff), Used: itoa(count[slipway.OneOff])},
			{Name: "Ad-hoc one-off jobs listed", Limit: itoa(lim.Quota.OneOff), Used: itoa(len(runs))},
		}},
	}, nil
}
