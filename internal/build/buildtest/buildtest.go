// Package buildtest is the conformance suite of [build.Builder]: every
// builder runs [Run] from its tests, so they all honour the same contract
// (the one the deploy engine and the builds API rely on): a key builds
// once however many ask for it at once, Lookup finds what Build made and
// nothing a cancelled build left, the builder's version and the tool keep
// artifacts apart, logs can be followed while a build runs and read after
// it, and Remove and RemoveLog delete what they say.
//
// The suite builds real git repositories (made with
// [slipwaytest.GitRepo], reached by their file:// URL) holding a static
// site and a custom build step, .slipway/build, that prints what the
// tests look for.
//
// It is imported only by tests.
package buildtest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

// waitTimeout bounds every wait of the suite: generous, so that a slow or
// busy machine does not fail it.
const waitTimeout = 2 * time.Minute

// Opener makes the storage one test of the suite builds into (fresh, and
// removed when t ends), and returns a function opening builders on it:
// each call returns another builder sharing that storage, as a second
// server process on the same data directory (or a second replica on the
// same cluster) would.
type Opener func(t *testing.T) (open func() build.Builder)

// The build step's output. The script writes $((6*7)), so that the line
// it prints is not the command a builder may echo.
const (
	stepRan  = "buildtest: step 42"
	stepDone = "buildtest: step done"
)

// Run runs the conformance suite against the builders open returns.
func Run(t *testing.T, open Opener) {
	t.Helper()
	run(t, open, append(contract(), []suiteTest{
		{"LookupAfterBuild", testLookupAfterBuild},
		{"ConcurrentBuildsOnce", testConcurrentBuildsOnce},
		{"CancelLeavesNothing", testCancelLeavesNothing},
		{"VersionInKey", testVersionInKey},
		{"ArtifactsPerTool", testArtifactsPerTool},
		{"LogsFollowBuild", testLogsFollowBuild},
		{"LogsFollowCancelled", testLogsFollowCancelled},
		{"AttemptsKeepTheirLogs", testAttemptsKeepTheirLogs},
		{"Remove", testRemove},
	}...))
}

// RunContract runs the part of the suite that needs no build to run: a
// builder whose builds cannot execute where it is tested (the Kubernetes
// builder on a control plane without a kubelet that runs containers)
// passes it there, and shows the rest of the contract with tests of its
// own. Every other test of [Run] reads a build step's output.
func RunContract(t *testing.T, open Opener) {
	t.Helper()
	run(t, open, contract())
}

// suiteTest is one test of the suite.
type suiteTest struct {
	name string
	test func(t *testing.T, open func() build.Builder)
}

// contract returns the tests that need no build to run.
func contract() []suiteTest {
	return []suiteTest{{"LogsMissing", testLogsMissing}}
}

func run(t *testing.T, open Opener, tests []suiteTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, open(t))
		})
	}
}

// App returns a repository the suite builds: a static site whose build
// step prints [stepRan], runs script (shell commands; "" for none), and
// prints [stepDone].
func App(t *testing.T, script string) *slipwaytest.Repo {
	t.Helper()
	return slipwaytest.GitRepo(t, map[string]string{
		"index.html":     "<h1>buildtest</h1>\n",
		".slipway/build": "#!/bin/sh\necho \"buildtest: step $((6*7))\"\n" + script + "\necho \"buildtest: step done\"\n",
	})
}

// Request returns a request to build repo's head for tool, keyed as the
// deploy engine keys it (with b's version), as attempt ("" for none).
func Request(t *testing.T, b build.Builder, repo *slipwaytest.Repo, tool, attempt string) build.Request {
	t.Helper()
	commit := repo.Head(t)
	var settings slipway.SourceBuild
	return build.Request{
		Tool: tool, Component: "web", Repository: repo.URL, Ref: "main", Commit: commit,
		Key:     slipway.BuildKey(repo.URL, commit, b.Version(), slipway.SourceBuildSettings(settings)...),
		Attempt: attempt, Settings: settings,
	}
}

// MustBuild builds req, writing its output to a new buffer that it
// returns, or fails the test.
func MustBuild(t *testing.T, b build.Builder, req build.Request) (slipway.Artifact, *LogBuffer) {
	t.Helper()
	log := &LogBuffer{}
	req.Log = log
	a, err := b.Build(t.Context(), req)
	if err != nil {
		t.Fatalf("Build(%s of %s) = %v\n%s", req.Key, req.Tool, err, log)
	}
	return a, log
}

// MustLookup returns the tool's artifact of key, or fails the test if
// there is none.
func MustLookup(t *testing.T, b build.Builder, tool, key string) slipway.Artifact {
	t.Helper()
	a, ok, err := b.Lookup(t.Context(), tool, key)
	if err != nil || !ok {
		t.Fatalf("Lookup(%s, %s) = %v, %v; want the artifact", tool, key, ok, err)
	}
	return a
}

// wantNoArtifact fails the test unless the tool has no artifact of key.
func wantNoArtifact(t *testing.T, b build.Builder, tool, key, when string) {
	t.Helper()
	if a, ok, err := b.Lookup(t.Context(), tool, key); ok || err != nil {
		t.Errorf("Lookup(%s, %s) %s = %+v, %v, %v; want none", tool, key, when, a, ok, err)
	}
}

// MustLog returns the whole log of the tool's build attempt as it is now.
func MustLog(t *testing.T, b build.Builder, tool, attempt string) string {
	t.Helper()
	var buf strings.Builder
	if err := b.Logs(t.Context(), tool, attempt, build.LogOptions{}, &buf); err != nil {
		t.Fatalf("Logs(%s, %s) = %v", tool, attempt, err)
	}
	return buf.String()
}

// LogBuffer is a log written by one goroutine (a build, a follower) and
// read by the test's: it tells the test when it holds some text.
type LogBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed (and replaced) by each write
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	return len(p), nil
}

// String returns what was written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// WaitFor waits until the log holds s, or fails the test.
func (l *LogBuffer) WaitFor(t *testing.T, s string) {
	t.Helper()
	timeout := time.NewTimer(waitTimeout)
	defer timeout.Stop()
	for {
		l.mu.Lock()
		found := strings.Contains(l.buf.String(), s)
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		changed := l.changed
		l.mu.Unlock()
		if found {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("after %s the log lacks %q:\n%s", waitTimeout, s, l.String())
		}
	}
}

// Ensure Lookup finds nothing before a build, and after it the artifact
// Build returned, from another builder on the same storage too (a
// restarted server).
func testLookupAfterBuild(t *testing.T, open func() build.Builder) {
	b := open()
	req := Request(t, b, App(t, ""), "tool1", "")
	wantNoArtifact(t, b, req.Tool, req.Key, "before Build")
	a, log := MustBuild(t, b, req)
	if a.Key != req.Key {
		t.Errorf("Build returned the artifact of %s, want %s", a.Key, req.Key)
	}
	if !strings.Contains(log.String(), stepDone) {
		t.Errorf("the build's output lacks its step's:\n%s", log)
	}
	for i, b := range []build.Builder{b, open()} {
		if diff := cmp.Diff(a, MustLookup(t, b, req.Tool, req.Key)); diff != "" {
			t.Errorf("Lookup on builder %d differs from what Build returned (-built +found):\n%s", i, diff)
		}
	}
	// Built: asked again, it is not built again.
	if _, again := MustBuild(t, b, req); strings.Contains(again.String(), stepRan) {
		t.Errorf("a built key was built again:\n%s", again)
	}
}

// Ensure builds of one key asked for at once, through two builders on one
// storage, run the build once and all get its artifact.
func testConcurrentBuildsOnce(t *testing.T, open func() build.Builder) {
	builders := []build.Builder{open(), open()}
	req := Request(t, builders[0], App(t, "sleep 1"), "tool1", "")
	const n = 6
	arts := make([]slipway.Artifact, n)
	errs := make([]error, n)
	logs := make([]*LogBuffer, n)
	var wg sync.WaitGroup
	for i := range n {
		logs[i] = &LogBuffer{}
		r := req
		r.Log = logs[i]
		wg.Go(func() { arts[i], errs[i] = builders[i%2].Build(t.Context(), r) })
	}
	wg.Wait()
	ran := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Build %d = %v\n%s", i, errs[i], logs[i])
		}
		if diff := cmp.Diff(arts[0], arts[i]); diff != "" {
			t.Errorf("Build %d returned another artifact (-0 +%d):\n%s", i, i, diff)
		}
		ran += strings.Count(logs[i].String(), stepRan)
	}
	if ran != 1 {
		t.Errorf("the build step ran %d times for %d concurrent builds of one key, want once", ran, n)
	}
}

// Ensure a build cancelled through its context returns soon with the
// context's error and leaves nothing Lookup returns, to this builder or
// another on the same storage.
func testCancelLeavesNothing(t *testing.T, open func() build.Builder) {
	b := open()
	req := Request(t, b, App(t, "sleep 600"), "tool1", "")
	log := &LogBuffer{}
	req.Log = log
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := b.Build(ctx, req)
		errc <- err
	}()
	log.WaitFor(t, stepRan)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Build cancelled = %v, want an error wrapping context.Canceled", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("Build did not return within %s of its cancel", waitTimeout)
	}
	wantNoArtifact(t, b, req.Tool, req.Key, "after a cancelled build")
	wantNoArtifact(t, open(), req.Tool, req.Key, "after a cancelled build, on another builder")
}

// Ensure the builder's version is stable and takes part in the key: a
// key made with another version is another build, even of the same
// commit, and each key finds its own artifact.
func testVersionInKey(t *testing.T, open func() build.Builder) {
	b := open()
	if b.Version() == "" || open().Version() != b.Version() {
		t.Fatalf("Version() = %q, then %q; want a stable, non-empty version", b.Version(), open().Version())
	}
	req := Request(t, b, App(t, ""), "tool1", "")
	other := req
	other.Key = slipway.BuildKey(req.Repository, req.Commit, b.Version()+"-next", slipway.SourceBuildSettings(req.Settings)...)
	if other.Key == req.Key {
		t.Fatalf("the build key does not change with the builder's version: %s", req.Key)
	}
	a, _ := MustBuild(t, b, req)
	o, log := MustBuild(t, b, other)
	if !strings.Contains(log.String(), stepRan) {
		t.Errorf("the key of another version was not built (a build of the same commit reused?):\n%s", log)
	}
	if got := MustLookup(t, b, req.Tool, req.Key); got.Key != a.Key {
		t.Errorf("Lookup(%s) = the artifact of %s", req.Key, got.Key)
	}
	if got := MustLookup(t, b, other.Tool, other.Key); got.Key != o.Key || o.Key != other.Key {
		t.Errorf("Lookup(%s) = the artifact of %s; Build returned %s", other.Key, got.Key, o.Key)
	}
}

// Ensure artifacts belong to the tool that built them: another tool never
// gets one of the same key, builds its own, and keeps it when the first
// tool's is removed.
func testArtifactsPerTool(t *testing.T, open func() build.Builder) {
	b := open()
	req := Request(t, b, App(t, ""), "tool1", "")
	MustBuild(t, b, req)
	other := req
	other.Tool = "tool2"
	wantNoArtifact(t, b, other.Tool, other.Key, "of another tool, after the first tool built the key")
	if _, log := MustBuild(t, b, other); !strings.Contains(log.String(), stepRan) {
		t.Errorf("the second tool's build reused the first tool's artifact:\n%s", log)
	}
	if err := b.Remove(t.Context(), req.Tool, req.Key); err != nil {
		t.Fatalf("Remove(%s, %s) = %v", req.Tool, req.Key, err)
	}
	MustLookup(t, b, other.Tool, other.Key)
	wantNoArtifact(t, b, req.Tool, req.Key, "after Remove")
}

// doneFlag is a [build.LogOptions.Done] the test sets.
type doneFlag struct{ atomic.Bool }

func (d *doneFlag) done(context.Context) (bool, error) { return d.Load(), nil }

// follow runs Logs with Follow in a goroutine, into the returned buffer;
// its result comes on the channel.
func follow(ctx context.Context, b build.Builder, tool, attempt string, done *doneFlag) (*LogBuffer, <-chan error) {
	out := &LogBuffer{}
	errc := make(chan error, 1)
	go func() {
		errc <- b.Logs(ctx, tool, attempt, build.LogOptions{Follow: true, Done: done.done}, out)
	}()
	return out, errc
}

// awaitFollow returns the follower's result, or fails the test if it has
// not ended within waitTimeout.
func awaitFollow(t *testing.T, errc <-chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("Logs with Follow did not end within %s of the build's end", waitTimeout)
		return nil
	}
}

// Ensure a log followed from before the build begins waits for it, writes
// all of it, and ends once Done says the build ended; that the log read
// afterwards is the same, and its last lines are its end.
func testLogsFollowBuild(t *testing.T, open func() build.Builder) {
	b := open()
	req := Request(t, b, App(t, "sleep 1"), "tool1", "")
	req.Attempt = req.Key + "-a1"
	var ended doneFlag
	followed, errc := follow(t.Context(), b, req.Tool, req.Attempt, &ended)
	_, built := MustBuild(t, b, req)
	ended.Store(true)
	if err := awaitFollow(t, errc); err != nil {
		t.Fatalf("Logs with Follow = %v\n%s", err, followed)
	}
	after := MustLog(t, b, req.Tool, req.Attempt)
	if followed.String() != after {
		t.Errorf("the followed log differs from the log after the build:\nfollowed:\n%s\nafter:\n%s", followed, after)
	}
	for _, s := range []string{stepRan, stepDone} {
		if !strings.Contains(after, s) {
			t.Errorf("the log lacks %q:\n%s", s, after)
		}
	}
	if !strings.Contains(built.String(), stepDone) {
		t.Errorf("the build's output (Request.Log) lacks its step's:\n%s", built)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(after, "\n"), "\n")
	var last strings.Builder
	if err := b.Logs(t.Context(), req.Tool, req.Attempt, build.LogOptions{Lines: 2}, &last); err != nil {
		t.Fatal(err)
	}
	if want := strings.Join(lines[len(lines)-2:], "") + "\n"; last.String() != want {
		t.Errorf("Logs(Lines: 2) = %q, want %q", last.String(), want)
	}
	// Following a build that has ended writes its log and returns.
	var again strings.Builder
	if err := b.Logs(t.Context(), req.Tool, req.Attempt, build.LogOptions{Follow: true, Done: ended.done}, &again); err != nil || again.String() != after {
		t.Errorf("Logs with Follow of an ended build = %v\n%s", err, again.String())
	}
}

// Ensure a follower writes what a running build logs as it logs it, and,
// when the build is cancelled, ends once Done says so, having written the
// log to its end.
func testLogsFollowCancelled(t *testing.T, open func() build.Builder) {
	b := open()
	req := Request(t, b, App(t, "sleep 600"), "tool1", "")
	req.Attempt = req.Key + "-a1"
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var ended doneFlag
	followed, followErr := follow(t.Context(), b, req.Tool, req.Attempt, &ended)
	buildErr := make(chan error, 1)
	go func() {
		_, err := b.Build(ctx, req)
		buildErr <- err
	}()
	// The step sleeps: its line can only come through the follower.
	followed.WaitFor(t, stepRan)
	cancel()
	select {
	case err := <-buildErr:
		if err == nil {
			t.Error("Build cancelled succeeded")
		}
	case <-time.After(waitTimeout):
		t.Fatalf("Build did not return within %s of its cancel", waitTimeout)
	}
	ended.Store(true)
	if err := awaitFollow(t, followErr); err != nil {
		t.Fatalf("Logs with Follow = %v\n%s", err, followed)
	}
	if after := MustLog(t, b, req.Tool, req.Attempt); followed.String() != after {
		t.Errorf("the followed log differs from the log after the build:\nfollowed:\n%s\nafter:\n%s", followed, after)
	}
}

// Ensure an attempt without a log is ErrNoLog, at once without Follow and
// with Follow once Done says the build ended; that a follower of a log
// that never comes ends with its context, and one whose Done fails
// returns that error; and that bad options are refused.
func testLogsMissing(t *testing.T, open func() build.Builder) {
	b := open()
	ctx := t.Context()
	var w strings.Builder
	if err := b.Logs(ctx, "tool1", "nosuchattempt", build.LogOptions{}, &w); !errors.Is(err, build.ErrNoLog) {
		t.Errorf("Logs of an attempt without a log = %v, want ErrNoLog", err)
	}
	var ended doneFlag
	ended.Store(true)
	if err := b.Logs(ctx, "tool1", "nosuchattempt", build.LogOptions{Follow: true, Done: ended.done}, &w); !errors.Is(err, build.ErrNoLog) {
		t.Errorf("Logs with Follow of an ended build without a log = %v, want ErrNoLog", err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	var running doneFlag
	if err := b.Logs(gone, "tool1", "nosuchattempt", build.LogOptions{Follow: true, Done: running.done}, &w); !errors.Is(err, context.Canceled) {
		t.Errorf("Logs with Follow, its context ended = %v, want context.Canceled", err)
	}
	broken := errors.New("the build's record cannot be read")
	failing := func(context.Context) (bool, error) { return false, broken }
	if err := b.Logs(ctx, "tool1", "nosuchattempt", build.LogOptions{Follow: true, Done: failing}, &w); !errors.Is(err, broken) {
		t.Errorf("Logs with Follow whose Done fails = %v, want its error", err)
	}
	if err := b.Logs(ctx, "tool1", "nosuchattempt", build.LogOptions{Lines: -1}, &w); err == nil {
		t.Error("Logs with Lines -1 succeeded, want an error")
	}
	if err := b.Logs(ctx, "tool1", "nosuchattempt", build.LogOptions{Follow: true}, &w); err == nil {
		t.Error("Logs with Follow and no Done succeeded, want an error")
	}
	if w.Len() != 0 {
		t.Errorf("Logs wrote %q", w.String())
	}
}

// Ensure each attempt at a key keeps its own log: a rebuild under a new
// attempt (after the artifact was removed) does not touch the older one.
func testAttemptsKeepTheirLogs(t *testing.T, open func() build.Builder) {
	b := open()
	first := Request(t, b, App(t, ""), "tool1", "")
	first.Attempt = first.Key + "-a1"
	MustBuild(t, b, first)
	log1 := MustLog(t, b, first.Tool, first.Attempt)
	if err := b.Remove(t.Context(), first.Tool, first.Key); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	second := first
	second.Attempt = first.Key + "-a2"
	MustBuild(t, b, second)
	if log2 := MustLog(t, b, second.Tool, second.Attempt); !strings.Contains(log2, stepRan) {
		t.Errorf("the second attempt's log lacks its build:\n%s", log2)
	}
	if now := MustLog(t, b, first.Tool, first.Attempt); now != log1 {
		t.Errorf("the first attempt's log changed:\nbefore:\n%s\nnow:\n%s", log1, now)
	}
}

// Ensure Remove deletes the tool's artifact and the key's log, so that the
// key builds again; RemoveLog deletes one attempt's log and nothing else;
// removing again, or what was never built, is no error.
func testRemove(t *testing.T, open func() build.Builder) {
	b := open()
	ctx := t.Context()
	req := Request(t, b, App(t, ""), "tool1", "")
	MustBuild(t, b, req)
	if err := b.Remove(ctx, req.Tool, req.Key); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	wantNoArtifact(t, b, req.Tool, req.Key, "after Remove")
	wantNoArtifact(t, open(), req.Tool, req.Key, "after Remove, on another builder")
	if err := b.Logs(ctx, req.Tool, req.Key, build.LogOptions{}, &strings.Builder{}); !errors.Is(err, build.ErrNoLog) {
		t.Errorf("Logs of the key after Remove = %v, want ErrNoLog", err)
	}
	for _, k := range []string{req.Key, "neverbuilt"} {
		if err := b.Remove(ctx, req.Tool, k); err != nil {
			t.Errorf("Remove(%s) of nothing = %v", k, err)
		}
	}

	attempt := req
	attempt.Attempt = req.Key + "-a1"
	if _, log := MustBuild(t, b, attempt); !strings.Contains(log.String(), stepRan) {
		t.Errorf("the key was not built again after Remove:\n%s", log)
	}
	if err := b.RemoveLog(ctx, attempt.Tool, attempt.Attempt); err != nil {
		t.Fatalf("RemoveLog = %v", err)
	}
	if err := b.Logs(ctx, attempt.Tool, attempt.Attempt, build.LogOptions{}, &strings.Builder{}); !errors.Is(err, build.ErrNoLog) {
		t.Errorf("Logs after RemoveLog = %v, want ErrNoLog", err)
	}
	MustLookup(t, b, attempt.Tool, attempt.Key)
	if err := b.RemoveLog(ctx, attempt.Tool, attempt.Attempt); err != nil {
		t.Errorf("RemoveLog again = %v", err)
	}
}
