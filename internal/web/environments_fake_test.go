package web_test

import (
	"context"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// fakeEnvironments are tool one's: staging runs liveCommit, production
// oldCommit and takes promotions from staging. Tool two has one,
// production, with nothing live.
func fakeEnvironments() map[string][]slipway.EnvironmentStatus {
	return map[string][]slipway.EnvironmentStatus{
		"one": {
			{
				Environment: slipway.Environment{Name: "staging"}, Instance: "one--staging",
				Live: []slipway.LiveComponent{{
					Component: "web", BuildKey: liveCommit[:16] + "build", Commit: liveCommit,
					DeploymentID: "20250601-100000-finishedbb", AppliedAt: t0.Add(-110 * time.Minute),
				}},
				LatestDeployment: "20250601-100000-finishedbb", LatestStatus: slipway.DeploymentSuccessful,
			},
			{
				Environment: slipway.Environment{Name: "production", Production: true, Upstream: "staging"}, Instance: "one",
				Live: []slipway.LiveComponent{{
					Component: "web", BuildKey: oldCommit[:16] + "build", Commit: oldCommit,
					DeploymentID: "20250501-090000-prunedaaaa", AppliedAt: t0.Add(-30 * 24 * time.Hour), Unhealthy: "crashloop (exit 1)",
				}},
			},
		},
		"two": {{Environment: slipway.Environment{Name: slipway.DefaultEnvironment, Production: true}, Instance: "two"}},
	}
}

func (f *fakeService) EnvironmentList(_ context.Context, tool string) ([]slipway.EnvironmentStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	envs, ok := f.environments[tool]
	if !ok {
		return nil, slipway.Errorf(slipway.ENotFound, "No configuration found for tool: %s", tool)
	}
	return envs, nil
}

// promotionOf returns the fake's promotion to env of tool one: staging's
// web, two commits ahead.
func (f *fakeService) promotionOf(tool, env string) (slipway.Promotion, error) {
	if tool != "one" || env != "production" {
		return slipway.Promotion{}, slipway.Errorf(slipway.ENotFound, "Tool %s has no environment %q to promote to.", tool, env)
	}
	if f.promoteConflict != "" {
		return slipway.Promotion{}, slipway.Errorf(slipway.EConflict, "%s", f.promoteConflict)
	}
	return slipway.Promotion{
		From: "staging", To: "production", Source: "20250601-100000-finishedbb",
		Changes: []slipway.PromotionChange{{
			Component: "web", FromCommit: oldCommit, ToCommit: liveCommit, FromBuild: oldCommit[:16] + "build", ToBuild: liveCommit[:16] + "build",
			New: []slipway.CommitInfo{
				{Commit: liveCommit, Author: "Ada <ada@example.org>", At: t0.Add(-2 * time.Hour), Subject: "fix: <escape> & friends"},
				{Commit: fixCommit, Author: "Ada", At: t0.Add(-3 * time.Hour), Subject: "feat: dark mode"},
			},
		}},
		ConfigChanges: []slipway.ConfigChange{{Component: "web", Change: "changed", Fields: []string{"replicas: 1 → 3"}}},
		Plan: slipway.Deployment{Tool: "one", Environment: "production", PromotedFrom: "staging", Steps: []slipway.Step{
			{Key: "build:web", Kind: slipway.StepBuild, Component: "web", Action: slipway.ActionReuse, Reason: "reusing build of commit 9b0d44a (promotion from staging)", State: slipway.StepUnchanged},
			{Key: "run:web", Kind: slipway.StepRun, Component: "web", Action: slipway.ActionApply, Needs: []string{"build:web"}, Reason: "new build: commit 3f2a1c0→9b0d44a", State: slipway.StepPending},
		}},
	}, nil
}

func (f *fakeService) PromotePlan(_ context.Context, tool, env string, _ slipway.DeployOptions) (slipway.Promotion, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.promotionOf(tool, env)
}

func (f *fakeService) Promote(_ context.Context, tool, env string, opts slipway.DeployOptions) (slipway.Deployment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.promotionOf(tool, env); err != nil {
		return slipway.Deployment{}, err
	}
	f.promoted = append(f.promoted, opts)
	d := slipway.Deployment{
		ID: "20250601-120500-promotedaa", Tool: tool, Environment: env, PromotedFrom: "staging", CreatedAt: t0,
		Status: slipway.DeploymentPending, LongStatus: "Waiting to start", Trigger: opts.Trigger, Actor: opts.Actor,
	}
	f.deployments[tool] = append(f.deployments[tool], d)
	return d, nil
}
