package slipway

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A Cut is a named release of a tool ("2026.12.1", "production-20261206"):
// a point of one of its repositories' history, cut from a branch. It is
// not a [Release] (a component version a deployment made live): a cut
// says what a tool's people want to ship, its deployments what ran.
//
// A mutable cut follows its branch (its head is the branch's tip when
// asked, like "main"); a frozen one is a branch release/<name> of the
// repository that Slipway created at the cut's commit and moves only by a
// cherry-pick of an approved [ChangeRequest]. A component that builds
// from ref release/<name> deploys the cut.
type Cut struct {
	Tool string
	Name string
	// Repository is the repository the cut is of (a component's build
	// repository, as the config names it).
	Repository string
	// Branch is the branch it was cut from (a mutable cut follows it).
	Branch string
	// Base is the commit it was cut at; Head its newest commit: for a
	// frozen cut, the tip of its release branch as Slipway left it, for a
	// mutable one the branch's tip when last read.
	Base  string
	Head  string
	State CutState
	// Picks counts the cherry-picks applied to a frozen cut.
	Picks     int
	CreatedAt time.Time
	CreatedBy string
	FrozenAt  time.Time
	FrozenBy  string
	UpdatedAt time.Time
}

// CutState is whether a cut follows its branch.
type CutState string

// Cut states.
const (
	CutMutable CutState = "mutable"
	CutFrozen  CutState = "frozen"
)

// ReleaseBranch is the branch of a frozen cut: release/<name>.
func (c Cut) ReleaseBranch() string { return "release/" + c.Name }

// Ref is what a component builds from to deploy the cut: its release
// branch when frozen, else the branch it follows.
func (c Cut) Ref() string {
	if c.State == CutFrozen {
		return c.ReleaseBranch()
	}
	return c.Branch
}

// MaxCutName is how long a cut's name may be.
const MaxCutName = 63

var cutNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// ValidateCutName returns an EInvalid error naming field unless name is a
// cut's name: lowercase letters, digits, '.', '_' and '-', starting with a
// letter or digit, not all digits (a number is a release's seq in
// `releases notes`), no "..", not ending in ".lock" or '.' (a git branch
// name), at most MaxCutName bytes.
func ValidateCutName(field, name string) error {
	var why string
	switch {
	case name == "":
		why = "must not be empty"
	case len(name) > MaxCutName:
		why = "is longer than " + strconv.Itoa(MaxCutName) + " characters"
	case !cutNameRE.MatchString(name):
		why = "may hold only lowercase letters, digits, '.', '_' and '-', starting with a letter or digit"
	case strings.Trim(name, "0123456789") == "":
		why = "must not be only digits (a number names a release of `releases list`)"
	case strings.Contains(name, ".."), strings.HasSuffix(name, ".lock"), strings.HasSuffix(name, "."):
		why = "is not a git branch name (no \"..\", no trailing \".lock\" or \".\")"
	default:
		return nil
	}
	return Errorf(EInvalid, "%s: %q %s", field, name, why)
}

// ValidateBranchName returns an EInvalid error naming field unless branch
// is a plain branch name (not a tag, a commit or a full ref).
func ValidateBranchName(field, branch string) error {
	switch {
	case branch == "":
		return Errorf(EInvalid, "%s: must not be empty", field)
	case len(branch) > 255, strings.HasPrefix(branch, "-"), strings.HasPrefix(branch, "refs/"),
		strings.ContainsAny(branch, " ~^:?*[\\\x00\n\r\t"), strings.Contains(branch, ".."),
		strings.HasSuffix(branch, "/"), strings.HasSuffix(branch, ".lock"), strings.Contains(branch, "//"):
		return Errorf(EInvalid, "%s: %q is not a branch name", field, branch)
	}
	return nil
}

// A ChangeRequest asks to bring one commit into a frozen cut by a
// cherry-pick. It opens a question ([OriginChangeRequest]); the first
// valid answer approves or refuses it, and an approved one is applied:
// Slipway cherry-picks the commit onto the cut's release branch and pushes
// it. Every step is recorded on the row and in the question's log.
type ChangeRequest struct {
	Tool string
	Cut  string
	// Seq numbers the tool's change requests (1, 2, …).
	Seq    int64
	Commit string
	Reason string
	State  ChangeRequestState
	// QuestionID is the question that decides it.
	QuestionID  string
	RequestedBy string
	RequestedAt time.Time
	DecidedBy   string
	DecidedAt   time.Time
	// Onto is the cut's head the pick was made on; Pick the commit made.
	Onto string
	Pick string
	// Detail says why it was refused, or why applying failed.
	Detail    string
	UpdatedAt time.Time
}

// ChangeRequestState is where a change request is.
type ChangeRequestState string

// Change request states: requested → approved → applied, or refused,
// expired, conflict (the pick does not apply cleanly), failed (the push
// failed; applying again retries).
const (
	CRRequested ChangeRequestState = "requested"
	CRApproved  ChangeRequestState = "approved"
	CRApplied   ChangeRequestState = "applied"
	CRRefused   ChangeRequestState = "refused"
	CRExpired   ChangeRequestState = "expired"
	CRConflict  ChangeRequestState = "conflict"
	CRFailed    ChangeRequestState = "failed"
)

// Final reports whether s takes no more steps.
func (s ChangeRequestState) Final() bool {
	switch s {
	case CRApplied, CRRefused, CRExpired, CRConflict:
		return true
	case CRRequested, CRApproved, CRFailed:
	}
	return false
}

// OriginChangeRequest is the origin of a change request's question; its
// step key is [ChangeRequestStep].
const OriginChangeRequest QuestionOrigin = "change-request"

// ChangeRequestStep is the step key of change request seq's question.
func ChangeRequestStep(seq int64) string { return "change-request:" + strconv.FormatInt(seq, 10) }

// ChangeRequestOf returns the change request seq a question's step key
// names.
func ChangeRequestOf(q Question) (int64, bool) {
	if q.Origin != OriginChangeRequest {
		return 0, false
	}
	s, ok := strings.CutPrefix(q.StepKey, "change-request:")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// Change request answers.
const (
	CRAnswerApprove = "approve"
	CRAnswerRefuse  = "refuse"
)
