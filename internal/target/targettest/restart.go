package targettest

import (
	"context"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

// Ensure a new driver on the same state adopts what runs and restarts
// nothing: after Restore, the same specs applied again change nothing, the
// continuous component keeps its replicas (same Since, no restart), the
// scheduled one its schedule, and a finished run's result is returned
// again without running it.
func testRestartAdopts(t *testing.T, h Harness) {
	if h.Restart == nil {
		t.Skip("no RestartFactory")
	}
	b := h.setup(t)
	ctx := t.Context()
	webSpec := Spec("tool1", "web", slipway.Continuous, web, b.art)
	cron := Spec("tool1", "cron", slipway.Scheduled, slipway.RunSpec{Command: "echo tick", Schedule: yearly}, b.art)
	job := Spec("tool1", "job", slipway.OneOff, slipway.RunSpec{Command: "echo ran-once"}, b.art)
	MustApply(t, b.d, webSpec)
	MustApply(t, b.d, cron)
	MustWaitHealthy(t, b.d, "tool1", "web")
	if _, err := b.d.RunOnce(ctx, job, "run-1"); err != nil {
		t.Fatalf("RunOnce() error: %v", err)
	}
	before := WaitStatus(t, b.d, "tool1", "web", target.StateRunning)
	cronBefore := WaitStatus(t, b.d, "tool1", "cron", target.StateScheduled)
	jobBefore := WaitStatus(t, b.d, "tool1", "job", target.StateSucceeded)

	d := h.Restart(t, b.d)
	restore(t, d, webSpec, cron)
	if res := MustApply(t, d, webSpec); res.Changed {
		t.Errorf("Apply(adopted, same spec) Changed = true (%q), want false", res.Message)
	}
	if res := MustApply(t, d, cron); res.Changed {
		t.Errorf("Apply(adopted scheduled, same spec) Changed = true (%q), want false", res.Message)
	}
	MustWaitHealthy(t, d, "tool1", "web")
	st := WaitStatus(t, d, "tool1", "web", target.StateRunning)
	if st.SpecHash != before.SpecHash || st.BuildKey != before.BuildKey || st.Replicas != before.Replicas {
		t.Errorf("Status() after the restart = %+v, want spec %s build %s replicas %d", st, before.SpecHash, before.BuildKey, before.Replicas)
	}
	if st.Restarts != before.Restarts || !st.Since.Equal(before.Since) {
		t.Errorf("Status() after the restart: Restarts %d, Since %v; want %d, %v (adopted, not restarted)", st.Restarts, st.Since, before.Restarts, before.Since)
	}
	if st := WaitStatus(t, d, "tool1", "cron", target.StateScheduled); st.Schedule != cronBefore.Schedule || !st.NextRun.After(time.Now()) {
		t.Errorf("Status(scheduled) after the restart = %+v, want schedule %q and a next run", st, cronBefore.Schedule)
	}

	res, err := d.RunOnce(ctx, job, "run-1")
	if err != nil || res.ExitCode != 0 {
		t.Errorf("RunOnce(run ID finished before the restart) = %+v, %v; want its result", res, err)
	}
	if st := WaitStatus(t, d, "tool1", "job", target.StateSucceeded); st.LastRun == nil || !st.LastRun.StartedAt.Equal(jobBefore.LastRun.StartedAt) {
		t.Errorf("Status(one-off).LastRun after the restart = %+v, want the run of before %+v", st.LastRun, jobBefore.LastRun)
	}
	if b.caps.Logs {
		if n := strings.Count(Logs(t, d, "tool1", "web"), "listening on"); n != 1 {
			t.Errorf("the web component started %d times, want 1", n)
		}
		if n := strings.Count(Logs(t, d, "tool1", "job"), "ran-once"); n != 1 {
			t.Errorf("the one-off ran %d times, want 1", n)
		}
	}
}

// Ensure a driver dying in the middle of an Apply, after its first replica
// started, leaves what the next driver adopts: after Restore every replica
// runs, each started once.
func testCrashDuringApply(t *testing.T, h Harness) {
	if h.Crash == nil {
		t.Skip("no CrashFactory")
	}
	b := h.setup(t)
	spec := Spec("tool1", "worker", slipway.Continuous, slipway.RunSpec{Command: "echo replica-started; exec sleep 300", Replicas: 2}, b.art)
	d := h.Crash(t, b.d, func(ctx context.Context) { _, _ = b.d.Apply(ctx, spec) })
	restore(t, d, spec)
	if res := MustApply(t, d, spec); res.Changed {
		t.Errorf("Apply(restored, same spec) Changed = true (%q), want false", res.Message)
	}
	MustWaitHealthy(t, d, "tool1", "worker")
	if st := WaitStatus(t, d, "tool1", "worker", target.StateRunning); st.Replicas != 2 || st.SpecHash != spec.SpecHash {
		t.Errorf("Status() = %+v, want 2 replicas of spec %s", st, spec.SpecHash)
	}
	if b.caps.Logs {
		WaitLogsCount(t, d, "tool1", "worker", "replica-started", 2)
		if n := strings.Count(Logs(t, d, "tool1", "worker"), "replica-started"); n != 2 {
			t.Errorf("2 replicas started %d times, want once each", n)
		}
	}
}

// Ensure a driver dying in the middle of a RunOnce, after the run started,
// leaves what the next driver's RunOnce with the same run ID adopts: the
// run's result, without running it again.
func testCrashDuringRunOnce(t *testing.T, h Harness) {
	if h.Crash == nil {
		t.Skip("no CrashFactory")
	}
	b := h.setup(t)
	spec := Spec("tool1", "job", slipway.OneOff, slipway.RunSpec{Command: "echo job-started; exit 5"}, b.art)
	d := h.Crash(t, b.d, func(ctx context.Context) { _, _ = b.d.RunOnce(ctx, spec, "run-1") })
	restore(t, d)
	wantCode, wantState := 0, target.StateSucceeded
	if b.caps.ExitCodes {
		wantCode, wantState = 5, target.StateFailed
	}
	res, err := d.RunOnce(t.Context(), spec, "run-1")
	if err != nil || res.ExitCode != wantCode {
		t.Fatalf("RunOnce(run ID of the crashed driver) = %+v, %v; want exit code %d", res, err, wantCode)
	}
	if st := WaitStatus(t, d, "tool1", "job", wantState); st.LastRun == nil || st.LastRun.ExitCode != wantCode {
		t.Errorf("Status().LastRun = %+v, want exit code %d", st.LastRun, wantCode)
	}
	if b.caps.Logs {
		if n := strings.Count(Logs(t, d, "tool1", "job"), "job-started"); n != 1 {
			t.Errorf("the job ran %d times, want 1", n)
		}
	}
}
