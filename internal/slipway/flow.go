package slipway

import (
	"fmt"
	"regexp"
)

// A flow is a tool's declared sequence of steps (x-slipway.flows in its
// config): deploy to an environment, run a one-off, ask a question,
// promote, notify. A run of a flow is a deployment of its own kind
// (Deployment.Flow set) whose steps are the flow's, executed by the same
// engine as any deployment.

// Flow is one declared flow.
type Flow struct {
	Name string
	// On lists what starts a run; at least manual.
	On    []FlowTrigger
	Steps []FlowStep
}

// FlowTriggerKind says what starts a flow run.
type FlowTriggerKind string

// The triggers of a flow.
const (
	// FlowManual: someone runs it (`slipway flows run`, the API).
	FlowManual FlowTriggerKind = "manual"
	// FlowPush: a push to Branch (a webhook, or polling).
	FlowPush FlowTriggerKind = "push"
	// FlowReleaseCut: a named release (cut) was made.
	FlowReleaseCut FlowTriggerKind = "release_cut"
	// FlowReleaseUpdated: a named release's head moved.
	FlowReleaseUpdated FlowTriggerKind = "release_updated"
	// FlowChangeRequestApproved: a change request was approved.
	FlowChangeRequestApproved FlowTriggerKind = "change_request_approved"
	// FlowSchedule: a cron Schedule fired.
	FlowSchedule FlowTriggerKind = "schedule"
)

// FlowTriggerKinds lists the triggers, in the order they are documented.
var FlowTriggerKinds = []FlowTriggerKind{
	FlowManual, FlowPush, FlowReleaseCut, FlowReleaseUpdated, FlowChangeRequestApproved, FlowSchedule,
}

// FlowTrigger is one entry of a flow's on: list.
type FlowTrigger struct {
	Kind FlowTriggerKind
	// Branch is the pushed branch of a push trigger.
	Branch string
	// Schedule is the cron expression of a schedule trigger.
	Schedule string
}

// String writes t as the config does: "manual", "push: main".
func (t FlowTrigger) String() string {
	switch t.Kind {
	case FlowPush:
		return "push: " + t.Branch
	case FlowSchedule:
		return "schedule: " + t.Schedule
	default:
		return string(t.Kind)
	}
}

// FlowStepKind says what a flow step does.
type FlowStepKind string

// The kinds of flow steps.
const (
	// FlowDeploy deploys the tool to Environment (a deployment of its
	// own, which builds as any deployment does).
	FlowDeploy FlowStepKind = "deploy"
	// FlowRun runs the one-off Component in Environment, with the build
	// live there; it must succeed.
	FlowRun FlowStepKind = "run"
	// FlowAsk asks Gate's question and waits for the answer.
	FlowAsk FlowStepKind = "ask"
	// FlowPromote promotes to Environment from its upstream (a
	// deployment of its own).
	FlowPromote FlowStepKind = "promote"
	// FlowNotify tells the tool's notification subscriptions Message.
	FlowNotify FlowStepKind = "notify"
)

// FlowStepKinds lists the step kinds, in the order they are documented.
var FlowStepKinds = []FlowStepKind{FlowDeploy, FlowRun, FlowAsk, FlowPromote, FlowNotify}

// FlowStep is one step of a flow.
type FlowStep struct {
	Kind FlowStepKind
	// Environment is where a deploy, promote or run step acts.
	Environment string
	// Component is a run step's one-off component.
	Component string
	// Gate is an ask step's question.
	Gate *Gate
	// Message is a notify step's text.
	Message string
}

// Flow step kinds as recorded on a flow run's steps.
const (
	StepDeploy  StepKind = "deploy"  // a flow's deploy: a child deployment
	StepPromote StepKind = "promote" // a flow's promote: a child deployment
	StepOneOff  StepKind = "one-off" // a flow's run of a one-off component
	StepNotify  StepKind = "notify"  // a flow's notification
)

// FlowStepKey is the key of step i (from 0) of a flow run: "1-deploy",
// "2-run", …
func FlowStepKey(i int, k FlowStepKind) string { return fmt.Sprintf("%d-%s", i+1, k) }

// Limits of flows.
const (
	MaxFlows        = 20
	MaxFlowSteps    = 20
	MaxFlowName     = 30
	MaxFlowMessage  = 2000
	MaxFlowTriggers = 10
	FlowRunsListed  = 5
)

var flowNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,29}$`)

// ValidFlowName reports whether s is a valid flow name: a lowercase letter
// then up to 29 lowercase letters, digits or dashes.
func ValidFlowName(s string) bool { return flowNameRE.MatchString(s) }

// Flow returns the flow called name; ok is false when c has none.
func (c ToolConfig) Flow(name string) (Flow, bool) {
	for _, f := range c.Flows {
		if f.Name == name {
			return f, true
		}
	}
	return Flow{}, false
}

// FlowNames returns the names of c's flows in their order.
func (c ToolConfig) FlowNames() []string {
	out := make([]string, len(c.Flows))
	for i, f := range c.Flows {
		out[i] = f.Name
	}
	return out
}

// Triggered reports whether f starts on t (for push, on its branch; for
// schedule, on its expression).
func (f Flow) Triggered(t FlowTrigger) bool {
	for _, o := range f.On {
		if o.Kind == t.Kind && o.Branch == t.Branch && o.Schedule == t.Schedule {
			return true
		}
	}
	return false
}

// FlowStatus is a flow with its latest runs, newest first.
type FlowStatus struct {
	Flow Flow
	Runs []Deployment
}
