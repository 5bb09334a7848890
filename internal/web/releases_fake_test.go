package web_test

import (
	"context"
	"strings"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// The fake's commits: fixCommit is cherry-picked into what web runs
// (pickCommit), revertedCommit was cherry-picked and reverted, and
// liveCommit is what web runs.
var (
	liveCommit     = strings.Repeat("9b0d44aa", 5)
	oldCommit      = strings.Repeat("3f2a1c00", 5)
	fixCommit      = strings.Repeat("f1f1f1f1", 5)
	pickCommit     = strings.Repeat("a1c2e3f4", 5)
	revertedCommit = strings.Repeat("bad0bad0", 5)
	revertCommit   = strings.Repeat("0ddba110", 5)
)

// fakeReleases returns tool one's releases, newest first: web made live
// by a deployment that was pruned since and by done, migrate removed by
// running.
func fakeReleases(done, running slipway.Deployment) map[string][]slipway.Release {
	rel := func(seq int64, component, deployment, commit string, outcome slipway.ReleaseOutcome, at time.Time, actor string) slipway.Release {
		build := ""
		if commit != "" {
			build = commit[:16] + "build"
		}
		return slipway.Release{
			Seq: seq, Tool: "one", Environment: slipway.DefaultEnvironment, Component: component, DeploymentID: deployment,
			BuildKey: build, Commit: commit, SpecHash: "spec", ConfigVersion: 1,
			AppliedAt: at, Outcome: outcome, Actor: actor,
		}
	}
	return map[string][]slipway.Release{"one": {
		rel(4, "worker", "", "", slipway.ReleaseRemoved, t0.Add(-4*time.Minute), "tool-token:ops"), // jobs API: no deployment
		rel(3, "migrate", running.ID, "", slipway.ReleaseRemoved, t0.Add(-5*time.Minute), "admin"),
		rel(2, "web", done.ID, liveCommit, slipway.ReleaseApplied, t0.Add(-110*time.Minute), "admin"),
		rel(1, "web", "20250501-090000-prunedaaaa", oldCommit, slipway.ReleaseApplied, t0.Add(-30*24*time.Hour), "tool-token:<ci>"),
	}}
}

// fakeLive returns the is-live answers of the fake's commits for tool one.
func fakeLive(done slipway.Deployment) map[string][]slipway.LiveCommit {
	lc := func(state slipway.LiveState, pick slipway.CherryPick, release int64, since time.Time, deployment string) []slipway.LiveCommit {
		return []slipway.LiveCommit{{
			Environment: slipway.DefaultEnvironment, Component: "web", Live: liveCommit, State: state,
			Since: since, Release: release, DeploymentID: deployment, Pick: pick,
		}}
	}
	return map[string][]slipway.LiveCommit{
		liveCommit:     lc(slipway.LiveExact, slipway.CherryPick{}, 2, t0.Add(-110*time.Minute), done.ID),
		oldCommit:      lc(slipway.LiveIncluded, slipway.CherryPick{}, 1, t0.Add(-30*24*time.Hour), "20250501-090000-prunedaaaa"),
		fixCommit:      lc(slipway.LiveCherryPicked, slipway.CherryPick{Commit: pickCommit}, 2, t0.Add(-110*time.Minute), done.ID),
		revertedCommit: lc(slipway.LiveAbsent, slipway.CherryPick{Commit: pickCommit, RevertedBy: revertCommit}, 0, time.Time{}, ""),
	}
}

// fakeWhen returns the when answers of the fake's commits for tool one.
func fakeWhen(done, running slipway.Deployment) map[string][]slipway.FirstRelease {
	rs := fakeReleases(done, running)["one"]
	return map[string][]slipway.FirstRelease{
		fixCommit: {
			{Environment: slipway.DefaultEnvironment, Component: "migrate"},
			{Environment: slipway.DefaultEnvironment, Component: "web", Release: rs[2], How: slipway.LiveCherryPicked, Pick: pickCommit},
		},
		oldCommit: {
			{Environment: slipway.DefaultEnvironment, Component: "web", Release: rs[3], Exact: true, How: slipway.LiveExact},
		},
	}
}

// ReleaseList pages the tool's releases as the store does: newest first,
// below Before, at most Limit.
func (f *fakeService) ReleaseList(_ context.Context, tool string, q slipway.ReleaseQuery) ([]slipway.Release, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []slipway.Release
	for _, r := range f.releases[tool] {
		if (q.Before == 0 || r.Seq < q.Before) && len(out) < q.Limit {
			out = append(out, r)
		}
	}
	return out, nil
}

// IsLive checks the commit as the service does (the same function) and
// answers from the fake's table; a commit it does not know is absent.
func (f *fakeService) IsLive(_ context.Context, tool, commit string) ([]slipway.LiveCommit, error) {
	if err := slipway.ValidateCommit("commit", commit); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if tool != "one" {
		return nil, nil
	}
	if lcs, ok := f.live[commit]; ok {
		return lcs, nil
	}
	return []slipway.LiveCommit{{Environment: slipway.DefaultEnvironment, Component: "web", Live: liveCommit, State: slipway.LiveAbsent}}, nil
}

// When checks the commit as the service does and answers from the fake's
// table; a commit it does not know was never released.
func (f *fakeService) When(_ context.Context, tool, commit string) ([]slipway.FirstRelease, error) {
	if err := slipway.ValidateCommit("commit", commit); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if tool != "one" {
		return nil, nil
	}
	if frs, ok := f.when[commit]; ok {
		return frs, nil
	}
	return []slipway.FirstRelease{{Environment: slipway.DefaultEnvironment, Component: "web"}}, nil
}

// Notes answers tool one's notes from release 1 to 2 (the default too):
// web changed by a breaking feature, a fix linking its forge page, and a
// commit with markup in its subject. Release 3 is another environment's;
// other numbers are no release.
func (f *fakeService) Notes(_ context.Context, tool string, q slipway.NotesQuery) (slipway.ReleaseNotes, error) {
	if tool != "one" {
		return slipway.ReleaseNotes{}, slipway.Errorf(slipway.ENotFound, "Tool %s has no releases in environment production.", tool)
	}
	for _, n := range []struct {
		name string
		seq  int64
	}{{"from", q.From}, {"to", q.To}} {
		switch {
		case n.seq == 3:
			return slipway.ReleaseNotes{}, slipway.Errorf(slipway.EInvalid, "%s: release 3 is of environment staging, not production", n.name)
		case n.seq > 3:
			return slipway.ReleaseNotes{}, slipway.Errorf(slipway.EInvalid, "%s: %d is no release of tool one", n.name, n.seq)
		}
	}
	rs := fakeReleases(slipway.Deployment{}, slipway.Deployment{})["one"]
	commit := func(hash, title, author string, section slipway.NoteSection, url string) slipway.NoteCommit {
		return slipway.NoteCommit{Commit: slipway.Commit{Hash: hash, Author: author, Subject: title}, Section: section, Title: title, URL: url}
	}
	return slipway.ReleaseNotes{Tool: tool, Environment: slipway.DefaultEnvironment, From: q.From, To: q.To, Components: []slipway.ComponentNotes{{
		Component: "web", From: rs[3], To: rs[2], Change: slipway.NotesChanged, Repository: "https://example.org/one.git",
		Commits: []slipway.NoteCommit{
			commit(liveCommit, "drop the v1 routes", "Ada", slipway.SectionBreaking, ""),
			commit(fixCommit, "crash on <empty> input & more", "Bob", slipway.SectionFixes, "https://example.org/one/commit/"+fixCommit),
		},
	}}}, nil
}
