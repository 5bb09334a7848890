package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/target"
)

// outcome is the result of executing a step.
type outcome struct {
	state   slipway.StepState
	detail  string
	live    *slipway.LiveRun
	removed bool
	// interrupted is set when the server is stopping.
	interrupted error
}

func (e *Engine) execute(ctx context.Context, d slipway.Deployment, cfg slipway.ToolConfig, in slipway.Environment, st slipway.Step) outcome {
	switch st.Kind {
	case slipway.StepBuild:
		return e.executeBuild(ctx, d, cfg, st)
	case slipway.StepRun:
		return e.executeRun(ctx, d, cfg, in, st)
	case slipway.StepPrune:
		if err := e.target.Remove(ctx, d.Instance(), st.Component); err != nil {
			return e.failed(ctx, "remove: "+err.Error())
		}
		return outcome{state: slipway.StepDone, detail: "removed (not in config)", removed: true}
	case slipway.StepOneOff:
		return e.executeFlowRun(ctx, d, cfg, st)
	case slipway.StepGate, slipway.StepDeploy, slipway.StepPromote, slipway.StepNotify:
		// RunStep opens a gate's question (openGate) and starts a flow's
		// deployments (runChildStep) and notifications instead.
	}
	return outcome{state: slipway.StepFailed, detail: "unknown step kind " + string(st.Kind)}
}

// failed classifies an execution error by why work stopped: the server is
// stopping (interrupted: the step is retried at the next start), the
// deployment was cancelled or ran out of time, the step ran out of time, or
// the work failed.
func (e *Engine) failed(work context.Context, detail string) outcome {
	if work.Err() == nil {
		return outcome{state: slipway.StepFailed, detail: detail}
	}
	switch cause := context.Cause(work); {
	case errors.Is(cause, errBuildCancelled):
		return outcome{state: slipway.StepCancelled, detail: "build cancelled by request"}
	case errors.Is(cause, errCancelled):
		return outcome{state: slipway.StepCancelled, detail: "cancelled"}
	case errors.Is(cause, errDeploymentTimeout):
		return outcome{state: slipway.StepTimedOut, detail: fmt.Sprintf("the deployment timed out after %s", e.cfg.DeploymentTimeout)}
	case errors.Is(cause, errStepTimeout):
		return outcome{state: slipway.StepTimedOut, detail: detail}
	default:
		return outcome{interrupted: cause}
	}
}

func (e *Engine) executeBuild(ctx context.Context, d slipway.Deployment, cfg slipway.ToolConfig, st slipway.Step) outcome {
	c := cfg.Components[st.Component]
	src := c.Build.Source
	// The tool's slot is held already (waitBuildSlot); builds started
	// outside deployments share the server'e.
	select {
	case e.slots <- struct{}{}:
		defer func() { <-e.slots }()
	case <-ctx.Done():
		return e.failed(ctx, "waiting for a build slot")
	}
	now := e.now()
	id := buildAttempt(st.BuildKey, d.ID)
	b := slipway.Build{
		ID: id, Tool: d.Tool, Component: st.Component, Key: st.BuildKey,
		Repository: src.Repository, Ref: src.Ref, Commit: st.Commit, Status: slipway.BuildRunning,
		CreatedAt: now, UpdatedAt: now,
	}
	if e.cfg.DiskCheck != nil {
		if err := e.cfg.DiskCheck(); err != nil {
			// Refused before anything is written: a failed build saying
			// why, which the next deployment tries again.
			msg := "build refused: " + slipway.ErrorMessage(err)
			if slipway.ErrorCode(err) == slipway.EInternal {
				msg = "build refused: free disk space unknown: " + err.Error()
			}
			b.Status, b.Error = slipway.BuildFailed, msg
			if err := e.store.BuildUpsert(ctx, b); err != nil {
				return e.failed(ctx, "record build: "+err.Error())
			}
			return outcome{state: slipway.StepFailed, detail: msg}
		}
	}
	// Components building the same commit share an attempt, and their
	// build steps run at the same time: one upsert, never two inserts.
	if err := e.store.BuildUpsert(ctx, b); err != nil {
		return e.failed(ctx, "record build: "+err.Error())
	}
	bctx, cancel := context.WithTimeoutCause(ctx, e.cfg.BuildTimeout, errStepTimeout)
	defer cancel()
	// The builder's checkout finds the tool's credentials, and its local
	// repository rights, in the scope.
	bctx = e.scopeOf(bctx, d.Tool, d.ConfigVersion)
	start := time.Now()
	var art slipway.Artifact
	err := e.retry(bctx, e.stepNote(ctx, st), func() error {
		var err error
		art, err = e.builder.Build(bctx, build.Request{
			Tool: d.Tool, Component: st.Component, Repository: src.Repository, Ref: src.Ref,
			Commit: st.Commit, Key: st.BuildKey, Attempt: id, Settings: *src,
			AskEnv: e.askEnv(d, st),
		})
		return err
	})
	b.UpdatedAt = e.now()
	if err != nil {
		out := e.failed(bctx, "build failed: "+err.Error())
		if out.interrupted == nil {
			b.Status, b.Error = slipway.BuildFailed, err.Error()
			if errors.Is(context.Cause(bctx), errStepTimeout) {
				out.detail = fmt.Sprintf("build timed out after %s", e.cfg.BuildTimeout)
			}
			if out.state == slipway.StepCancelled {
				b.Status, b.Error = slipway.BuildCancelled, out.detail
			}
			_ = e.store.BuildUpdate(context.WithoutCancel(ctx), b) // best effort: the step records the failure
		}
		return out
	}
	b.Status, b.Artifact = slipway.BuildSuccessful, art.Ref()
	if err := e.store.BuildUpdate(ctx, b); err != nil {
		return e.failed(ctx, "record build: "+err.Error())
	}
	return outcome{state: slipway.StepDone, detail: fmt.Sprintf("built %s in %s", short(st.Commit), round(time.Since(start)))}
}

func (e *Engine) executeRun(ctx context.Context, d slipway.Deployment, cfg slipway.ToolConfig, in slipway.Environment, st slipway.Step) outcome {
	c := cfg.Components[st.Component]
	art, failed := e.artifactFor(ctx, d.Tool, c, st.BuildKey)
	if failed != nil {
		return *failed
	}
	env, err := e.toolEnv(ctx, d.Tool, in)
	if err != nil {
		return e.failed(ctx, err.Error())
	}
	spec := target.Spec{Tool: d.Instance(), Component: c, SpecHash: st.SpecHash, Artifact: art}
	spec.Env, spec.SecretEnv = env.Split()
	prev, _, err := e.liveRun(ctx, d.Instance(), c.Name)
	if err != nil {
		return e.failed(ctx, err.Error())
	}
	if d.ForceRun || envDiffers(prev.EnvFingerprints, env) {
		// Restart even if spec and build are unchanged, once per deployment
		// (a step retried after a crash carries the same token): forced, or
		// its processes got other envvars than the tool has now.
		spec.RestartToken = d.ID
	}
	live := &slipway.LiveRun{
		Tool: d.Instance(), Component: c.Name, Type: c.Type, SpecHash: st.SpecHash, BuildKey: st.BuildKey,
		Commit: st.Commit, Artifact: art.Ref(), DeploymentID: d.ID, Spec: c, AppliedAt: e.now(),
		EnvFingerprints: env.Fingerprints,
	}
	waited := ""
	if len(c.WaitFor) > 0 {
		waited = " (waited for " + strings.Join(c.WaitFor, ", ") + ")"
	}
	switch c.Type {
	case slipway.OneOff:
		out := e.runOneOff(ctx, d, c, st, spec, d.ID)
		if out.state == slipway.StepDone {
			out.detail += waited
			out.live = live
		}
		return out
	case slipway.Scheduled:
		res, err := e.apply(ctx, st, spec)
		if err != nil {
			return e.failed(ctx, "apply: "+err.Error())
		}
		return outcome{state: slipway.StepDone, detail: res.Message + waited, live: live}
	case slipway.Continuous:
	}
	if _, err := e.apply(ctx, st, spec); err != nil {
		return e.failed(ctx, "apply: "+err.Error())
	}
	hctx, cancel := context.WithTimeoutCause(ctx, e.cfg.HealthTimeout, errStepTimeout)
	defer cancel()
	h, err := e.target.WaitHealthy(hctx, d.Instance(), c.Name)
	if err != nil {
		what := "not healthy"
		if errors.Is(context.Cause(hctx), errStepTimeout) {
			what = fmt.Sprintf("not healthy within %s", e.cfg.HealthTimeout)
		}
		_, kept := errors.AsType[*target.KeptError](err)
		if kept {
			what += ", kept " + liveName(prev) + " running"
		}
		out := e.failed(hctx, what+": "+err.Error())
		if !kept {
			out.live = live // what runs now is the new spec, healthy or not
		}
		// Otherwise the driver stopped the new version and the old one
		// serves on: what is live stays what it was, so that the next
		// deployment tries the new version again.
		return out
	}
	return outcome{state: slipway.StepDone, detail: cmp.Or(h.Message, "healthy after "+round(h.After).String()) + waited, live: live}
}

// runOneOff runs one-off component c of step st of d to completion as
// spec, with run ID runID (idempotent: a step run again after a crash
// waits for the same run), within the tool's one-off slots and the
// component's timeout.
func (e *Engine) runOneOff(ctx context.Context, d slipway.Deployment, c slipway.Component, st slipway.Step, spec target.Spec, runID string) outcome {
	release, err := e.oneOffs.take(ctx, d.Tool, func(running int) {
		e.stepNote(ctx, st)(fmt.Sprintf("waiting: the tool runs %d one-off %s at once, its limit", running, pluralize(running, "job")))
	})
	if err != nil {
		return e.failed(ctx, "waiting for a one-off slot")
	}
	defer release()
	timeout := e.cfg.OneOffTimeout
	if c.Run.Timeout > 0 {
		timeout = time.Duration(c.Run.Timeout) * time.Second
	}
	rctx, cancel := context.WithTimeoutCause(ctx, timeout, errStepTimeout)
	defer cancel()
	spec.AskEnv = e.askEnv(d, st)
	res, err := e.target.RunOnce(rctx, spec, runID)
	if err != nil {
		out := e.failed(rctx, "run: "+err.Error())
		if errors.Is(context.Cause(rctx), errStepTimeout) {
			out.detail = fmt.Sprintf("timed out after %s and was stopped", timeout)
		}
		return out
	}
	if res.TimedOut {
		// The driver enforces Run.Timeout too and may stop the run just
		// before rctx ends: the same timeout, reported the same way.
		return outcome{state: slipway.StepTimedOut, detail: fmt.Sprintf("timed out after %s and was stopped", timeout)}
	}
	if res.OOMKilled {
		return outcome{state: slipway.StepFailed, detail: fmt.Sprintf("%s: killed after %s%s", slipway.OutOfMemory(res.MemoryLimit), round(res.Duration), tail(res.LogTail))}
	}
	if res.ExitCode != 0 {
		return outcome{state: slipway.StepFailed, detail: fmt.Sprintf("exited with status %d after %s%s", res.ExitCode, round(res.Duration), tail(res.LogTail))}
	}
	return outcome{state: slipway.StepDone, detail: fmt.Sprintf("completed in %s", round(res.Duration))}
}

// askEnv returns the environment with which the processes of step st of
// d may ask questions (`slipway ask`): the API's URL and the step's ask
// token, which the questions service accepts while the step runs; nil
// when the server offers no asking. Only a deployment's build and
// one-off steps get it: continuous and scheduled components outlive
// their step, and ad-hoc runs have none.
func (e *Engine) askEnv(d slipway.Deployment, st slipway.Step) map[string]string {
	if e.cfg.AskTokens == nil || e.cfg.AskURL == "" {
		return nil
	}
	token := e.cfg.AskTokens.Issue(slipway.AskScope{Tool: d.Tool, DeploymentID: d.ID, Step: st.Key})
	return map[string]string{slipway.EnvAskURL: e.cfg.AskURL, slipway.EnvAskToken: token}
}

// liveName names what a live record runs, for messages: its commit, or
// its build (prebuilt images).
func liveName(r slipway.LiveRun) string {
	if r.Commit != "" {
		return short(r.Commit)
	}
	return r.BuildKey
}

// apply converges a component, retrying transient failures (a process
// that could not be spawned).
func (e *Engine) apply(ctx context.Context, st slipway.Step, spec target.Spec) (target.ApplyResult, error) {
	var res target.ApplyResult
	err := e.retry(ctx, e.stepNote(ctx, st), func() error {
		var err error
		res, err = e.target.Apply(ctx, spec)
		return err
	})
	return res, err
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	return ":\n" + s
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// toolEnv returns the environment of the tool's processes in environment
// in (its variables over the tool's), with its fingerprints (never nil
// maps).
func (e *Engine) toolEnv(ctx context.Context, tool string, in slipway.Environment) (slipway.ToolEnv, error) {
	env := slipway.ToolEnv{}
	if e.cfg.ToolEnv != nil {
		var err error
		if env, err = e.cfg.ToolEnv(ctx, tool); err != nil {
			return slipway.ToolEnv{}, fmt.Errorf("environment variables: %w", err)
		}
	}
	if env.Values == nil {
		env.Values = map[string]string{}
	}
	if env.Fingerprints == nil {
		env.Fingerprints = map[string]string{}
	}
	return env.WithEnvironment(in), nil
}

// InstanceEnv returns the environment of the processes of a tool's
// instance ([slipway.InstanceName]): the tool's variables with those its
// latest config gives the instance's environment over them.
func (e *Engine) InstanceEnv(ctx context.Context, instance string) (slipway.ToolEnv, error) {
	tool, name := slipway.SplitInstance(instance)
	var in slipway.Environment
	sc, err := e.store.ConfigGetLatest(ctx, tool)
	switch {
	case err == nil:
		cfg, err := parseStored(sc.Raw)
		if err != nil {
			return slipway.ToolEnv{}, err
		}
		in, _ = cfg.Environment(name)
	case !errors.Is(err, store.ErrNotFound):
		return slipway.ToolEnv{}, fmt.Errorf("config of %s: %w", tool, err)
	}
	return e.toolEnv(ctx, tool, in)
}

// envDiffers reports whether a component's processes got other envvars
// than env (recorded nil: not recorded, never a reason to restart).
func envDiffers(recorded map[string]string, env slipway.ToolEnv) bool {
	return recorded != nil && !maps.Equal(recorded, env.Fingerprints)
}

// liveRun returns the live record of a component; ok is false when it is
// not live.
func (e *Engine) liveRun(ctx context.Context, tool, component string) (r slipway.LiveRun, ok bool, err error) {
	rs, err := e.store.LiveRunList(ctx, tool)
	if err != nil {
		return slipway.LiveRun{}, false, fmt.Errorf("live state: %w", err)
	}
	for _, r := range rs {
		if r.Component == component {
			return r, true, nil
		}
	}
	return slipway.LiveRun{}, false, nil
}

// artifactFor resolves what a run step runs: the artifact of key, which must
// still be there and unchanged.
func (e *Engine) artifactFor(ctx context.Context, tool string, c slipway.Component, key string) (slipway.Artifact, *outcome) {
	art, ok, err := lookupArtifact(ctx, e.builder, tool, key)
	if errors.Is(err, build.ErrCorrupt) {
		return art, &outcome{state: slipway.StepFailed, detail: fmt.Sprintf("artifact %s of %s is not used: %v; deploy again to rebuild it", key, c.BuildFrom(), err)}
	}
	if err != nil {
		out := e.failed(ctx, "look up build: "+err.Error())
		return art, &out
	}
	if !ok {
		return art, &outcome{state: slipway.StepFailed, detail: fmt.Sprintf("artifact %s of %s is missing", key, c.BuildFrom())}
	}
	return art, nil
}

// lookupArtifact is [build.Builder.Lookup] for every build key a plan makes:
// a prebuilt image's key names its artifact, which no builder keeps.
func lookupArtifact(ctx context.Context, b build.Builder, tool, key string) (slipway.Artifact, bool, error) {
	if image, ok := slipway.ImageOfKey(key); ok {
		return slipway.Artifact{Key: key, Image: image}, true, nil
	}
	return b.Lookup(ctx, tool, key)
}
