package cli

import (
	"testing"
	"time"

	"slipway.dev/slipway/internal/apiclient"
)

// Ensure each state of a deployment's question reads as who answered
// what and when, or until when it waits.
func TestQuestionOutcome(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 22, 13, 1, 0, 0, time.UTC)
	tests := []struct {
		name string
		q    apiclient.Question
		want string
	}{
		{"Open", apiclient.Question{State: "open", Deadline: at}, "waiting for an answer until 2026-11-22 13:01:00 UTC"},
		{"OpenHalfApproved", apiclient.Question{State: "open", Deadline: at, Approvals: []string{"admin"}}, "waiting for an answer until 2026-11-22 13:01:00 UTC; approved so far by admin"},
		{"Answered", apiclient.Question{State: "answered", Value: "yes", AnsweredBy: "admin", AnsweredAt: &at, Comment: "ok"}, `yes by admin at 2026-11-22 13:01:00 UTC: "ok"`},
		{"Rejected", apiclient.Question{State: "rejected", Value: "stop", AnsweredBy: "tool-token:abc", AnsweredAt: &at}, "stop by tool-token:abc at 2026-11-22 13:01:00 UTC"},
		{"Fields", apiclient.Question{State: "answered", Value: `{"msg":"two words","env":"prod"}`, Fields: []apiclient.QuestionField{{Key: "env"}, {Key: "msg"}}, AnsweredBy: "admin"}, "env=prod msg='two words' by admin"},
		{"ExpiredToDefault", apiclient.Question{State: "expired", Value: "skip", AnsweredAt: &at}, "expired, took the default skip at 2026-11-22 13:01:00 UTC"},
		{"Cancelled", apiclient.Question{State: "cancelled"}, "cancelled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := questionOutcome(tt.q); got != tt.want {
				t.Errorf("questionOutcome = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWithKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ obj, want string }{
		{`{"a":1}`, `{"a":1,"questions":[]}`},
		{"{ }\n", `{"questions":[]}`},
		{`{"a":1} `, `{"a":1,"questions":[]}`},
		{`null`, `null`},
	}
	for _, tt := range tests {
		if got := string(withKey([]byte(tt.obj), "questions", []byte(`[]`))); got != tt.want {
			t.Errorf("withKey(%q) = %q, want %q", tt.obj, got, tt.want)
		}
	}
}
