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
	// Pick is the cherry-pick of the commit found in what runs: set when
	// State is LiveCherryPicked, and when it is LiveAbsent because the
	// cherry-pick was reverted since (Pick.RevertedBy) or the search was
	// cut short (Pick.Partial).
	Pick CherryPick
}

// LiveState is how a commit is in a live component.
type LiveState string

// The live states.
const (
	LiveExact    LiveState = "exact"    // the component runs this very commit
	LiveIncluded LiveState = "included" // an ancestor of the commit it runs (merged into it)
	// LiveCherryPicked: not an ancestor, but the first-parent history of
	// what it runs has a commit with the same patch ([CherryPick]).
	LiveCherryPicked LiveState = "cherry-picked"
	LiveAbsent       LiveState = "absent"  // not in what it runs
	LiveUnknown      LiveState = "unknown" // it runs a prebuilt image, or another repository's code
)

// A CherryPick is a commit with the same change as another one: the same
// `git patch-id --stable` (the diff, ignoring whitespace, line numbers
// and the order of files), found in a tip's first-parent history since it
// forked from that other commit. A cherry-pick whose conflicts were
// resolved by changing the patch has another patch-id and is not one.
type CherryPick struct {
	// Commit is the cherry-pick (the newest, when there are several); ""
	// when none was found.
	Commit string
	// RevertedBy is a commit after Commit on the same first-parent path
	// whose patch undoes it (its patch-id is that of the commit's reverse
	// diff); "" when the pick stands.
	RevertedBy string
	// Partial is true when the history searched was longer than the bound
	// and only its newest commits were read: no cherry-pick found then
	// means none among those.
	Partial bool
}

// Found reports whether the cherry-pick is in the tip: found and not
// reverted.
func (p CherryPick) Found() bool { return p.Commit != "" && p.RevertedBy == "" }

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
	// How is how the release included it: LiveExact, LiveIncluded (it
	// merged the commit) or LiveCherryPicked (it had a cherry-pick of it,
	// Pick); "" when no release did.
	How  LiveState
	Pick string
}

// A Commit is one commit of a repository's history, as release notes
// read it.
type Commit struct {
	Hash        string
	Parents     []string
	Author      string
	AuthorEmail string
	AuthoredAt  time.Time
	// Subject is the message's first paragraph on one line; Body the rest
	// (bounded: a long one ends in "…").
	Subject  string
	Body     string
	Trailers []Trailer
}

// A Trailer is a "Key: value" line of a commit message's last paragraph,
// as git parses it (Signed-off-by, Changelog, …).
type Trailer struct {
	Key, Value string
}

// CommitLog is a first-parent history between two commits, newest first.
type CommitLog struct {
	Commits []Commit
	// Truncated says there were more commits than the bound: Commits are
	// the newest.
	Truncated bool
	// Missing names the commits asked about that the repository does not
	// have; then Commits is empty.
	Missing []string
}

// NotesQuery selects the releases notes compare: From and To are release
// numbers ([Release.Seq]) of the environment; 0 is the default (To: each
// component's current release; From: each component's release before its
// To release).
type NotesQuery struct {
	Environment string
	Component   string
	From, To    int64
}

// ReleaseNotes are the changes between two points of a tool's release
// history in an environment, per component.
type ReleaseNotes struct {
	Tool        string
	Environment string
	// From and To are as asked (0: the default).
	From, To   int64
	Components []ComponentNotes
}

// ComponentNotes are one component's changes between two of its releases.
type ComponentNotes struct {
	Component string
	// From and To are the component's releases compared; From.Seq is 0
	// when it had none before To.
	From, To Release
	Change   NotesChange
	// Repository is the repository its code comes from (redacted); WebURL
	// its web page when the host is known ("" otherwise).
	Repository string
	WebURL     string
	// Commits are To's first-parent commits that From does not have,
	// newest first; Removed are From's that To no longer has (a rollback,
	// or a rewritten history).
	Commits []NoteCommit
	Removed []NoteCommit
	// Truncated says a list was cut at the bound.
	Truncated bool
	// Base is, for a rewritten history, the last commit both releases'
	// first-parent histories share ("" when not found within the bound).
	Base string
	// Note says in words what could not be compared, and why.
	Note string
}

// NotesChange is how a component's code changed between two releases.
type NotesChange string

// The changes.
const (
	NotesChanged    NotesChange = "changed"     // To's commit descends from From's: commits added
	NotesUnchanged  NotesChange = "unchanged"   // the same commit (the build or the config may differ)
	NotesRolledBack NotesChange = "rolled-back" // To's commit is an ancestor of From's: commits taken out
	NotesRewritten  NotesChange = "rewritten"   // neither: the branch was rewritten (a force push)
	NotesAdded      NotesChange = "added"       // no release before To: a new component
	NotesRemoved    NotesChange = "removed"     // To removed the component
	NotesUnknown    NotesChange = "unknown"     // no history to compare: Note says why
)

// A NoteCommit is a commit of release notes, classified.
type NoteCommit struct {
	Commit
	// Section is the group it is listed in.
	Section NoteSection
	// Type is its Conventional Commits type or Changelog trailer value as
	// written, lowercased ("" when it has neither); Scope the type's scope.
	Type  string
	Scope string
	// Breaking marks a breaking change ("type!:" or a BREAKING CHANGE
	// footer); it is listed under [SectionBreaking].
	Breaking bool
	// Title is the subject without its type prefix (for a merge with
	// git's or a forge's merge subject, the merged request's title).
	Title string
	// Reverts is the commit a revert says it reverts ("This reverts
	// commit X."), "" otherwise.
	Reverts string
	// URL is the commit's web page ("" without a known host).
	URL string
}

// NoteSection is a group of release notes.
type NoteSection string
