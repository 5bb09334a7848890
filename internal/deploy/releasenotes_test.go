package deploy

import (
	"slices"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/store"
)

// Ensure Notes answers from a real history what git itself says, release
// by release: a merge (first-parent: the merge, not the branch's
// commits), a cherry-picked fix and a revert listed and grouped, a force
// push that rewrites the branch flagged with both sides, a rollback with
// what it takes out, an unchanged redeploy; and refuses bad numbers,
// naming the field.
func TestReleases_Notes(t *testing.T) {
	t.Parallel()
	const tool = "notes"
	h := newHarness(t, Config{}, true)
	rel := NewReleases(h.eng)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: echo ran\nside: echo side\n"})
	cfg := "components:\n" +
		"  job:\n    component_type: one-off\n    build: {repository: " + repo.Dir + ", ref: main}\n    run: {command: job}\n" +
		"  side:\n    component_type: one-off\n    build: {reuse_from: job}\n    run: {command: side}\n"
	if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, cfg)); err != nil {
		t.Fatal(err)
	}
	// deploy deploys main and returns job's new release.
	deploy := func(force bool) slipway.Release {
		t.Helper()
		d, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli", ForceRun: force})
		if err != nil {
			t.Fatal(err)
		}
		if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
			t.Fatalf("deployment = %s (%s)", d.Status, d.LongStatus)
		}
		rs, err := h.db.ReleaseList(ctx, store.ReleaseFilter{Tool: tool, Component: "job", DeploymentID: d.ID})
		if err != nil || len(rs) != 1 {
			t.Fatalf("job's releases of %s: %v, %v", d.ID, rs, err)
		}
		return rs[0]
	}
	a := repo.Head(t)
	r1 := deploy(false)
	repo.Git(t, "checkout", "-q", "-b", "hotfix")
	hotfix := repo.Commit(t, map[string]string{"h": "1"}, "fix: the hotfix")
	repo.Git(t, "checkout", "-q", "-b", "feature", a)
	branchWork := repo.Commit(t, map[string]string{"f": "1"}, "feat(api): the feature's first commit")
	repo.Commit(t, map[string]string{"f": "2"}, "wip")
	repo.Git(t, "checkout", "-q", "main")
	fix := repo.Commit(t, map[string]string{"x": "1"}, "fix: the bug")
	repo.Git(t, "merge", "-q", "--no-ff", "-m", "Merge pull request #7 from me/feature", "-m", "feat(api): add the feature", "feature")
	merged := repo.Head(t)
	r2 := deploy(false)
	repo.Git(t, "cherry-pick", "-x", hotfix)
	picked := repo.Head(t)
	repo.Git(t, "revert", "--no-edit", fix)
	reverted := repo.Head(t)
	r3 := deploy(false)
	// A force push: main rewritten from the merge on.
	repo.Git(t, "reset", "-q", "--hard", merged)
	rewritten := repo.Commit(t, map[string]string{"r": "1"}, "feat!: the rewritten history\n\nChangelog: changed")
	r4 := deploy(false)
	// A rollback: main back to the merge.
	repo.Git(t, "reset", "-q", "--hard", merged)
	r5 := deploy(false)
	r6 := deploy(true) // the same commit again

	gitLog := func(to, from string) []string {
		t.Helper()
		out := repo.Git(t, "log", "--first-parent", "--format=%H", to, "^"+from)
		if out == "" {
			return nil
		}
		return strings.Split(out, "\n")
	}
	hashes := func(cs []slipway.NoteCommit) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Hash)
		}
		return out
	}
	notes := func(q slipway.NotesQuery) slipway.ComponentNotes {
		t.Helper()
		n, err := rel.Notes(ctx, tool, q)
		if err != nil {
			t.Fatalf("Notes(%+v): %v", q, err)
		}
		if n.Environment != slipway.DefaultEnvironment || len(n.Components) != 2 || n.Components[0].Component != "job" || n.Components[1].Component != "side" {
			t.Fatalf("Notes(%+v) = %+v, want job and side in production", q, n)
		}
		if job, side := n.Components[0], n.Components[1]; !slices.Equal(hashes(job.Commits), hashes(side.Commits)) || job.Change != side.Change {
			t.Errorf("Notes(%+v): side (reuse_from job) has %v %s, job %v %s", q, hashes(side.Commits), side.Change, hashes(job.Commits), job.Change)
		}
		return n.Components[0]
	}

	// A merge: the merge and main's own commit, not the branch's.
	n := notes(slipway.NotesQuery{From: r1.Seq, To: r2.Seq})
	if n.Change != slipway.NotesChanged || !slices.Equal(hashes(n.Commits), gitLog(merged, a)) || slices.Contains(hashes(n.Commits), branchWork) ||
		n.From.Seq != r1.Seq || n.To.Seq != r2.Seq || len(n.Removed) != 0 || n.Repository != repo.Dir || n.WebURL != "" {
		t.Errorf("r1→r2 = %+v, git says %v", n, gitLog(merged, a))
	}
	if m := n.Commits[0]; m.Hash != merged || m.Section != slipway.SectionFeatures || m.Title != "add the feature" || m.Scope != "api" {
		t.Errorf("the merge = %+v, want a feature titled by its request", m)
	}
	// The cherry-pick and the revert are changes, and FROM defaults to the
	// release before TO.
	n = notes(slipway.NotesQuery{To: r3.Seq})
	if n.Change != slipway.NotesChanged || n.From.Seq != r2.Seq || !slices.Equal(hashes(n.Commits), gitLog(reverted, merged)) ||
		!slices.Equal(hashes(n.Commits), []string{reverted, picked}) {
		t.Errorf("→r3 = %+v, git says %v", n, gitLog(reverted, merged))
	}
	if rv, pk := n.Commits[0], n.Commits[1]; rv.Section != slipway.SectionReverts || rv.Reverts != fix || pk.Section != slipway.SectionFixes || pk.Title != "the hotfix" {
		t.Errorf("the revert = %+v, the cherry-pick = %+v", rv, pk)
	}
	// A force push: flagged, both sides listed, and where they part.
	n = notes(slipway.NotesQuery{From: r3.Seq, To: r4.Seq})
	if n.Change != slipway.NotesRewritten || !slices.Equal(hashes(n.Commits), gitLog(rewritten, reverted)) ||
		!slices.Equal(hashes(n.Removed), gitLog(reverted, rewritten)) || n.Base != repo.Git(t, "merge-base", reverted, rewritten) {
		t.Errorf("r3→r4 = %+v; git says added %v, removed %v", n, gitLog(rewritten, reverted), gitLog(reverted, rewritten))
	}
	if c := n.Commits[0]; c.Section != slipway.SectionBreaking || c.Type != "changed" || !c.Breaking {
		t.Errorf("the rewritten commit = %+v, want breaking (feat!) with its Changelog type", c)
	}
	// A rollback, the default (each component's current release against
	// the one before) once the same commit is redeployed: unchanged.
	n = notes(slipway.NotesQuery{From: r4.Seq, To: r5.Seq})
	if n.Change != slipway.NotesRolledBack || len(n.Commits) != 0 || !slices.Equal(hashes(n.Removed), gitLog(rewritten, merged)) {
		t.Errorf("r4→r5 = %+v, git says removed %v", n, gitLog(rewritten, merged))
	}
	if n = notes(slipway.NotesQuery{}); n.Change != slipway.NotesUnchanged || n.From.Seq != r5.Seq || n.To.Seq != r6.Seq {
		t.Errorf("the default = %+v, want r5→r6 unchanged", n)
	}
	// Across the whole span: from r1 to r6 is the merge's first-parent
	// history again.
	if n = notes(slipway.NotesQuery{From: r1.Seq}); n.Change != slipway.NotesChanged || !slices.Equal(hashes(n.Commits), gitLog(merged, a)) {
		t.Errorf("r1→now = %+v", n)
	}

	// The Markdown says what happened.
	all, err := rel.Notes(ctx, tool, slipway.NotesQuery{From: r3.Seq, To: r4.Seq, Component: "job"})
	if err != nil || len(all.Components) != 1 {
		t.Fatalf("--component job: %+v, %v", all, err)
	}
	md := slipway.ReleaseNotesMarkdown(all)
	for _, want := range []string{"## job: release", "History rewritten", "### Breaking changes", "### No longer included", "Revert", rewritten[:12]} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown lacks %q:\n%s", want, md)
		}
	}

	// Bad input names the field.
	for _, tt := range []struct {
		q    slipway.NotesQuery
		want string
	}{
		{slipway.NotesQuery{From: r3.Seq, To: r2.Seq}, "from: release"},
		{slipway.NotesQuery{To: r6.Seq + 1000}, "to: tool notes has no release"},
		{slipway.NotesQuery{From: -1}, "from: -1 is not a release number"},
		{slipway.NotesQuery{From: r1.Seq, Environment: "staging"}, "from: release"},
		{slipway.NotesQuery{Component: "nope"}, "component: nope has no releases"},
	} {
		if _, err := rel.Notes(ctx, tool, tt.q); slipway.ErrorCode(err) != slipway.EInvalid || !strings.Contains(slipway.ErrorMessage(err), tt.want) {
			t.Errorf("Notes(%+v) = %v, want EInvalid with %q", tt.q, err, tt.want)
		}
	}
	if _, err := rel.Notes(ctx, "nothing-here", slipway.NotesQuery{}); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("a tool without releases: %v, want ENotFound", err)
	}
	if _, err := rel.Notes(ctx, "nothing-here", slipway.NotesQuery{To: r2.Seq}); slipway.ErrorCode(err) != slipway.EInvalid {
		t.Errorf("another tool's release: %v, want EInvalid", err)
	}
}
