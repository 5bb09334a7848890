package storetest

import (
	"errors"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

func testRelease(t *testing.T, f Factory) {
	t.Parallel()

	// Releases round-trip, are numbered in order, filter by environment,
	// component, commit and deployment, page with Before, and are kept
	// when their deployment is pruned.
	t.Run("AppendListKeep", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		const d1, d2 = "20250601-120000-aaaaaaaaaa", "20250601-120100-bbbbbbbbbb"
		mustDo(t, s.DeploymentCreate(b.ctx, deployment("tool", d1, at(0), slipway.DeploymentSuccessful)))
		mustDo(t, s.DeploymentCreate(b.ctx, deployment("tool", d2, at(1), slipway.DeploymentSuccessful)))
		rel := func(d, comp, commit string, outcome slipway.ReleaseOutcome, n int) slipway.Release {
			return slipway.Release{
				Tool: "tool", Environment: slipway.DefaultEnvironment, Component: comp, DeploymentID: d,
				BuildKey: "key-" + commit, Commit: commit, SpecHash: "spec", ConfigVersion: n,
				AppliedAt: at(n), Outcome: outcome, Actor: "tool-token:ci",
			}
		}
		in := []slipway.Release{
			rel(d1, "web", "aaa111", slipway.ReleaseApplied, 1),
			rel(d1, "cron", "aaa111", slipway.ReleaseApplied, 1),
			rel(d2, "web", "bbb222", slipway.ReleaseApplied, 2),
			rel(d2, "cron", "", slipway.ReleaseRemoved, 2),
			{Tool: "other", Environment: "staging", Component: "web", DeploymentID: "x", Commit: "aaa111", Outcome: slipway.ReleaseApplied, AppliedAt: at(3)},
		}
		var seqs []int64
		for i, r := range in {
			seq := must(s.ReleaseAppend(b.ctx, r))(t)
			if i > 0 && seq <= seqs[i-1] {
				t.Fatalf("release %d numbered %d after %d", i, seq, seqs[i-1])
			}
			seqs = append(seqs, seq)
			in[i].Seq = seq
		}
		list := func(f store.ReleaseFilter) []slipway.Release {
			t.Helper()
			return must(s.ReleaseList(b.ctx, f))(t)
		}
		diff(t, "the tool's releases", []slipway.Release{in[3], in[2], in[1], in[0]}, list(store.ReleaseFilter{Tool: "tool"}))
		diff(t, "web's", []slipway.Release{in[2], in[0]}, list(store.ReleaseFilter{Tool: "tool", Component: "web"}))
		diff(t, "commit aaa111's", []slipway.Release{in[1], in[0]}, list(store.ReleaseFilter{Tool: "tool", Commit: "aaa111"}))
		diff(t, "d2's", []slipway.Release{in[3], in[2]}, list(store.ReleaseFilter{Tool: "tool", DeploymentID: d2}))
		diff(t, "a page", []slipway.Release{in[1]}, list(store.ReleaseFilter{Tool: "tool", Before: seqs[2], Limit: 1}))
		diff(t, "staging's of other", []slipway.Release{in[4]}, list(store.ReleaseFilter{Tool: "other", Environment: "staging"}))
		if got := list(store.ReleaseFilter{Tool: "tool", Environment: "staging"}); len(got) != 0 {
			t.Errorf("the tool's staging releases = %+v, want none", got)
		}
		// Latest with Before: the live state right after a release, one
		// per component (a removal included).
		diff(t, "the state after release 2", []slipway.Release{in[1], in[0]}, list(store.ReleaseFilter{Tool: "tool", Before: seqs[1] + 1, Latest: true}))
		diff(t, "the state after release 3", []slipway.Release{in[2], in[1]}, list(store.ReleaseFilter{Tool: "tool", Before: seqs[2] + 1, Latest: true}))
		diff(t, "the state now", []slipway.Release{in[3], in[2]}, list(store.ReleaseFilter{Tool: "tool", Latest: true}))
		diff(t, "web's latest", []slipway.Release{in[2]}, list(store.ReleaseFilter{Tool: "tool", Component: "web", Latest: true}))
		// Pruning deployments keeps the releases.
		must(s.DeploymentPrune(b.ctx, "tool", 0))(t)
		if got := list(store.ReleaseFilter{Tool: "tool"}); len(got) != 4 {
			t.Errorf("after pruning every deployment: %d releases, want 4", len(got))
		}
	})
	// Retention by age deletes old releases, oldest first and up to its
	// limit, of every tool, but only those superseded before the window
	// began: it keeps every release in the window and the one each
	// component was on (in each environment) when it began, so a live
	// component's current release however old, and the history of the
	// window complete. The build keys kept are those of the same releases.
	t.Run("PruneKeepsTheWindowsHistory", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		rel := func(tool, env, comp, key string, outcome slipway.ReleaseOutcome, n int) slipway.Release {
			return slipway.Release{
				Tool: tool, Environment: env, Component: comp, DeploymentID: "d", BuildKey: key,
				AppliedAt: at(n), Outcome: outcome,
			}
		}
		const prod, staging = slipway.DefaultEnvironment, "staging"
		in := []slipway.Release{
			rel("tool", prod, "web", "k0", slipway.ReleaseApplied, 0),     // superseded before the window: deleted
			rel("tool", prod, "web", "k1", slipway.ReleaseApplied, 1),     // superseded before the window: deleted
			rel("tool", prod, "web", "k2", slipway.ReleaseApplied, 2),     // old, but web's current: kept
			rel("tool", prod, "cron", "k3", slipway.ReleaseApplied, 3),    // superseded by its removal: deleted
			rel("tool", prod, "cron", "", slipway.ReleaseRemoved, 4),      // cron's state when the window began: kept
			rel("other", prod, "web", "k9", slipway.ReleaseApplied, 5),    // superseded inside the window: kept
			rel("other", prod, "web", "k8", slipway.ReleaseApplied, 20),   // in the window: kept
			rel("tool", staging, "web", "ks0", slipway.ReleaseApplied, 5), // superseded before the window: deleted
			rel("tool", staging, "web", "ks", slipway.ReleaseApplied, 6),  // old, staging's current: kept
		}
		for i, r := range in {
			in[i].Seq = must(s.ReleaseAppend(b.ctx, r))(t)
		}
		keys := func(since time.Time) []string {
			t.Helper()
			return must(s.ReleaseBuildKeys(b.ctx, "tool", since))(t)
		}
		diff(t, "tool's build keys", []string{"k0", "k1", "k2", "k3", "ks", "ks0"}, keys(time.Time{}))
		diff(t, "tool's build keys from minute 2 (web was on k1)", []string{"k1", "k2", "k3", "ks", "ks0"}, keys(at(2)))
		diff(t, "tool's build keys from minute 30 (what each component was on)", []string{"k2", "ks"}, keys(at(30)))

		if n := must(s.ReleasePrune(b.ctx, at(10), 2))(t); n != 2 {
			t.Errorf("first batch deleted %d, want 2 (the limit)", n)
		}
		if n := must(s.ReleasePrune(b.ctx, at(10), 100))(t); n != 2 {
			t.Errorf("second batch deleted %d, want the 2 left", n)
		}
		if n := must(s.ReleasePrune(b.ctx, at(10), 100))(t); n != 0 {
			t.Errorf("third batch deleted %d, want none", n)
		}
		diff(t, "tool's releases kept", []slipway.Release{in[8], in[4], in[2]}, must(s.ReleaseList(b.ctx, store.ReleaseFilter{Tool: "tool"}))(t))
		diff(t, "other's releases kept", []slipway.Release{in[6], in[5]}, must(s.ReleaseList(b.ctx, store.ReleaseFilter{Tool: "other"}))(t))
		// The build keys from the cutoff are the same before and after.
		diff(t, "tool's build keys from minute 10 after the prune", []string{"k2", "ks"}, keys(at(10)))
		if _, err := s.ReleasePrune(b.ctx, at(10), 0); err == nil {
			t.Error("ReleasePrune with limit 0: no error")
		}
	})
}

func testRolledBackBy(t *testing.T, f Factory) {
	t.Parallel()
	s, b := setup(t, f)
	const id = "20250601-120000-aaaaaaaaaa"
	d := deployment("tool", id, at(0), slipway.DeploymentSuccessful)
	d.RolledBackBy = ""
	mustDo(t, s.DeploymentCreate(b.ctx, d))
	mustDo(t, s.DeploymentSetRolledBackBy(b.ctx, "tool", id, "20250601-120500-bbbbbbbbbb"))
	got := must(s.DeploymentGet(b.ctx, "tool", id))(t)
	if got.RolledBackBy != "20250601-120500-bbbbbbbbbb" {
		t.Errorf("RolledBackBy = %q, want the rollback's id", got.RolledBackBy)
	}
	if err := s.DeploymentSetRolledBackBy(b.ctx, "tool", "20250601-120000-nonexisten", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a missing deployment: %v, want ErrNotFound", err)
	}
}
