package targettest

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

// Ensure Apply starts a new component and then, for the same spec and
// artifact, does nothing; and that Status and List report it.
func testApplyIsIdempotent(t *testing.T, h Harness) {
	b := h.setup(t)
	ctx := t.Context()
	spec := Spec("tool1", "web", slipway.Continuous, web, b.art)
	if res := MustApply(t, b.d, spec); !res.Changed {
		t.Errorf("Apply() first time: Changed = false, want true")
	}
	MustWaitHealthy(t, b.d, "tool1", "web")
	if res := MustApply(t, b.d, spec); res.Changed {
		t.Errorf("Apply() unchanged: Changed = true (%q), want false", res.Message)
	}
	st := WaitStatus(t, b.d, "tool1", "web", target.StateRunning)
	if st.Tool != "tool1" || st.Component != "web" || st.SpecHash != spec.SpecHash || st.BuildKey != spec.Artifact.Key || st.Type != slipway.Continuous || st.Replicas != 1 {
		t.Errorf("Status() = %+v, want tool1/web, spec hash %s, build key %s, continuous, 1 replica", st, spec.SpecHash, spec.Artifact.Key)
	}
	if st.Since.IsZero() || st.Since.After(time.Now()) {
		t.Errorf("Status().Since = %v, want when the replica started", st.Since)
	}
	list, err := b.d.List(ctx, "tool1")
	if err != nil || len(list) != 1 || list[0].Component != "web" || list[0].State != target.StateRunning {
		t.Errorf("List() = %+v, %v; want one running status for web", list, err)
	}
	if list, err := b.d.List(ctx, "other"); err != nil || len(list) != 0 {
		t.Errorf("List(other) = %+v, %v; want none", list, err)
	}
	if _, ok, err := b.d.Status(ctx, "tool1", "never"); ok || err != nil {
		t.Errorf("Status(unknown) ok = %v, err = %v; want false, nil", ok, err)
	}
}

// Ensure Status reports replicas, and a URL for published components only;
// and List reports every component of the tool.
func testStatusFields(t *testing.T, h Harness) {
	b := h.setup(t)
	ctx := t.Context()
	MustApply(t, b.d, Spec("tool1", "web", slipway.Continuous, web, b.art))
	worker := Spec("tool1", "worker", slipway.Continuous, slipway.RunSpec{Command: "exec sleep 300", Replicas: 2}, b.art)
	MustApply(t, b.d, worker)
	MustWaitHealthy(t, b.d, "tool1", "web")
	MustWaitHealthy(t, b.d, "tool1", "worker")
	if st := WaitStatus(t, b.d, "tool1", "web", target.StateRunning); st.URL == "" {
		t.Errorf("Status(published).URL is empty, want where it answers")
	}
	st := WaitStatus(t, b.d, "tool1", "worker", target.StateRunning)
	if st.Replicas != 2 || st.URL != "" || st.SpecHash != worker.SpecHash {
		t.Errorf("Status(worker) = %+v, want 2 replicas, no URL, spec hash %s", st, worker.SpecHash)
	}
	list, err := b.d.List(ctx, "tool1")
	var names []string
	for _, s := range list {
		names = append(names, s.Component)
	}
	slices.Sort(names)
	if err != nil || !slices.Equal(names, []string{"web", "worker"}) {
		t.Errorf("List() = %+v, %v; want web and worker", list, err)
	}
}

// Ensure a changed spec hash, and then a changed artifact key, restart the
// component with what was applied.
func testChangedSpecRestarts(t *testing.T, h Harness) {
	b := h.setup(t)
	MustApply(t, b.d, Spec("tool1", "web", slipway.Continuous, web, b.art))
	MustWaitHealthy(t, b.d, "tool1", "web")
	run2 := web
	run2.Command = "python3 server.py --changed"
	spec2 := Spec("tool1", "web", slipway.Continuous, run2, b.art)
	if res := MustApply(t, b.d, spec2); !res.Changed {
		t.Errorf("Apply(changed spec) Changed = false, want true")
	}
	MustWaitHealthy(t, b.d, "tool1", "web")
	if st := WaitStatus(t, b.d, "tool1", "web", target.StateRunning); st.SpecHash != spec2.SpecHash {
		t.Errorf("Status().SpecHash = %s, want %s", st.SpecHash, spec2.SpecHash)
	}
	art2 := b.art
	art2.Key += "-2"
	if res := MustApply(t, b.d, Spec("tool1", "web", slipway.Continuous, run2, art2)); !res.Changed {
		t.Errorf("Apply(changed artifact) Changed = false, want true")
	}
	MustWaitHealthy(t, b.d, "tool1", "web")
	if st := WaitStatus(t, b.d, "tool1", "web", target.StateRunning); st.BuildKey != art2.Key {
		t.Errorf("Status().BuildKey = %s, want %s", st.BuildKey, art2.Key)
	}
}

// Ensure a new restart token restarts an unchanged component once, and
// the same token again (a retried step) does not.
func testRestartToken(t *testing.T, h Harness) {
	b := h.setup(t)
	spec := Spec("tool1", "web", slipway.Continuous, web, b.art)
	MustApply(t, b.d, spec)
	MustWaitHealthy(t, b.d, "tool1", "web")
	spec.RestartToken = "deployment-2"
	if res := MustApply(t, b.d, spec); !res.Changed {
		t.Errorf("Apply(new restart token) Changed = false, want true")
	}
	MustWaitHealthy(t, b.d, "tool1", "web")
	if res := MustApply(t, b.d, spec); res.Changed {
		t.Errorf("Apply(same restart token) Changed = true (%q), want false", res.Message)
	}
	spec.RestartToken = ""
	if res := MustApply(t, b.d, spec); res.Changed {
		t.Errorf("Apply(no restart token) Changed = true (%q), want false", res.Message)
	}
}

// Ensure a scheduled component is registered with its concrete schedule,
// not run, and registered anew when its schedule changes; and that a macro
// becomes five concrete fields.
func testScheduled(t *testing.T, h Harness) {
	b := h.setup(t)
	// Midnight on January 1st: it does not fire while the test runs.
	spec := Spec("tool1", "cron", slipway.Scheduled, slipway.RunSpec{Command: "echo tick", Schedule: yearly}, b.art)
	res := MustApply(t, b.d, spec)
	if !res.Changed || !strings.Contains(res.Message, yearly) {
		t.Errorf("Apply(scheduled) = %+v, want Changed and the schedule in the message", res)
	}
	if res := MustApply(t, b.d, spec); res.Changed {
		t.Errorf("Apply(scheduled, unchanged) Changed = true, want false")
	}
	MustWaitHealthy(t, b.d, "tool1", "cron")
	st := WaitStatus(t, b.d, "tool1", "cron", target.StateScheduled)
	next := st.NextRun.UTC()
	if st.Type != slipway.Scheduled || st.SpecHash != spec.SpecHash || st.Schedule != yearly || !next.After(time.Now()) || next.Month() != time.January || next.Day() != 1 || next.Hour() != 0 || next.Minute() != 0 || st.RunInProgress || st.LastRun != nil {
		t.Errorf("Status(scheduled) = %+v, want schedule %s, the next run at midnight (UTC) on January 1st, no run yet", st, yearly)
	}

	// A new schedule is a new spec: registered instead of the old one.
	spec2 := Spec("tool1", "cron", slipway.Scheduled, slipway.RunSpec{Command: "echo tick", Schedule: "0 0 1 7 *"}, b.art)
	if res := MustApply(t, b.d, spec2); !res.Changed {
		t.Errorf("Apply(new schedule) Changed = false, want true")
	}
	if st := WaitStatus(t, b.d, "tool1", "cron", target.StateScheduled); st.Schedule != "0 0 1 7 *" || st.SpecHash != spec2.SpecHash || st.NextRun.UTC().Month() != time.July {
		t.Errorf("Status(new schedule) = %+v, want schedule 0 0 1 7 * and the next run on July 1st", st)
	}

	res = MustApply(t, b.d, Spec("tool1", "daily", slipway.Scheduled, slipway.RunSpec{Command: "echo tick", Schedule: "@daily"}, b.art))
	if strings.Contains(res.Message, "@daily") || len(strings.Fields(strings.Trim(strings.TrimPrefix(res.Message, "scheduled "), `"`))) != 5 {
		t.Errorf("Apply(@daily).Message = %q, want the concrete 5-field schedule", res.Message)
	}
	if st := WaitStatus(t, b.d, "tool1", "daily", target.StateScheduled); len(strings.Fields(st.Schedule)) != 5 || strings.HasPrefix(st.Schedule, "@") {
		t.Errorf("Status(@daily).Schedule = %q, want 5 concrete fields", st.Schedule)
	}
}

// Ensure RunOnce runs a one-off and, asked again with the same run ID,
// returns that run's result without running it again.
func testRunOnceIsIdempotent(t *testing.T, h Harness) {
	b := h.setup(t)
	ctx := t.Context()
	spec := Spec("tool1", "job", slipway.OneOff, slipway.RunSpec{Command: "echo ran-once"}, b.art)
	res, err := b.d.RunOnce(ctx, spec, "run-1")
	if err != nil || res.ExitCode != 0 || res.TimedOut {
		t.Fatalf("RunOnce() = %+v, %v; want exit code 0", res, err)
	}
	if b.caps.Logs && !strings.Contains(res.LogTail, "ran-once") {
		t.Errorf("RunOnce().LogTail = %q, want the output", res.LogTail)
	}
	st := WaitStatus(t, b.d, "tool1", "job", target.StateSucceeded)
	if st.Type != slipway.OneOff || st.LastRun == nil || st.LastRun.ExitCode != 0 || st.LastRun.StartedAt.IsZero() || st.LastRun.FinishedAt.Before(st.LastRun.StartedAt) {
		t.Fatalf("Status(one-off) = %+v, LastRun %+v; want the finished run with exit code 0", st, st.LastRun)
	}
	first := *st.LastRun

	again, err := b.d.RunOnce(ctx, spec, "run-1")
	if err != nil || again.ExitCode != 0 {
		t.Fatalf("RunOnce(same run ID) = %+v, %v; want the first result", again, err)
	}
	if st := WaitStatus(t, b.d, "tool1", "job", target.StateSucceeded); st.LastRun == nil || !st.LastRun.StartedAt.Equal(first.StartedAt) {
		t.Errorf("Status().LastRun after RunOnce(same run ID) = %+v, want the first run %+v", st.LastRun, first)
	}
	if b.caps.Logs {
		if n := strings.Count(Logs(t, b.d, "tool1", "job"), "ran-once"); n != 1 {
			t.Errorf("after two RunOnce with one run ID the output appears %d times, want 1", n)
		}
	}
}

// Ensure two RunOnce calls with one run ID at the same time run it once
// and both return its result.
func testRunOnceConcurrent(t *testing.T, h Harness) {
	b := h.setup(t)
	spec := Spec("tool1", "job", slipway.OneOff, slipway.RunSpec{Command: "echo ran-once"}, b.art)
	var wg sync.WaitGroup
	results := make([]target.RunResult, 2)
	for i := range results {
		wg.Go(func() {
			res, err := b.d.RunOnce(t.Context(), spec, "run-1")
			if err != nil {
				t.Errorf("RunOnce() #%d error: %v", i, err)
			}
			results[i] = res
		})
	}
	wg.Wait()
	if results[0].ExitCode != 0 || results[1].ExitCode != 0 {
		t.Errorf("RunOnce() twice at once = %+v; want exit code 0 from both", results)
	}
	st := WaitStatus(t, b.d, "tool1", "job", target.StateSucceeded)
	if st.LastRun == nil {
		t.Errorf("Status().LastRun = nil, want the run")
	}
	if b.caps.Logs {
		if n := strings.Count(Logs(t, b.d, "tool1", "job"), "ran-once"); n != 1 {
			t.Errorf("after two RunOnce at once with one run ID the output appears %d times, want 1", n)
		}
	}
}

// Ensure Remove forgets continuous, scheduled and one-off components, and
// that removing again, or removing an unknown one, is not an error.
func testRemove(t *testing.T, h Harness) {
	b := h.setup(t)
	ctx := t.Context()
	MustApply(t, b.d, Spec("tool1", "worker", slipway.Continuous, slipway.RunSpec{Command: "exec sleep 300"}, b.art))
	MustApply(t, b.d, Spec("tool1", "cron", slipway.Scheduled, slipway.RunSpec{Command: "echo tick", Schedule: "@daily"}, b.art))
	if _, err := b.d.RunOnce(ctx, Spec("tool1", "job", slipway.OneOff, slipway.RunSpec{Command: "echo ran"}, b.art), "run-1"); err != nil {
		t.Fatalf("RunOnce() error: %v", err)
	}
	for _, name := range []string{"worker", "cron", "job"} {
		if err := b.d.Remove(ctx, "tool1", name); err != nil {
			t.Fatalf("Remove(%s) error: %v", name, err)
		}
		if _, ok, err := b.d.Status(ctx, "tool1", name); ok || err != nil {
			t.Errorf("Status(removed %s) ok = %v, err = %v; want false, nil", name, ok, err)
		}
		if err := b.d.Remove(ctx, "tool1", name); err != nil {
			t.Errorf("Remove(%s again) error: %v", name, err)
		}
	}
	if list, err := b.d.List(ctx, "tool1"); err != nil || len(list) != 0 {
		t.Errorf("List() after Remove = %+v, %v; want none", list, err)
	}
	if err := b.d.Remove(ctx, "tool1", "never"); err != nil {
		t.Errorf("Remove(unknown) error: %v", err)
	}
	if err := b.d.Remove(ctx, "nosuchtool", "never"); err != nil {
		t.Errorf("Remove(unknown tool) error: %v", err)
	}
}

// yearly is a schedule that does not fire while a test runs (but at the
// turn of the year).
const yearly = "0 0 1 1 *"

// Logs returns the component's logs, failing the test on an error.
func Logs(t *testing.T, d target.Driver, tool, name string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := d.Logs(t.Context(), tool, name, target.LogOptions{}, &buf); err != nil {
		t.Fatalf("Logs(%s/%s) error: %v", tool, name, err)
	}
	return buf.String()
}

// restore calls d's Restore with specs, as a server start does.
func restore(t *testing.T, d target.Driver, specs ...target.Spec) {
	t.Helper()
	lc, ok := d.(target.Lifecycle)
	if !ok {
		t.Fatalf("%T has a RestartFactory or CrashFactory but does not implement target.Lifecycle", d)
	}
	ctx, cancel := context.WithTimeout(t.Context(), healthTimeout)
	defer cancel()
	if err := lc.Restore(ctx, specs); err != nil {
		t.Fatalf("Restore() error: %v", err)
	}
}
