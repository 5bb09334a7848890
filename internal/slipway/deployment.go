package slipway

import (
	"crypto/rand"
	"encoding/json"
	"time"
)

// DeploymentStatus is Toolforge's closed set of deployment states.
type DeploymentStatus string

// The deployment statuses. Only Pending and Running are in progress.
const (
	DeploymentPending    DeploymentStatus = "pending"
	DeploymentRunning    DeploymentStatus = "running"
	DeploymentSuccessful DeploymentStatus = "successful"
	DeploymentFailed     DeploymentStatus = "failed"
	DeploymentTimedOut   DeploymentStatus = "timed_out"
	DeploymentCancelling DeploymentStatus = "cancelling"
	DeploymentCancelled  DeploymentStatus = "cancelled"
)

// Final reports whether s is a terminal status.
func (s DeploymentStatus) Final() bool {
	switch s {
	case DeploymentSuccessful, DeploymentFailed, DeploymentTimedOut, DeploymentCancelled:
		return true
	case DeploymentPending, DeploymentRunning, DeploymentCancelling:
		return false
	}
	return false
}

// BuildStatus is Toolforge's set of per-component build states.
type BuildStatus string

// The build statuses.
const (
	BuildPending    BuildStatus = "pending"
	BuildRunning    BuildStatus = "running"
	BuildFailed     BuildStatus = "failed"
	BuildSuccessful BuildStatus = "successful"
	BuildUnknown    BuildStatus = "unknown"
	BuildSkipped    BuildStatus = "skipped"
	BuildCancelled  BuildStatus = "cancelled"
)

// RunStatus is Toolforge's set of per-component run states.
type RunStatus string

// The run statuses.
const (
	RunPending    RunStatus = "pending"
	RunFailed     RunStatus = "failed"
	RunSuccessful RunStatus = "successful"
	RunSkipped    RunStatus = "skipped"
	RunUnknown    RunStatus = "unknown"
)

// Build ID sentinels, as Toolforge sends them.
const (
	BuildIDNotYet      = "no-id-yet"
	BuildIDNotNeeded   = "no-build-needed"
	BuildImageNotYet   = "no-image-yet"
	DeploymentIDLatest = "latest"
)

// Deployment is one request to converge a tool to a config version.
type Deployment struct {
	// ID is YYYYMMDD-HHMMSS-xxxxxxxxxx (UTC, 10 chars of [a-z0-9]).
	ID            string
	Tool          string
	CreatedAt     time.Time
	Description   string
	ConfigVersion int
	// ToolConfig is the snapshot of the config (set fields, as JSON) used.
	ToolConfig json.RawMessage
	Status     DeploymentStatus
	LongStatus string
	ForceBuild bool
	ForceRun   bool
	Trigger    string // cli, token, webhook, poll, demo
	Actor      string
	UpdatedAt  time.Time
	FinishedAt time.Time
	// RollbackOf is, for a rollback, the earlier successful deployment
	// whose config and builds this one deploys again (its builds are
	// reused, never rebuilt); empty otherwise.
	RollbackOf string
	// Environment is where the deployment goes (DefaultEnvironment for a
	// tool without environments).
	Environment string
	// PromotedFrom is, for a promotion, the upstream environment whose
	// live builds Pins holds; empty otherwise.
	PromotedFrom string
	// Pins holds, by component, the builds a promotion deploys: the ones
	// live and healthy upstream when it was created. They are reused,
	// never rebuilt.
	Pins map[string]Pin
	// RollbackRelease is, for a rollback to a release, the release whose
	// live state this deployment brings back: each component's latest
	// release up to it (its build, commit and spec), and RollbackOf is the
	// deployment that made that release. 0 otherwise.
	RollbackRelease int64
	// RolledBackBy is, for a deployment that was rolled back
	// automatically, the rollback deployment; empty otherwise.
	RolledBackBy string
	// Flow is, for a run of one of the tool's flows, the flow's name: its
	// steps are the flow's (see [Flow]). Empty for other deployments.
	Flow string
	// Parent and ParentStep are, for a deployment a flow run's deploy or
	// promote step made, that run and step: the step ends when this
	// deployment does. Empty otherwise.
	Parent, ParentStep string
	// Builds and Runs are derived from Steps (or, before the plan exists,
	// from the config snapshot) by the deploy service; the store does not
	// keep them.
	Builds map[string]DeploymentBuild
	Runs   map[string]DeploymentRun
	// Steps is the plan in order, filled by the deploy service.
	Steps []Step
}

// DeploymentBuild is the per-component build entry of a deployment.
type DeploymentBuild struct {
	BuildID         string
	BuildStatus     BuildStatus
	BuildImage      string
	BuildLongStatus string
}

// DeploymentRun is the per-component run entry of a deployment.
type DeploymentRun struct {
	RunStatus     RunStatus
	RunLongStatus string
}

// CreationTimeFormat is the format of Toolforge's creation_time.
const CreationTimeFormat = "20060102-150405"

// NewDeploymentID returns a fresh deployment ID for time t.
func NewDeploymentID(t time.Time) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 10)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return t.UTC().Format(CreationTimeFormat) + "-" + string(b)
}

// Instance is the target instance the deployment changes
// ([InstanceName]).
func (d Deployment) Instance() string { return InstanceName(d.Tool, d.Environment) }

// DeployOptions are what a caller asks of a new deployment.
type DeployOptions struct {
	// Environment is where to deploy; "" for the tool's entry environment.
	Environment string
	ForceBuild  bool
	ForceRun    bool
	Description string
	Trigger     string
	Actor       string
}
