package slipway

import "time"

// Build is one build of a component's source into an artifact, shared by
// every deployment that needs the same key.
type Build struct {
	ID         string
	Tool       string
	Component  string
	Key        string
	Repository string
	Ref        string
	Commit     string
	Status     BuildStatus
	// Artifact is where the result lives (a directory locally, image@digest
	// on Kubernetes).
	Artifact  string
	Error     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// BuildStart asks for a build of a repository's ref outside any
// deployment, as Toolforge's `toolforge build start` does. The result is
// an ordinary build record of the tool: listed, followed, cancelled and
// deleted like a deployment's builds, and reused by a deployment whose
// component builds the same commit with the same settings.
type BuildStart struct {
	// Repository is builds-api's source_url.
	Repository string
	// Ref is a branch, tag or commit; "" means the repository's HEAD.
	Ref string
	// ImageName is what the build is recorded for (a build's Component);
	// "" means tool-<tool>, builds-api's default.
	ImageName string
	// Envvars are build-time environment variables. Slipway's builders
	// take none, so any is refused rather than silently dropped.
	Envvars               map[string]string
	UseLatestVersions     bool
	UseDeprecatedVersions bool
}

// LiveRun is what Slipway last applied for a component: the planner diffs
// the desired config against it.
type LiveRun struct {
	Tool      string
	Component string
	Type      ComponentType
	SpecHash  string
	BuildKey  string
	// Commit is the source commit of the build that runs ("" for prebuilt
	// images).
	Commit       string
	Artifact     string
	DeploymentID string
	// Spec is the component as applied, for restore after a server restart
	// and for `config generate`.
	Spec      Component
	AppliedAt time.Time
	// EnvFingerprints are the fingerprints of the envvars the component's
	// processes got when it was last (re)started ([ToolEnv]), by name; nil
	// when not recorded (components applied before Slipway recorded them).
	EnvFingerprints map[string]string
}

// Event is one status change of a deployment, streamed to watchers.
type Event struct {
	Seq          int64
	DeploymentID string
	Time         time.Time
	// Kind is "deployment", "step" or "log".
	Kind string
	// Step is the step key for step events.
	Step    string
	State   string
	Message string
}
