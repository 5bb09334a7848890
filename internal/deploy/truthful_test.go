package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

// TestDeployments_LiveStateIsWhatPlansCompare runs real deployments over a
// real process target and checks that what Slipway says matches what
// runs:
//   - a component that crash loops is not "unchanged": the same config
//     deployed again starts it again (reason "not healthy: …") and the
//     deployment reports its real outcome;
//   - a component that crashed, or vanished from the runtime, behind
//     Slipway's back is started again by the next deployment;
//   - a new version that never becomes healthy is stopped, the old one
//     keeps running, the step says "kept <old commit> running", and what is
//     live stays the old version, so that the next deployment tries again.
func TestDeployments_LiveStateIsWhatPlansCompare(t *testing.T) {
	t.Parallel()
	const tool = "truthful"
	h := newHarness(t, Config{}, true)
	ctx := t.Context()
	// The app crashes at start while $HOME/broken exists.
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": `web: test -e "$HOME/broken" && { echo broken; exit 3; }; echo up; exec sleep 600` + "\n"})
	broken := filepath.Join(h.dir, "run", tool, "home", "broken")
	config := func(command string) {
		t.Helper()
		cfg := mustParse(t, "components:\n  web:\n    component_type: continuous\n    build: {repository: "+repo.Dir+", ref: main}\n    run: {command: '"+command+"'}\n")
		if _, _, err := h.deploys.ConfigPut(ctx, tool, cfg); err != nil {
			t.Fatal(err)
		}
	}
	deploy := func(t *testing.T, want slipway.DeploymentStatus) slipway.Step {
		t.Helper()
		d, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		if d = h.waitFinal(t, tool, d.ID); d.Status != want {
			t.Fatalf("deployment %s (%s), want %s", d.Status, d.LongStatus, want)
		}
		d, err = h.deploys.DeploymentGet(ctx, tool, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range d.Steps {
			if st.Key == slipway.StepKey(slipway.StepRun, "web") {
				return st
			}
		}
		t.Fatalf("no run step in %+v", d.Steps)
		return slipway.Step{}
	}
	mkdirHome := func() {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(broken), 0o700); err != nil {
			t.Fatal(err)
		}
	}

	// Crash loop from the first start: failed, and failed again (not
	// "unchanged") when deployed again.
	config("web")
	mkdirHome()
	if err := os.WriteFile(broken, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if st := deploy(t, slipway.DeploymentFailed); !strings.Contains(st.Detail, "crash loop") {
		t.Errorf("first run step detail = %q, want a crash loop", st.Detail)
	}
	st := deploy(t, slipway.DeploymentFailed)
	if st.State != slipway.StepFailed || !strings.HasPrefix(st.Reason, "not healthy: crashloop") {
		t.Errorf("redeploy of the crash-looping component: step %s, reason %q; want it applied again because not healthy", st.State, st.Reason)
	}
	// Fixed behind Slipway's back: the next deployment starts it and it is
	// healthy.
	if err := os.Remove(broken); err != nil {
		t.Fatal(err)
	}
	if st := deploy(t, slipway.DeploymentSuccessful); st.State != slipway.StepDone || !strings.HasPrefix(st.Reason, "not healthy") {
		t.Errorf("deploy after the fix: step %s, reason %q", st.State, st.Reason)
	}
	live, err := h.db.LiveRunList(ctx, tool)
	if err != nil || len(live) != 1 {
		t.Fatalf("live = %v, %v", live, err)
	}
	good := live[0]

	// A healthy component is unchanged.
	if st := deploy(t, slipway.DeploymentSuccessful); st.State != slipway.StepUnchanged {
		t.Errorf("deploy of a healthy, unchanged component: step %s (%s), want unchanged", st.State, st.Reason)
	}

	// A new version that crashes: stopped, the old one kept, and said so.
	if err := os.WriteFile(broken, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	config(`test -e "$HOME/broken" && exit 3; echo new version; exec sleep 600`)
	st = deploy(t, slipway.DeploymentFailed)
	if want := "kept " + good.Commit[:7] + " running"; !strings.Contains(st.Detail, want) {
		t.Errorf("run step detail = %q, want it to say %q", st.Detail, want)
	}
	live, err = h.db.LiveRunList(ctx, tool)
	if err != nil || len(live) != 1 || live[0].SpecHash != good.SpecHash || live[0].DeploymentID != good.DeploymentID {
		t.Errorf("live after the kept failure = %+v, want the old record %+v", live, good)
	}
	status, ok, err := h.eng.target.Status(ctx, tool, "web")
	if err != nil || !ok || status.State != "running" || status.SpecHash != good.SpecHash {
		t.Errorf("target status = %+v, %v, %v; want the old version running", status, ok, err)
	}
	// Fixed: the next deployment tries the new version again.
	if err := os.Remove(broken); err != nil {
		t.Fatal(err)
	}
	if st := deploy(t, slipway.DeploymentSuccessful); st.State != slipway.StepDone || st.Reason != "run settings changed" {
		t.Errorf("deploy after the fix: step %s, reason %q; want the new version applied", st.State, st.Reason)
	}

	// Stopped and forgotten by the runtime behind Slipway's back (its
	// processes killed, its state gone): the next deployment starts it.
	if err := h.eng.target.Remove(ctx, tool, "web"); err != nil {
		t.Fatal(err)
	}
	if st := deploy(t, slipway.DeploymentSuccessful); st.State != slipway.StepDone || st.Reason != "not healthy: not running" {
		t.Errorf("deploy after the component vanished: step %s, reason %q; want it started again", st.State, st.Reason)
	}
	if status, ok, err := h.eng.target.Status(ctx, tool, "web"); err != nil || !ok || status.State != "running" {
		t.Errorf("target status after the redeploy = %+v, %v, %v; want running", status, ok, err)
	}

	// Its process killed behind Slipway's back, and every restart of it
	// crashing: crash looping, which the next deployment does not call
	// unchanged; fixed, it is started again.
	if err := os.WriteFile(broken, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	pid := toolProcess(t, tool, "sleep 600")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		status, _, _ := h.eng.target.Status(ctx, tool, "web")
		if status.State == "crashloop" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the kill the component is %+v, want it crash looping", status)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(50 * time.Millisecond): // polling the driver's state, bounded above
		}
	}
	if err := os.Remove(broken); err != nil {
		t.Fatal(err)
	}
	if st := deploy(t, slipway.DeploymentSuccessful); st.State != slipway.StepDone || !strings.HasPrefix(st.Reason, "not healthy: crashloop") {
		t.Errorf("deploy after the kill: step %s, reason %q; want it started again", st.State, st.Reason)
	}
}

// toolProcess returns the pid of the tool's process whose command line is
// cmdline.
func toolProcess(t *testing.T, tool, cmdline string) int {
	t.Helper()
	found := slipwaytest.Processes(func(p slipwaytest.Proc) bool {
		return p.Cmdline == cmdline && strings.Contains(p.Environ, "TOOL_NAME="+tool+"\x00")
	})
	if len(found) == 0 {
		t.Fatalf("no process %q of tool %s", cmdline, tool)
	}
	return found[0].PID
}
