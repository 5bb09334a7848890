package targettest

import (
	"bytes"
	"context"
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
// [Harness.MakeArtifact] makes them available in the artifact's working
// directory; the suite sets the artifact's Procfile processes itself.
var AppFiles = map[string]string{"server.py": ServerPy}

// Spec returns a spec for a component of tool, of type typ, running art,
// with SpecHash filled in.
func Spec(tool, name string, typ slipway.ComponentType, run slipway.RunSpec, art slipway.Artifact) target.Spec {
	c := slipway.Component{Name: name, Type: typ, Run: run}
	return target.Spec{Tool: tool, Component: c, SpecHash: c.SpecHash(), Artifact: art}
}

// Harness is what a driver's test gives the suite.
type Harness struct {
	// NewDriver returns a started driver with state of its own, stopped
	// when the test ends. Required.
	NewDriver func(t *testing.T) target.Driver
	// MakeArtifact returns an artifact holding files (see [AppFiles]) in
	// its working directory; the suite sets its Procfile processes itself.
	// Required.
	MakeArtifact func(t *testing.T, files map[string]string) slipway.Artifact
	// Restart, when set, makes the restart tests run; see
	// [RestartFactory].
	Restart RestartFactory
	// Crash, when set, makes the crash tests run; see [CrashFactory].
	Crash CrashFactory
	// Capabilities say what the driver can do beyond the contract.
	Capabilities Capabilities
}

// RestartFactory ends d the way the end of a server leaves its workloads
// running (localexec: as a crash would, its processes kept; Kubernetes:
// Stop, which detaches), and returns a new, started driver on the same
// state (directory, cluster and namespace): not the same value. The suite
// then calls the new driver's [target.Lifecycle.Restore], which such a
// driver must implement.
type RestartFactory func(t *testing.T, d target.Driver) target.Driver

// CrashFactory calls op (an Apply or RunOnce on d) and ends d as a crash
// would in the middle of it: after the first workload op creates exists,
// before d recorded that it does. It returns a new, started driver on the
// same state, as [RestartFactory] does, once d is frozen or gone; op may
// never return.
type CrashFactory func(t *testing.T, d target.Driver, op func(ctx context.Context)) target.Driver

// Capabilities say what a driver does beyond the bookkeeping of
// [RunContract]. Drivers that run their specs' commands and watch them
// pass [Processes]. A driver whose runtime only pretends (a kwok kubelet)
// passes the zero value.
type Capabilities struct {
	// ExitCodes: a one-off run executes its command, and its result is
	// the command's: exit code (a non-zero one makes StateFailed), and
	// Run.Timeout stops it (TimedOut). Without it a one-off run just
	// completes, successfully with exit code 0.
	ExitCodes bool
	// Logs: Logs returns what the processes wrote, honouring Lines and
	// Follow, and RunResult.LogTail holds the end of a run's output.
	Logs bool
	// HealthChecks: WaitHealthy's verdict comes from the spec's health
	// check (HTTP, TCP, script, or staying up) on the running process.
	// Without it the runtime's readiness is taken as is.
	HealthChecks bool
	// CrashLoops: a command that keeps exiting is reported as
	// [target.StateCrashLoop] and fails WaitHealthy with its last log
	// lines, and a new version that never becomes healthy is stopped while
	// the old one serves on ([target.KeptError]).
	CrashLoops bool
}

// Processes are the capabilities of a driver that runs processes and
// watches them: all of them.
var Processes = Capabilities{ExitCodes: true, Logs: true, HealthChecks: true, CrashLoops: true}

// Run runs both halves of the suite, [RunContract] and [RunExecution],
// for drivers that execute what they run.
func Run(t *testing.T, h Harness) {
	t.Helper()
	t.Run("Contract", func(t *testing.T) {
		t.Parallel()
		RunContract(t, h)
	})
	t.Run("Execution", func(t *testing.T) {
		t.Parallel()
		RunExecution(t, h)
	})
}

// RunContract runs the tests every driver passes, whether or not its
// workloads execute; see the package documentation.
func RunContract(t *testing.T, h Harness) {
	t.Helper()
	h.check(t)
	for _, tc := range []struct {
		name string
		test func(*testing.T, Harness)
	}{
		{"ApplyIsIdempotent", testApplyIsIdempotent},
		{"StatusFields", testStatusFields},
		{"ChangedSpecRestarts", testChangedSpecRestarts},
		{"RestartToken", testRestartToken},
		{"Scheduled", testScheduled},
		{"RunOnceIsIdempotent", testRunOnceIsIdempotent},
		{"RunOnceConcurrent", testRunOnceConcurrent},
		{"Remove", testRemove},
		{"RestartAdopts", testRestartAdopts},
		{"CrashDuringApply", testCrashDuringApply},
		{"CrashDuringRunOnce", testCrashDuringRunOnce},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, h) })
	}
}

// RunExecution runs the tests that need the driver to execute its
// workloads; each skips when the driver lacks the capability it needs.
func RunExecution(t *testing.T, h Harness) {
	t.Helper()
	h.check(t)
	for _, tc := range []struct {
		name string
		test func(*testing.T, Harness)
	}{
		{"HTTPHealth", testHTTPHealth},
		{"TCPHealth", testTCPHealth},
		{"ScriptHealth", testScriptHealth},
		{"StayedUpHealth", testStayedUpHealth},
		{"CrashLoop", testCrashLoop},
		{"BadVersionKeepsOld", testBadVersionKeepsOld},
		{"SameSpecRestartsCrashLoop", testSameSpecRestartsCrashLoop},
		{"OneOffExitCodes", testOneOffExitCodes},
		{"OneOffTimeout", testOneOffTimeout},
		{"Logs", testLogs},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, h) })
	}
}

func (h Harness) check(t *testing.T) {
	t.Helper()
	if h.NewDriver == nil || h.MakeArtifact == nil {
		t.Fatal("targettest: Harness.NewDriver and Harness.MakeArtifact are required")
	}
}

// bundle is one test's driver and artifact.
type bundle struct {
	d    target.Driver
	art  slipway.Artifact
	caps Capabilities
}

// setup marks the test parallel and returns a new driver and an artifact
// of [AppFiles] with the web process.
func (h Harness) setup(t *testing.T) bundle {
	t.Helper()
	t.Parallel()
	art := h.MakeArtifact(t, AppFiles)
	art.Processes = map[string]string{"web": "python3 server.py"}
	return bundle{d: h.NewDriver(t), art: art, caps: h.Capabilities}
}

// skipUnless skips the test when the driver lacks a capability.
func skipUnless(t *testing.T, ok bool, what string) {
	t.Helper()
	if !ok {
		t.Skipf("the driver does not %s (Capabilities)", what)
	}
}

// web is a published HTTP component of the suite's artifact.
var web = slipway.RunSpec{Command: "web", Port: 8000, HealthCheckHTTP: "/healthz", Publish: "/"}

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

// WaitLogsCount waits for the component's logs to contain s n times or
// more.
func WaitLogsCount(t *testing.T, d target.Driver, tool, name, s string, n int) {
	t.Helper()
	waitFor(t, waitTimeout, func() (bool, string) {
		var buf bytes.Buffer
		err := d.Logs(t.Context(), tool, name, target.LogOptions{}, &buf)
		return err == nil && strings.Count(buf.String(), s) >= n, "logs: " + buf.String()
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
