package deploy

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/store"
)

// fakeClock is the engine's clock as the test sets it (named as such: a
// fake of time for the engine, not for the processes). It runs at the
// speed of real time from where it was set, so that what the engine
// stamps stays in order.
type fakeClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Set makes Now return t now.
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = time.Until(t)
}

// autoRollbackTool deploys version A of a continuous web (healthy for
// good), then version B, which is healthy long enough to pass its
// deployment and then crash-loops (it runs crashAfter seconds, exits 1,
// and exits at once on every restart). It returns the two deployments and
// A's commit.
func autoRollbackTool(t *testing.T, h *harness, tool, policy string, crashAfter int) (a, b slipway.Deployment, commitA string) {
	t.Helper()
	ctx := t.Context()
	mark := filepath.Join(t.TempDir(), "ran")
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "web: exec sleep 600\n"})
	cfg := "components:\n  web:\n    build: {repository: " + repo.Dir + ", ref: main}\n    run: {command: web}\n" + policy
	if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, cfg)); err != nil {
		t.Fatal(err)
	}
	deploy := func() slipway.Deployment {
		t.Helper()
		d, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
			t.Fatalf("deployment %s: %s", d.Status, d.LongStatus)
		}
		return d
	}
	a = deploy()
	commitA = repo.Head(t)
	repo.Commit(t, map[string]string{"Procfile": "web: test -e " + mark + " && exit 1; touch " + mark + "; sleep " + strconv.Itoa(crashAfter) + "; exit 1\n"}, "B crashes")
	b = deploy()
	return a, b, commitA
}

// awaitCrashLoop waits until the target reports web of tool crash
// looping (a real process exiting: polled, bounded by a deadline).
func awaitCrashLoop(t *testing.T, h *harness, tool string) {
	t.Helper()
	eventually(t, func() string {
		st, ok, err := h.eng.target.Status(t.Context(), tool, "web")
		if err != nil || !ok || st.State != "crashloop" {
			return "web is not crash-looping: " + string(st.State) + " " + st.Message
		}
		return ""
	})
}

// logEvents returns the messages of deployment id's log events.
func logEvents(t *testing.T, h *harness, id string) []string {
	t.Helper()
	evs, err := h.db.EventList(t.Context(), id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.Kind == "log" {
			out = append(out, e.Message)
		}
	}
	return out
}

// Ensure a deployment whose component starts crash-looping after it went
// live is rolled back by its watch job, run by River: the rollback
// deployment brings back A's commit with A's build, records rollback_of,
// the release it went back to and the reason, the original says it was
// rolled back, both are in the release history, and the rollback itself
// is not watched.
func TestAutoRollback_CrashLoopRollsBack(t *testing.T) {
	t.Parallel()
	const tool = "autoroll"
	h := newHarness(t, Config{AutoRollbackCheck: 100 * time.Millisecond}, true)
	ctx := t.Context()
	a, b, commitA := autoRollbackTool(t, h, tool, "x-slipway:\n  auto_rollback: {window: 5m}\n", 5)
	if got := logEvents(t, h, b.ID); len(got) != 1 || got[0] != "auto-rollback: watching web for 5m0s" {
		t.Errorf("B's log events = %q, want the watch", got)
	}
	var rolled slipway.Deployment
	eventually(t, func() string {
		d, err := h.db.DeploymentGet(ctx, tool, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rolled = d; d.RolledBackBy == "" {
			return "B was not rolled back"
		}
		return ""
	})
	r := h.waitFinal(t, tool, rolled.RolledBackBy)
	if r.Status != slipway.DeploymentSuccessful {
		t.Fatalf("rollback %s: %s", r.Status, r.LongStatus)
	}
	if !strings.HasPrefix(r.Description, "auto-rollback: web crash-looping ") || !strings.HasSuffix(r.Description, " after going live") ||
		r.RollbackOf != a.ID || r.RollbackRelease == 0 || r.Actor != autoRollbackActor {
		t.Errorf("rollback: description %q, of %q, release %d, actor %q; want the reason, of %s", r.Description, r.RollbackOf, r.RollbackRelease, r.Actor, a.ID)
	}
	live, err := h.db.LiveRunList(ctx, tool)
	if err != nil || len(live) != 1 || live[0].Commit != commitA || live[0].DeploymentID != r.ID {
		t.Errorf("live after the rollback = %+v, %v; want web at A's %s", live, err, commitA)
	}
	if got := logEvents(t, h, b.ID); len(got) != 2 || !strings.Contains(got[1], "rolled back by "+r.ID) {
		t.Errorf("B's log events = %q, want the rollback named", got)
	}
	rs, err := h.db.ReleaseList(ctx, store.ReleaseFilter{Tool: tool})
	if err != nil || len(rs) != 3 || rs[0].DeploymentID != r.ID || rs[0].Commit != commitA || rs[1].DeploymentID != b.ID || rs[2].DeploymentID != a.ID {
		t.Errorf("releases = %+v, %v; want A, B, then A's commit again by the rollback", rs, err)
	}
	// The rollback is never watched: no watch event, and its watch job
	// (were one run) does nothing.
	if got := logEvents(t, h, r.ID); len(got) != 0 {
		t.Errorf("the rollback's log events = %q, want none", got)
	}
	if err := h.eng.WatchDeployment(ctx, tool, r.ID); err != nil {
		t.Fatal(err)
	}
	if ds, _ := h.db.DeploymentList(ctx, tool); len(ds) != 3 {
		t.Errorf("%d deployments, want 3 (A, B, the rollback)", len(ds))
	}
}

// Ensure, with the engine's clock set by the test, that the window
// decides: the same crash loop is not rolled back once the window is
// over, and is within it; and that a newer deployment stops the watch.
func TestAutoRollback_Window(t *testing.T) {
	t.Parallel()
	const tool = "window"
	// The clock runs a day ahead of River's: the watch jobs scheduled on
	// it are not due during the test, which calls WatchDeployment itself.
	clock := &fakeClock{offset: 24 * time.Hour}
	h := newHarness(t, Config{NowFunc: clock.Now, AutoRollbackCheck: time.Hour}, true)
	ctx := t.Context()
	_, b, _ := autoRollbackTool(t, h, tool, "x-slipway:\n  auto_rollback: {window: 1m}\n", 5)
	b, err := h.db.DeploymentGet(ctx, tool, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	awaitCrashLoop(t, h, tool)

	// The window is over: the crash loop is not rolled back.
	clock.Set(b.FinishedAt.Add(time.Minute))
	if err := h.eng.WatchDeployment(ctx, tool, b.ID); err != nil {
		t.Fatalf("watch after the window = %v, want done", err)
	}
	if d, _ := h.db.DeploymentGet(ctx, tool, b.ID); d.RolledBackBy != "" {
		t.Fatalf("rolled back by %s after the window", d.RolledBackBy)
	}
	if ds, _ := h.db.DeploymentList(ctx, tool); len(ds) != 2 {
		t.Fatalf("%d deployments after the window, want 2 (no rollback)", len(ds))
	}
	if got := logEvents(t, h, b.ID); len(got) != 2 || !strings.Contains(got[1], "window of 1m0s is over") {
		t.Errorf("B's log events = %q, want the window's end", got)
	}

	// The same crash loop within the window: rolled back.
	clock.Set(b.FinishedAt.Add(59 * time.Second))
	if err := h.eng.WatchDeployment(ctx, tool, b.ID); err != nil {
		t.Fatalf("watch within the window = %v", err)
	}
	d, err := h.db.DeploymentGet(ctx, tool, b.ID)
	if err != nil || d.RolledBackBy == "" {
		t.Fatalf("not rolled back within the window: %+v, %v", d, err)
	}
	h.waitFinal(t, tool, d.RolledBackBy)
	// Once rolled back, the watch does nothing more.
	if err := h.eng.WatchDeployment(ctx, tool, b.ID); err != nil {
		t.Fatal(err)
	}
	if ds, _ := h.db.DeploymentList(ctx, tool); len(ds) != 3 {
		t.Errorf("%d deployments, want 3 (one rollback)", len(ds))
	}
}

// Ensure a watch that finds a newer deployment of the tool rolls nothing
// back and says so, and that a healthy component within the window is
// looked at again later (a RetryAfter error, which River snoozes).
func TestAutoRollback_NewerDeploymentAndHealthy(t *testing.T) {
	t.Parallel()
	const tool = "newer"
	clock := &fakeClock{offset: 24 * time.Hour}
	h := newHarness(t, Config{NowFunc: clock.Now, AutoRollbackCheck: time.Hour}, true)
	ctx := t.Context()
	_, b, _ := autoRollbackTool(t, h, tool, "x-slipway:\n  auto_rollback: {window: 10m}\n", 10)
	b, err := h.db.DeploymentGet(ctx, tool, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Before B crashes (its process lives 10 s; the engine's clock is
	// the test's): healthy, look again.
	clock.Set(b.FinishedAt.Add(time.Second))
	var ra interface{ RetryAfter() time.Duration }
	if err := h.eng.WatchDeployment(ctx, tool, b.ID); !errors.As(err, &ra) || ra.RetryAfter() <= 0 {
		t.Fatalf("watch of a healthy web = %v, want a later look; B's events %q", err, logEvents(t, h, b.ID))
	}
	awaitCrashLoop(t, h, tool)
	// A newer deployment (a plan-less one is enough: it was created).
	n, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	h.waitFinal(t, tool, n.ID)
	clock.Set(b.FinishedAt.Add(2 * time.Minute))
	if err := h.eng.WatchDeployment(ctx, tool, b.ID); err != nil {
		t.Fatal(err)
	}
	if d, _ := h.db.DeploymentGet(ctx, tool, b.ID); d.RolledBackBy != "" {
		t.Errorf("rolled back by %s despite the newer %s", d.RolledBackBy, n.ID)
	}
	if got := logEvents(t, h, b.ID); len(got) != 2 || !strings.Contains(got[1], "newer deployment, "+n.ID) {
		t.Errorf("B's log events = %q, want the newer deployment named", got)
	}
}

// Ensure a first deployment that crash-loops has nothing to go back to:
// the watch says so in its events and creates nothing.
func TestAutoRollback_NothingBefore(t *testing.T) {
	t.Parallel()
	const tool = "first"
	clock := &fakeClock{offset: 24 * time.Hour}
	h := newHarness(t, Config{NowFunc: clock.Now, AutoRollbackCheck: time.Hour}, true)
	ctx := t.Context()
	mark := filepath.Join(t.TempDir(), "ran")
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "web: test -e " + mark + " && exit 1; touch " + mark + "; sleep 3; exit 1\n"})
	cfg := "components:\n  web:\n    build: {repository: " + repo.Dir + ", ref: main}\n    run: {command: web}\nx-slipway:\n  auto_rollback: {window: 5m}\n"
	if _, _, err := h.deploys.ConfigPut(ctx, tool, mustParse(t, cfg)); err != nil {
		t.Fatal(err)
	}
	d, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
		t.Fatalf("deployment %s: %s", d.Status, d.LongStatus)
	}
	awaitCrashLoop(t, h, tool)
	if err := h.eng.WatchDeployment(ctx, tool, d.ID); err != nil {
		t.Fatal(err)
	}
	if got := logEvents(t, h, d.ID); len(got) != 2 || !strings.HasPrefix(got[1], "auto-rollback: web crash-looping ") ||
		!strings.HasSuffix(got[1], "; there is no release before this deployment to roll back to") {
		t.Errorf("log events = %q, want the crash loop and nothing to roll back to", got)
	}
	if ds, _ := h.db.DeploymentList(ctx, tool); len(ds) != 1 {
		t.Errorf("%d deployments, want 1 (nothing rolled back)", len(ds))
	}
}

// Ensure auto-rollback works in the environment the deployment went to:
// staging's crash loop (its instance, tool--staging) rolls staging back,
// and production, which never ran anything, is left alone.
func TestAutoRollback_InEnvironment(t *testing.T) {
	t.Parallel()
	const tool = "envroll"
	h := newHarness(t, Config{AutoRollbackCheck: 100 * time.Millisecond}, true)
	ctx := t.Context()
	policy := "x-slipway:\n  auto_rollback: {window: 5m}\n  environments:\n    staging: {}\n    production: {kind: production, upstream: staging}\n"
	a, b, commitA := autoRollbackTool(t, h, tool, policy, 5)
	if a.Environment != "staging" || b.Environment != "staging" {
		t.Fatalf("deployments went to %s and %s, want staging", a.Environment, b.Environment)
	}
	var rolled slipway.Deployment
	eventually(t, func() string {
		d, err := h.db.DeploymentGet(ctx, tool, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rolled = d; d.RolledBackBy == "" {
			return "B was not rolled back"
		}
		return ""
	})
	r := h.waitFinal(t, tool, rolled.RolledBackBy)
	if r.Status != slipway.DeploymentSuccessful || r.Environment != "staging" || r.RollbackOf != a.ID {
		t.Fatalf("rollback = %s in %s of %s (%s), want successful in staging of %s", r.Status, r.Environment, r.RollbackOf, r.LongStatus, a.ID)
	}
	live, err := h.db.LiveRunList(ctx, tool+"--staging")
	if err != nil || len(live) != 1 || live[0].Commit != commitA {
		t.Errorf("staging after the rollback = %+v, %v; want web at %s", live, err, commitA)
	}
	if prod, err := h.db.LiveRunList(ctx, tool); err != nil || len(prod) != 0 {
		t.Errorf("production = %+v, %v; want nothing", prod, err)
	}
}
