package slipway

import (
	"strings"
	"testing"
)

func TestQuestion_MayAnswer(t *testing.T) {
	q := Question{Tool: "a", Initiator: "tool-token:me", Policy: AnswerPolicy{ForbidInitiator: true}}
	for _, c := range []struct {
		name string
		q    Question
		a    Actor
		want string // "" or a part of the reason
	}{
		{"a member", q, Actor{Name: "tool-token:x", Tool: "a"}, ""},
		{"the admin", q, Actor{Name: "admin", Admin: true}, ""},
		{"another tool", q, Actor{Name: "tool-token:y", Tool: "b"}, "belongs to tool a"},
		{"the initiator", q, Actor{Name: "tool-token:me", Tool: "a"}, "you started this deployment"},
		{"the initiator, when allowed", Question{Tool: "a", Initiator: "tool-token:me"}, Actor{Name: "tool-token:me", Tool: "a"}, ""},
		{"a named credential", Question{Tool: "a", Policy: AnswerPolicy{Answerers: []string{"tool-token:x"}}}, Actor{Name: "tool-token:x", Tool: "a"}, ""},
		{"a member not named", Question{Tool: "a", Policy: AnswerPolicy{Answerers: []string{"admin"}}}, Actor{Name: "tool-token:x", Tool: "a"}, "only admin may answer"},
	} {
		got := c.q.MayAnswer(c.a)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: MayAnswer = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestValidateQuestion(t *testing.T) {
	ok := Question{Prompt: "Continue?", Options: DefaultGateOptions, Default: "stop", OnDeadline: DeadlineDefault}
	if probs := ValidateQuestion(ok); len(probs) != 0 {
		t.Errorf("a good question: %q", probs)
	}
	for _, c := range []struct {
		name string
		edit func(*Question)
		want string
	}{
		{"empty prompt", func(q *Question) { q.Prompt = " " }, "question: must not be empty"},
		{"NUL", func(q *Question) { q.Prompt = "a\x00" }, "NUL"},
		{"huge prompt", func(q *Question) { q.Prompt = strings.Repeat("x", MaxPromptBytes+1) }, "at most 4096"},
		{"both", func(q *Question) { q.Fields = []QuestionField{{Key: "k", Type: FieldText}} }, "give options or fields, not both"},
		{"twice", func(q *Question) { q.Options = []QuestionOption{{Value: "a"}, {Value: "a"}} }, `"a" is given twice`},
		{"unknown default", func(q *Question) { q.Default = "maybe" }, `default: "maybe" is not the value of an option (continue, stop)`},
		{"default missing", func(q *Question) { q.Default = "" }, `needs a default answer`},
		{"bad field type", func(q *Question) { q.Options = nil; q.Fields = []QuestionField{{Key: "k", Type: "date"}} }, `fields[0].type: "date"`},
		{"select without options", func(q *Question) { q.Options = nil; q.Fields = []QuestionField{{Key: "k", Type: FieldSelect}} }, "needs 1 to 20 options"},
		{"bad key", func(q *Question) { q.Options = nil; q.Fields = []QuestionField{{Key: "a b", Type: FieldText}} }, `key: "a b"`},
		{"bad answerer", func(q *Question) { q.Policy.Answerers = []string{"everyone"} }, `answerers[0]: "everyone"`},
		{"quorum", func(q *Question) { q.Policy.Required = 11 }, "required_answers: must be between 1 and 10"},
	} {
		q := ok
		c.edit(&q)
		if probs := strings.Join(ValidateQuestion(q), "; "); !strings.Contains(probs, c.want) {
			t.Errorf("%s: problems %q, want one with %q", c.name, probs, c.want)
		}
	}
}

func TestQuestion_CheckAnswer(t *testing.T) {
	opts := Question{Options: DefaultGateOptions, Origin: OriginGate}
	fields := Question{Origin: OriginGate, Fields: []QuestionField{
		{Key: "batch", Type: FieldSelect, Options: []string{"1", "10"}, Required: true},
		{Key: "dry", Type: FieldBoolean},
		{Key: "why", Type: FieldText, Default: "because"},
	}}
	for _, c := range []struct {
		name  string
		q     Question
		a     Answer
		value string
		stop  bool
		prob  string
	}{
		{"an option", opts, Answer{Value: "continue"}, "continue", false, ""},
		{"a stopping option", opts, Answer{Value: "stop"}, "stop", true, ""},
		{"no option", opts, Answer{Value: "maybe"}, "", false, `"maybe" is not an answer to this question: choose one of continue, stop`},
		{"fields to options", opts, Answer{Fields: map[string]string{"a": "b"}}, "", false, "has options, not fields"},
		{"fields", fields, Answer{Fields: map[string]string{"batch": "10", "dry": "true"}}, `{"batch":"10","dry":"true","why":"because"}`, false, ""},
		{"a gate with fields stops", fields, Answer{Value: "stop"}, "stop", true, ""},
		{"missing required", fields, Answer{Fields: map[string]string{"dry": "true"}}, "", false, "batch: required"},
		{"bad select", fields, Answer{Fields: map[string]string{"batch": "5"}}, "", false, `batch: "5" is not one of 1, 10`},
		{"bad boolean", fields, Answer{Fields: map[string]string{"batch": "1", "dry": "yes"}}, "", false, `dry: "yes" is not true or false`},
		{"unknown field", fields, Answer{Fields: map[string]string{"batch": "1", "colour": "red"}}, "", false, "colour: not a field of this question (batch, dry, why)"},
		{"huge comment", opts, Answer{Value: "continue", Comment: strings.Repeat("x", MaxAnswerBytes+1)}, "", false, "comment: at most"},
	} {
		v, stop, prob := c.q.CheckAnswer(c.a)
		if v != c.value || stop != c.stop || (c.prob == "") != (prob == "") || !strings.Contains(prob, c.prob) {
			t.Errorf("%s: = %q, %v, %q; want %q, %v, %q", c.name, v, stop, prob, c.value, c.stop, c.prob)
		}
	}
}

func TestIsQuestionID(t *testing.T) {
	for id, want := range map[string]bool{
		"q-0123456789abcdef": true, "q-0123456789ABCDEF": false, "q-0123456789abcde": false,
		"q-0123456789abcdef0": false, "0123456789abcdef": false, "q-0123456789abcdeg": false, "": false,
	} {
		if got := IsQuestionID(id); got != want {
			t.Errorf("IsQuestionID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestQuestionField_CheckValue(t *testing.T) {
	t.Parallel()
	sel := QuestionField{Key: "env", Type: FieldSelect, Options: []string{"prod", "staging"}, Default: "staging"}
	tests := []struct {
		f                  QuestionField
		in, want, wantProb string
	}{
		{sel, "", "staging", ""},
		{sel, "prod", "prod", ""},
		{sel, "qa", "qa", `"qa" is not one of prod, staging`},
		{QuestionField{Key: "t", Type: FieldText, Required: true}, "", "", "required"},
		{QuestionField{Key: "t", Type: FieldText}, "a\x00", "a\x00", "at most 4096 bytes, no NUL bytes"},
		{QuestionField{Key: "b", Type: FieldBoolean}, "", "false", ""},
		{QuestionField{Key: "b", Type: FieldBoolean}, "yes", "yes", `"yes" is not true or false`},
	}
	for _, tt := range tests {
		v, prob := tt.f.CheckValue(tt.in)
		if v != tt.want || prob != tt.wantProb {
			t.Errorf("%s.CheckValue(%q) = %q, %q; want %q, %q", tt.f.Key, tt.in, v, prob, tt.want, tt.wantProb)
		}
	}
}
