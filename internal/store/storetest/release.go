package storetest

import (
	"errors"
	"testing"

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
