package slipway

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// A Question is a pipeline stopping to ask a human: a gate declared in the
// tool config (a step of the deployment's plan) or a question a running
// build or job process asks with `slipway ask`. A pending question is a
// row, never a waiting goroutine: a server that restarts finds it still
// open and answerable.
type Question struct {
	// ID is the question's public identifier ("q-" and 16 hex digits).
	ID string
	// Seq numbers questions in creation order across all tools; never
	// reused.
	Seq          int64
	Tool         string
	DeploymentID string
	// StepKey is the step that asks: the gate step ("gate:web") or the
	// running step whose process asked ("build:web", "run:migrate").
	StepKey string
	// Key makes asking idempotent: the same step asking with the same key
	// gets the same question (and its answer), so a step run again after a
	// crash never asks twice.
	Key    string
	Origin QuestionOrigin
	// Prompt is markdown, shown as text (raw HTML is never rendered).
	Prompt string
	// Options are the answers to choose from; Fields the typed values to
	// fill in instead. A question has one or the other.
	Options []QuestionOption
	Fields  []QuestionField
	Policy  AnswerPolicy
	// Initiator is the actor who started the deployment (its Actor name).
	Initiator string
	CreatedAt time.Time
	// DeadlineAt is when the question expires; OnDeadline says what then.
	DeadlineAt time.Time
	OnDeadline DeadlinePolicy
	// Default is the value taken at the deadline under DeadlineDefault,
	// and preselected in forms.
	Default string
	State   QuestionState
	// Value is the settled answer: the chosen option's value, or for
	// fields a JSON object of key to value.
	Value string
	// SettledBy is who settled it: an actor name, or "system:deadline",
	// "system:cancel".
	SettledBy string
	SettledAt time.Time
	Comment   string
	// Approvals are the actors whose continuing answers count towards
	// Policy.Required while the question is open.
	Approvals []string
}

// IsQuestionID reports whether id has the form of a question's ID: "q-"
// and 16 lowercase hex digits.
func IsQuestionID(id string) bool {
	rest, ok := strings.CutPrefix(id, "q-")
	return ok && len(rest) == 16 &&
		!strings.ContainsFunc(rest, func(c rune) bool { return (c < 'a' || c > 'f') && (c < '0' || c > '9') })
}

// QuestionOrigin says where a question comes from.
type QuestionOrigin string

// The origins of a question.
const (
	OriginGate QuestionOrigin = "gate" // declared in the tool config
	OriginAsk  QuestionOrigin = "ask"  // asked by a running process
)

// QuestionState is where a question is in its life.
type QuestionState string

// The question states: open until answered (quorum reached), rejected (an
// option that stops was chosen), expired (deadline under DeadlineFail) or
// cancelled (its deployment ended or was superseded first).
const (
	QuestionOpen      QuestionState = "open"
	QuestionAnswered  QuestionState = "answered"
	QuestionRejected  QuestionState = "rejected"
	QuestionExpired   QuestionState = "expired"
	QuestionCancelled QuestionState = "cancelled"
)

// Final reports whether a question in state s takes no more answers.
func (s QuestionState) Final() bool { return s != QuestionOpen }

// DeadlinePolicy says what a question's deadline does.
type DeadlinePolicy string

// The deadline policies.
const (
	DeadlineFail    DeadlinePolicy = "fail"    // the question expires; a gate fails its step
	DeadlineDefault DeadlinePolicy = "default" // the default value is taken, by "system:deadline"
)

// QuestionOption is one answer to choose. Stop marks an answer that
// rejects: at a gate it fails the gate step, and the steps after it are
// skipped.
type QuestionOption struct {
	Label string `json:"label"`
	Value string `json:"value"`
	Stop  bool   `json:"stop,omitempty"`
}

// FieldType is the type of a question's field.
type FieldType string

// The field types.
const (
	FieldText    FieldType = "text"
	FieldSelect  FieldType = "select"
	FieldBoolean FieldType = "boolean"
)

// QuestionField is one typed value a question asks for.
type QuestionField struct {
	Key      string    `json:"key"`
	Label    string    `json:"label,omitempty"`
	Type     FieldType `json:"type"`
	Options  []string  `json:"options,omitempty"`
	Required bool      `json:"required,omitempty"`
	Default  string    `json:"default,omitempty"`
}

// AnswerPolicy says who may answer a question and how many answers it
// needs.
type AnswerPolicy struct {
	// Answerers are who may answer: "tool" (any credential of the tool),
	// "admin", or a credential's name ("tool-token:<id>", "cert:<serial>").
	// Empty means "tool". The admin may always answer (audited), so no
	// question is unanswerable.
	Answerers []string `json:"answerers,omitempty"`
	// Required is how many different actors must choose a continuing
	// answer (default 1); one stopping answer settles at once.
	Required int `json:"required,omitempty"`
	// ForbidInitiator refuses answers from the actor who started the
	// deployment.
	ForbidInitiator bool `json:"forbid_initiator,omitempty"`
}

// Question limits.
const (
	// MaxPromptBytes bounds a question's prompt.
	MaxPromptBytes = 4096
	// MaxQuestionChoices bounds options, fields and a field's options.
	MaxQuestionChoices = 20
	// MaxAnswerBytes bounds one answer value and one comment.
	MaxAnswerBytes = 4096
	// DefaultQuestionTimeout is a question's deadline when none is given.
	DefaultQuestionTimeout = 24 * time.Hour
	// MaxQuestionTimeout caps a question's deadline: deployments end in
	// bounded time.
	MaxQuestionTimeout = 7 * 24 * time.Hour
	// MaxRequiredAnswers bounds AnswerPolicy.Required.
	MaxRequiredAnswers = 10
)

// DefaultGateOptions are a gate's answers when its config names none.
var DefaultGateOptions = []QuestionOption{
	{Label: "Continue", Value: "continue"},
	{Label: "Stop", Value: "stop", Stop: true},
}

// MayAnswer returns "" when a may answer q, else the reason it may not
// (shown to the actor).
func (q Question) MayAnswer(a Actor) string {
	if q.Policy.ForbidInitiator && q.Initiator != "" && a.Name == q.Initiator {
		return "you started this deployment, and this question is for somebody else"
	}
	if a.Admin {
		return ""
	}
	if a.Tool != q.Tool {
		return "this question belongs to tool " + q.Tool
	}
	who := q.Policy.Answerers
	if len(who) == 0 {
		who = []string{"tool"}
	}
	if slices.Contains(who, "tool") || slices.Contains(who, a.Name) {
		return ""
	}
	return "only " + strings.Join(who, ", ") + " may answer this question"
}

// Option returns the option with value v.
func (q Question) Option(v string) (QuestionOption, bool) {
	i := slices.IndexFunc(q.Options, func(o QuestionOption) bool { return o.Value == v })
	if i < 0 {
		return QuestionOption{}, false
	}
	return q.Options[i], true
}

// Required is how many continuing answers settle q.
func (q Question) Required() int { return max(q.Policy.Required, 1) }

// ValidateQuestion checks a question's content (prompt, options or fields,
// policy, default) and returns each problem as "field: what is wrong".
func ValidateQuestion(q Question) []string {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	switch {
	case strings.TrimSpace(q.Prompt) == "":
		bad("question: must not be empty")
	case len(q.Prompt) > MaxPromptBytes:
		bad("question: %d bytes, at most %d", len(q.Prompt), MaxPromptBytes)
	case strings.ContainsRune(q.Prompt, 0):
		bad("question: must not contain NUL bytes")
	}
	if len(q.Options) > 0 && len(q.Fields) > 0 {
		bad("fields: give options or fields, not both")
	}
	if len(q.Options)+len(q.Fields) > MaxQuestionChoices {
		bad("options: at most %d", MaxQuestionChoices)
	}
	seen := map[string]bool{}
	for i, o := range q.Options {
		switch {
		case o.Value == "" || len(o.Value) > 200 || strings.ContainsAny(o.Value, "\x00\n\r"):
			bad("options[%d].value: must be 1 to 200 characters on one line", i)
		case seen[o.Value]:
			bad("options[%d].value: %q is given twice", i, o.Value)
		}
		seen[o.Value] = true
		if len(o.Label) > 200 || strings.ContainsAny(o.Label, "\x00\n\r") {
			bad("options[%d].label: at most 200 characters on one line", i)
		}
	}
	for i, f := range q.Fields {
		probs = append(probs, validateField(i, f, seen)...)
	}
	if q.Default != "" && len(q.Options) > 0 {
		if _, ok := q.Option(q.Default); !ok {
			bad("default: %q is not the value of an option (%s)", q.Default, optionValues(q.Options))
		}
	}
	if q.OnDeadline == DeadlineDefault && q.Default == "" && len(q.Fields) == 0 {
		bad("on_timeout: \"default\" needs a default answer")
	}
	if r := q.Policy.Required; r < 0 || r > MaxRequiredAnswers {
		bad("required_answers: must be between 1 and %d", MaxRequiredAnswers)
	}
	for i, a := range q.Policy.Answerers {
		if a != "tool" && a != "admin" && !validCredentialName(a) {
			bad("answerers[%d]: %q is not \"tool\", \"admin\" or a credential name such as tool-token:<id>", i, a)
		}
	}
	return probs
}

// validateField checks one field; seen holds the keys so far.
func validateField(i int, f QuestionField, seen map[string]bool) []string {
	var probs []string
	bad := func(format string, args ...any) {
		probs = append(probs, fmt.Sprintf("fields[%d].", i)+fmt.Sprintf(format, args...))
	}
	switch {
	case !validFieldKey(f.Key):
		bad("key: %q must be 1 to 40 letters, digits, - or _", f.Key)
	case seen[f.Key]:
		bad("key: %q is given twice", f.Key)
	}
	seen[f.Key] = true
	switch f.Type {
	case FieldText:
		if len(f.Options) > 0 {
			bad("options: only a select field has options")
		}
	case FieldSelect:
		if len(f.Options) == 0 || len(f.Options) > MaxQuestionChoices {
			bad("options: a select field needs 1 to %d options", MaxQuestionChoices)
		}
		if f.Default != "" && !slices.Contains(f.Options, f.Default) {
			bad("default: %q is not one of its options", f.Default)
		}
	case FieldBoolean:
		if f.Default != "" && f.Default != "true" && f.Default != "false" {
			bad("default: a boolean field's default is true or false")
		}
	default:
		bad("type: %q is not text, select or boolean", f.Type)
	}
	if len(f.Label) > 200 || len(f.Default) > MaxAnswerBytes {
		bad("label: at most 200 characters")
	}
	return probs
}

func validFieldKey(k string) bool {
	if k == "" || len(k) > 40 {
		return false
	}
	for _, r := range k {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_' {
			return false
		}
	}
	return true
}

// validCredentialName reports whether s looks like a credential name:
// "kind:rest" with a known kind.
func validCredentialName(s string) bool {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" || len(s) > 200 || strings.ContainsAny(s, " \x00\n") {
		return false
	}
	return kind == "tool-token" || kind == "cert" || kind == "proxy"
}

func optionValues(opts []QuestionOption) string {
	vs := make([]string, len(opts))
	for i, o := range opts {
		vs[i] = o.Value
	}
	return strings.Join(vs, ", ")
}

// Gate is a question declared in the tool config: before a deployment
// changes the component, it asks and waits (its own plan step,
// "gate:<component>", after the steps the component waits for). A
// stopping answer, or the deadline under DeadlineFail, fails the gate and
// skips the component's run.
type Gate struct {
	Question  string
	Options   []QuestionOption
	Fields    []QuestionField
	Policy    AnswerPolicy
	Timeout   time.Duration
	OnTimeout DeadlinePolicy
	Default   string
}

// QuestionOf returns the question g asks, without its identity and
// times; a gate without options or fields offers [DefaultGateOptions].
func (g Gate) QuestionOf() Question {
	q := Question{
		Origin: OriginGate, Prompt: g.Question, Options: slices.Clone(g.Options), Fields: slices.Clone(g.Fields),
		Policy: g.Policy, OnDeadline: cmp.Or(g.OnTimeout, DeadlineFail), Default: g.Default, Key: "gate",
	}
	if len(q.Options) == 0 && len(q.Fields) == 0 {
		q.Options = slices.Clone(DefaultGateOptions)
	}
	return q
}

// TimeoutOrDefault is g's deadline from when it asks.
func (g Gate) TimeoutOrDefault() time.Duration {
	if g.Timeout <= 0 {
		return DefaultQuestionTimeout
	}
	return min(g.Timeout, MaxQuestionTimeout)
}

// QuestionLogEntry is one append-only record of a question's life: opened,
// an answer (counted or not), a refused attempt with its reason, expired,
// cancelled. The audit trail.
type QuestionLogEntry struct {
	Seq        int64
	QuestionID string
	Tool       string
	Kind       QuestionLogKind
	Actor      string
	Value      string
	Comment    string
	// Source is where an answer came from: api, cli, ui.
	Source string
	// Reason says why an attempt was refused, or what an entry did.
	Reason string
	At     time.Time
}

// QuestionLogKind names a question log entry.
type QuestionLogKind string

// The question log kinds.
const (
	LogOpened    QuestionLogKind = "opened"
	LogAnswer    QuestionLogKind = "answer"
	LogRefused   QuestionLogKind = "refused"
	LogSettled   QuestionLogKind = "settled"
	LogExpired   QuestionLogKind = "expired"
	LogCancelled QuestionLogKind = "cancelled"
)

// AskTokenPrefix starts every ask token, so that one is told from an API
// token (and found by secret scanners) at a glance.
const AskTokenPrefix = "slask_"

// The environment of a deployment step's processes that may ask (a
// build, a one-off run): where the API is, and the step's ask token.
// `slipway ask` reads them; envvars may not be named SLIPWAY_*.
const (
	EnvAskURL   = "SLIPWAY_URL"
	EnvAskToken = "SLIPWAY_ASK_TOKEN" //nolint:gosec // G101: a variable's name, not a credential
)

// ScheduledAskStep is the step an ask token of a scheduled run names: a
// scheduled run belongs to no deployment, so its questions have none.
func ScheduledAskStep(component, run string) string { return "scheduled:" + component + "/" + run }

// ScheduledAskStepIn is [ScheduledAskStep] for a run in an environment
// other than DefaultEnvironment: the component is named component@env.
func ScheduledAskStepIn(component, environment, run string) string {
	if environment == "" || environment == DefaultEnvironment {
		return ScheduledAskStep(component, run)
	}
	return ScheduledAskStep(component+"@"+environment, run)
}

// Scheduled returns the component and run of the scope of a scheduled
// run's ask token; ok is false for a deployment step's scope.
func (s AskScope) Scheduled() (component, run string, ok bool) {
	rest, found := strings.CutPrefix(s.Step, "scheduled:")
	if !found || s.DeploymentID != "" {
		return "", "", false
	}
	component, run, ok = strings.Cut(rest, "/")
	return component, run, ok && component != "" && run != ""
}

// AskScope is what an ask token lets its bearer do: ask, and read the
// questions of, one step of one deployment.
type AskScope struct {
	Tool, DeploymentID, Step string
}

// ReadAskScope returns the scope an ask token names, without checking
// its signature (the server does): `slipway ask` learns its tool from it.
func ReadAskScope(token string) (AskScope, bool) {
	rest, found := strings.CutPrefix(token, AskTokenPrefix)
	if !found || len(rest) > 1024 {
		return AskScope{}, false
	}
	body, _, found := strings.Cut(rest, ".")
	if !found {
		return AskScope{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return AskScope{}, false
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
		return AskScope{}, false
	}
	s := AskScope{Tool: parts[0], DeploymentID: parts[1], Step: parts[2]}
	if _, _, scheduled := s.Scheduled(); s.DeploymentID == "" && !scheduled {
		return AskScope{}, false // only a scheduled run's scope has no deployment
	}
	return s, true
}

// Answer is what somebody answers: an option's value, or fields' values.
type Answer struct {
	Value   string
	Fields  map[string]string
	Comment string
	// Source is where the answer comes from: api, cli, ui.
	Source string
}

// CheckAnswer returns the value an answer settles q with (for fields, a
// JSON object of key to value, defaults filled in), whether it stops, and
// what is wrong with it ("" when nothing is).
func (q Question) CheckAnswer(a Answer) (value string, stop bool, problem string) {
	switch {
	case len(a.Comment) > MaxAnswerBytes || strings.ContainsRune(a.Comment, 0):
		return "", false, fmt.Sprintf("comment: at most %d bytes, no NUL bytes", MaxAnswerBytes)
	case len(q.Fields) == 0 && len(a.Fields) > 0:
		return "", false, "this question has options, not fields: answer with a value (" + optionValues(q.Options) + ")"
	case len(q.Fields) == 0:
		o, ok := q.Option(a.Value)
		if !ok {
			return "", false, fmt.Sprintf("%q is not an answer to this question: choose one of %s", a.Value, optionValues(q.Options))
		}
		return o.Value, o.Stop, ""
	}
	// Fields. A gate with fields stops with the value "stop" alone.
	if q.Origin == OriginGate && a.Value == "stop" && len(a.Fields) == 0 {
		return "stop", true, ""
	}
	if a.Value != "" {
		return "", false, "this question has fields, not options: answer with fields (" + fieldKeys(q.Fields) + ")"
	}
	out := map[string]string{}
	var probs []string
	for _, f := range q.Fields {
		v, problem := f.CheckValue(a.Fields[f.Key])
		if problem != "" {
			probs = append(probs, f.Key+": "+problem)
		}
		out[f.Key] = v
	}
	for k := range a.Fields {
		if !slices.ContainsFunc(q.Fields, func(f QuestionField) bool { return f.Key == k }) {
			probs = append(probs, fmt.Sprintf("%s: not a field of this question (%s)", k, fieldKeys(q.Fields)))
		}
	}
	if len(probs) > 0 {
		slices.Sort(probs)
		return "", false, strings.Join(probs, "; ")
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", false, err.Error()
	}
	return string(b), false, ""
}

// CheckValue returns the value an answer that gives v for field f settles
// it with (the default for an empty v; false for an empty boolean), and
// what is wrong with v ("" when nothing is), as [Question.CheckAnswer]
// says it after the field's key.
func (f QuestionField) CheckValue(v string) (value, problem string) {
	if v == "" {
		v = f.Default
	}
	switch {
	case len(v) > MaxAnswerBytes || strings.ContainsRune(v, 0):
		problem = fmt.Sprintf("at most %d bytes, no NUL bytes", MaxAnswerBytes)
	case v == "" && f.Required:
		problem = "required"
	case v != "" && f.Type == FieldSelect && !slices.Contains(f.Options, v):
		problem = fmt.Sprintf("%q is not one of %s", v, strings.Join(f.Options, ", "))
	case f.Type == FieldBoolean && v != "" && v != "true" && v != "false":
		problem = fmt.Sprintf("%q is not true or false", v)
	}
	if f.Type == FieldBoolean && v == "" {
		v = "false"
	}
	return v, problem
}

func fieldKeys(fs []QuestionField) string {
	ks := make([]string, len(fs))
	for i, f := range fs {
		ks[i] = f.Key
	}
	return strings.Join(ks, ", ")
}
