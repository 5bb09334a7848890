package slipway

import (
	"regexp"
	"time"
)

// fullCommitRE matches a full commit id: SHA-1 or SHA-256, lowercase.
var fullCommitRE = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// IsFullCommit reports whether s is a full commit id (40 or 64 lowercase
// hex digits).
func IsFullCommit(s string) bool { return fullCommitRE.MatchString(s) }

// ValidateCommit returns an EInvalid error unless commit is a full
// commit id; field names it in the message.
func ValidateCommit(field, commit string) error {
	if IsFullCommit(commit) {
		return nil
	}
	return Errorf(EInvalid, "%s: %q is not a full commit SHA (40 or 64 lowercase hex digits)", field, commit)
}

// DefaultEnvironment is the environment of a tool that declares none:
// every deployment of it is released there.
const DefaultEnvironment = "production"

// A Release is one component version made live (or removed) in an
// environment: a fact, kept. It is appended in the transaction that makes
// the version live and is never pruned with deployments, so "is commit X
// live, and since when?" survives the deployment records. The current
// release of a component is its [LiveRun].
type Release struct {
	// Seq numbers releases in the order they were made; never reused.
	Seq          int64
	Tool         string
	Environment  string
	Component    string
	DeploymentID string
	// BuildKey and Commit are the artifact and the source commit that went
	// live (a prebuilt image's key and no commit).
	BuildKey string
	Commit   string
	// SpecHash is the run spec's hash ([Component.SpecHash]).
	SpecHash      string
	ConfigVersion int
	AppliedAt     time.Time
	Outcome       ReleaseOutcome
	// Actor started the deployment that made it.
	Actor string
}

// ReleaseOutcome says what a release did.
type ReleaseOutcome string

// The release outcomes.
const (
	ReleaseApplied ReleaseOutcome = "applied" // the version went live (healthy, or a one-off that ran)
	ReleaseRemoved ReleaseOutcome = "removed" // the component was removed (no longer configured)
)

// ReleaseQuery narrows a tool's release history: each set field.
type ReleaseQuery struct {
	Environment  string
	Component    string
	Commit       string
	DeploymentID string
	// Before lists only releases with a smaller Seq (paging back).
	Before int64
	// Limit bounds the list (0: the default).
	Limit int
}

// LiveCommit says whether a commit is in what one component runs now.
type LiveCommit struct {
	Environment string
	Component   string
	// Live is the commit the component runs ("" for a prebuilt image).
	Live string
	// State is how the commit is in it.
	State LiveState
	// Since is when the component's releases began to include the commit
	// without a break until now, and Release and DeploymentID the release
	// that did it; zero when the commit is not live.
	Since        time.Time
	Release      int64
	DeploymentID string
}

// LiveState is how a commit is in a live component.
type LiveState string

// The live states.
const (
	LiveExact    LiveState = "exact"    // the component runs this very commit
	LiveIncluded LiveState = "included" // an ancestor of the commit it runs (merged into it)
	LiveAbsent   LiveState = "absent"   // not in what it runs
	LiveUnknown  LiveState = "unknown"  // it runs a prebuilt image, or another repository's code
)

// FirstRelease is the first release of a component, in an environment,
// that included a commit: when the commit reached it, and who started the
// deployment that brought it.
type FirstRelease struct {
	Environment string
	Component   string
	// Release is the release that first included it; zero Seq when none
	// did (among the releases looked at).
	Release Release
	// Exact is true when that release ran the commit itself (not code
	// that merged it).
	Exact bool
}
