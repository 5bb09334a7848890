package slipway

import (
	"errors"
	"fmt"
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

// CutRequest is what cutting a release names.
type CutRequest struct {
	Name string
	// Branch is the branch to cut from; At a commit on it (default its
	// tip: a full or short SHA, or any ref that resolves).
	Branch string
	At     string
	Frozen bool
	// Component names whose repository is cut; "" when the tool's
	// components build from one repository.
	Component string
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

// Errors of the git adapter's release branch operations (wrapped).
var (
	// ErrPickConflict means a cherry-pick does not apply cleanly.
	ErrPickConflict = errors.New("the cherry-pick does not apply cleanly")
	// ErrBranchMoved means a release branch is not where Slipway left it
	// (a push from elsewhere), so Slipway does not overwrite it.
	ErrBranchMoved = errors.New("the release branch moved outside Slipway")
)

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

// CutNotes are the changes between two cuts of one repository: the
// first-parent commits of To's head that From's head lacks, and, when
// From's head is not an ancestor of To's (a frozen cut's cherry-picks),
// From's commits that To lacks (Removed). A cherry-pick names the commit
// it was picked from (PickedFrom: git's "(cherry picked from commit …)"
// line, else the same patch-id); a commit of To that From has as a pick
// names the pick (PickedAs).
type CutNotes struct {
	Tool       string
	Repository string
	From, To   Cut
	Change     NotesChange
	// Base is the last commit both share, when neither contains the other.
	Base      string
	Commits   []CutNoteCommit
	Removed   []CutNoteCommit
	Truncated bool
}

// CutDiverged is the change between two cuts neither of whose heads
// contains the other's: typically a frozen cut with cherry-picks and a
// later cut of its branch.
const CutDiverged NotesChange = "diverged"

// CutNoteCommit is a commit of cut notes.
type CutNoteCommit struct {
	NoteCommit
	PickedFrom string
	PickedAs   string
}

// pickedFromRE finds the line `git cherry-pick -x` adds.
var pickedFromRE = regexp.MustCompile(`\(cherry picked from commit ([0-9a-f]{40}|[0-9a-f]{64})\)`)

// PickedFromTrailer returns the commit c's message says it was
// cherry-picked from ("" when it says none; the last one when several).
func PickedFromTrailer(c Commit) string {
	m := pickedFromRE.FindAllStringSubmatch(c.Subject+"\n"+c.Body, -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1][1]
}

// CutNotesMarkdown renders cut notes as Markdown, commit text escaped.
func CutNotesMarkdown(n CutNotes) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Release notes: %s, %s → %s\n\n", mdEscape(n.Tool), mdEscape(n.From.Name), mdEscape(n.To.Name))
	web, _ := RepoWebOf(n.Repository)
	link := func(commit string) string {
		if u := web.CommitURL(commit); u != "" {
			return "[" + shortCode(commit) + "](" + u + ")"
		}
		return shortCode(commit)
	}
	fmt.Fprintf(&b, "%s (%s) → %s (%s): %s", mdEscape(n.From.Name), link(n.From.Head), mdEscape(n.To.Name), link(n.To.Head), plural(len(n.Commits), "commit"))
	if len(n.Removed) > 0 {
		fmt.Fprintf(&b, "; %s of %s that %s does not have", plural(len(n.Removed), "commit"), mdEscape(n.From.Name), mdEscape(n.To.Name))
	}
	b.WriteString(".\n")
	if n.Truncated {
		b.WriteString("\n> Only the newest commits are shown: the span is longer.\n")
	}
	line := func(c CutNoteCommit) {
		b.WriteString("- ")
		if c.Scope != "" {
			fmt.Fprintf(&b, "**%s:** ", mdEscape(c.Scope))
		}
		fmt.Fprintf(&b, "%s (%s", mdEscape(c.Title), link(c.Hash))
		if c.PickedFrom != "" {
			fmt.Fprintf(&b, ", cherry-pick of %s", link(c.PickedFrom))
		}
		if c.PickedAs != "" {
			fmt.Fprintf(&b, ", in %s as cherry-pick %s", mdEscape(n.From.Name), link(c.PickedAs))
		}
		b.WriteString(")")
		if c.Author != "" {
			fmt.Fprintf(&b, " by %s", mdEscape(c.Author))
		}
		b.WriteString("\n")
	}
	for _, s := range NoteSections {
		first := true
		for _, c := range n.Commits {
			if c.Section != s {
				continue
			}
			if first {
				fmt.Fprintf(&b, "\n### %s\n\n", s.Title())
				first = false
			}
			line(c)
		}
	}
	if len(n.Removed) > 0 {
		fmt.Fprintf(&b, "\n### Only in %s\n\n", mdEscape(n.From.Name))
		for _, c := range n.Removed {
			line(c)
		}
	}
	return b.String()
}
