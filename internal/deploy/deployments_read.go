package deploy

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// DeploymentList returns the tool's deployments, oldest first, with what
// the API's list shows of each: its steps (without their commit, spec hash
// and times, which [Deployments.DeploymentGet] has) and its builds and
// runs.
func (s *Deployments) DeploymentList(ctx context.Context, tool string) ([]slipway.Deployment, error) {
	// One read for every deployment's steps, not one per deployment. It
	// is the biggest of the three, and made beside the other two rather
	// than after them: with PostgreSQL the list then waits for the
	// database once, not three times in a row. (The reads were never one
	// snapshot: a deployment created between them has no steps yet, as
	// one whose plan is not made.)
	var (
		steps    map[string][]slipway.Step
		stepsErr error
		wg       sync.WaitGroup
	)
	wg.Go(func() { steps, stepsErr = s.store.StepListToolBrief(ctx, tool) })
	ds, err := s.store.DeploymentList(ctx, tool)
	var madeBy map[string]string
	if err == nil {
		madeBy, err = s.buildsMadeBy(ctx, tool)
	}
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("list deployments of %s: %w", tool, err)
	}
	if stepsErr != nil {
		return nil, fmt.Errorf("list deployments of %s: %w", tool, stepsErr)
	}
	// Deployments of one config version share its snapshot: parse each
	// snapshot once.
	parsed := map[string]slipway.ToolConfig{}
	parse := func(raw []byte) (slipway.ToolConfig, error) {
		if cfg, ok := parsed[string(raw)]; ok {
			return cfg, nil
		}
		cfg, err := parseStored(raw)
		if err == nil {
			parsed[string(raw)] = cfg
		}
		return cfg, err
	}
	out := make([]slipway.Deployment, 0, len(ds))
	for _, d := range ds {
		full, err := withSteps(d, steps[d.ID], madeBy, parse)
		if err != nil {
			return nil, err
		}
		out = append(out, full)
	}
	return out, nil
}

// DeploymentListBrief returns the tool's deployments, oldest first,
// without their steps, builds and runs: for a list that shows none of
// them, at a fraction of [Deployments.DeploymentList]'s cost.
func (s *Deployments) DeploymentListBrief(ctx context.Context, tool string) ([]slipway.Deployment, error) {
	ds, err := s.store.DeploymentList(ctx, tool)
	if err != nil {
		return nil, fmt.Errorf("list deployments of %s: %w", tool, err)
	}
	return ds, nil
}

// DeploymentGet returns one deployment with its plan; id may be "latest".
// Returns ENotFound when there is no such deployment.
func (s *Deployments) DeploymentGet(ctx context.Context, tool, id string) (slipway.Deployment, error) {
	d, err := s.lookup(ctx, tool, id)
	if err != nil {
		return slipway.Deployment{}, err
	}
	madeBy, err := s.buildsMadeBy(ctx, tool)
	if err != nil {
		return slipway.Deployment{}, err
	}
	return s.complete(ctx, d, madeBy)
}

func (s *Deployments) lookup(ctx context.Context, tool, id string) (slipway.Deployment, error) {
	if id == slipway.DeploymentIDLatest {
		d, err := s.store.DeploymentLatest(ctx, tool)
		return d, notFound(err, "No deployments found for tool: %s", tool)
	}
	d, err := s.store.DeploymentGet(ctx, tool, id)
	return d, notFound(err, "Deployment %s not found for tool %s", id, tool)
}

// buildsMadeBy returns, by build key, the ID of the tool's newest
// successful attempt at that key: the build a reusing step points at.
func (s *Deployments) buildsMadeBy(ctx context.Context, tool string) (map[string]string, error) {
	list, err := s.store.BuildList(ctx, tool) // newest first
	if err != nil {
		return nil, fmt.Errorf("builds of %s: %w", tool, err)
	}
	out := map[string]string{}
	for _, b := range list {
		if _, seen := out[b.Key]; !seen && b.Status == slipway.BuildSuccessful {
			out[b.Key] = b.ID
		}
	}
	return out, nil
}

// complete fills in a deployment's steps and its Toolforge-shaped builds
// and runs, which are derived from the steps; madeBy is [buildsMadeBy]'s.
func (s *Deployments) complete(ctx context.Context, d slipway.Deployment, madeBy map[string]string) (slipway.Deployment, error) {
	steps, err := s.store.StepList(ctx, d.ID)
	if err != nil {
		return d, fmt.Errorf("steps of %s: %w", d.ID, err)
	}
	return withSteps(d, steps, madeBy, parseStored)
}

// withSteps returns d with its steps and the Toolforge build and run
// entries derived from them; parse parses its config snapshot.
func withSteps(d slipway.Deployment, steps []slipway.Step, madeBy map[string]string, parse func([]byte) (slipway.ToolConfig, error)) (slipway.Deployment, error) {
	if steps == nil {
		steps = []slipway.Step{}
	}
	d.Steps = steps
	if d.Flow != "" {
		// A flow run builds and runs nothing itself: its deploy and
		// promote steps' deployments do.
		d.Builds, d.Runs = map[string]slipway.DeploymentBuild{}, map[string]slipway.DeploymentRun{}
		return d, nil
	}
	cfg, err := parse(d.ToolConfig)
	if err != nil {
		return d, err
	}
	d.Builds, d.Runs = buildsAndRuns(d, cfg, steps, madeBy)
	return d, nil
}

// buildsAndRuns derives Toolforge's per-component build and run entries of
// d. Once d is final nothing of it is pending: a component without a step
// (the deployment failed before its plan existed, or was cancelled while
// queued) is skipped, or cancelled, with the deployment's reason. A build
// step's build_id is the deployment's attempt at its key, or for a reused
// build the attempt that made it (madeBy, by key).
func buildsAndRuns(d slipway.Deployment, cfg slipway.ToolConfig, steps []slipway.Step, madeBy map[string]string) (map[string]slipway.DeploymentBuild, map[string]slipway.DeploymentRun) {
	// By key, the index of the step in steps: a map of whole steps would
	// copy each one.
	index := make(map[string]int, len(steps))
	for i, st := range steps {
		index[st.Key] = i
	}
	byKey := func(key string) (*slipway.Step, bool) {
		i, ok := index[key]
		if !ok {
			return nil, false
		}
		return &steps[i], true
	}
	builds := make(map[string]slipway.DeploymentBuild, len(cfg.Components))
	runs := make(map[string]slipway.DeploymentRun, len(cfg.Components))
	for _, name := range cfg.Names() {
		c := cfg.Components[name]
		b := slipway.DeploymentBuild{BuildID: slipway.BuildIDNotYet, BuildStatus: slipway.BuildPending, BuildImage: slipway.BuildImageNotYet}
		switch bs, ok := byKey(slipway.StepKey(slipway.StepBuild, name)); {
		case c.Build.ReuseFrom != "":
			b.BuildID, b.BuildStatus = slipway.BuildIDNotNeeded, slipway.BuildSkipped
			b.BuildLongStatus = "Component re-uses build from " + c.Build.ReuseFrom
			if ps, ok := byKey(slipway.StepKey(slipway.StepBuild, c.Build.ReuseFrom)); ok && ps.State.Satisfied() {
				b.BuildImage = slipway.BuildImage(ps.BuildKey)
			}
		case c.Build.Image != "":
			b.BuildID, b.BuildStatus, b.BuildImage = slipway.BuildIDNotNeeded, slipway.BuildSkipped, c.Build.Image
			b.BuildLongStatus = "Prebuilt image"
		case ok:
			b.BuildID = buildAttempt(bs.BuildKey, d.ID)
			switch {
			case d.ID == "": // a plan only: no attempt will be made of it
				b.BuildID = slipway.BuildIDNotYet
				if bs.Action == slipway.ActionReuse {
					b.BuildID = cmp.Or(madeBy[bs.BuildKey], bs.BuildKey)
				}
			case bs.Action == slipway.ActionReuse:
				// Reused: the attempt that made it, when its record is
				// kept; the key itself otherwise.
				b.BuildID = cmp.Or(madeBy[bs.BuildKey], bs.BuildKey)
			}
			b.BuildStatus = buildStatus(bs.State)
			b.BuildLongStatus = cmp.Or(bs.Detail, bs.Reason)
			if bs.State.Satisfied() {
				b.BuildImage = slipway.BuildImage(bs.BuildKey)
			}
		}
		builds[name] = b
		r := slipway.DeploymentRun{RunStatus: slipway.RunPending}
		if rs, ok := byKey(slipway.StepKey(slipway.StepRun, name)); ok {
			r.RunStatus = runStatus(rs.State)
			r.RunLongStatus = cmp.Or(rs.Detail, rs.Reason)
		}
		runs[name] = r
	}
	for _, st := range steps {
		if st.Kind == slipway.StepPrune {
			runs[st.Component] = slipway.DeploymentRun{RunStatus: runStatus(st.State), RunLongStatus: cmp.Or(st.Detail, "to be removed: "+st.Reason)}
		}
	}
	if d.Status.Final() {
		settleUnplanned(d, builds, runs)
	}
	return builds, runs
}

// settleUnplanned gives the builds and runs of a final deployment that
// are still pending (they have no step) their final state and the reason.
func settleUnplanned(d slipway.Deployment, builds map[string]slipway.DeploymentBuild, runs map[string]slipway.DeploymentRun) {
	why := d.LongStatus
	if why == "" {
		why = "the deployment ended " + string(d.Status)
	}
	for name, b := range builds {
		if b.BuildStatus != slipway.BuildPending {
			continue
		}
		b.BuildID = slipway.BuildIDNotNeeded
		if d.Status == slipway.DeploymentCancelled {
			b.BuildStatus, b.BuildLongStatus = slipway.BuildCancelled, "Not built: "+why
		} else {
			b.BuildStatus, b.BuildLongStatus = slipway.BuildSkipped, "Not built: "+why
		}
		builds[name] = b
	}
	for name, r := range runs {
		if r.RunStatus == slipway.RunPending {
			runs[name] = slipway.DeploymentRun{RunStatus: slipway.RunSkipped, RunLongStatus: "Not run: " + why}
		}
	}
}

func buildStatus(s slipway.StepState) slipway.BuildStatus {
	switch s {
	case slipway.StepPending, slipway.StepWaiting:
		return slipway.BuildPending
	case slipway.StepRunning:
		return slipway.BuildRunning
	case slipway.StepDone:
		return slipway.BuildSuccessful
	case slipway.StepUnchanged, slipway.StepSkipped:
		return slipway.BuildSkipped
	case slipway.StepFailed, slipway.StepTimedOut:
		return slipway.BuildFailed
	case slipway.StepCancelled:
		return slipway.BuildCancelled
	}
	return slipway.BuildUnknown
}

func runStatus(s slipway.StepState) slipway.RunStatus {
	switch s {
	case slipway.StepPending, slipway.StepRunning, slipway.StepWaiting:
		return slipway.RunPending
	case slipway.StepDone:
		return slipway.RunSuccessful
	case slipway.StepUnchanged, slipway.StepSkipped, slipway.StepCancelled:
		return slipway.RunSkipped
	case slipway.StepFailed, slipway.StepTimedOut:
		return slipway.RunFailed
	}
	return slipway.RunUnknown
}

// DeploymentEvents calls fn for each event of a deployment with Seq > after,
// in order, waiting for new ones. It returns nil after the event that makes
// the deployment final, or ctx's error.
func (s *Deployments) DeploymentEvents(ctx context.Context, tool, id string, after int64, fn func(slipway.Event) error) error {
	d, err := s.lookup(ctx, tool, id)
	if err != nil {
		return err
	}
	// deliver hands fn the events after `after`, in order; final says it
	// handed the one that makes the deployment final.
	deliver := func() (n int, final bool, err error) {
		evs, err := s.store.EventList(ctx, d.ID, after, 0)
		if err != nil {
			return 0, false, fmt.Errorf("events of %s: %w", d.ID, err)
		}
		for _, e := range evs {
			if err := fn(e); err != nil {
				return 0, false, err
			}
			after = e.Seq
			if e.Kind == "deployment" && slipway.DeploymentStatus(e.State).Final() {
				return len(evs), true, nil
			}
		}
		return len(evs), false, nil
	}
	for {
		woken := s.eng.changed(d.ID)
		n, final, err := deliver()
		if err != nil || final {
			return err
		}
		if n == 0 {
			// A deployment that is final with all events delivered (or whose
			// events were pruned) has nothing more to say. It may have become
			// final since the events were listed: the events of the
			// transaction that finished it are delivered first.
			cur, err := s.store.DeploymentGet(ctx, tool, d.ID)
			if err != nil {
				return notFound(err, "Deployment %s not found for tool %s", d.ID, tool)
			}
			if cur.Status.Final() {
				_, _, err := deliver()
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-woken:
		case <-time.After(s.cfg.RecheckInterval):
		}
	}
}
