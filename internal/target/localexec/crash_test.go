package localexec_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
	"slipway.dev/slipway/internal/target/localexec"
	"slipway.dev/slipway/internal/target/targettest"
)

// freezeAfterFirstSpawn makes d block right after its first spawn, before
// the pid is recorded: for the disk and the processes, d is then as good as
// a server killed by SIGKILL at that instant. It returns the pid of that
// process. d resumes when the test ends, after the drivers created later
// (their cleanups run first) have stopped.
func freezeAfterFirstSpawn(t *testing.T, d *localexec.Driver, start func()) int {
	t.Helper()
	spawned := make(chan int, 1)
	release := make(chan struct{})
	var once sync.Once
	d.OnSpawned(func(pid int) {
		once.Do(func() {
			spawned <- pid
			<-release
		})
	})
	done := make(chan struct{})
	t.Cleanup(func() {
		close(release)
		<-done // before d stops and the test's directories go
	})
	go func() {
		defer close(done)
		start()
	}()
	select {
	case pid := <-spawned:
		return pid
	case <-t.Context().Done():
		t.Fatal("test ended waiting for the spawn")
		return 0
	}
}

func readState(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
}

type stateJSON struct {
	Replicas []struct {
		Instance string `json:"instance"`
		PID      int    `json:"pid"`
	} `json:"replicas"`
	Current *runJSON `json:"current"`
}

type runJSON struct {
	Instance string `json:"instance"`
	PID      int    `json:"pid"`
	Finished bool   `json:"finished"`
}

func countIn(t *testing.T, path, s string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), s)
}

// A server dying after Apply spawned a replica but before it wrote the
// pid: state.json knows the replica by its instance ID only; the next
// server finds the process by it, adopts it as its pid, records that pid,
// starts the replica that was never spawned, and stops both process groups
// at Stop. (That each replica starts once is the conformance suite's
// CrashDuringApply, which freezes the driver the same way.)
func TestDriver_CrashAfterSpawn_Continuous(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	art := makeArtifact(t, nil)
	spec := targettest.Spec("tool1", "worker", slipway.Continuous, slipway.RunSpec{Command: "exec sleep 300", Replicas: 2}, art)

	a := newDriver(t, dir)
	pid := freezeAfterFirstSpawn(t, a, func() { _, _ = a.Apply(context.Background(), spec) })

	var st stateJSON
	readState(t, filepath.Join(dir, "tool1", "worker", "state.json"), &st)
	if len(st.Replicas) != 2 || st.Replicas[0].Instance == "" || st.Replicas[0].PID != 0 {
		t.Fatalf("state.json replicas at the crash = %+v, want replica 0 recorded by instance ID only", st.Replicas)
	}

	b := newDriver(t, dir)
	if got, _ := b.Procs("tool1", "worker"); len(got) != 2 || got[0] != pid {
		t.Fatalf("Procs() after Start = %v, want replica 0 adopted as pid %d", got, pid)
	}
	if err := b.Restore(t.Context(), []target.Spec{spec}); err != nil {
		t.Fatalf("Restore() error: %v", err)
	}
	targettest.MustWaitHealthy(t, b, "tool1", "worker")
	pids, pgids := b.Procs("tool1", "worker")
	if pids[0] != pid || pids[1] == 0 || pids[1] == pid {
		t.Fatalf("Procs() = %v, want %d adopted and a new replica 1", pids, pid)
	}
	readState(t, filepath.Join(dir, "tool1", "worker", "state.json"), &st)
	if st.Replicas[0].PID != pid {
		t.Errorf("state.json replica 0 pid = %d after adoption, want %d", st.Replicas[0].PID, pid)
	}

	if err := b.Stop(t.Context()); err != nil {
		t.Fatalf("Stop() error: %v", err)
	}
	for i, p := range pids {
		waitFor(t, "the process to end", func() bool { return processGone(p) })
		if localexec.GroupAlive(pgids[i]) {
			t.Errorf("group %d still runs after Stop", pgids[i])
		}
	}
}

// A server dying after RunOnce spawned the run but before it wrote the pid:
// RunOnce of the next server with the same run ID adopts the process. The
// conformance suite's CrashDuringRunOnce checks the outcome; here a gate
// keeps the process running until it is adopted, so that the path taken
// is the adoption of a live process found by its instance ID (not the
// reading of the exit status a finished one left).
func TestDriver_CrashAfterSpawn_RunOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	art := makeArtifact(t, map[string]string{"gate": ""})
	spec := targettest.Spec("tool1", "job", slipway.OneOff, slipway.RunSpec{
		Command: "echo job-started; while test -e gate; do sleep 0.05; done; exit 5",
	}, art)

	a := newDriver(t, dir)
	pid := freezeAfterFirstSpawn(t, a, func() { _, _ = a.RunOnce(context.Background(), spec, "r1") })
	runJSONPath := filepath.Join(dir, "tool1", "job", "runs", "r1.json")
	var rec runJSON
	readState(t, runJSONPath, &rec)
	if rec.Instance == "" || rec.PID != 0 || rec.Finished {
		t.Fatalf("r1.json at the crash = %+v, want the run recorded by instance ID only", rec)
	}

	b := newDriver(t, dir)
	resc := make(chan target.RunResult, 1)
	go func() {
		res, err := b.RunOnce(t.Context(), spec, "r1")
		if err != nil {
			t.Errorf("RunOnce(adopted) error: %v", err)
		}
		resc <- res
	}()
	waitFor(t, "the run to be adopted", func() bool {
		st, _, _ := b.Status(t.Context(), "tool1", "job")
		return st.State == "running"
	})
	if processGone(pid) {
		t.Fatalf("process %d gone before the gate was removed", pid)
	}
	if err := os.Remove(filepath.Join(art.Dir, "gate")); err != nil {
		t.Fatal(err)
	}
	res := <-resc
	if res.ExitCode != 5 {
		t.Errorf("RunOnce(adopted).ExitCode = %d, want 5 (%q)", res.ExitCode, res.LogTail)
	}
	logPath := filepath.Join(dir, "tool1", "job", "runs", "r1.log")
	if n := countIn(t, logPath, "job-started"); n != 1 {
		t.Errorf("the job ran %d times, want 1", n)
	}
	if n := countIn(t, logPath, "--- started pid"); n != 1 {
		t.Errorf("the job was started %d times, want 1", n)
	}
	waitFor(t, "the process to end", func() bool { return processGone(pid) })
}

// A run recorded by instance ID whose process was never spawned (the
// server died in between) runs when RunOnce is asked again.
func TestDriver_RunOnceIntentOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	art := makeArtifact(t, nil)
	spec := targettest.Spec("tool1", "job", slipway.OneOff, slipway.RunSpec{Command: "echo job-started; exit 3"}, art)
	runs := filepath.Join(dir, "tool1", "job", "runs")
	if err := os.MkdirAll(runs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(runs, "r1.json"), []byte(`{"id":"r1","instance":"00112233deadbeef","finished":false,"started_at":"2025-01-01T00:00:00Z","exit_code":0}`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, dir)
	res, err := d.RunOnce(t.Context(), spec, "r1")
	if err != nil || res.ExitCode != 3 {
		t.Fatalf("RunOnce(intent only) = %+v, %v; want a run exiting 3", res, err)
	}
	if n := countIn(t, filepath.Join(runs, "r1.log"), "job-started"); n != 1 {
		t.Errorf("the job ran %d times, want 1", n)
	}
}

// A server dying after a scheduled run spawned but before it wrote the pid:
// the next server adopts the run, skips cron fires while it runs, and
// records its result.
func TestDriver_CrashAfterSpawn_Scheduled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	art := makeArtifact(t, map[string]string{"gate": ""})
	spec := targettest.Spec("tool1", "cron", slipway.Scheduled, slipway.RunSpec{
		Command: "echo sched-started; while test -e gate; do sleep 0.05; done; exit 3", Schedule: "@daily",
	}, art)

	a := newDriver(t, dir)
	targettest.MustApply(t, a, spec)
	pid := freezeAfterFirstSpawn(t, a, func() { a.TriggerScheduled("tool1", "cron") })
	var st stateJSON
	readState(t, filepath.Join(dir, "tool1", "cron", "state.json"), &st)
	if st.Current == nil || st.Current.Instance == "" || st.Current.PID != 0 {
		t.Fatalf("state.json current run at the crash = %+v, want it recorded by instance ID only", st.Current)
	}

	b := newDriver(t, dir)
	if err := b.Restore(t.Context(), []target.Spec{spec}); err != nil {
		t.Fatalf("Restore() error: %v", err)
	}
	triggered := make(chan struct{})
	go func() {
		b.TriggerScheduled("tool1", "cron") // skipped: the adopted run still runs
		close(triggered)
	}()
	select {
	case <-triggered:
	case <-time.After(10 * time.Second):
		t.Fatal("TriggerScheduled() started a second run while the adopted one runs")
	}
	if processGone(pid) {
		t.Fatalf("process %d gone before the gate was removed", pid)
	}
	if err := os.Remove(filepath.Join(art.Dir, "gate")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the adopted run's result", func() bool { return len(b.ScheduledRuns("tool1", "cron")) > 0 })
	runs := b.ScheduledRuns("tool1", "cron")
	if len(runs) != 1 || runs[0].ExitCode != 3 || runs[0].Attempts != 1 {
		t.Errorf("ScheduledRuns() = %+v, want one run exiting 3", runs)
	}
	logPath := filepath.Join(dir, "tool1", "cron", "0.log")
	if n := countIn(t, logPath, "sched-started"); n != 1 {
		t.Errorf("the scheduled command ran %d times, want 1", n)
	}
	waitFor(t, "the process to end", func() bool { return processGone(pid) })
}

// findInstances prefers a group's leader over its children, which inherit
// the instance ID.
func TestFindInstances(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("/bin/sh", "-c", "sleep 300 & sleep 300 & wait")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SLIPWAY_INSTANCE=0123456789abcdef"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	waitFor(t, "the children", func() bool {
		b, _ := exec.Command("pgrep", "-g", strconv.Itoa(cmd.Process.Pid)).Output()
		return len(strings.Fields(string(b))) == 3
	})
	got := localexec.FindInstances("0123456789abcdef", "ffffffffffffffff")
	if want := [2]int{cmd.Process.Pid, cmd.Process.Pid}; len(got) != 1 || got["0123456789abcdef"] != want {
		t.Errorf("FindInstances() = %v, want the leader %v only", got, want)
	}
}
