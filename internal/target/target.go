// Package target is the runtime seam: making components run as specified on
// some machinery, reporting their health, and removing them.
//
// Implementations: localexec (processes on this host). A Kubernetes driver is
// a later addition; both run the conformance suite in targettest.
package target

import (
	"context"
	"io"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// Spec is what a component should be: its config, its artifact and its
// environment.
type Spec struct {
	Tool      string
	Component slipway.Component
	// SpecHash is Component.SpecHash(); with Artifact.Key it decides
	// whether a running component must be restarted.
	SpecHash string
	Artifact slipway.Artifact
	// Env is extra environment for the processes (PORT and the like are
	// set by the driver) that the tool's config gives (an environment's
	// env:): not secret. An entry here wins over one of SecretEnv.
	Env map[string]string `json:"-"`
	// SecretEnv is the tool's envvars (TOOL_DEPLOY_TOKEN among them):
	// secrets. A driver never writes them where others can read them (a
	// Kubernetes driver keeps them in a Secret; localexec only in the
	// process's environment) and never persists them itself; like Env they
	// are given again with every Apply, RunOnce and Restore.
	SecretEnv map[string]string `json:"-"`
	// AskEnv, when not empty, is the environment of `slipway ask`
	// (SLIPWAY_URL, SLIPWAY_ASK_TOKEN) for a one-off run of a deployment's
	// step: its process gets it, and the slipway binary on its PATH. Like
	// Env it holds a secret and is never persisted; Apply ignores it.
	AskEnv map[string]string `json:"-"`
	// RestartToken, when not empty and different from the token of the
	// running generation, makes Apply restart a component whose spec and
	// artifact are unchanged (force_run). The deployment ID serves: a step
	// retried after a crash carries the same token and restarts nothing.
	RestartToken string
}

// ApplyResult says what Apply did.
type ApplyResult struct {
	// Changed is false when the component already ran this spec hash and
	// artifact, so nothing was (re)started.
	Changed bool
	// Message is a short human description ("started 2 replicas",
	// "restarted", "already up to date", "scheduled \"*/5 * * * *\"").
	Message string
}

// HealthResult says how a component became healthy.
type HealthResult struct {
	// After is how long after the (re)start it became healthy.
	After   time.Duration
	Message string
}

// RunResult is the outcome of a one-off run.
type RunResult struct {
	ExitCode int
	// TimedOut is true when the driver stopped the run at its
	// Run.Timeout; ExitCode is then what the stopped process returned.
	TimedOut bool
	// OOMKilled is true when the run was killed for reaching its memory
	// limit, MemoryLimit (bytes, 0 when unknown).
	OOMKilled   bool
	MemoryLimit int64
	Duration    time.Duration
	// LogTail is the last lines of output, for status messages.
	LogTail string
}

// State is what a component is doing, as a driver reports it. Every driver
// maps its own notion (processes, Kubernetes conditions) onto these.
type State string

// The states a driver reports.
const (
	// StateStarting: the current generation runs but is not healthy yet.
	StateStarting State = "starting"
	// StateRunning: a continuous component is healthy, or a one-off runs.
	StateRunning State = "running"
	// StateCrashLoop: the current generation keeps exiting (or failing its
	// health check) and is being restarted.
	StateCrashLoop State = "crashloop"
	// StateScheduled: a scheduled component waits for its next run.
	StateScheduled State = "scheduled"
	// StateStopped: nothing runs (a continuous component that was stopped,
	// or a one-off never run).
	StateStopped State = "stopped"
	// StateSucceeded, StateFailed: a one-off's last run exited 0, or not.
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed"
)

// Status is what a driver reports about one component.
type Status struct {
	Tool      string
	Component string
	Type      slipway.ComponentType
	SpecHash  string
	BuildKey  string
	State     State
	Replicas  int
	Restarts  int
	// URL is where a published component answers.
	URL     string
	Message string
	// Since is when the newest replica of a continuous component, or the
	// scheduled run in progress, started; zero when nothing runs.
	Since time.Time
	// RunInProgress is true while a run of a scheduled component goes on.
	RunInProgress bool
	// Schedule is the concrete cron expression of a scheduled component
	// (macros made concrete), and NextRun when it fires next (zero when
	// unknown).
	Schedule string
	NextRun  time.Time
	// LastRun is the last finished run of a scheduled or one-off component;
	// nil when there is none.
	LastRun *RunSummary
}

// RunSummary is one finished run of a scheduled or one-off component.
type RunSummary struct {
	StartedAt  time.Time
	FinishedAt time.Time
	ExitCode   int
	TimedOut   bool
	OOMKilled  bool
}

// LogOptions select log output.
type LogOptions struct {
	Follow bool
	// Lines is how many lines of the end to show first; 0 means all.
	Lines int
}

// Driver makes components run. Every method is idempotent for the same
// arguments, so a step retried after a crash converges instead of doubling
// work.
type Driver interface {
	// Apply converges a continuous or scheduled component to spec: it
	// starts or restarts it when it does not already run spec.SpecHash with
	// spec.Artifact.Key (or spec.RestartToken asks for a restart), and
	// registers a schedule for scheduled ones. It
	// does not wait for health; see WaitHealthy.
	Apply(ctx context.Context, spec Spec) (ApplyResult, error)
	// WaitHealthy blocks until the component's current generation is
	// healthy, ctx is done (returns ctx.Err() wrapped with what was seen),
	// or it fails for good (crash loop; the error carries the last log
	// lines). For scheduled components it returns at once.
	WaitHealthy(ctx context.Context, tool, component string) (HealthResult, error)
	// RunOnce runs a one-off component to completion. runID makes it
	// idempotent: a second call with the same runID waits for, or returns,
	// the first call's result instead of running again.
	RunOnce(ctx context.Context, spec Spec, runID string) (RunResult, error)
	// Remove stops the component and forgets it. Removing an unknown
	// component is not an error.
	Remove(ctx context.Context, tool, component string) error
	// Status reports one component; ok is false when it is unknown.
	Status(ctx context.Context, tool, component string) (s Status, ok bool, err error)
	// List reports every component of a tool.
	List(ctx context.Context, tool string) ([]Status, error)
	// Logs writes the component's logs to w; with Follow it keeps writing
	// until ctx is done.
	Logs(ctx context.Context, tool, component string, opts LogOptions, w io.Writer) error
}

// Lifecycle is a driver's life with the server that uses it. What Stop
// means is the driver's own, and documented by it: localexec stops the
// processes it started (the next server's Restore starts them again); a
// driver whose workloads live elsewhere (Kubernetes) detaches and leaves
// them running, and its Restore is a reconcile.
type Lifecycle interface {
	// Start begins the driver's background work (supervision, schedules,
	// watches).
	Start(ctx context.Context) error
	// Stop ends it; see the type's documentation for what happens to
	// running components.
	Stop(ctx context.Context) error
	// Restore makes the driver know the given live specs after a server
	// start, converging each without restarting what already runs it.
	Restore(ctx context.Context, specs []Spec) error
}

// KeptError is returned by WaitHealthy when the new generation of a
// component never became healthy (it crash looped, or the wait ended) and
// the driver stopped it, keeping the generation that served before: the
// component runs what it ran before the Apply.
type KeptError struct{ Err error }

func (e *KeptError) Error() string { return e.Err.Error() }
func (e *KeptError) Unwrap() error { return e.Err }
