package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	errFlaky = errors.New("connection refused")
	errFinal = errors.New("ref not found")
)

func TestEngine_Retry(t *testing.T) {
	t.Parallel()
	s := NewEngine(nil, nil, nil, nil, Config{
		Attempts: 3, RetryBackoff: time.Millisecond,
		TransientFunc: func(err error) bool { return errors.Is(err, errFlaky) },
	})
	tests := []struct {
		name      string
		results   []error
		wantCalls int
		wantNotes int
		wantErr   string
	}{
		{"SucceedsAtOnce", []error{nil}, 1, 0, ""},
		{"TransientThenSuccess", []error{errFlaky, errFlaky, nil}, 3, 2, ""},
		{"PermanentFailsAtOnce", []error{errFinal}, 1, 0, "ref not found"},
		{"TransientThenPermanent", []error{errFlaky, errFinal}, 2, 1, "after 2 attempts: ref not found"},
		{"GivesUpAfterAttempts", []error{errFlaky, errFlaky, errFlaky, nil}, 3, 2, "after 3 attempts: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			calls, notes := 0, []string{}
			err := s.retry(context.Background(), func(n string) { notes = append(notes, n) }, func() error {
				calls++
				return tt.results[calls-1]
			})
			if (err == nil) != (tt.wantErr == "") || (err != nil && err.Error() != tt.wantErr) {
				t.Errorf("retry() error = %v, want %q", err, tt.wantErr)
			}
			if calls != tt.wantCalls || len(notes) != tt.wantNotes {
				t.Errorf("retry() made %d calls with notes %q, want %d calls and %d notes", calls, notes, tt.wantCalls, tt.wantNotes)
			}
			for i, n := range notes {
				if want := "attempt " + string(rune('2'+i)) + " of 3 after: connection refused"; n != want {
					t.Errorf("note %d = %q, want %q", i, n, want)
				}
			}
		})
	}

	// Ensure a cancelled context stops the waiting.
	t.Run("StopsWhenCancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := s.retry(ctx, func(string) { cancel() }, func() error { calls++; return errFlaky })
		if calls != 1 || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("retry(cancelled) = %v after %d calls, want the error after 1 call", err, calls)
		}
	})
}
