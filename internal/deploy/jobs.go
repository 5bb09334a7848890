package deploy

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/target"
	"slipway.dev/slipway/internal/toolconfig"
)

// The jobs API (Toolforge's jobs-api shape) over what Slipway runs: one job
// per live component, named after it, plus the ad-hoc one-off jobs started
// through the API itself ([slipway.JobRun]).
//
// What the jobs API changes is recorded where the planner looks: deleting
// a job forgets its live run, so the next deployment starts it again; a
// job updated by [Service.JobUpsert] is recorded with its new spec, so the
// next deployment sees it differ from the config and reverts it.

// msgJobsDrift is Toolforge's warning for a job that is not up to date.
const msgJobsDrift = "The running version of job '%s' is different from what was configured, please recreate or redeploy."

// JobList returns the tool's jobs by name: its live components, then the
// ad-hoc one-off jobs whose name no live component has.
func (s *Service) JobList(ctx context.Context, tool string) ([]slipway.Job, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return nil, err
	}
	live, runs, err := s.jobRecords(ctx, tool)
	if err != nil {
		return nil, err
	}
	desired, err := s.desiredComponents(ctx, tool)
	if err != nil {
		return nil, err
	}
	jobs := make([]slipway.Job, 0, len(live)+len(runs))
	for _, r := range live {
		j, err := s.liveJob(ctx, r, desired)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	for _, r := range runs {
		if !slices.ContainsFunc(live, func(l slipway.LiveRun) bool { return l.Component == r.Name }) {
			j, err := s.runJob(ctx, r)
			if err != nil {
				return nil, err
			}
			jobs = append(jobs, j)
		}
	}
	slices.SortFunc(jobs, func(a, b slipway.Job) int { return strings.Compare(a.Component.Name, b.Component.Name) })
	return jobs, nil
}

// JobGet returns one job. Returns ENotFound when the tool has no job of
// this name.
func (s *Service) JobGet(ctx context.Context, tool, name string) (slipway.Job, error) {
	live, run, err := s.findJob(ctx, tool, name)
	if err != nil {
		return slipway.Job{}, err
	}
	if live != nil {
		desired, err := s.desiredComponents(ctx, tool)
		if err != nil {
			return slipway.Job{}, err
		}
		return s.liveJob(ctx, *live, desired)
	}
	return s.runJob(ctx, *run)
}

// JobLogs writes a job's logs to w: the last lines (all when 0), and with
// follow what is appended until ctx ends. Returns ENotFound when the tool
// has no job of this name.
func (s *Service) JobLogs(ctx context.Context, tool, name string, follow bool, lines int, w io.Writer) error {
	if lines < 0 {
		return slipway.Errorf(slipway.EInvalid, "lines must be a number of lines, at least 0 (0 means all), got %d.", lines)
	}
	if _, _, err := s.findJob(ctx, tool, name); err != nil {
		return err
	}
	if err := s.target.Logs(ctx, tool, name, target.LogOptions{Follow: follow, Lines: lines}, w); err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs of job %s of %s: %w", name, tool, err)
	}
	return nil
}

// JobRestart restarts the current generation of a continuous job (new
// processes with the same spec and build start beside the running ones
// and take over once healthy, as in a deployment; when they never are, the
// running ones are kept and the restart fails), or registers a scheduled
// job's schedule again. Returns ENotFound when
// there is no such job, EConflict for a one-off job.
func (s *Service) JobRestart(ctx context.Context, tool, name string) (string, error) {
	live, _, err := s.findJob(ctx, tool, name)
	if err != nil {
		return "", err
	}
	if live == nil || live.Type == slipway.OneOff {
		return "", slipway.Errorf(slipway.EConflict, "Job %s is a one-off job, which cannot be restarted: run it again with `slipway jobs run`.", name)
	}
	art, err := s.artifact(ctx, tool, name, live.BuildKey)
	if err != nil {
		return "", err
	}
	env, err := s.toolEnv(ctx, tool)
	if err != nil {
		return "", fmt.Errorf("restart job %s of %s: %w", name, tool, err)
	}
	spec := target.Spec{Tool: tool, Component: live.Spec, SpecHash: live.SpecHash, Artifact: art, Env: env.Values, RestartToken: "restart-" + randomHex()}
	res, err := s.target.Apply(ctx, spec)
	if err != nil {
		return "", fmt.Errorf("restart job %s of %s: %w", name, tool, err)
	}
	if live.Type == slipway.Continuous {
		if err := s.waitReplaced(ctx, tool, name); err != nil {
			return "", fmt.Errorf("restart job %s of %s: %w", name, tool, err)
		}
	}
	// The processes got the envvars of now: record it, so that the next
	// plan does not restart them again for envvars they already have.
	restarted := *live
	restarted.EnvFingerprints = env.Fingerprints
	if err := s.store.LiveRunPut(ctx, restarted); err != nil {
		return "", fmt.Errorf("restart job %s of %s: record it: %w", name, tool, err)
	}
	msg := res.Message
	if live.Type == slipway.Continuous {
		n := live.Spec.Run.ReplicaCount()
		msg = fmt.Sprintf("restarted %d %s", n, pluralize(n, "replica"))
	}
	return fmt.Sprintf("Job %s restarted: %s.", name, msg), nil
}

// waitReplaced waits, as a deployment does, for the new processes of a
// continuous job that was just applied to take over (healthy); when they
// never are, the running ones are kept and the error says so (EConflict).
func (s *Service) waitReplaced(ctx context.Context, tool, name string) error {
	hctx, cancel := context.WithTimeout(ctx, s.cfg.HealthTimeout)
	defer cancel()
	_, err := s.target.WaitHealthy(hctx, tool, name)
	if _, kept := errors.AsType[*target.KeptError](err); kept {
		return slipway.Errorf(slipway.EConflict, "The new processes of job %s were not healthy, so the running ones were kept: %v.", name, err)
	}
	return err
}

// JobDelete stops a job and forgets it. A job that is a component is then
// missing from what is live, so the next deployment starts it again (or
// runs a one-off again). Returns ENotFound when there is no such job.
func (s *Service) JobDelete(ctx context.Context, tool, name string) (string, error) {
	live, _, err := s.findJob(ctx, tool, name)
	if err != nil {
		return "", err
	}
	if err := s.forgetAndRemove(ctx, tool, []string{name}); err != nil {
		return "", err
	}
	if live != nil {
		// Only a component of the tool's config comes back with the next
		// deployment; a job made through the jobs API does not.
		if desired, err := s.desiredComponents(ctx, tool); err == nil {
			if _, inConfig := desired[name]; inConfig {
				return fmt.Sprintf("Job %s deleted: its processes are stopped and it is no longer live, so the next deployment starts it again.", name), nil
			}
		}
		return fmt.Sprintf("Job %s deleted: its processes are stopped; it is not in the tool's config, so no deployment starts it again.", name), nil
	}
	return fmt.Sprintf("Job %s deleted.", name), nil
}

// JobFlush deletes every job of the tool as [Service.JobDelete] does.
func (s *Service) JobFlush(ctx context.Context, tool string) (string, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return "", err
	}
	live, runs, err := s.jobRecords(ctx, tool)
	if err != nil {
		return "", err
	}
	var names []string
	for _, r := range live {
		names = append(names, r.Component)
	}
	for _, r := range runs {
		if !slices.Contains(names, r.Name) {
			names = append(names, r.Name)
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("Tool %s has no jobs to delete.", tool), nil
	}
	if err := s.forgetAndRemove(ctx, tool, names); err != nil {
		return "", err
	}
	return fmt.Sprintf("Deleted %d %s of %s: the processes are stopped and nothing is live any more, so the next deployment starts the tool's components again.",
		len(names), pluralize(len(names), "job"), tool), nil
}

// forgetAndRemove forgets the named jobs in one transaction, then stops
// them. Forgetting first means a failure to stop leaves at worst a process
// the next deployment converges again, never a live record of nothing.
func (s *Service) forgetAndRemove(ctx context.Context, tool string, names []string) error {
	err := s.store.InTx(ctx, func(tx store.Tx) error {
		for _, n := range names {
			if err := tx.LiveRunDelete(ctx, tool, n); err != nil {
				return err
			}
			if err := tx.JobRunDelete(ctx, tool, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete jobs of %s: %w", tool, err)
	}
	var errs []error
	for _, n := range names {
		if err := s.target.Remove(ctx, tool, n); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete jobs of %s: %w", tool, err)
	}
	return nil
}

// JobRunStart starts an ad-hoc one-off job: r.Command run with the build
// of the live component r.ImageName, at most r.Timeout seconds (0: the
// server's one-off bound). It returns at once, with the job pending. The
// job is listed until deleted. Returns EInvalid for a bad request,
// EConflict when a job of that name exists (unless it is an ad-hoc job
// that has finished: it is replaced).
func (s *Service) JobRunStart(ctx context.Context, tool string, r slipway.JobRun) (slipway.Job, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.Job{}, err
	}
	def := slipway.Job{Component: r.Component(), ImageName: r.ImageName}
	if err := checkJob(def); err != nil {
		return slipway.Job{}, err
	}
	if err := s.checkJobName(ctx, s.store, tool, r.Name); err != nil {
		return slipway.Job{}, err
	}
	image, err := s.imageOf(ctx, tool, r.ImageName)
	if err != nil {
		return slipway.Job{}, err
	}
	art, err := s.artifact(ctx, tool, r.ImageName, image.BuildKey)
	if err != nil {
		return slipway.Job{}, err
	}
	// Read before anything is recorded: a job that cannot get its envvars
	// is refused, never run without them.
	env, err := s.toolEnv(ctx, tool)
	if err != nil {
		return slipway.Job{}, fmt.Errorf("run job %s of %s: %w", r.Name, tool, err)
	}
	release, ok := s.oneOffs.tryTake(tool)
	if !ok {
		n := s.cfg.Limits.Quota.ConcurrentOneOffs
		return slipway.Job{}, slipway.Errorf(slipway.EConflict,
			"Tool %s already runs %d one-off %s at once (ad-hoc jobs and deployments' one-offs), the limit is %d: wait for one to finish (slipway jobs list), then run %s again.",
			tool, n, pluralize(n, "job"), n, r.Name)
	}
	r.Tool, r.BuildKey, r.Artifact = tool, image.BuildKey, art.Dir
	r.RunID, r.CreatedAt = r.Name+"-"+randomHex(), s.now()
	// From the check that the name is free to the record that takes it,
	// the tool's lock: two requests for one name never both pass, on any
	// server.
	err = s.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.ToolLock(ctx, tool, r.CreatedAt); err != nil {
			return err
		}
		if err := s.checkJobName(ctx, tx, tool, r.Name); err != nil {
			return err
		}
		return tx.JobRunPut(ctx, r)
	})
	if err != nil {
		release()
		if slipway.ErrorCode(err) == slipway.EConflict {
			return slipway.Job{}, err
		}
		return slipway.Job{}, fmt.Errorf("record job %s of %s: %w", r.Name, tool, err)
	}
	go func() {
		defer release()
		s.runAdHoc(context.WithoutCancel(ctx), r, art, env)
	}()
	return s.runJob(ctx, r)
}

// checkJobName returns EConflict when the tool has a component or an
// ad-hoc job named name that has not finished, or already lists as many
// ad-hoc jobs as its quota allows.
func (s *Service) checkJobName(ctx context.Context, q store.Queries, tool, name string) error {
	live, old, err := s.findJobIn(ctx, q, tool, name)
	switch {
	case slipway.ErrorCode(err) == slipway.ENotFound:
	case err != nil:
		return err
	case live != nil:
		return slipway.Errorf(slipway.EConflict, "A job with the name %s already exists", name)
	default:
		if st, ok, err := s.target.Status(ctx, tool, name); err != nil {
			return fmt.Errorf("status of job %s of %s: %w", name, tool, err)
		} else if !ok || st.LastRun == nil || st.State == "running" || st.LastRun.StartedAt.Before(old.CreatedAt) {
			return slipway.Errorf(slipway.EConflict, "A job with the name %s already exists", name)
		}
	}
	return s.checkAdHocCount(ctx, q, tool, name)
}

// checkAdHocCount refuses a new ad-hoc job when the tool already lists
// as many as its one-off quota (one of the same name is replaced, so it
// does not count): they stay listed until deleted, and each keeps a record
// and a log.
func (s *Service) checkAdHocCount(ctx context.Context, q store.Queries, tool, name string) error {
	runs, err := q.JobRunList(ctx, tool)
	if err != nil {
		return fmt.Errorf("list ad-hoc jobs of %s: %w", tool, err)
	}
	n := 0
	for _, r := range runs {
		if r.Name != name {
			n++
		}
	}
	if q := s.cfg.Limits.Quota.OneOff; n >= q {
		return slipway.Errorf(slipway.EConflict,
			"Tool %s already has %d ad-hoc one-off %s, the limit is %d: delete the finished ones (slipway jobs delete NAME) and run %s again.",
			tool, n, pluralize(n, "job"), q, name)
	}
	return nil
}

// runAdHoc runs an ad-hoc one-off job to its end; the target records the
// outcome, which the job's status reports.
func (s *Service) runAdHoc(ctx context.Context, r slipway.JobRun, art slipway.Artifact, env slipway.ToolEnv) {
	c := r.Component()
	if r.Timeout == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.OneOffTimeout)
		defer cancel()
	}
	spec := target.Spec{Tool: r.Tool, Component: c, SpecHash: c.SpecHash(), Artifact: art, Env: env.Values}
	if _, err := s.target.RunOnce(ctx, spec, r.RunID); err != nil {
		s.logger.WarnContext(ctx, "ad-hoc job did not run to its end", "tool", r.Tool, "job", r.Name, "err", err)
	}
}

// JobUpsert makes a job be def, as Toolforge's PATCH …/jobs does for one
// entry of a dump: a job that already is def is left alone (changed
// false, "Job X is already up to date"); a live continuous or scheduled
// job that differs is applied again with def and recorded with it, so the
// next deployment reverts it to the config; a job that does not exist is
// created (a one-off one is run as an ad-hoc job). One-off jobs cannot be
// updated (EConflict). Returns EInvalid when def is not a valid job.
func (s *Service) JobUpsert(ctx context.Context, tool string, def slipway.Job) (changed bool, msg string, err error) {
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
func (s *Service) createJob(ctx context.Context, tool string, def slipway.Job) (bool, string, error) {
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
func (s *Service) applyJob(ctx context.Context, tool string, c slipway.Component, imageName, deploymentID string) error {
	image, err := s.imageOf(ctx, tool, imageName)
	if err != nil {
		return err
	}
	art, err := s.artifact(ctx, tool, imageName, image.BuildKey)
	if err != nil {
		return err
	}
	env, err := s.toolEnv(ctx, tool)
	if err != nil {
		return fmt.Errorf("apply job %s of %s: %w", c.Name, tool, err)
	}
	spec := target.Spec{Tool: tool, Component: c, SpecHash: c.SpecHash(), Artifact: art, Env: env.Values}
	if prev, ok, err := s.liveRun(ctx, tool, c.Name); err != nil {
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
	err = s.store.LiveRunPut(ctx, slipway.LiveRun{
		Tool: tool, Component: c.Name, Type: c.Type, SpecHash: spec.SpecHash, BuildKey: image.BuildKey,
		Commit: image.Commit, Artifact: art.Dir, DeploymentID: deploymentID, Spec: c, AppliedAt: s.now(),
		EnvFingerprints: env.Fingerprints,
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

// jobRecords returns the tool's live runs and ad-hoc jobs.
func (s *Service) jobRecords(ctx context.Context, tool string) ([]slipway.LiveRun, []slipway.JobRun, error) {
	live, err := s.store.LiveRunList(ctx, tool)
	if err != nil {
		return nil, nil, fmt.Errorf("list live components of %s: %w", tool, err)
	}
	runs, err := s.store.JobRunList(ctx, tool)
	if err != nil {
		return nil, nil, fmt.Errorf("list ad-hoc jobs of %s: %w", tool, err)
	}
	return live, runs, nil
}

// findJob returns the live run or else the ad-hoc job named name; ENotFound
// when there is neither.
func (s *Service) findJob(ctx context.Context, tool, name string) (*slipway.LiveRun, *slipway.JobRun, error) {
	return s.findJobIn(ctx, s.store, tool, name)
}

// findJobIn is findJob reading through q (a transaction).
func (s *Service) findJobIn(ctx context.Context, q store.Queries, tool, name string) (*slipway.LiveRun, *slipway.JobRun, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return nil, nil, err
	}
	if err := validateJobName(name); err != nil {
		return nil, nil, err
	}
	live, err := q.LiveRunList(ctx, tool)
	if err != nil {
		return nil, nil, fmt.Errorf("list live components of %s: %w", tool, err)
	}
	if i := slices.IndexFunc(live, func(r slipway.LiveRun) bool { return r.Component == name }); i >= 0 {
		return &live[i], nil, nil
	}
	run, err := q.JobRunGet(ctx, tool, name)
	if err != nil {
		return nil, nil, notFound(err, "Job %s not found for tool %s", name, tool)
	}
	return nil, &run, nil
}

// imageOf returns the live component whose build a job uses. Returns
// EInvalid when there is none of that name.
func (s *Service) imageOf(ctx context.Context, tool, imageName string) (slipway.LiveRun, error) {
	live, err := s.store.LiveRunList(ctx, tool)
	if err != nil {
		return slipway.LiveRun{}, fmt.Errorf("list live components of %s: %w", tool, err)
	}
	names := make([]string, 0, len(live))
	for _, r := range live {
		if r.Component == imageName {
			return r, nil
		}
		names = append(names, r.Component)
	}
	valid := "there are none: deploy the tool first"
	if len(names) > 0 {
		valid = "one of " + strings.Join(names, ", ")
	}
	return slipway.LiveRun{}, slipway.Errorf(slipway.EInvalid, "imagename %q is not a live component of tool %s whose build the job could use: %s.", imageName, tool, valid)
}

// artifact returns the tool's build with key that job or component name
// uses.
func (s *Service) artifact(ctx context.Context, tool, name, key string) (slipway.Artifact, error) {
	art, ok, err := s.builder.Lookup(ctx, tool, key)
	if errors.Is(err, build.ErrCorrupt) {
		return slipway.Artifact{}, slipway.Errorf(slipway.EConflict, "The build %s that %s runs changed since it was built, so it is not used: deploy the tool again to rebuild it (%v).", key, name, err)
	}
	if err != nil {
		return slipway.Artifact{}, fmt.Errorf("look up build %s: %w", key, err)
	}
	if !ok {
		return slipway.Artifact{}, slipway.Errorf(slipway.EConflict, "The build %s that %s runs is missing: deploy the tool again.", key, name)
	}
	return art, nil
}

// desiredComponents returns the components of the tool's current config
// (nil when it has none), for the jobs' up_to_date.
func (s *Service) desiredComponents(ctx context.Context, tool string) (map[string]slipway.Component, error) {
	sc, err := s.store.ConfigGetLatest(ctx, tool)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("config of %s: %w", tool, err)
	}
	cfg, err := parseStored(sc.Raw)
	if err != nil {
		return nil, err
	}
	return cfg.Components, nil
}

// liveJob returns the job of a live component; desired are the config's
// components (nil without a config).
func (s *Service) liveJob(ctx context.Context, r slipway.LiveRun, desired map[string]slipway.Component) (slipway.Job, error) {
	st, ok, err := s.target.Status(ctx, r.Tool, r.Component)
	if err != nil {
		return slipway.Job{}, fmt.Errorf("status of job %s of %s: %w", r.Component, r.Tool, err)
	}
	j := slipway.Job{
		Component: r.Spec, ImageName: r.Spec.BuildFrom(), Image: "builds/" + r.BuildKey,
		ScheduleActual: st.Schedule, Status: jobStatus(r.Type, st, ok, s.now()),
	}
	j.Component.Name, j.Component.Type = r.Component, r.Type
	j.Status.UpToDate = true
	j.Status.Commit, j.Status.URL, j.Status.Since = r.Commit, st.URL, st.Since
	if r.Type == slipway.Continuous {
		healthy := ok && st.State == "running"
		j.Status.Healthy = &healthy
	}
	if desired != nil {
		c, inConfig := desired[r.Component]
		switch {
		case !inConfig:
			j.Status.UpToDate = false
			j.Status.Messages = append(j.Status.Messages, fmt.Sprintf("Job '%s' is not in the tool's config: the next deployment removes it.", r.Component))
		case c.SpecHash() != r.SpecHash || c.BuildFrom() != r.Spec.BuildFrom():
			j.Status.UpToDate = false
			j.Status.Messages = append(j.Status.Messages, fmt.Sprintf(msgJobsDrift, r.Component))
		}
	}
	return j, nil
}

// runJob returns the job of an ad-hoc one-off run.
func (s *Service) runJob(ctx context.Context, r slipway.JobRun) (slipway.Job, error) {
	st, ok, err := s.target.Status(ctx, r.Tool, r.Name)
	if err != nil {
		return slipway.Job{}, fmt.Errorf("status of job %s of %s: %w", r.Name, r.Tool, err)
	}
	j := slipway.Job{Component: r.Component(), ImageName: r.ImageName, Image: "builds/" + r.BuildKey, AdHoc: true}
	j.Status = jobStatus(slipway.OneOff, st, ok, s.now())
	if st.LastRun != nil && st.State != "running" && st.LastRun.StartedAt.Before(r.CreatedAt) {
		// The target's last run is an older run of this name.
		j.Status = slipway.JobStatus{Short: slipway.JobPending, Long: "Starting"}
	}
	if !ok || (st.State == "stopped" && st.LastRun == nil) {
		j.Status = slipway.JobStatus{Short: slipway.JobPending, Long: "Starting"}
	}
	j.Status.UpToDate = true
	return j, nil
}

// jobStatus maps what the target reports to a job status at now; ok is
// false when the target does not know the component.
func jobStatus(typ slipway.ComponentType, st target.Status, ok bool, now time.Time) slipway.JobStatus {
	if !ok || st.State == "stopped" {
		return slipway.JobStatus{Short: slipway.JobUnknown, Long: "Not running"}
	}
	js := slipway.JobStatus{Short: slipway.JobUnknown, Long: st.Message, NextSchedule: st.NextRun}
	if !st.Since.IsZero() {
		js.Duration = now.Sub(st.Since)
	}
	switch st.State {
	case "running":
		js.Short = slipway.JobRunning
	case "starting":
		js.Short = slipway.JobPending
	case "crashloop":
		js.Short = slipway.JobFailed
	case "succeeded":
		js.Short = slipway.JobSucceeded
	case "failed":
		js.Short = slipway.JobFailed
	case "scheduled":
		js.Short = slipway.JobPending
		if st.RunInProgress {
			js.Short = slipway.JobRunning
		}
	}
	if last := st.LastRun; last != nil {
		if typ == slipway.Scheduled {
			js.PreviousSchedule = last.StartedAt
		}
		if js.Short != slipway.JobRunning {
			js.Short = slipway.JobSucceeded
			if last.ExitCode != 0 || last.TimedOut {
				js.Short = slipway.JobFailed
			}
			js.Duration = last.FinishedAt.Sub(last.StartedAt)
		}
	}
	js.Duration = max(js.Duration, 0).Round(time.Second)
	if js.Long == "" {
		js.Long = cmp.Or(st.State, "unknown")
	}
	return js
}

// jobFields lists the run fields a job may set, by the job types that
// allow them, as Toolforge's jobs API does.
var jobFields = []struct {
	name  string
	types []slipway.ComponentType
	set   func(r slipway.RunSpec) bool
}{
	{"port", []slipway.ComponentType{slipway.Continuous}, func(r slipway.RunSpec) bool { return r.Port != 0 }},
	{"port_protocol", []slipway.ComponentType{slipway.Continuous}, func(r slipway.RunSpec) bool { return r.PortProtocol != "" }},
	{"publish", []slipway.ComponentType{slipway.Continuous}, func(r slipway.RunSpec) bool { return r.Publish != "" }},
	{"replicas", []slipway.ComponentType{slipway.Continuous}, func(r slipway.RunSpec) bool { return r.Replicas != 0 }},
	{"health_check", []slipway.ComponentType{slipway.Continuous}, func(r slipway.RunSpec) bool {
		return r.HealthCheckScript != "" || r.HealthCheckHTTP != ""
	}},
	{"schedule", []slipway.ComponentType{slipway.Scheduled}, func(r slipway.RunSpec) bool { return r.Schedule != "" }},
	{"timeout", []slipway.ComponentType{slipway.Scheduled, slipway.OneOff}, func(r slipway.RunSpec) bool { return r.Timeout != 0 }},
	{"retry", []slipway.ComponentType{slipway.Scheduled, slipway.OneOff}, func(r slipway.RunSpec) bool { return r.Retry != 0 }},
}

// validateJobName returns an EInvalid error when name cannot be a job's.
func validateJobName(name string) error {
	if !slipway.ValidName(name) {
		return slipway.Errorf(slipway.EInvalid, "Job name %q must be 1-%d lowercase letters, digits or dashes, starting and ending with a letter or digit.", name, slipway.MaxNameLength)
	}
	return nil
}

// checkJob returns an EInvalid error listing what is wrong with a job
// definition, naming the jobs API's fields.
func checkJob(def slipway.Job) error {
	c := def.Component
	var problems []string
	if err := validateJobName(c.Name); err != nil {
		problems = append(problems, slipway.ErrorMessage(err))
	}
	if strings.TrimSpace(c.Run.Command) == "" {
		problems = append(problems, "cmd is required: the command line the job runs.")
	}
	if def.ImageName == "" {
		problems = append(problems, "imagename is required: the live component whose build the job runs.")
	}
	if !slices.Contains(slipway.ComponentTypes, c.Type) {
		problems = append(problems, fmt.Sprintf("job_type must be one of continuous, scheduled, one-off, got %q.", c.Type))
	} else {
		for _, f := range jobFields {
			if f.set(c.Run) && !slices.Contains(f.types, c.Type) {
				problems = append(problems, fmt.Sprintf("%s is not valid for a %s job (only for %s).", f.name, c.Type, typeList(f.types)))
			}
		}
	}
	if len(problems) == 0 {
		problems = runProblems(c)
	}
	if len(problems) > 0 {
		return &slipway.Error{Code: slipway.EInvalid, Message: strings.Join(problems, "\n")}
	}
	return nil
}

// jobWords turns a tool config's words in toolconfig's messages into the
// jobs API's.
var jobWords = strings.NewReplacer(
	"command must", "cmd must",
	"health_check_http", "health_check of type http",
	"health_check_script", "health_check of type script",
	"a scheduled component", "a scheduled job",
	"the component", "the job",
)

// runProblems checks c's run fields as a tool config's are checked
// (quantities, ranges, the schedule, health check and publish rules), so
// that a job and a component accept the same values; the messages use the
// jobs API's field names.
func runProblems(c slipway.Component) []string {
	probe := c
	probe.Name = "job"
	probe.Build = slipway.BuildSpec{Source: &slipway.SourceBuild{Repository: "https://slipway.invalid/job.git", Ref: "main"}}
	probe.WaitFor = nil
	_, err := toolconfig.Parse([]byte(`{"components":{"job":` + string(toolconfig.ComponentJSON(probe)) + `}}`))
	pe, ok := errors.AsType[*toolconfig.ParseError](err)
	switch {
	case err == nil:
		return nil
	case !ok:
		return []string{slipway.ErrorMessage(err)}
	}
	out := make([]string, len(pe.Problems))
	for i, p := range pe.Problems {
		out[i] = jobWords.Replace(p.Message)
	}
	return out
}

// typeList names job types for a message: "scheduled or one-off jobs".
func typeList(ts []slipway.ComponentType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, " or ") + " jobs"
}

// randomHex returns 8 random hex digits.
func randomHex() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// pluralize returns s, or s with an "s" unless n is 1.
func pluralize(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}
