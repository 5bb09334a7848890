package targettest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

// Ensure an HTTP health check makes WaitHealthy return once the app
// answers, saying so, and that the app's output reaches the logs.
func testHTTPHealth(t *testing.T, h Harness) {
	skipUnless(t, h.Capabilities.HealthChecks, "run health checks")
	skipUnless(t, h.Capabilities.Logs, "return logs")
	b := h.setup(t)
	MustApply(t, b.d, Spec("tool1", "web", slipway.Continuous, web, b.art))
	hr := MustWaitHealthy(t, b.d, "tool1", "web")
	if !strings.Contains(hr.Message, "healthy") || hr.After <= 0 {
		t.Errorf("WaitHealthy() = %+v, want a healthy message and After > 0", hr)
	}
	WaitLogs(t, b.d, "tool1", "web", "listening on")
}

func testTCPHealth(t *testing.T, h Harness) {
	skipUnless(t, h.Capabilities.HealthChecks, "run health checks")
	b := h.setup(t)
	MustApply(t, b.d, Spec("tool1", "tcp", slipway.Continuous,
		slipway.RunSpec{Command: "python3 -m http.server --bind 127.0.0.1 $PORT", Port: 8080}, b.art))
	MustWaitHealthy(t, b.d, "tool1", "tcp")
}

func testScriptHealth(t *testing.T, h Harness) {
	skipUnless(t, h.Capabilities.HealthChecks, "run health checks")
	b := h.setup(t)
	MustApply(t, b.d, Spec("tool1", "script", slipway.Continuous,
		slipway.RunSpec{Command: `touch "$HOME/ready-$COMPONENT" && exec sleep 300`, HealthCheckScript: `test -f "$HOME/ready-$COMPONENT"`}, b.art))
	MustWaitHealthy(t, b.d, "tool1", "script")
}

func testStayedUpHealth(t *testing.T, h Harness) {
	skipUnless(t, h.Capabilities.HealthChecks, "run health checks")
	b := h.setup(t)
	MustApply(t, b.d, Spec("tool1", "worker", slipway.Continuous, slipway.RunSpec{Command: "echo working; exec sleep 300"}, b.art))
	MustWaitHealthy(t, b.d, "tool1", "worker")
}

// Ensure a component that keeps exiting fails WaitHealthy before its
// deadline, with its last output, and is reported as crash looping.
func testCrashLoop(t *testing.T, h Harness) {
	skipUnless(t, h.Capabilities.CrashLoops, "report crash loops")
	b := h.setup(t)
	MustApply(t, b.d, Spec("tool1", "crash", slipway.Continuous, slipway.RunSpec{Command: "echo doomed-app-output; exit 3"}, b.art))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	_, err := b.d.WaitHealthy(ctx, "tool1", "crash")
	if err == nil {
		t.Fatalf("WaitHealthy(crashing) = nil error, want a crash loop")
	}
	if ctx.Err() != nil {
		t.Errorf("WaitHealthy(crashing) waited for the deadline; want it to fail on the crash loop")
	}
	if h.Capabilities.Logs && !strings.Contains(err.Error(), "doomed-app-output") {
		t.Errorf("WaitHealthy(crashing) error = %q, want the last log lines", err)
	}
	if st, _, _ := b.d.Status(t.Context(), "tool1", "crash"); st.State != target.StateCrashLoop {
		t.Errorf("Status().State = %q, want crashloop", st.State)
	}
}

// Ensure a new version that never becomes healthy leaves the old one
// running: WaitHealthy says so with a KeptError, and Status reports the
// old spec and build, running.
func testBadVersionKeepsOld(t *testing.T, h Harness) {
	skipUnless(t, h.Capabilities.CrashLoops && h.Capabilities.HealthChecks, "report crash loops and run health checks")
	b := h.setup(t)
	spec := Spec("tool1", "web", slipway.Continuous, web, b.art)
	MustApply(t, b.d, spec)
	MustWaitHealthy(t, b.d, "tool1", "web")
	for _, bad := range []slipway.RunSpec{
		{Command: "echo new-version-crashes; exit 3", Port: 8000, HealthCheckHTTP: "/healthz", Publish: "/"},
		{Command: "exec sleep 300", Port: 8000, HealthCheckHTTP: "/healthz", Publish: "/"}, // never listens
	} {
		art2 := b.art
		art2.Key += "-bad"
		if res := MustApply(t, b.d, Spec("tool1", "web", slipway.Continuous, bad, art2)); !res.Changed {
			t.Errorf("Apply(bad version) Changed = false, want true")
		}
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		_, err := b.d.WaitHealthy(ctx, "tool1", "web")
		cancel()
		if _, ok := errors.AsType[*target.KeptError](err); !ok {
			t.Fatalf("WaitHealthy(%q) error = %v, want a *target.KeptError", bad.Command, err)
		}
		st := WaitStatus(t, b.d, "tool1", "web", target.StateRunning)
		if st.SpecHash != spec.SpecHash || st.BuildKey != spec.Artifact.Key || st.Replicas != 1 {
			t.Errorf("Status() after %q = spec %s build %s replicas %d, want the old %s %s 1", bad.Command, st.SpecHash, st.BuildKey, st.Replicas, spec.SpecHash, spec.Artifact.Key)
		}
	}
	// The old version again: already running, nothing to do.
	if res := MustApply(t, b.d, spec); res.Changed {
		t.Errorf("Apply(the kept version) Changed = true (%q), want false", res.Message)
	}
	MustWaitHealthy(t, b.d, "tool1", "web")
}

// Ensure a component that crash loops is not "up to date": the same
// spec applied again starts it again.
func testSameSpecRestartsCrashLoop(t *testing.T, h Harness) {
	skipUnless(t, h.Capabilities.CrashLoops, "report crash loops")
	b := h.setup(t)
	spec := Spec("tool1", "crash", slipway.Continuous, slipway.RunSpec{Command: "exit 3"}, b.art)
	MustApply(t, b.d, spec)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := b.d.WaitHealthy(ctx, "tool1", "crash"); err == nil {
		t.Fatal("WaitHealthy(crashing) = nil error, want a crash loop")
	}
	if res := MustApply(t, b.d, spec); !res.Changed {
		t.Errorf("Apply(same spec, crash looping) Changed = false (%q), want true", res.Message)
	}
}

// Ensure a one-off's exit code is its command's: not an error, reported
// by RunOnce and Status.
func testOneOffExitCodes(t *testing.T, h Harness) {
	skipUnless(t, h.Capabilities.ExitCodes, "report exit codes")
	b := h.setup(t)
	ok := Spec("tool1", "job", slipway.OneOff, slipway.RunSpec{Command: "echo ran-once"}, b.art)
	if res, err := b.d.RunOnce(t.Context(), ok, "run-1"); err != nil || res.ExitCode != 0 {
		t.Fatalf("RunOnce(exit 0) = %+v, %v; want exit code 0", res, err)
	}
	WaitStatus(t, b.d, "tool1", "job", target.StateSucceeded)
	bad := Spec("tool1", "job", slipway.OneOff, slipway.RunSpec{Command: "echo failing; exit 7"}, b.art)
	res, err := b.d.RunOnce(t.Context(), bad, "run-2")
	if err != nil || res.ExitCode != 7 || res.TimedOut {
		t.Errorf("RunOnce(exit 7) = %+v, %v; want exit code 7, not timed out, and no error", res, err)
	}
	if st := WaitStatus(t, b.d, "tool1", "job", target.StateFailed); st.LastRun == nil || st.LastRun.ExitCode != 7 {
		t.Errorf("Status(one-off).LastRun = %+v, want exit code 7", st.LastRun)
	}
}

// Ensure Run.Timeout stops a one-off run, and the result says so.
func testOneOffTimeout(t *testing.T, h Harness) {
	skipUnless(t, h.Capabilities.ExitCodes, "report exit codes and timeouts")
	b := h.setup(t)
	slow := Spec("tool1", "job", slipway.OneOff, slipway.RunSpec{Command: "exec sleep 3004", Timeout: 1}, b.art)
	res, err := b.d.RunOnce(t.Context(), slow, "run-1")
	if err != nil || !res.TimedOut || res.ExitCode == 0 {
		t.Errorf("RunOnce(past its timeout) = %+v, %v; want TimedOut, a non-zero exit code and no error", res, err)
	}
	if st := WaitStatus(t, b.d, "tool1", "job", target.StateFailed); st.LastRun == nil || !st.LastRun.TimedOut {
		t.Errorf("Status(one-off).LastRun = %+v, want timed out", st.LastRun)
	}
}

// Ensure Logs honours Lines, and with Follow writes what comes until its
// context ends.
func testLogs(t *testing.T, h Harness) {
	skipUnless(t, h.Capabilities.Logs, "return logs")
	b := h.setup(t)
	MustApply(t, b.d, Spec("tool1", "ticker", slipway.Continuous, slipway.RunSpec{
		Command: `i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.1; done`,
	}, b.art))
	WaitLogs(t, b.d, "tool1", "ticker", "tick 3")
	var buf bytes.Buffer
	if err := b.d.Logs(t.Context(), "tool1", "ticker", target.LogOptions{Lines: 2}, &buf); err != nil {
		t.Fatalf("Logs(Lines: 2) error: %v", err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Errorf("Logs(Lines: 2) gave %d lines, want 2:\n%s", n, buf.String())
	}
	ctx, cancel := context.WithCancel(t.Context())
	w := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- b.d.Logs(ctx, "tool1", "ticker", target.LogOptions{Follow: true, Lines: 1}, w) }()
	waitFor(t, waitTimeout, func() (bool, string) {
		s := w.String()
		return strings.Count(s, "tick") >= 5, "followed output: " + s
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Logs(Follow) error: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Errorf("Logs(Follow) did not return after ctx was cancelled")
	}
}
