package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/metrics"
	"slipway.dev/slipway/internal/runner"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/target"
)

// retryAfterError asks the runner to try a job again later without counting a
// failure (a deployment queued behind another one).
type retryAfterError time.Duration

func (r retryAfterError) Error() string             { return "retry after " + time.Duration(r).String() }
func (r retryAfterError) RetryAfter() time.Duration { return time.Duration(r) }

// queuedRecheck is how long a deployment waiting behind another waits
// before its start job looks again. The finishing deployment makes the job
// due at once (finishTx); this is the fallback for a start job that was
// running at that moment.
const queuedRecheck = 5 * time.Second

// Causes of a step's work context ending, besides the server stopping.
var (
	errStepTimeout       = errors.New("step timed out")
	errCancelled         = errors.New("deployment cancelled")
	errBuildCancelled    = errors.New("build cancelled by request")
	errDeploymentTimeout = errors.New("deployment timed out")
)

// StartDeployment is the first job of a deployment: it resolves refs,
// plans, records the plan and enqueues the steps that can start. Running it
// again after a crash is safe: a recorded plan is reused.
func (s *Service) StartDeployment(ctx context.Context, tool, id string) error {
	d, err := s.store.DeploymentGet(ctx, tool, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile
	} else if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	if d.Status.Final() {
		return nil
	}
	steps, err := s.store.StepList(ctx, id)
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	if len(steps) > 0 {
		// Planned before a crash: make sure what is due is queued.
		return s.advance(ctx, d, nil)
	}
	if d.Status == slipway.DeploymentCancelling {
		return s.finish(ctx, d, slipway.DeploymentCancelled, "Deployment was cancelled before it started")
	}
	if deadline := d.CreatedAt.Add(s.cfg.DeploymentTimeout); !s.now().Before(deadline) {
		return s.finish(ctx, d, slipway.DeploymentTimedOut, fmt.Sprintf("Timed out after %s before it could start", s.cfg.DeploymentTimeout))
	}
	// One active deployment per tool: wait for older ones to finish.
	unfinished, err := s.store.DeploymentListUnfinished(ctx, tool)
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	for _, u := range unfinished {
		if u.ID != id && (u.CreatedAt.Before(d.CreatedAt) || (u.CreatedAt.Equal(d.CreatedAt) && u.ID < id)) {
			// The finishing deployment starts this one's job again
			// (finishTx); looking again later is only the fallback.
			return retryAfterError(queuedRecheck)
		}
	}
	if err := s.setStatus(ctx, d, slipway.DeploymentRunning, "Resolving sources and planning"); err != nil {
		return err
	}
	cfg, err := parseStored(d.ToolConfig)
	if err != nil {
		return s.finish(ctx, d, slipway.DeploymentFailed, "Invalid stored config: "+err.Error())
	}
	pctx, cancel := context.WithDeadline(ctx, d.CreatedAt.Add(s.cfg.DeploymentTimeout))
	defer cancel()
	pctx = s.scopeOf(pctx, tool, d.ConfigVersion)
	var in PlanInput
	err = s.retry(pctx, func(note string) {
		_ = s.setStatus(ctx, d, slipway.DeploymentRunning, "Resolving sources ("+note+")") // best effort: a progress note
	}, func() error {
		var err error
		in, err = s.planInput(pctx, d, cfg)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("start %s: %w", id, err) // shutdown: retry at next start
		}
		return s.finish(ctx, d, slipway.DeploymentFailed, err.Error())
	}
	steps, err = Plan(in)
	if err != nil {
		return s.finish(ctx, d, slipway.DeploymentFailed, "Plan: "+err.Error())
	}
	return s.advance(ctx, d, steps)
}

// planInput gathers what Plan needs: resolved refs (one ls-remote per
// repository, in parallel), live state and the builds that exist.
func (s *Service) planInput(ctx context.Context, d slipway.Deployment, cfg slipway.ToolConfig) (PlanInput, error) {
	in := PlanInput{
		DeploymentID: d.ID, Config: cfg, BuilderVersion: s.builder.Version(),
		ForceBuild: d.ForceBuild, ForceRun: d.ForceRun,
		Commits: map[SourceRef]string{}, Built: map[string]bool{}, Corrupt: map[string]bool{}, Live: map[string]slipway.LiveRun{},
	}
	if d.RollbackOf != "" {
		// A rollback runs the builds of the deployment it goes back to:
		// their commits are known, nothing is resolved.
		pins, err := s.rollbackPins(ctx, d.RollbackOf)
		if err != nil {
			return in, err
		}
		in.Pinned = map[string]string{}
		for name, st := range pins {
			if src := cfg.Components[name].Build.Source; src != nil {
				in.Commits[SourceRef{src.Repository, src.Ref}] = st.Commit
				in.Pinned[name] = st.BuildKey
			}
		}
	}
	refs := map[string][]string{} // repository → refs
	for _, name := range cfg.Names() {
		src := cfg.Components[name].Build.Source
		if src == nil || in.Pinned[name] != "" {
			continue
		}
		if _, known := in.Commits[SourceRef{src.Repository, src.Ref}]; !known && !slices.Contains(refs[src.Repository], src.Ref) {
			refs[src.Repository] = append(refs[src.Repository], src.Ref)
		}
	}
	rctx, cancel := context.WithTimeoutCause(ctx, s.cfg.ResolveTimeout,
		fmt.Errorf("resolving the refs took longer than %s (the resolve timeout): %w", s.cfg.ResolveTimeout, context.DeadlineExceeded))
	defer cancel()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	for repo, rs := range refs {
		wg.Go(func() {
			got, err := s.source.ResolveAll(rctx, repo, rs)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("resolve %s: %w", repo, err))
				return
			}
			for _, ref := range rs {
				in.Commits[SourceRef{repo, ref}] = got[ref]
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return in, errors.Join(errs...)
	}
	live, err := s.store.LiveRunList(ctx, d.Tool)
	if err != nil {
		return in, fmt.Errorf("live state: %w", err)
	}
	for _, r := range live {
		in.Live[r.Component] = r
	}
	if in.Unhealthy, err = s.unhealthy(ctx, d.Tool, live); err != nil {
		return in, err
	}
	env, err := s.toolEnv(ctx, d.Tool)
	if err != nil {
		return in, err
	}
	in.Env = env.Fingerprints
	for _, name := range cfg.Names() {
		src := cfg.Components[name].Build.Source
		if src == nil {
			continue
		}
		key := cmp.Or(in.Pinned[name], slipway.BuildKey(src.Repository, in.Commits[SourceRef{src.Repository, src.Ref}], in.BuilderVersion, slipway.SourceBuildSettings(*src)...))
		_, ok, err := s.builder.Lookup(ctx, d.Tool, key)
		switch {
		case errors.Is(err, build.ErrCorrupt):
			in.Corrupt[key] = true
		case err != nil:
			return in, fmt.Errorf("look up build %s: %w", key, err)
		case ok:
			in.Built[key] = true
		}
	}
	return in, nil
}

// unhealthy returns, by component, why a live continuous or scheduled
// component is not running as it should, from what the target reports:
// the plan applies those again.
func (s *Service) unhealthy(ctx context.Context, tool string, live []slipway.LiveRun) (map[string]string, error) {
	statuses, err := s.target.List(ctx, tool)
	if err != nil {
		return nil, fmt.Errorf("what runs: %w", err)
	}
	byName := make(map[string]target.Status, len(statuses))
	for _, st := range statuses {
		byName[st.Component] = st
	}
	out := map[string]string{}
	for _, r := range live {
		st, ok := byName[r.Component]
		switch {
		case r.Type == slipway.OneOff:
		case !ok || st.State == "stopped":
			out[r.Component] = "not running"
		case r.Type == slipway.Scheduled && st.State != "scheduled":
			out[r.Component] = "not scheduled (" + st.State + ")"
		case r.Type != slipway.Continuous:
		case st.State == "crashloop" || st.State == "failed":
			out[r.Component] = st.State + " (" + st.Message + ")"
		case st.Replicas == 0:
			out[r.Component] = "no replica up (" + st.Message + ")"
		case st.SpecHash != r.SpecHash || st.BuildKey != r.BuildKey:
			out[r.Component] = "runs another version than recorded (build " + st.BuildKey + ")"
		}
	}
	return out, nil
}

// RunStep executes one step and records its outcome together with the
// steps it unblocks. Running it again for a finished step does nothing; for
// a step that was running when the server died it converges again (every
// action is idempotent).
func (s *Service) RunStep(ctx context.Context, tool, id, key string) error {
	d, err := s.store.DeploymentGet(ctx, tool, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("step %s of %s: %w", key, id, err)
	}
	st, err := s.store.StepGet(ctx, id, key)
	if err != nil {
		return fmt.Errorf("step %s of %s: %w", key, id, err)
	}
	if st.State.Final() || d.Status.Final() {
		return nil
	}
	if d.Status == slipway.DeploymentCancelling {
		// This job is the step's own: whether the step is still pending or
		// was running when a server stopped, nobody else will settle it.
		return s.advance(ctx, d, nil, func(tx store.Tx) error {
			_, err := s.updateStep(ctx, tx, store.StepUpdate{
				DeploymentID: id, Key: key, State: slipway.StepCancelled, Detail: "The deployment was cancelled",
				Attempt: st.Attempt, StartedAt: st.StartedAt, FinishedAt: s.now(),
				IfStateIn: []slipway.StepState{slipway.StepPending, slipway.StepRunning},
			})
			return err
		})
	}
	cfg, err := parseStored(d.ToolConfig)
	if err != nil {
		return err
	}
	if st.Kind == slipway.StepBuild {
		if wait, err := s.waitBuildSlot(ctx, d, st); err != nil || wait {
			return err
		}
	}
	st.Attempt++
	st.State = slipway.StepRunning
	st.StartedAt = s.now()
	claimed := false
	err = s.tx(ctx, id, func(tx store.Tx) error {
		var err error
		claimed, err = s.updateStep(ctx, tx, store.StepUpdate{
			DeploymentID: id, Key: key, State: st.State, Detail: runningDetail(st), Attempt: st.Attempt,
			StartedAt: st.StartedAt, IfStateIn: []slipway.StepState{slipway.StepPending, slipway.StepRunning},
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("step %s of %s: mark running: %w", key, id, err)
	}
	if !claimed {
		return nil // settled meanwhile (skipped or cancelled)
	}

	// The step's work can be cancelled by a cancel request and ends at the
	// deployment's deadline; a server stop cancels ctx itself.
	work, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work, cancelDeadline := context.WithDeadlineCause(work, d.CreatedAt.Add(s.cfg.DeploymentTimeout), errDeploymentTimeout)
	defer cancelDeadline()
	unregister := s.running.add(id, key, cancel)
	defer unregister()
	// A cancel request that came between reading the deployment and
	// registering did not reach this step, and one taken by another
	// server never reaches this one's registry: the store says it. A
	// build cancel settles an unregistered step in the store.
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		s.watchCancel(work, tool, id, key, cancel)
	}()
	out := s.execute(work, d, cfg, st)
	cancel(nil)
	<-watched
	if out.interrupted != nil {
		// The server is stopping: leave the step running; the job is
		// retried (and the step converges again) at the next start.
		return fmt.Errorf("step %s of %s: interrupted: %w", key, id, out.interrupted)
	}
	st.State, st.Detail, st.FinishedAt = out.state, out.detail, s.now()
	return s.advance(ctx, d, nil, func(tx store.Tx) error {
		if st.Kind == slipway.StepBuild {
			if err := tx.BuildLeaseRelease(ctx, id, key); err != nil {
				return err
			}
		}
		ok, err := s.updateStep(ctx, tx, store.StepUpdate{
			DeploymentID: id, Key: key, State: st.State, Detail: st.Detail, Attempt: st.Attempt,
			StartedAt: st.StartedAt, FinishedAt: st.FinishedAt,
			IfStateIn: []slipway.StepState{slipway.StepRunning},
		})
		switch {
		case err != nil || !ok:
			return err
		case out.live != nil:
			return tx.LiveRunPut(ctx, *out.live)
		case out.removed:
			return tx.LiveRunDelete(ctx, tool, st.Component)
		}
		return nil
	})
}

// buildSlotRecheck is how long a build step waiting for a slot of its
// tool waits before it looks again; its job is snoozed meanwhile and holds
// no worker.
const buildSlotRecheck = time.Second

// waitBuildSlot takes a build slot of d's tool for build step st, counted
// across every server sharing the store (the tool's --tool-build-slots),
// and reports wait when there is none: the step says so, stays pending,
// and its job looks again after buildSlotRecheck. A deployment past its
// deadline waits no more: the step runs and times out.
func (s *Service) waitBuildSlot(ctx context.Context, d slipway.Deployment, st slipway.Step) (wait bool, err error) {
	if !s.now().Before(d.CreatedAt.Add(s.cfg.DeploymentTimeout)) {
		return false, nil
	}
	ok, held, err := s.store.BuildLeaseTake(ctx, d.Tool, d.ID, st.Key, s.cfg.ToolBuildSlots, s.now())
	if err != nil {
		return false, fmt.Errorf("step %s of %s: %w", st.Key, d.ID, err)
	}
	if ok {
		return false, nil
	}
	detail := fmt.Sprintf("waiting for a build slot: %d of the tool's %d are building", held, s.cfg.ToolBuildSlots)
	if st.State == slipway.StepPending && st.Detail != detail {
		_ = s.tx(ctx, d.ID, func(tx store.Tx) error { // best effort: a progress note
			_, err := s.updateStep(ctx, tx, store.StepUpdate{
				DeploymentID: d.ID, Key: st.Key, State: slipway.StepPending, Detail: detail, Attempt: st.Attempt,
				IfStateIn: []slipway.StepState{slipway.StepPending},
			})
			return err
		})
	}
	return true, retryAfterError(buildSlotRecheck)
}

// watchCancel cancels a running step's work when the store says its
// deployment is cancelling (errCancelled) or the step was settled by a
// build cancel (errBuildCancelled): at once, then every RecheckInterval
// until work ends. The registry of running steps is the fast path of the
// server that takes a cancel request; this is the path that works from
// any server sharing the store.
func (s *Service) watchCancel(work context.Context, tool, id, key string, cancel context.CancelCauseFunc) {
	t := time.NewTicker(s.cfg.RecheckInterval)
	defer t.Stop()
	for {
		if cur, err := s.store.DeploymentGet(work, tool, id); err == nil && cur.Status == slipway.DeploymentCancelling {
			cancel(errCancelled)
			return
		}
		if cur, err := s.store.StepGet(work, id, key); err == nil && cur.State.Final() {
			cancel(errBuildCancelled)
			return
		}
		select {
		case <-work.Done():
			return
		case <-t.C:
		}
	}
}

// toolEnv returns the environment of the tool's processes, with its
// fingerprints (never nil maps).
func (s *Service) toolEnv(ctx context.Context, tool string) (slipway.ToolEnv, error) {
	env := slipway.ToolEnv{}
	if s.cfg.ToolEnv != nil {
		var err error
		if env, err = s.cfg.ToolEnv(ctx, tool); err != nil {
			return slipway.ToolEnv{}, fmt.Errorf("environment variables: %w", err)
		}
	}
	if env.Values == nil {
		env.Values = map[string]string{}
	}
	if env.Fingerprints == nil {
		env.Fingerprints = map[string]string{}
	}
	return env, nil
}

// envDiffers reports whether a component's processes got other envvars
// than env (recorded nil: not recorded, never a reason to restart).
func envDiffers(recorded map[string]string, env slipway.ToolEnv) bool {
	return recorded != nil && !maps.Equal(recorded, env.Fingerprints)
}

// liveRun returns the live record of a component; ok is false when it is
// not live.
func (s *Service) liveRun(ctx context.Context, tool, component string) (r slipway.LiveRun, ok bool, err error) {
	rs, err := s.store.LiveRunList(ctx, tool)
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

// updateStep changes a step in tx and, when the change applied, appends
// the event that says so: every change of a step is an event.
func (s *Service) updateStep(ctx context.Context, tx store.Tx, u store.StepUpdate) (bool, error) {
	ok, err := tx.StepUpdate(ctx, u)
	if err != nil || !ok {
		return ok, err
	}
	s.observeStep(tx, u)
	return true, s.emit(ctx, tx, u.DeploymentID, "step", u.Key, string(u.State), u.Detail)
}

func runningDetail(st slipway.Step) string {
	verb := map[slipway.StepKind]string{slipway.StepBuild: "building", slipway.StepRun: "starting", slipway.StepPrune: "removing"}[st.Kind]
	if st.Attempt > 1 {
		return fmt.Sprintf("%s (attempt %d)", verb, st.Attempt)
	}
	return verb
}

// outcome is the result of executing a step.
type outcome struct {
	state   slipway.StepState
	detail  string
	live    *slipway.LiveRun
	removed bool
	// interrupted is set when the server is stopping.
	interrupted error
}

func (s *Service) execute(ctx context.Context, d slipway.Deployment, cfg slipway.ToolConfig, st slipway.Step) outcome {
	switch st.Kind {
	case slipway.StepBuild:
		return s.executeBuild(ctx, d, cfg, st)
	case slipway.StepRun:
		return s.executeRun(ctx, d, cfg, st)
	case slipway.StepPrune:
		if err := s.target.Remove(ctx, d.Tool, st.Component); err != nil {
			return s.failed(ctx, "remove: "+err.Error())
		}
		return outcome{state: slipway.StepDone, detail: "removed (not in config)", removed: true}
	}
	return outcome{state: slipway.StepFailed, detail: "unknown step kind " + string(st.Kind)}
}

// failed classifies an execution error by why work stopped: the server is
// stopping (interrupted: the step is retried at the next start), the
// deployment was cancelled or ran out of time, the step ran out of time, or
// the work failed.
func (s *Service) failed(work context.Context, detail string) outcome {
	if work.Err() == nil {
		return outcome{state: slipway.StepFailed, detail: detail}
	}
	switch cause := context.Cause(work); {
	case errors.Is(cause, errBuildCancelled):
		return outcome{state: slipway.StepCancelled, detail: "build cancelled by request"}
	case errors.Is(cause, errCancelled):
		return outcome{state: slipway.StepCancelled, detail: "cancelled"}
	case errors.Is(cause, errDeploymentTimeout):
		return outcome{state: slipway.StepTimedOut, detail: fmt.Sprintf("the deployment timed out after %s", s.cfg.DeploymentTimeout)}
	case errors.Is(cause, errStepTimeout):
		return outcome{state: slipway.StepTimedOut, detail: detail}
	default:
		return outcome{interrupted: cause}
	}
}

func (s *Service) executeBuild(ctx context.Context, d slipway.Deployment, cfg slipway.ToolConfig, st slipway.Step) outcome {
	c := cfg.Components[st.Component]
	src := c.Build.Source
	// The tool's slot is held already (waitBuildSlot); builds started
	// outside deployments share the server's.
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return s.failed(ctx, "waiting for a build slot")
	}
	now := s.now()
	id := buildAttempt(st.BuildKey, d.ID)
	b := slipway.Build{
		ID: id, Tool: d.Tool, Component: st.Component, Key: st.BuildKey,
		Repository: src.Repository, Ref: src.Ref, Commit: st.Commit, Status: slipway.BuildRunning,
		LogPath: s.builder.LogPath(d.Tool, id), CreatedAt: now, UpdatedAt: now,
	}
	if s.cfg.DiskCheck != nil {
		if err := s.cfg.DiskCheck(); err != nil {
			// Refused before anything is written: a failed build saying
			// why, which the next deployment tries again.
			msg := "build refused: " + slipway.ErrorMessage(err)
			if slipway.ErrorCode(err) == slipway.EInternal {
				msg = "build refused: free disk space unknown: " + err.Error()
			}
			b.Status, b.Error = slipway.BuildFailed, msg
			if err := s.store.BuildUpsert(ctx, b); err != nil {
				return s.failed(ctx, "record build: "+err.Error())
			}
			return outcome{state: slipway.StepFailed, detail: msg}
		}
	}
	// Components building the same commit share an attempt, and their
	// build steps run at the same time: one upsert, never two inserts.
	if err := s.store.BuildUpsert(ctx, b); err != nil {
		return s.failed(ctx, "record build: "+err.Error())
	}
	bctx, cancel := context.WithTimeoutCause(ctx, s.cfg.BuildTimeout, errStepTimeout)
	defer cancel()
	// The builder's checkout finds the tool's credentials, and its local
	// repository rights, in the scope.
	bctx = s.scopeOf(bctx, d.Tool, d.ConfigVersion)
	start := time.Now()
	var art slipway.Artifact
	err := s.retry(bctx, s.stepNote(ctx, st), func() error {
		var err error
		art, err = s.builder.Build(bctx, build.Request{
			Tool: d.Tool, Component: st.Component, Repository: src.Repository, Ref: src.Ref,
			Commit: st.Commit, Key: st.BuildKey, Attempt: id, Settings: *src,
		})
		return err
	})
	b.UpdatedAt = s.now()
	if err != nil {
		out := s.failed(bctx, "build failed: "+err.Error())
		if out.interrupted == nil {
			b.Status, b.Error = slipway.BuildFailed, err.Error()
			if errors.Is(context.Cause(bctx), errStepTimeout) {
				out.detail = fmt.Sprintf("build timed out after %s", s.cfg.BuildTimeout)
			}
			if out.state == slipway.StepCancelled {
				b.Status, b.Error = slipway.BuildCancelled, out.detail
			}
			_ = s.store.BuildUpdate(context.WithoutCancel(ctx), b) // best effort: the step records the failure
		}
		return out
	}
	b.Status, b.Artifact = slipway.BuildSuccessful, art.Dir
	if err := s.store.BuildUpdate(ctx, b); err != nil {
		return s.failed(ctx, "record build: "+err.Error())
	}
	return outcome{state: slipway.StepDone, detail: fmt.Sprintf("built %s in %s", short(st.Commit), round(time.Since(start)))}
}

func (s *Service) executeRun(ctx context.Context, d slipway.Deployment, cfg slipway.ToolConfig, st slipway.Step) outcome {
	c := cfg.Components[st.Component]
	art, ok, err := s.builder.Lookup(ctx, d.Tool, st.BuildKey)
	if errors.Is(err, build.ErrCorrupt) {
		return outcome{state: slipway.StepFailed, detail: fmt.Sprintf("artifact %s of %s is not used: %v; deploy again to rebuild it", st.BuildKey, c.BuildFrom(), err)}
	}
	if err != nil {
		return s.failed(ctx, "look up build: "+err.Error())
	}
	if !ok {
		return outcome{state: slipway.StepFailed, detail: fmt.Sprintf("artifact %s of %s is missing", st.BuildKey, c.BuildFrom())}
	}
	env, err := s.toolEnv(ctx, d.Tool)
	if err != nil {
		return s.failed(ctx, err.Error())
	}
	spec := target.Spec{Tool: d.Tool, Component: c, SpecHash: st.SpecHash, Artifact: art, Env: env.Values}
	prev, _, err := s.liveRun(ctx, d.Tool, c.Name)
	if err != nil {
		return s.failed(ctx, err.Error())
	}
	if d.ForceRun || envDiffers(prev.EnvFingerprints, env) {
		// Restart even if spec and build are unchanged, once per deployment
		// (a step retried after a crash carries the same token): forced, or
		// its processes got other envvars than the tool has now.
		spec.RestartToken = d.ID
	}
	live := &slipway.LiveRun{
		Tool: d.Tool, Component: c.Name, Type: c.Type, SpecHash: st.SpecHash, BuildKey: st.BuildKey,
		Commit: st.Commit, Artifact: art.Dir, DeploymentID: d.ID, Spec: c, AppliedAt: s.now(),
		EnvFingerprints: env.Fingerprints,
	}
	waited := ""
	if len(c.WaitFor) > 0 {
		waited = " (waited for " + strings.Join(c.WaitFor, ", ") + ")"
	}
	switch c.Type {
	case slipway.OneOff:
		release, err := s.oneOffs.take(ctx, d.Tool, func(running int) {
			s.stepNote(ctx, st)(fmt.Sprintf("waiting: the tool runs %d one-off %s at once, its limit", running, pluralize(running, "job")))
		})
		if err != nil {
			return s.failed(ctx, "waiting for a one-off slot")
		}
		defer release()
		timeout := s.cfg.OneOffTimeout
		if c.Run.Timeout > 0 {
			timeout = time.Duration(c.Run.Timeout) * time.Second
		}
		rctx, cancel := context.WithTimeoutCause(ctx, timeout, errStepTimeout)
		defer cancel()
		res, err := s.target.RunOnce(rctx, spec, d.ID)
		if err != nil {
			out := s.failed(rctx, "run: "+err.Error())
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
		return outcome{state: slipway.StepDone, detail: fmt.Sprintf("completed in %s%s", round(res.Duration), waited), live: live}
	case slipway.Scheduled:
		res, err := s.apply(ctx, st, spec)
		if err != nil {
			return s.failed(ctx, "apply: "+err.Error())
		}
		return outcome{state: slipway.StepDone, detail: res.Message + waited, live: live}
	case slipway.Continuous:
	}
	if _, err := s.apply(ctx, st, spec); err != nil {
		return s.failed(ctx, "apply: "+err.Error())
	}
	hctx, cancel := context.WithTimeoutCause(ctx, s.cfg.HealthTimeout, errStepTimeout)
	defer cancel()
	h, err := s.target.WaitHealthy(hctx, d.Tool, c.Name)
	if err != nil {
		what := "not healthy"
		if errors.Is(context.Cause(hctx), errStepTimeout) {
			what = fmt.Sprintf("not healthy within %s", s.cfg.HealthTimeout)
		}
		_, kept := errors.AsType[*target.KeptError](err)
		if kept {
			what += ", kept " + liveName(prev) + " running"
		}
		out := s.failed(hctx, what+": "+err.Error())
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
func (s *Service) apply(ctx context.Context, st slipway.Step, spec target.Spec) (target.ApplyResult, error) {
	var res target.ApplyResult
	err := s.retry(ctx, s.stepNote(ctx, st), func() error {
		var err error
		res, err = s.target.Apply(ctx, spec)
		return err
	})
	return res, err
}

// stepNote returns a function that records progress of a running step
// (its detail, and an event), best effort.
func (s *Service) stepNote(ctx context.Context, st slipway.Step) func(string) {
	return func(note string) {
		detail := runningDetail(st) + ": " + note
		_ = s.tx(ctx, st.DeploymentID, func(tx store.Tx) error { // best effort: a progress note
			_, err := s.updateStep(ctx, tx, store.StepUpdate{
				DeploymentID: st.DeploymentID, Key: st.Key, State: slipway.StepRunning, Detail: detail,
				Attempt: st.Attempt, StartedAt: st.StartedAt, IfStateIn: []slipway.StepState{slipway.StepRunning},
			})
			return err
		})
	}
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

// advance records a deployment's progress in one transaction: it runs the
// given writes, creates the plan when steps is not nil, skips the
// dependants of failed steps, enqueues the steps whose needs are all
// satisfied, and finishes the deployment when every step is final.
//
// It takes the deployment's lock first (the store's concurrency contract):
// two steps finishing at once record their outcomes one after the other,
// and the second sees the first's, so a step needing both is started.
func (s *Service) advance(ctx context.Context, d slipway.Deployment, steps []slipway.Step, writes ...func(store.Tx) error) error {
	err := s.tx(ctx, d.ID, func(tx store.Tx) error {
		lock := tx.DeploymentLock
		if s.test.noLocks {
			lock = tx.DeploymentGet
		}
		cur, err := lock(ctx, d.Tool, d.ID)
		if errors.Is(err, store.ErrNotFound) {
			return nil // deleted meanwhile: nothing is left to record
		} else if err != nil {
			return err
		}
		for _, w := range writes {
			if err := w(tx); err != nil {
				return err
			}
		}
		if cur.Status.Final() {
			return nil
		}
		if steps != nil {
			if err := tx.StepsCreate(ctx, steps); err != nil {
				return err
			}
			for _, st := range steps {
				if st.State.Final() {
					if err := s.emit(ctx, tx, d.ID, "step", st.Key, string(st.State), st.Detail); err != nil {
						return err
					}
				}
			}
			s.observePlanned(tx, steps)
			msg := fmt.Sprintf("Deploying: %s", summarize(steps))
			if _, err := tx.DeploymentUpdateStatus(ctx, store.DeploymentStatusUpdate{Tool: d.Tool, ID: d.ID, Status: slipway.DeploymentRunning, LongStatus: msg, UpdatedAt: s.now()}); err != nil {
				return err
			}
			if err := s.emit(ctx, tx, d.ID, "plan", "", string(slipway.DeploymentRunning), msg); err != nil {
				return err
			}
		}
		all, err := tx.StepList(ctx, d.ID)
		if err != nil {
			return err
		}
		if err := s.progress(ctx, tx, cur, all); err != nil {
			return err
		}
		if s.test.beforeCommit != nil {
			s.test.beforeCommit()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("deployment %s: record progress: %w", d.ID, err)
	}
	return nil
}

// progress is the scheduling rule, applied inside a transaction.
func (s *Service) progress(ctx context.Context, tx store.Tx, d slipway.Deployment, all []slipway.Step) error {
	dec := Schedule(all, d.Status == slipway.DeploymentCancelling)
	index := make(map[string]int, len(all))
	for i, st := range all {
		index[st.Key] = i
	}
	now := s.now()
	for _, set := range dec.Settle {
		st := &all[index[set.Key]]
		if _, err := s.updateStep(ctx, tx, store.StepUpdate{
			DeploymentID: d.ID, Key: st.Key, State: set.State, Detail: set.Reason, Attempt: st.Attempt,
			FinishedAt: now, IfStateIn: []slipway.StepState{slipway.StepPending},
		}); err != nil {
			return err
		}
		st.State, st.Detail, st.FinishedAt = set.State, set.Reason, now
	}
	if !dec.Final {
		due := make([]runner.Job, len(dec.Due))
		for i, key := range dec.Due {
			due[i] = runner.Job{Tool: d.Tool, DeploymentID: d.ID, Key: key}
		}
		return s.enqueue(ctx, tx, due...)
	}
	status, long := outcomeOf(d, all)
	return s.finishTx(ctx, tx, d, status, long)
}

// outcomeOf decides a finished deployment's status and long status.
func outcomeOf(d slipway.Deployment, all []slipway.Step) (slipway.DeploymentStatus, string) {
	// A step cancelled while the deployment is not (a build cancelled on
	// its own) fails the deployment, as a cancelled build does on Toolforge.
	var first *slipway.Step
	for i := range all {
		st := &all[i]
		if st.State == slipway.StepFailed || st.State == slipway.StepTimedOut || st.State == slipway.StepCancelled {
			if first == nil || st.FinishedAt.Before(first.FinishedAt) {
				first = st
			}
		}
	}
	switch {
	case d.Status == slipway.DeploymentCancelling:
		var done, stopped int
		for _, st := range all {
			switch st.State {
			case slipway.StepDone:
				done++
			case slipway.StepCancelled:
				stopped++
			default:
			}
		}
		return slipway.DeploymentCancelled, fmt.Sprintf("Deployment was cancelled: %d steps cancelled, %d done before the cancel (what they applied stays)", stopped, done)
	case first != nil && first.State == slipway.StepCancelled:
		return slipway.DeploymentFailed, fmt.Sprintf("%s %s was cancelled: %s", first.Kind, first.Component, first.Detail)
	case first != nil && first.State == slipway.StepTimedOut:
		return slipway.DeploymentTimedOut, fmt.Sprintf("%s %s timed out: %s", first.Kind, first.Component, first.Detail)
	case first != nil:
		return slipway.DeploymentFailed, fmt.Sprintf("%s %s failed: %s", first.Kind, first.Component, first.Detail)
	}
	return slipway.DeploymentSuccessful, "All components deployed: " + summarize(all)
}

// summarize counts what a plan does: "1 build, 2 runs, 3 unchanged".
func summarize(steps []slipway.Step) string {
	var builds, runs, prunes, unchanged int
	for _, st := range steps {
		switch {
		case st.State == slipway.StepUnchanged:
			unchanged++
		case st.Kind == slipway.StepBuild:
			builds++
		case st.Kind == slipway.StepRun:
			runs++
		case st.Kind == slipway.StepPrune:
			prunes++
		}
	}
	return fmt.Sprintf("%d to build, %d to run, %d to remove, %d unchanged", builds, runs, prunes, unchanged)
}

// finish ends a deployment outside any step (it failed before planning).
func (s *Service) finish(ctx context.Context, d slipway.Deployment, status slipway.DeploymentStatus, long string) error {
	return s.tx(ctx, d.ID, func(tx store.Tx) error {
		if _, err := tx.DeploymentLock(ctx, d.Tool, d.ID); err != nil {
			return ignoreNotFound(err)
		}
		return s.finishTx(ctx, tx, d, status, long)
	})
}

// ignoreNotFound returns nil for a store.ErrNotFound (a deployment deleted
// meanwhile has nothing left to record), and err otherwise.
func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

func (s *Service) finishTx(ctx context.Context, tx store.Tx, d slipway.Deployment, status slipway.DeploymentStatus, long string) error {
	now := s.now()
	ok, err := tx.DeploymentUpdateStatus(ctx, store.DeploymentStatusUpdate{
		Tool: d.Tool, ID: d.ID, Status: status, LongStatus: long, FinishedAt: now, UpdatedAt: now,
		IfStatusIn: []slipway.DeploymentStatus{slipway.DeploymentPending, slipway.DeploymentRunning, slipway.DeploymentCancelling},
	})
	if err != nil || !ok {
		return err
	}
	if err := s.emit(ctx, tx, d.ID, "deployment", "", string(status), long); err != nil {
		return err
	}
	s.observeFinished(tx, status)
	if _, err := tx.DeploymentPrune(ctx, d.Tool, s.cfg.KeepDeployments); err != nil {
		return fmt.Errorf("prune old deployments: %w", err)
	}
	return s.startSuccessor(ctx, tx, d)
}

// startSuccessor enqueues the start job of the deployment of d's tool that
// waited for d, in the transaction that finishes d. Its callers hold the
// tool's lock, so a deployment created at the same moment is either seen
// here or sees d finished.
func (s *Service) startSuccessor(ctx context.Context, tx store.Tx, d slipway.Deployment) error {
	unfinished, err := tx.DeploymentListUnfinished(ctx, d.Tool)
	if err != nil {
		return fmt.Errorf("start the next deployment: %w", err)
	}
	for _, u := range unfinished { // oldest first
		if u.ID != d.ID {
			return s.enqueue(ctx, tx, runner.Job{Tool: u.Tool, DeploymentID: u.ID})
		}
	}
	return nil
}

// setStatus moves a deployment to an in-progress status.
func (s *Service) setStatus(ctx context.Context, d slipway.Deployment, status slipway.DeploymentStatus, long string) error {
	return s.tx(ctx, d.ID, func(tx store.Tx) error {
		ok, err := tx.DeploymentUpdateStatus(ctx, store.DeploymentStatusUpdate{
			Tool: d.Tool, ID: d.ID, Status: status, LongStatus: long, UpdatedAt: s.now(),
			IfStatusIn: []slipway.DeploymentStatus{slipway.DeploymentPending, slipway.DeploymentRunning},
		})
		if err != nil || !ok {
			return err
		}
		return s.emit(ctx, tx, d.ID, "deployment", "", string(status), long)
	})
}

// tx runs fn in a transaction; after it commits, it wakes the workers for
// the jobs fn enqueued and the deployment's watchers.
func (s *Service) tx(ctx context.Context, deploymentID string, fn func(store.Tx) error) error {
	var (
		wake     []runner.Job
		observed []func(*metrics.Metrics)
	)
	err := s.store.InTx(ctx, func(tx store.Tx) error {
		wake, observed = wake[:0], observed[:0] // InTx may retry fn
		return fn(queueingTx{Tx: tx, wake: &wake, observed: &observed})
	})
	if err != nil {
		return err
	}
	for _, f := range observed {
		f(s.cfg.Metrics)
	}
	s.enqueuer.Wake(ctx, wake...)
	s.events.notify(deploymentID)
	return nil
}

// queueingTx is a transaction that remembers the jobs enqueued in it, and
// the metrics to record once it commits.
type queueingTx struct {
	store.Tx
	wake     *[]runner.Job
	observed *[]func(*metrics.Metrics)
}

// enqueue puts jobs on the queue in tx; [Service.tx] wakes the workers for
// them after the commit.
func (s *Service) enqueue(ctx context.Context, tx store.Tx, jobs ...runner.Job) error {
	if err := s.enqueuer.EnqueueTx(ctx, tx, jobs...); err != nil {
		return err
	}
	if q, ok := tx.(queueingTx); ok {
		*q.wake = append(*q.wake, jobs...)
	}
	return nil
}
