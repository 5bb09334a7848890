package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"slipway.dev/slipway/internal/metrics"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/target"
)

// The engine's half of flows. A flow run is a deployment whose Flow names
// the flow; its plan is the flow's steps in a chain, recorded like any
// plan, and the same jobs run them:
//
//   - deploy and promote make a deployment of their own (the child, which
//     names the run and step in Parent and ParentStep) and leave the step
//     waiting; the child's finishing transaction settles the step and
//     advances the run (settleParent), so no job waits meanwhile and a
//     restart finds the step, the child and its link as they were. A
//     step job run again finds its child by that link instead of making
//     another;
//   - run executes a one-off with the build live in its environment, as a
//     deployment's one-off step does (cancel, timeouts, interruption);
//   - ask is a gate: its question comes from the flow's step;
//   - notify records its notification in the step's transaction.

// flowPlan returns the steps of a run d of flow f: each needs the one
// before.
func flowPlan(d slipway.Deployment, f slipway.Flow) []slipway.Step {
	steps := make([]slipway.Step, 0, len(f.Steps))
	for i, fs := range f.Steps {
		st := slipway.Step{DeploymentID: d.ID, Key: slipway.FlowStepKey(i, fs.Kind), State: slipway.StepPending, Action: slipway.ActionApply}
		if i > 0 {
			st.Needs = []string{steps[i-1].Key}
		}
		switch fs.Kind {
		case slipway.FlowDeploy:
			st.Kind, st.Component, st.Reason = slipway.StepDeploy, fs.Environment, "deploy the tool to "+fs.Environment
		case slipway.FlowPromote:
			st.Kind, st.Component, st.Reason = slipway.StepPromote, fs.Environment, "promote to "+fs.Environment+" what is live upstream"
		case slipway.FlowRun:
			st.Kind, st.Component, st.Action = slipway.StepOneOff, fs.Component, slipway.ActionRunJob
			st.Reason = "run " + fs.Component + " in " + fs.Environment
		case slipway.FlowAsk:
			st.Kind, st.Component, st.Action = slipway.StepGate, st.Key, slipway.ActionAsk
			if fs.Gate != nil {
				st.Reason = "ask: " + firstLine(fs.Gate.Question)
			}
		case slipway.FlowNotify:
			st.Kind, st.Component, st.Reason = slipway.StepNotify, st.Key, "notify: "+firstLine(fs.Message)
		}
		steps = append(steps, st)
	}
	return steps
}

// flowPlanMessage is a flow run's long status once its plan is recorded.
func flowPlanMessage(d slipway.Deployment, steps []slipway.Step) string {
	return fmt.Sprintf("Running flow %s: %d %s", d.Flow, len(steps), pluralize(len(steps), "step"))
}

// flowStepOf returns the flow step of run d that step key records.
func flowStepOf(cfg slipway.ToolConfig, flow, key string) (slipway.FlowStep, bool) {
	f, ok := cfg.Flow(flow)
	if !ok {
		return slipway.FlowStep{}, false
	}
	for i, fs := range f.Steps {
		if slipway.FlowStepKey(i, fs.Kind) == key {
			return fs, true
		}
	}
	return slipway.FlowStep{}, false
}

// flowGate returns the question of a flow's ask step, nil when there is
// none.
func flowGate(cfg slipway.ToolConfig, flow, key string) *slipway.Gate {
	fs, ok := flowStepOf(cfg, flow, key)
	if !ok || fs.Kind != slipway.FlowAsk {
		return nil
	}
	return fs.Gate
}

// checkFlow returns ENotFound unless the config raw has flow name.
func checkFlow(tool string, raw []byte, name string) error {
	cfg, err := parseStored(raw)
	if err != nil {
		return err
	}
	if _, ok := cfg.Flow(name); !ok {
		return noFlow(tool, cfg, name)
	}
	return nil
}

// noFlow is the ENotFound of a flow that cfg does not declare, with the
// names it does.
func noFlow(tool string, cfg slipway.ToolConfig, name string) error {
	if len(cfg.Flows) == 0 {
		return slipway.Errorf(slipway.ENotFound, "Tool %s has no flow %q: its config declares none (x-slipway.flows).", tool, name)
	}
	return slipway.Errorf(slipway.ENotFound, "Tool %s has no flow %q; its flows: %s.", tool, name, strings.Join(cfg.FlowNames(), ", "))
}

// startFlow is the start job of a flow run: it records the flow's steps
// as the plan (nothing to resolve: each step's deployment resolves its
// own).
func (e *Engine) startFlow(ctx context.Context, d slipway.Deployment) error {
	if err := e.setStatus(ctx, d, slipway.DeploymentRunning, "Starting flow "+d.Flow, slipway.NotifyDeploymentStarted); err != nil {
		return err
	}
	cfg, err := parseStored(d.ToolConfig)
	if err != nil {
		return e.finish(ctx, d, slipway.DeploymentFailed, "Invalid stored config: "+err.Error())
	}
	f, ok := cfg.Flow(d.Flow)
	if !ok {
		return e.finish(ctx, d, slipway.DeploymentFailed, fmt.Sprintf("The config of version %d has no flow %q", d.ConfigVersion, d.Flow))
	}
	return e.advance(ctx, d, flowPlan(d, f))
}

// failStep ends pending step st of d as failed with detail, and advances d.
func (e *Engine) failStep(ctx context.Context, d slipway.Deployment, st slipway.Step, detail string) error {
	return e.advance(ctx, d, nil, func(t txn) error {
		_, err := e.updateStep(ctx, t, store.StepUpdate{
			DeploymentID: d.ID, Key: st.Key, State: slipway.StepFailed, Detail: detail, Attempt: st.Attempt + 1,
			StartedAt: e.now(), FinishedAt: e.now(), IfStateIn: []slipway.StepState{slipway.StepPending},
		})
		return err
	})
}

// runNotifyStep records a notify step's notification and the step done,
// in one transaction: a job run twice records it once (the outbox keys
// it by subscription, event and run/step).
func (e *Engine) runNotifyStep(ctx context.Context, d slipway.Deployment, cfg slipway.ToolConfig, st slipway.Step) error {
	fs, ok := flowStepOf(cfg, d.Flow, st.Key)
	if !ok {
		return e.failStep(ctx, d, st, "the flow run's config has no step "+st.Key)
	}
	now := e.now()
	return e.advance(ctx, d, nil, func(t txn) error {
		ok, err := e.updateStep(ctx, t, store.StepUpdate{
			DeploymentID: d.ID, Key: st.Key, State: slipway.StepDone, Detail: "notified: " + firstLine(fs.Message),
			Attempt: st.Attempt + 1, StartedAt: now, FinishedAt: now, IfStateIn: []slipway.StepState{slipway.StepPending},
		})
		if err != nil || !ok {
			return err
		}
		return e.outbox(ctx, t, slipway.Notification{
			Event: slipway.NotifyFlowMessage, Tool: d.Tool, Deployment: &d, Message: fs.Message, Subject: d.ID + "/" + st.Key,
		})
	})
}

// flowChild returns the deployment that step key of run d made, if any.
func (e *Engine) flowChild(ctx context.Context, q store.Queries, d slipway.Deployment, key string) (slipway.Deployment, bool, error) {
	ds, err := q.DeploymentList(ctx, d.Tool)
	if err != nil {
		return slipway.Deployment{}, false, fmt.Errorf("deployments of %s: %w", d.Tool, err)
	}
	for _, c := range slices.Backward(ds) {
		if c.Parent == d.ID && c.ParentStep == key {
			return c, true, nil
		}
	}
	return slipway.Deployment{}, false, nil
}

// runChildStep runs a flow's deploy or promote step: it makes the step's
// deployment (or finds the one made before a crash) and leaves the step
// waiting for it; settleParent ends the step when the deployment ends.
func (e *Engine) runChildStep(ctx context.Context, d slipway.Deployment, cfg slipway.ToolConfig, st slipway.Step) error {
	if st.State != slipway.StepPending {
		return nil // waiting already: the child's end settles it
	}
	fs, ok := flowStepOf(cfg, d.Flow, st.Key)
	if !ok {
		return e.failStep(ctx, d, st, "the flow run's config has no step "+st.Key)
	}
	child, found, err := e.flowChild(ctx, e.store, d, st.Key)
	if err != nil {
		return fmt.Errorf("step %s of %s: %w", st.Key, d.ID, err)
	}
	if !found {
		svc := &Deployments{newApp(e)}
		o := origin{parent: d.ID, parentStep: st.Key}
		opts := slipway.DeployOptions{
			Trigger: "flow", Actor: d.Actor,
			Description: fmt.Sprintf("Flow %s (%s), step %s", d.Flow, d.ID, st.Key),
		}
		switch st.Kind {
		case slipway.StepPromote:
			child, err = svc.promote(ctx, d.Tool, fs.Environment, opts, o)
		default:
			// The run deploys the config version it was started with.
			opts.Environment = fs.Environment
			child, err = svc.create(ctx, d.Tool, opts, o, func(store.Tx, time.Time) (int, json.RawMessage, error) {
				return d.ConfigVersion, d.ToolConfig, nil
			})
		}
		if err != nil {
			var se *slipway.Error
			if errors.As(err, &se) && se.Code != slipway.EInternal {
				// Refused (upstream not ready, a limit): the step fails
				// saying why.
				return e.failStep(ctx, d, st, fmt.Sprintf("cannot %s %s: %s", st.Kind, fs.Environment, se.Message))
			}
			return fmt.Errorf("step %s of %s: %w", st.Key, d.ID, err)
		}
	}
	cancelChild := false
	err = e.tx(ctx, d.ID, func(t txn) error {
		cancelChild = false
		cur, err := t.DeploymentLock(ctx, d.Tool, d.ID)
		if err != nil {
			return ignoreNotFound(err)
		}
		if cur.Status != slipway.DeploymentRunning {
			// Cancelling or ended: the run's own jobs settle the step;
			// the child must not go on for it.
			cancelChild = true
			return nil
		}
		c, err := t.DeploymentGet(ctx, d.Tool, child.ID)
		if err != nil {
			return err
		}
		if c.Status.Final() {
			// It ended before the step waited for it.
			return e.settleStepByChild(ctx, t, cur, st, c, c.Status, c.LongStatus, []slipway.StepState{slipway.StepPending})
		}
		_, err = e.updateStep(ctx, t, store.StepUpdate{
			DeploymentID: d.ID, Key: st.Key, State: slipway.StepWaiting, Detail: childWaiting(st, c),
			Attempt: st.Attempt + 1, StartedAt: e.now(), IfStateIn: []slipway.StepState{slipway.StepPending},
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("step %s of %s: %w", st.Key, d.ID, err)
	}
	if cancelChild {
		e.cancelChild(ctx, child)
	}
	return nil
}

// childWaiting is the detail of a step waiting for its deployment c.
func childWaiting(st slipway.Step, c slipway.Deployment) string {
	what := "deployment"
	if st.Kind == slipway.StepPromote {
		what = "promotion"
	}
	return fmt.Sprintf("%s %s to %s", what, c.ID, c.Environment)
}

// settleParent ends the flow step that deployment child was made for,
// in the transaction that finishes child (status, long), and advances its
// run. Locks are taken child first, then the run, always in that order.
func (e *Engine) settleParent(ctx context.Context, t txn, child slipway.Deployment, status slipway.DeploymentStatus, long string) error {
	parent, err := t.DeploymentLock(ctx, child.Tool, child.Parent)
	if err != nil {
		return ignoreNotFound(err)
	}
	if parent.Status.Final() {
		return nil
	}
	st, err := t.StepGet(ctx, parent.ID, child.ParentStep)
	if err != nil {
		return ignoreNotFound(err)
	}
	return e.settleStepByChild(ctx, t, parent, st, child, status, long, []slipway.StepState{slipway.StepWaiting})
}

// settleStepByChild records flow step st of run parent as its child
// ended (status, long), if st is in one of states, then advances the run
// and wakes its watchers after the commit.
func (e *Engine) settleStepByChild(ctx context.Context, t txn, parent slipway.Deployment, st slipway.Step, child slipway.Deployment,
	status slipway.DeploymentStatus, long string, states []slipway.StepState,
) error {
	state := slipway.StepFailed
	switch status {
	case slipway.DeploymentSuccessful:
		state = slipway.StepDone
	case slipway.DeploymentTimedOut:
		state = slipway.StepTimedOut
	case slipway.DeploymentCancelled:
		state = slipway.StepCancelled
	case slipway.DeploymentFailed, slipway.DeploymentPending, slipway.DeploymentRunning, slipway.DeploymentCancelling:
	}
	detail := fmt.Sprintf("%s %s: %s", child.ID, status, long)
	ok, err := e.updateStep(ctx, t, store.StepUpdate{
		DeploymentID: parent.ID, Key: st.Key, State: state, Detail: detail, Attempt: max(st.Attempt, 1),
		StartedAt: st.StartedAt, FinishedAt: e.now(), IfStateIn: states,
	})
	if err != nil || !ok {
		return err
	}
	*t.after = append(*t.after, func(*metrics.Metrics) { e.notify(parent.ID) })
	all, err := t.StepList(ctx, parent.ID)
	if err != nil {
		return err
	}
	return e.progress(ctx, t, parent, all)
}

// cancelChild cancels a flow step's deployment that is not final, best
// effort: the run no longer waits for it.
func (e *Engine) cancelChild(ctx context.Context, child slipway.Deployment) {
	svc := &Deployments{newApp(e)}
	if _, err := svc.DeploymentCancel(ctx, child.Tool, child.ID); err != nil && slipway.ErrorCode(err) != slipway.EConflict {
		e.logger.WarnContext(ctx, "cancel a flow step's deployment", "tool", child.Tool, "deployment", child.ID, "err", err)
	}
}

// cancelChildren cancels the unfinished deployments that the steps of
// flow run d made, after d's cancel committed.
func (s *Deployments) cancelChildren(ctx context.Context, d slipway.Deployment) {
	unfinished, err := s.store.DeploymentListUnfinished(ctx, d.Tool)
	if err != nil {
		s.logger.WarnContext(ctx, "cancel a flow run's deployments", "tool", d.Tool, "run", d.ID, "err", err)
		return
	}
	for _, c := range unfinished {
		if c.Parent == d.ID {
			s.eng.cancelChild(ctx, c)
		}
	}
}

// executeFlowRun runs a flow's one-off step: the component, as its
// environment runs it, with the build live there.
func (e *Engine) executeFlowRun(ctx context.Context, d slipway.Deployment, cfg slipway.ToolConfig, st slipway.Step) outcome {
	fs, ok := flowStepOf(cfg, d.Flow, st.Key)
	if !ok {
		return outcome{state: slipway.StepFailed, detail: "the flow run's config has no step " + st.Key}
	}
	env, ok := cfg.Environment(fs.Environment)
	if !ok {
		return outcome{state: slipway.StepFailed, detail: "the flow run's config has no environment " + fs.Environment}
	}
	instance := slipway.InstanceName(d.Tool, env.Name)
	live, found, err := e.liveRun(ctx, instance, fs.Component)
	if err != nil {
		return e.failed(ctx, err.Error())
	}
	if !found {
		return outcome{state: slipway.StepFailed, detail: fmt.Sprintf("%s has not been deployed to %s: deploy it before running it", fs.Component, env.Name)}
	}
	c, ok := cfg.ForEnvironment(env).Components[fs.Component]
	if !ok {
		return outcome{state: slipway.StepFailed, detail: "the flow run's config has no component " + fs.Component}
	}
	// Run as the environment's own deployment would: its instance, its
	// variables, the build live there.
	art, failed := e.artifactFor(ctx, d.Tool, c, live.BuildKey)
	if failed != nil {
		return *failed
	}
	vars, err := e.toolEnv(ctx, d.Tool, env)
	if err != nil {
		return e.failed(ctx, err.Error())
	}
	spec := target.Spec{Tool: instance, Component: c, SpecHash: c.SpecHash(), Artifact: art}
	spec.Env, spec.SecretEnv = vars.Split()
	out := e.runOneOff(ctx, d, c, st, spec, d.ID+"."+st.Key)
	if out.state == slipway.StepDone {
		out.detail = fmt.Sprintf("%s in %s (build of %s) %s", fs.Component, env.Name, liveName(live), out.detail)
	}
	return out
}

// triggerFlows starts, in t (which holds the tool's lock or takes it), a
// run of each flow of tool's current config whose on: has one of kinds,
// each once, by actor: the trigger and the run commit together or not at
// all. what says what happened, for the run's description.
func (e *Engine) triggerFlows(ctx context.Context, t txn, tool, actor, what string, kinds ...slipway.FlowTriggerKind) error {
	sc, err := t.ConfigGetLatest(ctx, tool)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	cfg, err := parseStored(sc.Raw)
	if err != nil {
		// A config this server cannot read starts nothing; the change
		// it goes with is recorded all the same.
		e.logger.WarnContext(ctx, "flows not started: the config cannot be read", "tool", tool, "err", err)
		return nil
	}
	svc := &Deployments{newApp(e)}
	for _, f := range cfg.Flows {
		var on slipway.FlowTriggerKind
		for _, k := range kinds {
			if f.Triggered(slipway.FlowTrigger{Kind: k}) {
				on = k
				break
			}
		}
		if on == "" {
			continue
		}
		opts := slipway.DeployOptions{Trigger: string(on), Actor: actor, Description: what + ": flow " + f.Name}
		o := origin{flow: f.Name}
		d := svc.newDeployment(tool, opts, o)
		superseded, err := svc.createTx(ctx, t, &d, opts, o, func(store.Tx, time.Time) (int, json.RawMessage, error) {
			return sc.Version, sc.Raw, nil
		})
		if err != nil {
			return fmt.Errorf("start flow %s: %w", f.Name, err)
		}
		for _, id := range superseded {
			*t.after = append(*t.after, func(*metrics.Metrics) { e.notify(id) })
		}
	}
	return nil
}
