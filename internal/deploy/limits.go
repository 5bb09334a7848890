package deploy

import (
	"context"
	"errors"
	"fmt"
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
func checkDeployable(limits slipway.Limits, version int, raw []byte) error {
	res, err := toolconfig.Parse(raw)
	if err == nil {
		err = toolconfig.CheckLimits(res.Config, limits)
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

// running returns how many of tool's slots are taken.
func (o *oneOffSlots) running(tool string) int {
	return len(o.of(tool))
}

// tryOneOff takes a one-off slot of tool's without waiting (an ad-hoc
// job); release gives it back. ok is false when every slot is taken.
func (e *Engine) tryOneOff(tool string) (release func(), ok bool) {
	return e.oneOffs.tryTake(tool)
}

// oneOffsRunning returns how many one-off runs of tool go on in this
// process.
func (e *Engine) oneOffsRunning(tool string) int {
	return e.oneOffs.running(tool)
}
