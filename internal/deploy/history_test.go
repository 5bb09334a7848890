package deploy

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/store"
)

// historyDeployments is how many deployments TestEngine_HistorySurvives
// makes: a sample of 40 in make test, SLIPWAY_HISTORY_DEPLOYMENTS else
// (`make test/history`: issue 13's "200 deployments later").
var historyDeployments = func() int {
	n, err := strconv.Atoi(os.Getenv("SLIPWAY_HISTORY_DEPLOYMENTS"))
	if err != nil || n < 10 {
		return 40
	}
	return n
}()

// Ensure history survives deployment pruning at scale: 200 deployments
// (make test/history; a sample of 40 in make test),
// each of a new commit of a real repository, with 5 deployments kept.
// Afterwards only 5 deployment records are left, every release record is
// still there (its deployment, commit and build), and is-live and when
// still answer for the oldest commits, checked against git itself.
//
// For speed (it runs in make test, under the race detector): the commits
// are made by one git fast-import and each deployment is a push moving
// main; the component is a scheduled job whose build has nothing to do,
// the cheapest deployment the engine runs (a fetch, a build step, a
// schedule); River polls rarely (the engine wakes it for each job); and the
// store is PostgreSQL, whose work the race detector does not slow, where
// SQLite's in-process engine made the test four times slower (~2 min).
// The store conformance suite checks that both keep releases alike.
func TestEngine_HistorySurvives(t *testing.T) {
	t.Parallel()
	const (
		tool = "history"
		keep = 5
	)
	h := newHarnessWith(t, Config{KeepDeployments: keep}, true, harnessOptions{poll: 5 * time.Second, store: &engineStores[1]})
	rel := NewReleases(h.eng)
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: true\n"})
	cfg := "components:\n  job:\n    component_type: scheduled\n    build: {repository: " + repo.Dir + ", ref: main}\n" +
		"    run: {command: job, schedule: '@yearly'}\n"
	if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, cfg)); err != nil {
		t.Fatal(err)
	}
	commits := historyCommits(t, repo, historyDeployments)
	ids := make([]string, historyDeployments)
	for i := range historyDeployments {
		repo.Git(t, "update-ref", "refs/heads/main", commits[i]) // a push of the next commit
		d, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli", Actor: fmt.Sprint("tool-token:ci", i%3)})
		if err != nil {
			t.Fatal(err)
		}
		if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
			t.Fatalf("deployment %d = %s (%s)", i, d.Status, d.LongStatus)
		}
		ids[i] = d.ID
	}

	kept, err := h.db.DeploymentList(ctx, tool)
	if err != nil || len(kept) != keep {
		t.Fatalf("deployments kept = %d, %v; want %d", len(kept), err, keep)
	}
	rs, err := h.db.ReleaseList(ctx, store.ReleaseFilter{Tool: tool})
	if err != nil || len(rs) != historyDeployments {
		t.Fatalf("%d releases, %v; want %d", len(rs), err, historyDeployments)
	}
	for i, r := range rs { // newest first
		n := historyDeployments - 1 - i
		if r.DeploymentID != ids[n] || r.Commit != commits[n] || r.Outcome != slipway.ReleaseApplied || r.BuildKey == "" {
			t.Fatalf("release of deployment %d = %+v, want deployment %s at %s", n, r, ids[n], commits[n])
		}
	}

	// A commit of no branch: git says it is in nothing.
	head := commits[historyDeployments-1]
	repo.Git(t, "checkout", "-q", "-f", "-b", "aside", commits[0])
	aside := repo.Commit(t, map[string]string{"aside": "1"}, "aside")
	isAncestor := func(c string) bool { // git itself
		err := exec.Command("git", "-C", repo.Dir, "merge-base", "--is-ancestor", c, head).Run()
		if _, ok := errors.AsType[*exec.ExitError](err); err != nil && !ok {
			t.Fatal(err)
		}
		return err == nil
	}
	for _, n := range []int{0, 1, 2, historyDeployments / 2, historyDeployments - 2, historyDeployments - 1, -1} {
		commit, wantState, wantSince, wantWhen := aside, slipway.LiveAbsent, "", ""
		if n >= 0 {
			commit, wantState, wantSince, wantWhen = commits[n], slipway.LiveIncluded, ids[n], ids[n]
			if n == historyDeployments-1 {
				wantState = slipway.LiveExact
			}
		}
		if got := isAncestor(commit); got != (n >= 0) {
			t.Fatalf("git says commit %d is an ancestor of the head: %v", n, got)
		}
		lcs, err := rel.IsLive(ctx, tool, commit)
		if err != nil || len(lcs) != 1 || lcs[0].State != wantState || lcs[0].DeploymentID != wantSince {
			t.Errorf("IsLive(commit %d) = %+v, %v; want %s since %q", n, lcs, err, wantState, wantSince)
		}
		frs, err := rel.When(ctx, tool, commit)
		if err != nil || len(frs) != 1 || frs[0].Release.DeploymentID != wantWhen || frs[0].Exact != (n >= 0) {
			t.Errorf("When(commit %d) = %+v, %v; want deployment %q", n, frs, err, wantWhen)
		}
		if n >= 0 && frs[0].Release.Actor != fmt.Sprint("tool-token:ci", n%3) {
			t.Errorf("When(commit %d) started by %q, want tool-token:ci%d", n, frs[0].Release.Actor, n%3)
		}
	}
}

// historyCommits makes n commits in a line on main (the first is main's
// head, each next one changes a file) with one git fast-import, leaves
// main where it was, and returns them oldest first.
func historyCommits(t testing.TB, repo *slipwaytest.Repo, n int) []string {
	t.Helper()
	first := repo.Head(t)
	var in strings.Builder
	for i := 1; i < n; i++ {
		data := fmt.Sprint(i, "\n")
		msg := fmt.Sprint("change ", i, "\n")
		fmt.Fprintf(&in, "commit refs/heads/history\ncommitter Slipway Test <test@slipway.invalid> %d +0000\ndata %d\n%s", 1700000000+i, len(msg), msg)
		if i == 1 {
			fmt.Fprintf(&in, "from %s\n", first)
		}
		fmt.Fprintf(&in, "M 644 inline n\ndata %d\n%s\n", len(data), data)
	}
	repo.GitInput(t, []byte(in.String()), "fast-import", "--quiet")
	out := strings.Fields(repo.Git(t, "rev-list", "--reverse", first+"..history"))
	if len(out) != n-1 {
		t.Fatalf("fast-import made %d commits, want %d", len(out), n-1)
	}
	return append([]string{first}, out...)
}
