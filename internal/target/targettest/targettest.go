// Package targettest is the conformance suite of [target.Driver]: every
// driver runs [Run] from its tests, so they all honour the same contract.
//
// It is imported only by tests.
package targettest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

// Timeouts of the suite: generous, so slow machines do not fail it.
const (
	healthTimeout = 30 * time.Second
	waitTimeout   = 20 * time.Second
)

// ServerPy is a small HTTP app: it listens on 127.0.0.1:$PORT and answers
// every GET with 200 and "hello <COMPONENT> <PORT>".
const ServerPy = `import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello %s %s\n" % (os.environ.get("COMPONENT"), os.environ.get("PORT"))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
print("listening on", os.environ["PORT"], flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`

// AppFiles are the files of the suite's artifact: server.py ([ServerPy]).
// Drivers' makeArtifact must make them available in the artifact's working
// directory; the suite sets the artifact's Procfile processes itself.
var AppFiles = map[string]string{"server.py": ServerPy}

// Spec returns a spec for a component of tool, of type typ, running art,
// with SpecHash filled in.
func Spec(tool, name string, typ slipway.ComponentType, run slipway.RunSpec, art slipway.Artifact) target.Spec {
	c := slipway.Component{Name: name, Type: typ, Run: run}
	return target.Spec{Tool: tool, Component: c, SpecHash: c.SpecHash(), Artifact: art}
}

// Run runs the conformance suite. newDriver returns a started driver that
// is stopped when the test ends; makeArtifact returns an artifact holding
// files (see [AppFiles]).
func Run(t *testing.T, newDriver func(t *testing.T) target.Driver, makeArtifact func(t *testing.T, files map[string]string) slipway.Artifact) {
	t.Helper()
	type bundle struct {
		d   target.Driver
		art slipway.Artifact
	}
	setup := func(t *testing.T) bundle {
		t.Helper()
		t.Parallel()
		art := makeArtifact(t, AppFiles)
		art.Processes = map[string]string{"web": "python3 server.py"}
		return bundle{d: newDriver(t), art: art}
	}
	web := slipway.RunSpec{Command: "web", Port: 8000, HealthCheckHTTP: "/healthz", Publish: "/"}

	t.Run("ContinuousHTTP", func(t *testing.T) {
		b := setup(t)
		ctx := t.Context()
		spec := Spec("tool1", "web", slipway.Continuous, web, b.art)
		res := MustApply(t, b.d, spec)
		if !res.Changed {
			t.Errorf("Apply() first time: Changed = false, want true")
		}
		h := MustWaitHealthy(t, b.d, "tool1", "web")
		if !strings.Contains(h.Message, "healthy") || h.After <= 0 {
			t.Errorf("WaitHealthy() = %+v, want a healthy message and After > 0", h)
		}
		res = MustApply(t, b.d, spec)
		if res.Changed {
			t.Errorf("Apply() unchanged: Changed = true (%q), want false", res.Message)
		}
		st := WaitStatus(t, b.d, "tool1", "web", "running")
		if st.SpecHash != spec.SpecHash || st.BuildKey != spec.Artifact.Key || st.Type != slipway.Continuous || st.Replicas != 1 {
			t.Errorf("Status() = %+v, want spec hash %s, build key %s, 1 replica", st, spec.SpecHash, spec.Artifact.Key)
		}
		if st.Since.IsZero() || time.Since(st.Since) < 0 {
			t.Errorf("Status().Since = %v, want when the replica started", st.Since)
		}
		list, err := b.d.List(ctx, "tool1")
		if err != nil || len(list) != 1 || list[0].Component != "web" {
			t.Errorf("List() = %+v, %v; want one status for web", list, err)
		}
		if list, _ := b.d.List(ctx, "other"); len(list) != 0 {
			t.Errorf("List(other) = %+v, want none", list)
		}
		WaitLogs(t, b.d, "tool1", "web", "listening on")
	})

	t.Run("ChangedSpecRestarts", func(t *testing.T) {
		b := setup(t)
		spec := Spec("tool1", "web", slipway.Continuous, web, b.art)
		MustApply(t, b.d, spec)
		MustWaitHealthy(t, b.d, "tool1", "web")
		run2 := web
		run2.Command = "python3 server.py --changed"
		spec2 := Spec("tool1", "web", slipway.Continuous, run2, b.art)
		if res := MustApply(t, b.d, spec2); !res.Changed {
			t.Errorf("Apply(changed spec) Changed = false, want true")
		}
		MustWaitHealthy(t, b.d, "tool1", "web")
		st := WaitStatus(t, b.d, "tool1", "web", "running")
		if st.SpecHash != spec2.SpecHash {
			t.Errorf("Status().SpecHash = %s, want %s", st.SpecHash, spec2.SpecHash)
		}
		art2 := b.art
		art2.Key += "-2"
		if res := MustApply(t, b.d, Spec("tool1", "web", slipway.Continuous, run2, art2)); !res.Changed {
			t.Errorf("Apply(changed artifact) Changed = false, want true")
		}
		MustWaitHealthy(t, b.d, "tool1", "web")
	})

	// Ensure a new restart token restarts an unchanged component once, and
	// the same token again (a retried step) does not.
	t.Run("RestartToken", func(t *testing.T) {
		b := setup(t)
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
	})

	t.Run("TCPHealth", func(t *testing.T) {
		b := setup(t)
		MustApply(t, b.d, Spec("tool1", "tcp", slipway.Continuous,
			slipway.RunSpec{Command: "python3 -m http.server --bind 127.0.0.1 $PORT", Port: 8080}, b.art))
		MustWaitHealthy(t, b.d, "tool1", "tcp")
	})

	t.Run("ScriptHealth", func(t *testing.T) {
		b := setup(t)
		MustApply(t, b.d, Spec("tool1", "script", slipway.Continuous,
			slipway.RunSpec{Command: `touch "$HOME/ready-$COMPONENT" && exec sleep 300`, HealthCheckScript: `test -f "$HOME/ready-$COMPONENT"`}, b.art))
		MustWaitHealthy(t, b.d, "tool1", "script")
	})

	t.Run("StayedUpHealth", func(t *testing.T) {
		b := setup(t)
		MustApply(t, b.d, Spec("tool1", "worker", slipway.Continuous, slipway.RunSpec{Command: "echo working; exec sleep 300"}, b.art))
		MustWaitHealthy(t, b.d, "tool1", "worker")
	})

	t.Run("CrashLoop", func(t *testing.T) {
		b := setup(t)
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
		if !strings.Contains(err.Error(), "doomed-app-output") {
			t.Errorf("WaitHealthy(crashing) error = %q, want the last log lines", err)
		}
		if st, _, _ := b.d.Status(t.Context(), "tool1", "crash"); st.State != target.StateCrashLoop {
			t.Errorf("Status().State = %q, want crashloop", st.State)
		}
	})

	// Ensure a new version that never becomes healthy leaves the old one
	// running: WaitHealthy says so with a KeptError, and Status reports the
	// old spec and build, running.
	t.Run("BadVersionKeepsOld", func(t *testing.T) {
		b := setup(t)
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
			st := WaitStatus(t, b.d, "tool1", "web", "running")
			if st.SpecHash != spec.SpecHash || st.BuildKey != spec.Artifact.Key || st.Replicas != 1 {
				t.Errorf("Status() after %q = spec %s build %s replicas %d, want the old %s %s 1", bad.Command, st.SpecHash, st.BuildKey, st.Replicas, spec.SpecHash, spec.Artifact.Key)
			}
		}
		// The old version again: already running, nothing to do.
		if res := MustApply(t, b.d, spec); res.Changed {
			t.Errorf("Apply(the kept version) Changed = true (%q), want false", res.Message)
		}
		MustWaitHealthy(t, b.d, "tool1", "web")
	})

	// Ensure a component that crash loops is not "up to date": the same
	// spec applied again starts it again.
	t.Run("SameSpecRestartsCrashLoop", func(t *testing.T) {
		b := setup(t)
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
	})

	t.Run("Scheduled", func(t *testing.T) {
		b := setup(t)
		spec := Spec("tool1", "cron", slipway.Scheduled, slipway.RunSpec{Command: "echo tick", Schedule: "*/5 * * * *"}, b.art)
		res := MustApply(t, b.d, spec)
		if !res.Changed || !strings.Contains(res.Message, "*/5 * * * *") {
			t.Errorf("Apply(scheduled) = %+v, want Changed and the schedule in the message", res)
		}
		if res := MustApply(t, b.d, spec); res.Changed {
			t.Errorf("Apply(scheduled, unchanged) Changed = true, want false")
		}
		MustWaitHealthy(t, b.d, "tool1", "cron")
		st := WaitStatus(t, b.d, "tool1", "cron", "scheduled")
		if st.Schedule != "*/5 * * * *" || !st.NextRun.After(time.Now()) || st.NextRun.Minute()%5 != 0 || st.RunInProgress || st.LastRun != nil {
			t.Errorf("Status(scheduled) = %+v, want schedule */5 * * * *, the next run on a multiple of 5 minutes, no run yet", st)
		}

		res = MustApply(t, b.d, Spec("tool1", "daily", slipway.Scheduled, slipway.RunSpec{Command: "echo tick", Schedule: "@daily"}, b.art))
		if strings.Contains(res.Message, "@daily") || len(strings.Fields(strings.Trim(strings.TrimPrefix(res.Message, "scheduled "), `"`))) != 5 {
			t.Errorf("Apply(@daily).Message = %q, want the concrete 5-field schedule", res.Message)
		}
	})

	t.Run("OneOff", func(t *testing.T) {
		b := setup(t)
		ctx := t.Context()
		ok := Spec("tool1", "job", slipway.OneOff, slipway.RunSpec{Command: "echo ran-once"}, b.art)
		res, err := b.d.RunOnce(ctx, ok, "run-1")
		if err != nil || res.ExitCode != 0 || !strings.Contains(res.LogTail, "ran-once") {
			t.Fatalf("RunOnce(exit 0) = %+v, %v; want exit 0 with the output", res, err)
		}
		again, err := b.d.RunOnce(ctx, ok, "run-1")
		if err != nil || again.ExitCode != 0 {
			t.Fatalf("RunOnce(same run ID) = %+v, %v", again, err)
		}
		var buf bytes.Buffer
		if err := b.d.Logs(ctx, "tool1", "job", target.LogOptions{}, &buf); err != nil {
			t.Fatalf("Logs() error: %v", err)
		}
		if n := strings.Count(buf.String(), "ran-once"); n != 1 {
			t.Errorf("after two RunOnce with one run ID the output appears %d times, want 1:\n%s", n, buf.String())
		}
		st := WaitStatus(t, b.d, "tool1", "job", "succeeded")
		if st.LastRun == nil || st.LastRun.ExitCode != 0 || st.LastRun.FinishedAt.Before(st.LastRun.StartedAt) || st.LastRun.StartedAt.IsZero() {
			t.Errorf("Status(one-off).LastRun = %+v, want the finished run with exit code 0", st.LastRun)
		}

		bad := Spec("tool1", "job", slipway.OneOff, slipway.RunSpec{Command: "echo failing; exit 7"}, b.art)
		res, err = b.d.RunOnce(ctx, bad, "run-2")
		if err != nil || res.ExitCode != 7 {
			t.Errorf("RunOnce(exit 7) = %+v, %v; want exit code 7 and no error", res, err)
		}
		if st := WaitStatus(t, b.d, "tool1", "job", "failed"); st.LastRun == nil || st.LastRun.ExitCode != 7 {
			t.Errorf("Status(one-off).LastRun = %+v, want exit code 7", st.LastRun)
		}
		if res.TimedOut {
			t.Errorf("RunOnce(exit 7).TimedOut = true, want false")
		}

		// Run.Timeout stops the run, and the result says so.
		slow := Spec("tool1", "job", slipway.OneOff, slipway.RunSpec{Command: "exec sleep 3004", Timeout: 1}, b.art)
		res, err = b.d.RunOnce(ctx, slow, "run-3")
		if err != nil || !res.TimedOut || res.ExitCode == 0 {
			t.Errorf("RunOnce(past its timeout) = %+v, %v; want TimedOut, a non-zero exit code and no error", res, err)
		}
	})

	t.Run("Remove", func(t *testing.T) {
		b := setup(t)
		ctx := t.Context()
		MustApply(t, b.d, Spec("tool1", "worker", slipway.Continuous, slipway.RunSpec{Command: "exec sleep 300"}, b.art))
		if err := b.d.Remove(ctx, "tool1", "worker"); err != nil {
			t.Fatalf("Remove() error: %v", err)
		}
		if _, ok, err := b.d.Status(ctx, "tool1", "worker"); ok || err != nil {
			t.Errorf("Status(removed) ok = %v, err = %v; want false, nil", ok, err)
		}
		if err := b.d.Remove(ctx, "tool1", "worker"); err != nil {
			t.Errorf("Remove(again) error: %v", err)
		}
		if err := b.d.Remove(ctx, "tool1", "never"); err != nil {
			t.Errorf("Remove(unknown) error: %v", err)
		}
		if _, ok, _ := b.d.Status(ctx, "tool1", "never"); ok {
			t.Errorf("Status(unknown) ok = true")
		}
	})

	t.Run("Logs", func(t *testing.T) {
		b := setup(t)
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
	})
}

// MustApply applies spec or fails the test.
func MustApply(t testing.TB, d target.Driver, spec target.Spec) target.ApplyResult {
	t.Helper()
	res, err := d.Apply(t.Context(), spec)
	if err != nil {
		t.Fatalf("Apply(%s/%s) error: %v", spec.Tool, spec.Component.Name, err)
	}
	return res
}

// MustWaitHealthy waits up to 30s for the component to be healthy or fails
// the test.
func MustWaitHealthy(t testing.TB, d target.Driver, tool, name string) target.HealthResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), healthTimeout)
	defer cancel()
	h, err := d.WaitHealthy(ctx, tool, name)
	if err != nil {
		t.Fatalf("WaitHealthy(%s/%s) error: %v", tool, name, err)
	}
	return h
}

// WaitStatus waits for the component to reach state and returns its status.
func WaitStatus(t *testing.T, d target.Driver, tool, name string, state target.State) target.Status {
	t.Helper()
	var st target.Status
	waitFor(t, waitTimeout, func() (bool, string) {
		var ok bool
		var err error
		st, ok, err = d.Status(t.Context(), tool, name)
		return err == nil && ok && st.State == state, "status: " + string(st.State) + " " + st.Message
	})
	return st
}

// WaitLogs waits for the component's logs to contain s.
func WaitLogs(t *testing.T, d target.Driver, tool, name, s string) {
	t.Helper()
	waitFor(t, waitTimeout, func() (bool, string) {
		var buf bytes.Buffer
		err := d.Logs(t.Context(), tool, name, target.LogOptions{}, &buf)
		return err == nil && strings.Contains(buf.String(), s), "logs: " + buf.String()
	})
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %s; %s", timeout, why)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("test ended while waiting; %s", why)
		case <-tick.C:
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
