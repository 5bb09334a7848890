package deploy

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBackground_StopWaitsAndRefuses(t *testing.T) {
	t.Parallel()
	var bg background
	release := make(chan struct{})
	returned := make(chan struct{})
	if !bg.start(nil, func() { <-release; close(returned) }) {
		t.Fatal("start before stop refused")
	}
	// A goroutine still going: stop gives up when ctx ends.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := bg.stop(ctx, "runs", nil); err == nil {
		t.Fatal("stop returned nil while a goroutine was still going")
	}
	if bg.start(nil, func() { t.Error("a goroutine ran after stop") }) {
		t.Fatal("start after stop was accepted")
	}
	close(release)
	if err := bg.stop(t.Context(), "runs", nil); err != nil {
		t.Fatalf("stop after the goroutine returned: %v", err)
	}
	select {
	case <-returned:
	default:
		t.Fatal("stop returned before the goroutine did")
	}
}

func TestBackground_StopCancelsWithCause(t *testing.T) {
	t.Parallel()
	var bg background
	work, cancel := context.WithCancelCause(t.Context())
	var cause error
	if !bg.start(cancel, func() { <-work.Done(); cause = context.Cause(work) }) {
		t.Fatal("start refused")
	}
	if err := bg.stop(t.Context(), "runs", errServerStopping); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if !errors.Is(cause, errServerStopping) {
		t.Errorf("the work ended with %v, want %v", cause, errServerStopping)
	}
}
