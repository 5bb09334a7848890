package slipway

import "time"

// StepKind says what a step does.
type StepKind string

// The step kinds.
const (
	StepBuild StepKind = "build" // produce the component's artifact
	StepRun   StepKind = "run"   // converge the component to artifact + spec, and wait until healthy
	StepPrune StepKind = "prune" // remove a component that is live but no longer configured
	StepGate  StepKind = "gate"  // ask a human before the component changes (its config's gate)
)

// StepAction is what the plan decided a step has to do.
type StepAction string

// The step actions.
const (
	ActionBuild  StepAction = "build"  // build from source
	ActionReuse  StepAction = "reuse"  // a build with the same key exists, or the component reuses another's build
	ActionApply  StepAction = "apply"  // start or restart the component
	ActionRunJob StepAction = "run"    // run a one-off to completion
	ActionNone   StepAction = "none"   // unchanged: nothing to do
	ActionRemove StepAction = "remove" // stop and remove
	ActionAsk    StepAction = "ask"    // ask the gate's question and wait for the answer
)

// StepState is where a step is in its life.
type StepState string

// The step states. Done and Unchanged satisfy dependants; Failed, Skipped,
// Cancelled and TimedOut do not. Waiting is a gate's state while its
// question is open: not final, not satisfied.
const (
	StepPending   StepState = "pending"
	StepRunning   StepState = "running"
	StepWaiting   StepState = "waiting"
	StepDone      StepState = "done"
	StepUnchanged StepState = "unchanged"
	StepFailed    StepState = "failed"
	StepSkipped   StepState = "skipped"
	StepCancelled StepState = "cancelled"
	StepTimedOut  StepState = "timed_out"
)

// Final reports whether a step in state s will not change again.
func (s StepState) Final() bool {
	return s != StepPending && s != StepRunning && s != StepWaiting
}

// Satisfied reports whether a step in state s lets its dependants start.
func (s StepState) Satisfied() bool {
	return s == StepDone || s == StepUnchanged
}

// StepKey returns the key of the step of kind k for component c,
// e.g. "build:web".
func StepKey(k StepKind, component string) string { return string(k) + ":" + component }

// Step is one node of a deployment's plan, made durable.
type Step struct {
	DeploymentID string
	Key          string
	Kind         StepKind
	Component    string
	Action       StepAction
	// Needs are the keys of the steps that must be satisfied first.
	Needs []string
	// Reason says why the plan chose Action, e.g. "commit 3f2a1c→9b0d44".
	Reason string
	State  StepState
	// Detail is the human-readable outcome or progress ("healthy after 1.2s").
	Detail  string
	Attempt int
	// BuildKey is the content address of the artifact this step builds or
	// uses (build and run steps).
	BuildKey string
	// Commit is the resolved source commit (build steps of source builds).
	Commit string
	// SpecHash is the component's spec hash (run steps).
	SpecHash   string
	StartedAt  time.Time
	FinishedAt time.Time
}
