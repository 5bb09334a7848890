package deploy

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/store"
)

// Ensure artifact retention removes only what nothing needs: never the
// artifact a live component runs, never one a release in the release
// retention window references (every release when it is forever) nor the
// one a component ran when the window began, never one younger than the
// age bound; a dry run lists and removes nothing; what it removes is gone
// with its record, sized and totalled. And that release retention deletes
// only releases superseded before its window began, so never a live
// component's current release.
func TestRetention_KeepsWhatReleasesNeed(t *testing.T) {
	t.Parallel()
	const (
		tool = "retained"
		day  = 24 * time.Hour
	)
	var offset atomic.Int64 // the clock's lead on real time
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	h := newHarness(t, Config{NowFunc: clock, ReleaseRetention: 5 * day}, true)
	rel := NewReleases(h.eng)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: echo ran\n"})
	cfg := "components:\n  job:\n    component_type: one-off\n    build: {repository: " + repo.Dir + ", ref: main}\n    run: {command: job}\n"
	if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, cfg)); err != nil {
		t.Fatal(err)
	}
	deploy := func(want slipway.DeploymentStatus) {
		t.Helper()
		d, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli", Actor: "admin"})
		if err != nil {
			t.Fatal(err)
		}
		if d = h.waitFinal(t, tool, d.ID); d.Status != want {
			t.Fatalf("deployment = %s (%s), want %s", d.Status, d.LongStatus, want)
		}
	}
	keyOf := map[string]string{} // commit → build key
	record := func(name string) {
		t.Helper()
		bs, err := h.db.BuildList(ctx, tool)
		if err != nil {
			t.Fatal(err)
		}
		head := repo.Head(t)
		for _, b := range bs {
			if b.Commit == head && b.Status == slipway.BuildSuccessful {
				keyOf[name] = b.Key
				return
			}
		}
		t.Fatalf("no successful build of %s (%s): %+v", name, head, bs)
	}
	// A and B are released now, C ten days later (it is live), and X is
	// built then but its one-off fails: never released.
	deploy(slipway.DeploymentSuccessful)
	record("A")
	repo.Commit(t, map[string]string{"b": "1"}, "b")
	deploy(slipway.DeploymentSuccessful)
	record("B")
	offset.Store(int64(10 * day))
	repo.Commit(t, map[string]string{"c": "1"}, "c")
	deploy(slipway.DeploymentSuccessful)
	record("C")
	repo.Commit(t, map[string]string{"Procfile": "job: exit 3\n"}, "x")
	deploy(slipway.DeploymentFailed)
	record("X")

	removedKeys := func(p slipway.BuildPrune) []string {
		var keys []string
		for _, r := range p.Removed {
			keys = append(keys, r.Key)
		}
		slices.Sort(keys)
		return keys
	}
	want := func(names ...string) []string {
		var keys []string
		for _, n := range names {
			keys = append(keys, keyOf[n])
		}
		slices.Sort(keys)
		return keys
	}
	present := func(name string) bool {
		t.Helper()
		_, ok, err := h.builder.Lookup(ctx, tool, keyOf[name])
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	prune := func(opts slipway.BuildPruneOptions) slipway.BuildPrune {
		t.Helper()
		p, err := h.builds.BuildPrune(ctx, tool, opts)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Releases forever: A and B stay for their releases, C for being
	// live; X goes.
	h.eng.cfg.ReleaseRetention = 0
	p := prune(slipway.BuildPruneOptions{DryRun: true, OlderThan: new(time.Duration(0))})
	if got := removedKeys(p); !slices.Equal(got, want("X")) || p.KeptReleased != 2 || !p.DryRun {
		t.Errorf("dry run, releases kept forever: removes %q (kept for releases %d), want X's %q (2)", got, p.KeptReleased, want("X"))
	}
	// A five-day window, ten days on: A was superseded before it began
	// and X never released; B was live when it began (until C), so it
	// stays for the window's history.
	h.eng.cfg.ReleaseRetention = 5 * day
	p = prune(slipway.BuildPruneOptions{DryRun: true, OlderThan: new(time.Duration(0))})
	if got := removedKeys(p); !slices.Equal(got, want("A", "X")) || p.KeptReleased != 1 {
		t.Errorf("dry run, 5-day window: removes %q (kept for releases %d), want A and X: %q (1)", got, p.KeptReleased, want("A", "X"))
	}
	// The age bound: A ended ten days ago, X just now.
	if got := removedKeys(prune(slipway.BuildPruneOptions{DryRun: true, OlderThan: new(day)})); !slices.Equal(got, want("A")) {
		t.Errorf("dry run older than a day: removes %q, want A: %q", got, want("A"))
	}
	if got := removedKeys(prune(slipway.BuildPruneOptions{DryRun: true, OlderThan: new(11 * day)})); len(got) != 0 {
		t.Errorf("dry run older than 11 days: removes %q, want nothing", got)
	}
	// No age asked for: the server's artifact retention, here off, so 7
	// days.
	if got := removedKeys(prune(slipway.BuildPruneOptions{DryRun: true})); !slices.Equal(got, want("A")) {
		t.Errorf("dry run with the default age: removes %q, want A: %q", got, want("A"))
	}
	for _, n := range []string{"A", "B", "C", "X"} {
		if !present(n) {
			t.Fatalf("after dry runs, %s's artifact is gone", n)
		}
	}

	p = prune(slipway.BuildPruneOptions{OlderThan: new(time.Duration(0))})
	if got := removedKeys(p); !slices.Equal(got, want("A", "X")) || p.DryRun {
		t.Fatalf("prune removed %q, want %q", got, want("A", "X"))
	}
	var total int64
	for _, r := range p.Removed {
		if r.Size <= 0 || r.Tool != tool || r.ID == "" {
			t.Errorf("removed %+v: want its tool, build and size", r)
		}
		total += r.Size
	}
	if p.Bytes != total || p.Kept != 2 {
		t.Errorf("prune total %d bytes, kept %d; want %d (the sum), 2 (B, C)", p.Bytes, p.Kept, total)
	}
	for _, n := range []string{"A", "X"} {
		if present(n) {
			t.Errorf("%s's artifact is still there", n)
		}
	}
	if !present("B") || !present("C") {
		t.Error("B's artifact (live in the window) or C's (live) is gone")
	}
	for _, r := range p.Removed {
		if _, err := h.db.BuildGet(ctx, tool, r.ID); err == nil {
			t.Errorf("build record %s is still there", r.ID)
		}
	}
	if again := prune(slipway.BuildPruneOptions{OlderThan: new(time.Duration(0))}); len(again.Removed) != 0 {
		t.Errorf("a second prune removed %+v", again.Removed)
	}
	if _, err := h.builds.BuildPrune(ctx, tool, slipway.BuildPruneOptions{OlderThan: new(-time.Hour)}); slipway.ErrorCode(err) != slipway.EInvalid {
		t.Errorf("a negative age: %v, want EInvalid", err)
	}
	if _, err := h.builds.BuildPrune(ctx, "Not A Tool", slipway.BuildPruneOptions{}); slipway.ErrorCode(err) != slipway.EInvalid {
		t.Errorf("a bad tool name: %v, want EInvalid", err)
	}

	// Release retention. Forever deletes nothing; five days deletes A's
	// (superseded by B before the window began) and keeps B's (what ran
	// when it began) and C's.
	h.eng.cfg.ReleaseRetention = 0
	if n, err := rel.PruneReleases(ctx); err != nil || n != 0 {
		t.Errorf("PruneReleases forever = %d, %v; want 0", n, err)
	}
	h.eng.cfg.ReleaseRetention = 5 * day
	if n, err := rel.PruneReleases(ctx); err != nil || n != 1 {
		t.Errorf("PruneReleases = %d, %v; want 1 (A's)", n, err)
	}
	// Forty days on, B's release goes (superseded by C before the window),
	// C's is old too but current: kept.
	offset.Store(int64(40 * day))
	if n, err := rel.PruneReleases(ctx); err != nil || n != 1 {
		t.Errorf("PruneReleases forty days on = %d, %v; want 1 (B's)", n, err)
	}
	// B's artifact goes with its release; C's release is outside the
	// window, but C runs: its artifact stays.
	if p := prune(slipway.BuildPruneOptions{OlderThan: new(time.Duration(0))}); !slices.Equal(removedKeys(p), want("B")) || !present("C") {
		t.Errorf("prune forty days on removed %+v, want B's only", p.Removed)
	}
	rs, err := h.db.ReleaseList(ctx, store.ReleaseFilter{Tool: tool})
	if err != nil || len(rs) != 1 || rs[0].BuildKey != keyOf["C"] {
		t.Errorf("releases left = %+v, %v; want C's", rs, err)
	}
}

// Ensure the successful attempts of one build key, which share one
// artifact, go together: an old attempt is not removed (nor the artifact
// with it) while a younger attempt of the key is inside the age bound.
func TestRetention_AttemptsOfOneKeyGoTogether(t *testing.T) {
	t.Parallel()
	const (
		tool = "attempts"
		day  = 24 * time.Hour
	)
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	h := newHarness(t, Config{NowFunc: clock, ReleaseRetention: day}, true)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: true\n"})
	cfg := "components:\n  job:\n    component_type: one-off\n    build: {repository: " + repo.Dir + ", ref: main}\n    run: {command: job}\n"
	if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, cfg)); err != nil {
		t.Fatal(err)
	}
	deploy := func(opts slipway.DeployOptions) {
		t.Helper()
		opts.Trigger = "cli"
		d, err := h.deploys.DeploymentCreate(ctx, tool, opts)
		if err != nil {
			t.Fatal(err)
		}
		if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
			t.Fatalf("deployment = %s (%s)", d.Status, d.LongStatus)
		}
	}
	a := repo.Head(t)
	deploy(slipway.DeployOptions{}) // A's first attempt, now
	repo.Commit(t, map[string]string{"b": "1"}, "b")
	b := repo.Head(t)
	deploy(slipway.DeployOptions{})
	// Ten days on, A's artifact is found gone (as after a failed digest
	// check) and a deployment of A builds it again: a second attempt of
	// the same key. Then B is live again.
	offset.Store(int64(10 * day))
	first, err := h.db.BuildList(ctx, tool)
	if err != nil {
		t.Fatal(err)
	}
	for _, bd := range first {
		if bd.Commit == a {
			if err := h.builder.Remove(ctx, tool, bd.Key); err != nil {
				t.Fatal(err)
			}
		}
	}
	repo.Git(t, "update-ref", "refs/heads/main", a)
	deploy(slipway.DeployOptions{})
	repo.Git(t, "update-ref", "refs/heads/main", b)
	deploy(slipway.DeployOptions{})
	offset.Store(int64(20 * day)) // every release is outside the one-day window

	attempts := func() (key string, ids []string) {
		t.Helper()
		bs, err := h.db.BuildList(ctx, tool)
		if err != nil {
			t.Fatal(err)
		}
		for _, bd := range bs {
			if bd.Commit == a && bd.Status == slipway.BuildSuccessful {
				key, ids = bd.Key, append(ids, bd.ID)
			}
		}
		return key, ids
	}
	key, ids := attempts()
	if len(ids) != 2 {
		t.Fatalf("A has %d successful attempts, want 2: %q", len(ids), ids)
	}
	// The first attempt ended 20 days ago, the second 10: 15 days spares
	// the key, attempts and artifact alike.
	p, err := h.builds.BuildPrune(ctx, tool, slipway.BuildPruneOptions{OlderThan: new(15 * day)})
	if err != nil || len(p.Removed) != 0 {
		t.Fatalf("prune older than 15 days = %+v, %v; want nothing removed", p.Removed, err)
	}
	if _, ids := attempts(); len(ids) != 2 {
		t.Errorf("after pruning older than 15 days, A has %d attempts, want 2", len(ids))
	}
	if _, ok, err := h.builder.Lookup(ctx, tool, key); err != nil || !ok {
		t.Fatalf("A's artifact after pruning older than 15 days: %v, %v", ok, err)
	}
	// Five days: both go, as one artifact named by the newest attempt.
	p, err = h.builds.BuildPrune(ctx, tool, slipway.BuildPruneOptions{OlderThan: new(5 * day)})
	if err != nil || len(p.Removed) != 1 || p.Removed[0].Key != key || p.Removed[0].ID != ids[0] {
		t.Fatalf("prune older than 5 days = %+v, %v; want A's key once, named %s", p.Removed, err, ids[0])
	}
	if _, ids := attempts(); len(ids) != 0 {
		t.Errorf("A's attempts left: %q", ids)
	}
	if _, ok, err := h.builder.Lookup(ctx, tool, key); err != nil || ok {
		t.Errorf("A's artifact after the prune: %v, %v; want gone", ok, err)
	}
}
