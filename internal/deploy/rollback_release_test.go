package deploy

import (
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/store"
)

// TestDeployments_ReleaseRollback deploys web and api (A), then web
// alone at commit B (api removed), and rolls back to the last release of
// A: web runs A's commit again and api is back, with no build made and
// the stored config untouched. Bad release numbers, another tool's
// release and a release whose build was deleted since are refused and
// create nothing.
func TestDeployments_ReleaseRollback(t *testing.T) {
	t.Parallel()
	const tool = "relback"
	h := newHarness(t, Config{}, true)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "web: exec sleep 600\napi: exec sleep 601\n"})
	both := "components:\n" +
		"  web:\n    build: {repository: " + repo.Dir + ", ref: main}\n    run: {command: web}\n" +
		"  api:\n    build: {reuse_from: web}\n    run: {command: api}\n    wait_for: [web]\n"
	one := "components:\n  web:\n    build: {repository: " + repo.Dir + ", ref: main}\n    run: {command: web}\n"
	deploy := func(create func() (slipway.Deployment, error)) slipway.Deployment {
		t.Helper()
		d, err := create()
		if err != nil {
			t.Fatal(err)
		}
		if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
			t.Fatalf("deployment %s: %s", d.Status, d.LongStatus)
		}
		d, err = h.deploys.DeploymentGet(ctx, tool, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	put := func(cfg string) {
		t.Helper()
		if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, cfg)); err != nil {
			t.Fatal(err)
		}
	}
	create := func() (slipway.Deployment, error) {
		return h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli"})
	}
	live := func() map[string]string {
		t.Helper()
		rs, err := h.db.LiveRunList(ctx, tool)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range rs {
			out[r.Component] = r.Commit
		}
		return out
	}

	put(both)
	a := deploy(create)
	commitA := repo.Head(t)
	relA, err := h.db.ReleaseList(ctx, store.ReleaseFilter{Tool: tool, DeploymentID: a.ID})
	if err != nil || len(relA) != 2 {
		t.Fatalf("releases of A = %v, %v; want web and api", relA, err)
	}
	seqA := relA[0].Seq // the newest of A's
	commitB := repo.Commit(t, map[string]string{"b": "1"}, "B")
	put(one)
	deploy(create)
	if got := live(); got["web"] != commitB || len(got) != 1 {
		t.Fatalf("live after B = %v, want web at %s alone", got, commitB)
	}
	bs, err := h.builds.BuildList(ctx, tool)
	if err != nil {
		t.Fatal(err)
	}

	// Bad input: nothing is created.
	before, _ := h.db.DeploymentList(ctx, tool)
	for _, c := range []struct {
		seq  int64
		code string
	}{{0, slipway.EInvalid}, {-3, slipway.EInvalid}, {seqA + 1000, slipway.ENotFound}} {
		if _, err := h.deploys.ReleaseRollback(ctx, tool, c.seq, slipway.DeployOptions{}); slipway.ErrorCode(err) != c.code {
			t.Errorf("rollback to release %d = %v, want %s", c.seq, err, c.code)
		}
	}
	if _, err := h.deploys.ReleaseRollback(ctx, "other-tool", seqA, slipway.DeployOptions{}); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("another tool's rollback to release %d of %s = %v, want ENotFound", seqA, tool, err)
	}
	if after, _ := h.db.DeploymentList(ctx, tool); len(after) != len(before) {
		t.Errorf("refused rollbacks created %d deployments", len(after)-len(before))
	}

	r := deploy(func() (slipway.Deployment, error) {
		return h.deploys.ReleaseRollback(ctx, tool, seqA, slipway.DeployOptions{Trigger: "cli"})
	})
	if got := live(); got["web"] != commitA || got["api"] != commitA || len(got) != 2 {
		t.Errorf("live after the rollback to release %d = %v, want web and api at %s", seqA, got, commitA)
	}
	if r.RollbackRelease != seqA || r.RollbackOf != a.ID || !strings.Contains(r.Description, "release") {
		t.Errorf("rollback: release %d, of %q, description %q; want release %d of %s", r.RollbackRelease, r.RollbackOf, r.Description, seqA, a.ID)
	}
	for _, st := range r.Steps {
		if st.Kind == slipway.StepBuild && (st.State != slipway.StepUnchanged || !strings.Contains(st.Reason, "rollback")) {
			t.Errorf("build step %s: %s (%s), want reused", st.Key, st.State, st.Reason)
		}
	}
	if n, _ := h.builds.BuildList(ctx, tool); len(n) != len(bs) {
		t.Errorf("the rollback made %d builds, want none", len(n)-len(bs))
	}
	if sc, err := h.db.ConfigGetLatest(ctx, tool); err != nil || strings.Contains(string(sc.Raw), "api") {
		t.Errorf("stored config after the rollback = %s, %v; want B's, untouched", sc.Raw, err)
	}
	// The rollback's releases are in the history, A's commit again.
	rs, err := h.db.ReleaseList(ctx, store.ReleaseFilter{Tool: tool, DeploymentID: r.ID})
	if err != nil || len(rs) != 2 || rs[0].Commit != commitA || rs[1].Commit != commitA {
		t.Errorf("releases of the rollback = %+v, %v; want web and api at %s", rs, err, commitA)
	}

	// A's build deleted: refused, naming it, nothing created.
	deploy(create) // forward to B
	if _, err := h.builds.BuildDelete(ctx, tool, a.Builds["web"].BuildID); err != nil {
		t.Fatal(err)
	}
	before, _ = h.db.DeploymentList(ctx, tool)
	_, err = h.deploys.ReleaseRollback(ctx, tool, seqA, slipway.DeployOptions{})
	if slipway.ErrorCode(err) != slipway.EConflict || !strings.Contains(err.Error(), "release") || !strings.Contains(err.Error(), commitA[:7]) {
		t.Errorf("rollback to a release whose build is gone = %v, want EConflict naming commit %s", err, commitA[:7])
	}
	if after, _ := h.db.DeploymentList(ctx, tool); len(after) != len(before) {
		t.Errorf("a refused rollback created a deployment")
	}
}

// TestDeployments_ReleaseRollbackMixedVersions rolls back to a state that
// no single config version holds: deployment 2 changes web (which never
// becomes healthy: it keeps version 1 running) and api (applied), so right
// after api's release web runs config 1's spec and api config 2's. The
// rollback rebuilds that state from the stored versions by spec hash,
// changes nothing while it is live, and brings it back after a third
// deployment changed both.
func TestDeployments_ReleaseRollbackMixedVersions(t *testing.T) {
	t.Parallel()
	const tool = "mixed"
	h := newHarness(t, Config{HealthTimeout: 30 * time.Second}, true)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "web: exec sleep 600\nweb3: exec sleep 603\nbad: exit 1\n" +
		"api: exec sleep 610\napi2: exec sleep 612\napi3: exec sleep 613\n"})
	cfg := func(web, api string) string {
		return "components:\n" +
			"  web:\n    build: {repository: " + repo.Dir + ", ref: main}\n    run: {command: " + web + "}\n" +
			"  api:\n    build: {reuse_from: web}\n    run: {command: " + api + "}\n"
	}
	deploy := func(yaml string, want slipway.DeploymentStatus) slipway.Deployment {
		t.Helper()
		if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, yaml)); err != nil {
			t.Fatal(err)
		}
		d, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		if d = h.waitFinal(t, tool, d.ID); d.Status != want {
			t.Fatalf("deployment %s (%s), want %s", d.Status, d.LongStatus, want)
		}
		return d
	}
	commands := func() map[string]string {
		t.Helper()
		rs, err := h.db.LiveRunList(ctx, tool)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range rs {
			out[r.Component] = r.Spec.Run.Command
		}
		return out
	}
	rollback := func(seq int64) slipway.Deployment {
		t.Helper()
		d, err := h.deploys.ReleaseRollback(ctx, tool, seq, slipway.DeployOptions{Trigger: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
			t.Fatalf("rollback %s (%s)", d.Status, d.LongStatus)
		}
		d, err = h.deploys.DeploymentGet(ctx, tool, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	deploy(cfg("web", "api"), slipway.DeploymentSuccessful)
	d2 := deploy(cfg("bad", "api2"), slipway.DeploymentFailed)
	rs, err := h.db.ReleaseList(ctx, store.ReleaseFilter{Tool: tool, DeploymentID: d2.ID})
	if err != nil || len(rs) != 1 || rs[0].Component != "api" {
		t.Fatalf("releases of deployment 2 = %+v, %v; want api's alone", rs, err)
	}
	seq := rs[0].Seq
	want := map[string]string{"web": "web", "api": "api2"}
	if got := commands(); got["web"] != want["web"] || got["api"] != want["api"] {
		t.Fatalf("live after deployment 2 = %v, want %v", got, want)
	}

	// While that state is live, the rollback to it changes nothing.
	r := rollback(seq)
	for _, st := range r.Steps {
		if st.Kind == slipway.StepRun && st.State != slipway.StepUnchanged {
			t.Errorf("rollback to the live state: step %s %s (%s), want unchanged", st.Key, st.State, st.Reason)
		}
	}
	snap, err := parseStored(r.ToolConfig)
	if err != nil || snap.Components["web"].Run.Command != "web" || snap.Components["api"].Run.Command != "api2" {
		t.Errorf("the rollback's config = %s (%v), want web's from version 1 and api's from version 2", r.ToolConfig, err)
	}

	// Both changed since: the rollback brings the mixed state back, also
	// from its own release (whose version holds neither spec as such).
	deploy(cfg("web3", "api3"), slipway.DeploymentSuccessful)
	rollback(seq)
	if got := commands(); got["web"] != want["web"] || got["api"] != want["api"] {
		t.Errorf("live after the rollback = %v, want %v", got, want)
	}
	deploy(cfg("web3", "api3"), slipway.DeploymentSuccessful)
	last, err := h.db.ReleaseList(ctx, store.ReleaseFilter{Tool: tool, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	// The newest release of web's version 1 spec is the second
	// rollback's, recorded with config version 2, which has web as "bad":
	// the spec is found in version 1 by its hash.
	var rollbackSeq int64
	for _, rel := range last {
		if rel.Component == "web" && rel.SpecHash == snap.Components["web"].SpecHash() {
			if rel.ConfigVersion != 2 {
				t.Fatalf("web's newest release of version 1's spec = %+v, want the rollback's, with config version 2", rel)
			}
			rollbackSeq = rel.Seq
			break
		}
	}
	if rollbackSeq == 0 {
		t.Fatalf("no release of web's version 1 spec among %+v", last)
	}
	rollback(rollbackSeq)
	if got := commands(); got["web"] != want["web"] {
		t.Errorf("live after the rollback to the rollback's release = %v, want web's command %q", got, want["web"])
	}

	// A release whose spec no stored version holds (as an older Slipway
	// that hashed otherwise would have left): refused, naming it.
	bogus := last[0]
	bogus.SpecHash = "0123456789abcdef"
	bseq, err := h.db.ReleaseAppend(ctx, bogus)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := h.db.DeploymentList(ctx, tool)
	if _, err := h.deploys.ReleaseRollback(ctx, tool, bseq, slipway.DeployOptions{}); slipway.ErrorCode(err) != slipway.EConflict ||
		!strings.Contains(err.Error(), "spec 0123456789abcdef") || !strings.Contains(err.Error(), "in no stored config version") {
		t.Errorf("rollback to a release with an unknown spec = %v, want EConflict naming it", err)
	}
	if after, _ := h.db.DeploymentList(ctx, tool); len(after) != len(before) {
		t.Errorf("a refused rollback created a deployment")
	}
}
