package slipway

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// A ReleasePlan is one release procedure over many tools (issue 15): the
// same stages run for each member tool, as one [Train]. Plans are global
// (not a tool's): only the admin makes, runs and answers them.
type ReleasePlan struct {
	Name string
	// Members are the tools the plan runs over, in the order shown.
	Members []string
	// Stages run in order; each ends when every member's work in it is
	// final.
	Stages []PlanStage
	// MaxParallel bounds how many members' deployments of a stage run at
	// once (0: all of them).
	MaxParallel int
	CreatedAt   time.Time
	CreatedBy   string
	UpdatedAt   time.Time
}

// A PlanStage is one of deploy (a deployment of each member's current
// config to that environment), ask (one question for the whole train) and
// promote (each member promoted to that environment from its upstream).
// Exactly one is set.
type PlanStage struct {
	Deploy  string `json:"deploy,omitempty"`
	Ask     string `json:"ask,omitempty"`
	Promote string `json:"promote,omitempty"`
}

// Kind returns "deploy", "ask" or "promote".
func (s PlanStage) Kind() string {
	switch {
	case s.Deploy != "":
		return "deploy"
	case s.Ask != "":
		return "ask"
	default:
		return "promote"
	}
}

// Environment returns the environment a deploy or promote stage goes to.
func (s PlanStage) Environment() string { return s.Deploy + s.Promote }

// String is "deploy to staging", "ask: Go?" or "promote to production".
func (s PlanStage) String() string {
	switch s.Kind() {
	case "deploy":
		return "deploy to " + s.Deploy
	case "ask":
		return "ask: " + s.Ask
	default:
		return "promote to " + s.Promote
	}
}

// Limits of a plan.
const (
	MaxPlanName    = 63
	MaxPlanMembers = 500
	MaxPlanStages  = 20
	MaxPlanPrompt  = 2000
)

var planNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$`)

// Validate returns an EInvalid [Error] naming the first field that is
// wrong.
func (p ReleasePlan) Validate() error {
	if len(p.Name) > MaxPlanName || !planNameRE.MatchString(p.Name) {
		return Errorf(EInvalid, "name: %q is not a plan name: 1-%d lowercase letters, digits, dots, dashes or underscores, starting and ending with a letter or digit", p.Name, MaxPlanName)
	}
	switch {
	case len(p.Members) == 0:
		return Errorf(EInvalid, "members: a plan needs at least one tool")
	case len(p.Members) > MaxPlanMembers:
		return Errorf(EInvalid, "members: %d tools, at most %d", len(p.Members), MaxPlanMembers)
	case len(p.Stages) == 0:
		return Errorf(EInvalid, "stages: a plan needs at least one stage (deploy, ask or promote)")
	case len(p.Stages) > MaxPlanStages:
		return Errorf(EInvalid, "stages: %d stages, at most %d", len(p.Stages), MaxPlanStages)
	case p.MaxParallel < 0:
		return Errorf(EInvalid, "max_parallel: %d is negative (0 runs every member at once)", p.MaxParallel)
	}
	seen := map[string]bool{}
	for i, m := range p.Members {
		if err := ValidateToolName(m); err != nil {
			return Errorf(EInvalid, "members[%d]: %v", i, err)
		}
		if seen[m] {
			return Errorf(EInvalid, "members[%d]: tool %s is listed twice", i, m)
		}
		seen[m] = true
	}
	for i, s := range p.Stages {
		set := 0
		for _, v := range []string{s.Deploy, s.Ask, s.Promote} {
			if v != "" {
				set++
			}
		}
		if set != 1 {
			return Errorf(EInvalid, "stages[%d]: set exactly one of deploy, ask, promote", i)
		}
		switch s.Kind() {
		case "ask":
			if len(s.Ask) > MaxPlanPrompt || strings.TrimSpace(s.Ask) == "" {
				return Errorf(EInvalid, "stages[%d].ask: the question must be 1-%d characters", i, MaxPlanPrompt)
			}
		default:
			if err := ValidateEnvironmentName(fmt.Sprintf("stages[%d].%s", i, s.Kind()), s.Environment()); err != nil {
				return err
			}
		}
	}
	return nil
}

// TrainState is a train's state: running until every stage has ended,
// then completed (every member that ran succeeded), partial (some
// failed), failed (none succeeded) or cancelled (cancelled, or "no" at
// its question).
type TrainState string

// The states of a train.
const (
	TrainRunning   TrainState = "running"
	TrainCompleted TrainState = "completed"
	TrainPartial   TrainState = "partial"
	TrainFailed    TrainState = "failed"
	TrainCancelled TrainState = "cancelled"
)

// Final reports whether the train has ended.
func (s TrainState) Final() bool { return s != TrainRunning && s != "" }

// TrainMode says what a train does with members its preflight finds
// unable to run a stage: run the others (eligible) or refuse to start
// (all_or_nothing).
type TrainMode string

// The modes of a train.
const (
	TrainEligible     TrainMode = "eligible"
	TrainAllOrNothing TrainMode = "all_or_nothing"
)

// A Train is one run of a [ReleasePlan]: its members and stages as they
// were when it started (a later change of the plan changes no running
// train).
type Train struct {
	ID          string
	Plan        string
	Members     []string
	Stages      []PlanStage
	Mode        TrainMode
	MaxParallel int
	State       TrainState
	// Stage is the index of the stage running (len(Stages) once all ran).
	Stage int
	// Answers are the answers to its ask stages, in stage order.
	Answers []TrainAnswer
	// Reason says why it ended other than completed.
	Reason    string
	CreatedAt time.Time
	CreatedBy string
	UpdatedAt time.Time
	// Version counts its updates: an update applies only over the
	// version it read (two advances never both apply).
	Version int64
}

// A TrainAnswer is the answer given at an ask stage.
type TrainAnswer struct {
	Stage   int       `json:"stage"`
	Value   string    `json:"value"` // "yes" or "no"
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Comment string    `json:"comment,omitempty"`
}

// AnswerOf returns the answer given at stage i, if any.
func (t Train) AnswerOf(i int) (TrainAnswer, bool) {
	j := slices.IndexFunc(t.Answers, func(a TrainAnswer) bool { return a.Stage == i })
	if j < 0 {
		return TrainAnswer{}, false
	}
	return t.Answers[j], true
}

// MemberState is the state of one member's work in one stage.
type MemberState string

// The states of a member's cell.
const (
	MemberPending   MemberState = "pending"
	MemberRunning   MemberState = "running"
	MemberSucceeded MemberState = "succeeded"
	MemberFailed    MemberState = "failed"
	// MemberSkipped: not run, with the reason (the preflight found it
	// unable to, or it failed an earlier stage, or the train ended).
	MemberSkipped MemberState = "skipped"
)

// Final reports whether the cell's work has ended.
func (s MemberState) Final() bool {
	return s == MemberSucceeded || s == MemberFailed || s == MemberSkipped
}

// A TrainMember is one member's cell in one deploy or promote stage: the
// deployment it made there (recorded in the transaction that created it,
// so a server that restarts adopts it and never makes a second), its
// state and why.
type TrainMember struct {
	TrainID      string
	Tool         string
	Stage        int
	State        MemberState
	DeploymentID string
	Reason       string
	StartedAt    time.Time
	FinishedAt   time.Time
}

// NewTrainID returns a new train ID: "tr-", the time and 8 random hex
// digits (sortable by creation).
func NewTrainID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "tr-" + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

var trainIDRE = regexp.MustCompile(`^tr-[0-9]{8}-[0-9]{6}-[0-9a-f]{8}$`)

// ValidateTrainID returns an EInvalid [Error] unless id has a train ID's
// form.
func ValidateTrainID(id string) error {
	if !trainIDRE.MatchString(id) {
		return Errorf(EInvalid, "train: %q is not a train ID (tr-YYYYMMDD-HHMMSS-xxxxxxxx)", id)
	}
	return nil
}
