package deploy

import (
	"context"
	"fmt"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/target"
)

// JobUpsert makes a job be def, as Toolforge's PATCH …/jobs does for one
// entry of a dump: a job that already is def is left alone (changed
// false, "Job X is already up to date"); a live continuous or scheduled
// job that differs is applied again with def and recorded with it, so the
// next deployment reverts it to the config; a job that does not exist is
// created (a one-off one is run as an ad-hoc job). One-off jobs cannot be
// updated (EConflict). Returns EInvalid when def is not a valid job.
func (s *Jobs) JobUpsert(ctx context.Context, tool string, def slipway.Job) (changed bool, msg string, err error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return false, "", err
	}
	if err := checkJob(def); err != nil {
		return false, "", err
	}
	name := def.Component.Name
	live, run, err := s.findJob(ctx, tool, name)
	switch {
	case slipway.ErrorCode(err) == slipway.ENotFound:
		return s.createJob(ctx, tool, def)
	case err != nil:
		return false, "", err
	case run != nil && live == nil:
		if sameRun(*run, def) {
			return false, fmt.Sprintf("Job %s is already up to date", name), nil
		}
		return false, "", slipway.Errorf(slipway.EConflict, "Job %s is a one-off job, which cannot be updated: delete it and run it again.", name)
	}
	same := def.Component.Type == live.Type && def.Component.SpecHash() == live.SpecHash && def.ImageName == live.Spec.BuildFrom()
	switch {
	case same:
		return false, fmt.Sprintf("Job %s is already up to date", name), nil
	case live.Type == slipway.OneOff || def.Component.Type == slipway.OneOff:
		return false, "", slipway.Errorf(slipway.EConflict, "Job %s is a one-off job, which cannot be updated: delete it and run it again.", name)
	}
	if err := s.checkJobLimits(ctx, tool, def); err != nil {
		return false, "", err
	}
	c := def.Component
	c.WaitFor = live.Spec.WaitFor
	if c.Build = live.Spec.Build; def.ImageName != live.Spec.BuildFrom() {
		c.Build = slipway.BuildSpec{ReuseFrom: def.ImageName}
	}
	if err := s.applyJob(ctx, tool, c, def.ImageName, live.DeploymentID); err != nil {
		return false, "", err
	}
	return true, fmt.Sprintf("Job %s was updated in storage and runtime", name), nil
}

// createJob is JobUpsert of a job that does not exist.
func (s *Jobs) createJob(ctx context.Context, tool string, def slipway.Job) (bool, string, error) {
	name := def.Component.Name
	if def.Component.Type == slipway.OneOff {
		run := slipway.JobRun{Name: name, Command: def.Component.Run.Command, ImageName: def.ImageName, Timeout: def.Component.Run.Timeout}
		if _, err := s.JobRunStart(ctx, tool, run); err != nil {
			return false, "", err
		}
		return true, fmt.Sprintf("Job %s created in storage and runtime", name), nil
	}
	if err := s.checkJobLimits(ctx, tool, def); err != nil {
		return false, "", err
	}
	c := def.Component
	c.Build = slipway.BuildSpec{ReuseFrom: def.ImageName}
	if def.ImageName == name {
		c.Build = slipway.BuildSpec{}
	}
	if err := s.applyJob(ctx, tool, c, def.ImageName, ""); err != nil {
		return false, "", err
	}
	return true, fmt.Sprintf("Job %s created in storage and runtime", name), nil
}

// applyJob applies c with the build of the live component imageName and
// records it as live: the planner then diffs the config against it.
func (s *Jobs) applyJob(ctx context.Context, tool string, c slipway.Component, imageName, deploymentID string) error {
	image, err := s.imageOf(ctx, tool, imageName)
	if err != nil {
		return err
	}
	art, err := s.artifact(ctx, tool, imageName, image.BuildKey)
	if err != nil {
		return err
	}
	env, err := s.eng.InstanceEnv(ctx, tool)
	if err != nil {
		return fmt.Errorf("apply job %s of %s: %w", c.Name, tool, err)
	}
	spec := target.Spec{Tool: tool, Component: c, SpecHash: c.SpecHash(), Artifact: art}
	spec.Env, spec.SecretEnv = env.Split()
	if prev, ok, err := s.eng.liveRun(ctx, tool, c.Name); err != nil {
		return fmt.Errorf("apply job %s of %s: %w", c.Name, tool, err)
	} else if ok && envDiffers(prev.EnvFingerprints, env) {
		// The record below says the processes have the envvars of now.
		spec.RestartToken = "envvars-" + randomHex()
	}
	res, err := s.target.Apply(ctx, spec)
	if err != nil {
		if slipway.ErrorCode(err) == slipway.EInvalid {
			return err
		}
		return fmt.Errorf("apply job %s of %s: %w", c.Name, tool, err)
	}
	var unhealthy error
	if res.Changed && c.Type == slipway.Continuous {
		switch err := s.waitReplaced(ctx, tool, c.Name); {
		case slipway.ErrorCode(err) == slipway.EConflict:
			return err // the new processes were stopped, the old ones kept: nothing changed
		case err != nil && ctx.Err() == nil:
			// It runs (crash looping, or not healthy yet): recorded as what
			// runs, so that the job is listed, truthfully failing, and a
			// deployment or a delete acts on it.
			unhealthy = slipway.Errorf(slipway.EConflict, "Job %s was started but is not healthy: %v", c.Name, err)
		case err != nil:
			return fmt.Errorf("apply job %s of %s: %w", c.Name, tool, err)
		}
	}
	// What runs now is recorded with its release in one transaction: the
	// jobs API made a version live that no deployment made.
	live := slipway.LiveRun{
		Tool: tool, Component: c.Name, Type: c.Type, SpecHash: spec.SpecHash, BuildKey: image.BuildKey,
		Commit: image.Commit, Artifact: art.Ref(), DeploymentID: deploymentID, Spec: c, AppliedAt: s.now(),
		EnvFingerprints: env.Fingerprints,
	}
	err = s.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.LiveRunPut(ctx, live); err != nil {
			return err
		}
		return jobRelease(ctx, tx, tool, c.Name, &live, live.AppliedAt)
	})
	if err != nil {
		return fmt.Errorf("record job %s of %s: %w", c.Name, tool, err)
	}
	return unhealthy
}

// sameRun reports whether an ad-hoc job already is def.
func sameRun(r slipway.JobRun, def slipway.Job) bool {
	return def.Component.Type == slipway.OneOff && def.Component.SpecHash() == r.Component().SpecHash() && def.ImageName == r.ImageName
}
