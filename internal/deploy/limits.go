package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/toolconfig"
)

// Limits and quotas (Config.Limits, ARCHITECTURE.md "Limits and quotas"):
//
//   - config create (ConfigPut) and plans of a posted config refuse a
//     config over the limits with toolconfig.CheckLimits' problems, which
//     the HTTP layer locates in the body it parsed; a remote config's
//     problems are located in the fetched document (400, as every other
//     source_url failure);
//   - a deployment (and a plan) of the stored config checks it again, with
//     the strict parser, so that a config stored before a limit was lowered
//     or a rule added is refused before anything runs, nothing created;
//   - the jobs API checks what would run after the change: the tool's live
//     jobs with the new definition in place;
//   - one-off runs take a slot of the tool's ConcurrentOneOffs: `jobs run`
//     is refused (409) when none is free, a deployment's one-off waits for
//     one (it is part of what the deployment was asked to do, and the
//     deployment's own deadline bounds the wait).

// checkDeployable checks a stored config version before it is deployed or
// planned: with the rules of toolconfig.Parse (an older Slipway may have
// stored it with fewer) and within this server's limits. The error says
// what to fix; its problems have no positions (the stored config is not
// the file the user wrote).
func (s *Service) checkDeployable(version int, raw []byte) error {
	res, err := toolconfig.Parse(raw)
	if err == nil {
		err = toolconfig.CheckLimits(res.Config, s.cfg.Limits)
	}
	pe, ok := errors.AsType[*toolconfig.ParseError](err)
	if !ok {
		return err
	}
	lines := make([]string, len(pe.Problems))
	for i, p := range pe.Problems {
		p.Line, p.Column = 0, 0
		lines[i] = p.String()
	}
	what := "The tool's config"
	if version > 0 {
		what = fmt.Sprintf("The tool's config (version %d)", version)
	}
	return &slipway.Error{
		Code: slipway.EInvalid,
		Message: what + " cannot be deployed: it breaks a rule or a limit of this server that is newer than the config. " +
			"Fix it and create it again (slipway config create):\n" + strings.Join(lines, "\n"),
	}
}

// errOverLimits marks a remote config that is over this server's limits.
var errOverLimits = errors.New("the config there is over this server's limits")

// limitWords turns toolconfig's limit messages into the jobs API's words.
var limitWords = strings.NewReplacer("components", "jobs", "component", "job")

// checkJobLimits checks that the tool's live jobs, with def in place of
// the job of its name (or added), stay within this server's limits. The
// messages use the jobs API's words; a problem about another job than def
// names it.
func (s *Service) checkJobLimits(ctx context.Context, tool string, def slipway.Job) error {
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

// oneOffSlots counts the one-off runs of each tool going on in this
// process (ad-hoc jobs and deployments' one-offs), up to a limit per tool.
type oneOffSlots struct {
	limit int
	mu    sync.Mutex
	tools map[string]chan struct{}
}

func newOneOffSlots(limit int) *oneOffSlots {
	return &oneOffSlots{limit: limit, tools: map[string]chan struct{}{}}
}

func (o *oneOffSlots) of(tool string) chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	ch, ok := o.tools[tool]
	if !ok {
		ch = make(chan struct{}, o.limit)
		o.tools[tool] = ch
	}
	return ch
}

// tryTake takes a slot of tool's without waiting; release gives it back.
// ok is false when every slot is taken.
func (o *oneOffSlots) tryTake(tool string) (release func(), ok bool) {
	ch := o.of(tool)
	select {
	case ch <- struct{}{}:
		return sync.OnceFunc(func() { <-ch }), true
	default:
		return nil, false
	}
}

// take waits for a slot of tool's until ctx ends; waiting is called once
// if it has to wait, with the number of runs going on.
func (o *oneOffSlots) take(ctx context.Context, tool string, waiting func(running int)) (release func(), err error) {
	if release, ok := o.tryTake(tool); ok {
		return release, nil
	}
	ch := o.of(tool)
	waiting(len(ch))
	select {
	case ch <- struct{}{}:
		return sync.OnceFunc(func() { <-ch }), nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// JobQuota returns the tool's limits and what it uses of them, in the
// categories of Toolforge's jobs API: running jobs (continuous replicas,
// one-off runs going on, and the memory and cpu of the continuous
// replicas), per-job limits, and job definitions (live jobs by type, and
// ad-hoc jobs listed). What is used is counted over what runs, not the
// config: the next deployment may change it.
func (s *Service) JobQuota(ctx context.Context, tool string) ([]slipway.QuotaCategory, error) {
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
			{Name: "Running one-off jobs (ad-hoc and deployments')", Limit: itoa(lim.Quota.ConcurrentOneOffs), Used: itoa(s.oneOffs.running(tool))},
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

// running returns how many of tool's slots are taken.
func (o *oneOffSlots) running(tool string) int {
	return len(o.of(tool))
}
