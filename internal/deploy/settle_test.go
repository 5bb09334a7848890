package deploy

import (
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// Ensure a build a stopped server left running outside any deployment is
// settled at the next start (failed, saying why), and a finished one is
// left alone.
func TestBuilds_SettleInterruptedBuilds(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, false)
	ctx := t.Context()
	now := time.Now().UTC()
	if err := h.db.ToolEnsure(ctx, "lost", now); err != nil {
		t.Fatal(err)
	}
	for _, b := range []slipway.Build{
		{ID: "aaaaaaaaaaaaaaaa", Key: "aaaaaaaaaaaaaaaa", Status: slipway.BuildRunning},
		{ID: "bbbbbbbbbbbbbbbb", Key: "bbbbbbbbbbbbbbbb", Status: slipway.BuildSuccessful},
	} {
		b.Tool, b.Component, b.Repository, b.Ref, b.CreatedAt, b.UpdatedAt = "lost", "tool-lost", "https://example.org/x.git", "main", now, now
		if err := h.db.BuildCreate(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	n, err := h.builds.SettleInterruptedBuilds(ctx)
	if err != nil || n != 1 {
		t.Fatalf("SettleInterruptedBuilds = %d, %v; want 1", n, err)
	}
	running, _ := h.db.BuildGet(ctx, "lost", "aaaaaaaaaaaaaaaa")
	done, _ := h.db.BuildGet(ctx, "lost", "bbbbbbbbbbbbbbbb")
	if running.Status != slipway.BuildFailed || !strings.Contains(running.Error, "interrupted") {
		t.Errorf("the interrupted build = %s %q, want failed, interrupted", running.Status, running.Error)
	}
	if done.Status != slipway.BuildSuccessful {
		t.Errorf("the finished build = %s, want it untouched", done.Status)
	}
}
