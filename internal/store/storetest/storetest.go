// Package storetest is the conformance suite of [store.Store]. Every
// implementation runs [Run] from its own tests, so that all of them keep the
// contract written in the store package's doc comments, including "close
// and reopen: nothing lost".
//
// It imports testing and MUST NOT be imported outside of test code.
//
// # Usage
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, openTemp, reopen)
//	}
//
// Every subtest runs in parallel on a fresh store from the [Factory], so the
// subtests share no state.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// Factory returns a new, empty store. It registers the store's Close with
// t.Cleanup; the suite may also close it (Close is safe to call twice).
type Factory func(t *testing.T) store.Store

// RestartFactory closes s gracefully and opens a new store on the same data.
// It never returns s itself: the point is to prove that everything reaches
// the disk.
type RestartFactory func(t *testing.T, s store.Store) store.Store

// Run runs the conformance suite against the stores f makes, using rf for
// the close-and-reopen checks.
func Run(t *testing.T, f Factory, rf RestartFactory) {
	t.Helper()
	t.Run("Tool", func(t *testing.T) { testTool(t, f) })
	t.Run("Config", func(t *testing.T) { testConfig(t, f) })
	t.Run("RepoCredential", func(t *testing.T) { testRepoCredential(t, f, rf) })
	t.Run("Deployment", func(t *testing.T) { testDeployment(t, f) })
	t.Run("Step", func(t *testing.T) { testStep(t, f) })
	t.Run("Build", func(t *testing.T) { testBuild(t, f) })
	t.Run("BuildDelete", func(t *testing.T) { testBuildDelete(t, f) })
	t.Run("LiveRun", func(t *testing.T) { testLiveRun(t, f) })
	t.Run("Event", func(t *testing.T) { testEvent(t, f) })
	t.Run("DeployToken", func(t *testing.T) { testDeployToken(t, f) })
	t.Run("APIToken", func(t *testing.T) { testAPIToken(t, f) })
	t.Run("Session", func(t *testing.T) { testSession(t, f) })
	t.Run("JobRun", func(t *testing.T) { testJobRun(t, f) })
	t.Run("EnvVar", func(t *testing.T) { testEnvVar(t, f) })
	t.Run("Webhook", func(t *testing.T) { testWebhook(t, f) })
	t.Run("Domain", func(t *testing.T) { testDomain(t, f) })
	t.Run("Notify", func(t *testing.T) { testNotify(t, f) })
	t.Run("PollState", func(t *testing.T) { testPollState(t, f) })
	t.Run("Cut", func(t *testing.T) { testCut(t, f) })
	t.Run("Train", func(t *testing.T) { testTrain(t, f) })
	t.Run("InTx", func(t *testing.T) { testInTx(t, f) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, f) })
	t.Run("Node", func(t *testing.T) { testNode(t, f) })
	t.Run("BuildLease", func(t *testing.T) { testBuildLease(t, f) })
	t.Run("Question", func(t *testing.T) { testQuestion(t, f) })
	t.Run("Release", func(t *testing.T) { testRelease(t, f) })
	t.Run("RolledBackBy", func(t *testing.T) { testRolledBackBy(t, f) })
	t.Run("Store", func(t *testing.T) { testStore(t, f) })
	t.Run("Restart", func(t *testing.T) { testRestart(t, f, rf) })
}

// testBundle is what every subtest starts from.
type testBundle struct {
	s   store.Store
	ctx context.Context
}

// setup returns a fresh store for one subtest.
func setup(t *testing.T, f Factory) (store.Store, *testBundle) {
	t.Helper()
	s := f(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, &testBundle{s: s, ctx: t.Context()}
}

// must returns a function that returns v, or fails the test when err is
// not nil: must(s.ToolList(ctx))(t).
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

// mustDo fails the test when err is not nil.
func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// wantNotFound fails the test unless err wraps [store.ErrNotFound].
func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: err = %v, want one wrapping store.ErrNotFound", what, err)
	}
}

// diff fails the test when got is not want, printing (-want +got).
func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// t0 is the suite's epoch. It has nanoseconds, to prove they survive.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)

// at returns t0 plus n minutes.
func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

// cet is a zone other than UTC: times in it must come back Equal.
var cet = time.FixedZone("CET", 3600)

// deployment returns a deployment of tool with every field set.
func deployment(tool, id string, created time.Time, status slipway.DeploymentStatus) slipway.Deployment {
	d := slipway.Deployment{
		ID:              id,
		Tool:            tool,
		CreatedAt:       created,
		Description:     "deploy " + id,
		Environment:     slipway.DefaultEnvironment,
		ConfigVersion:   3,
		ToolConfig:      json.RawMessage(`{"components":{"web":{"component_type":"continuous"}}}`),
		Status:          status,
		LongStatus:      "long status of " + id,
		ForceBuild:      true,
		ForceRun:        true,
		Trigger:         "cli",
		Actor:           "alice",
		UpdatedAt:       created.Add(time.Second),
		RollbackOf:      "20250101-000000-rolledback",
		RollbackRelease: 42,
		RolledBackBy:    "20250101-000000-rollsback1",
		Flow:            "release",
		Parent:          "20250101-000000-flowrun001",
		ParentStep:      "1-deploy",
	}
	if status.Final() {
		d.FinishedAt = created.Add(time.Minute)
	}
	return d
}

// steps returns a plan for deploymentID, in an order that is neither sorted
// nor reverse sorted, with every field set on some step.
func steps(deploymentID string) []slipway.Step {
	return []slipway.Step{
		{
			DeploymentID: deploymentID, Key: "build:web", Kind: slipway.StepBuild, Component: "web",
			Action: slipway.ActionBuild, Needs: nil, Reason: "commit 3f2a1c→9b0d44",
			State: slipway.StepDone, Detail: "built in 3s", Attempt: 2, BuildKey: "key-web",
			Commit: "9b0d44", StartedAt: at(1).In(cet), FinishedAt: at(2),
		},
		{
			DeploymentID: deploymentID, Key: "run:web", Kind: slipway.StepRun, Component: "web",
			Action: slipway.ActionApply, Needs: []string{"build:web"}, Reason: "artifact changed",
			State: slipway.StepRunning, BuildKey: "key-web", SpecHash: "spec-web", StartedAt: at(3),
		},
		{
			DeploymentID: deploymentID, Key: "build:api", Kind: slipway.StepBuild, Component: "api",
			Action: slipway.ActionReuse, Needs: []string{}, Reason: "reusing build", State: slipway.StepPending,
		},
		{
			DeploymentID: deploymentID, Key: "run:api", Kind: slipway.StepRun, Component: "api",
			Action: slipway.ActionApply, Needs: []string{"build:api", "run:web"}, State: slipway.StepPending,
		},
		{
			DeploymentID: deploymentID, Key: "prune:old", Kind: slipway.StepPrune, Component: "old",
			Action: slipway.ActionRemove, Reason: "no longer configured", State: slipway.StepPending,
		},
	}
}

// build returns a build with every field set.
func build(tool, id, key string, status slipway.BuildStatus, created time.Time) slipway.Build {
	return slipway.Build{
		ID:         id,
		Tool:       tool,
		Component:  "web",
		Key:        key,
		Repository: "https://example.org/" + tool + ".git",
		Ref:        "main",
		Commit:     "9b0d44",
		Status:     status,
		Artifact:   "/var/lib/slipway/artifacts/" + key,
		Error:      "",
		CreatedAt:  created,
		UpdatedAt:  created.Add(time.Second),
	}
}

// liveRun returns a live run whose spec has every field set.
func liveRun(tool, component string, applied time.Time) slipway.LiveRun {
	filelog := true
	spec := slipway.Component{
		Name: component,
		Type: slipway.Continuous,
		Build: slipway.BuildSpec{
			Source: &slipway.SourceBuild{
				Repository:            "https://example.org/" + tool + ".git",
				Ref:                   "v1.2.3",
				UseLatestVersions:     true,
				UseDeprecatedVersions: true,
			},
			ReuseFrom: "other",
			Image:     "registry.example.org/img@sha256:abc",
		},
		Run: slipway.RunSpec{
			Command: "web", CPU: "500m", Memory: "1Gi", Emails: "all", Filelog: &filelog,
			FilelogStdout: "out.log", FilelogStderr: "err.log", Mount: "all", Port: 8000,
			PortProtocol: "tcp", Publish: "yes", Replicas: 2, HealthCheckScript: "./check",
			HealthCheckHTTP: "/healthz", Schedule: "@daily", Retry: 3, Timeout: 60,
		},
		WaitFor: []string{"db", "cache"},
	}
	return slipway.LiveRun{
		Tool:         tool,
		Component:    component,
		Type:         slipway.Continuous,
		SpecHash:     spec.SpecHash(),
		BuildKey:     "key-" + component,
		Commit:       "3f2a1c7d9e8b",
		Artifact:     "/var/lib/slipway/artifacts/key-" + component,
		DeploymentID: "20250601-120000-abcdefghij",
		Spec:         spec,
		AppliedAt:    applied,
		EnvFingerprints: map[string]string{
			"API_KEY":           "fp-api-" + component,
			"TOOL_DEPLOY_TOKEN": "fp-token",
		},
	}
}
