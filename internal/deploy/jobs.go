package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/target"
)

// The jobs API (Toolforge's jobs-api shape) over what Slipway runs: one job
// per live component, named after it, plus the ad-hoc one-off jobs started
// through the API itself ([slipway.JobRun]).
//
// What the jobs API changes is recorded where the planner looks: deleting
// a job forgets its live run, so the next deployment starts it again; a
// job updated by [Jobs.JobUpsert] is recorded with its new spec, so the
// next deployment sees it differ from the config and reverts it.

// msgJobsDrift is Toolforge's warning for a job that is not up to date.
const msgJobsDrift = "The running version of job '%s' is different from what was configured, please recreate or redeploy."

// Jobs is the application service of the jobs API (httpapi.JobsService):
// the tool's live components as jobs, and the ad-hoc one-off jobs it runs
// itself. Ad-hoc jobs run in this process: [Jobs.Stop] waits for them.
type Jobs struct {
	app
	// adHoc are the goroutines of the ad-hoc runs (runAdHoc).
	adHoc background
}

// NewJobs returns the jobs service over eng.
func NewJobs(eng *Engine) *Jobs { return &Jobs{app: newApp(eng)} }

// Stop waits, until ctx ends, for the ad-hoc runs going on to return; the
// target's stop ends them (its one-off runs stop with it), so call it after
// that. JobRunStart starts none after it.
func (s *Jobs) Stop(ctx context.Context) error {
	return s.adHoc.stop(ctx, "ad-hoc jobs", nil)
}

// JobList returns the tool's jobs by name: its live components, then the
// ad-hoc one-off jobs whose name no live component has.
func (s *Jobs) JobList(ctx context.Context, tool string) ([]slipway.Job, error) {
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
func (s *Jobs) JobGet(ctx context.Context, tool, name string) (slipway.Job, error) {
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
func (s *Jobs) JobLogs(ctx context.Context, tool, name string, follow bool, lines int, w io.Writer) error {
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
func (s *Jobs) JobRestart(ctx context.Context, tool, name string) (string, error) {
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
	env, err := s.eng.InstanceEnv(ctx, tool)
	if err != nil {
		return "", fmt.Errorf("restart job %s of %s: %w", name, tool, err)
	}
	spec := target.Spec{Tool: tool, Component: live.Spec, SpecHash: live.SpecHash, Artifact: art, RestartToken: "restart-" + randomHex()}
	spec.Env, spec.SecretEnv = env.Split()
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
func (s *Jobs) waitReplaced(ctx context.Context, tool, name string) error {
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
func (s *Jobs) JobDelete(ctx context.Context, tool, name string) (string, error) {
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

// JobFlush deletes every job of the tool as [Jobs.JobDelete] does.
func (s *Jobs) JobFlush(ctx context.Context, tool string) (string, error) {
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
func (s *Jobs) forgetAndRemove(ctx context.Context, tool string, names []string) error {
	at := s.now()
	err := s.store.InTx(ctx, func(tx store.Tx) error {
		live, err := tx.LiveRunList(ctx, tool)
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := tx.LiveRunDelete(ctx, tool, n); err != nil {
				return err
			}
			// A component that was live is removed: its release says so,
			// with the delete. An ad-hoc job is no component.
			if slices.ContainsFunc(live, func(r slipway.LiveRun) bool { return r.Component == n }) {
				if err := jobRelease(ctx, tx, tool, n, nil, at); err != nil {
					return err
				}
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
func (s *Jobs) JobRunStart(ctx context.Context, tool string, r slipway.JobRun) (slipway.Job, error) {
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
	env, err := s.eng.InstanceEnv(ctx, tool)
	if err != nil {
		return slipway.Job{}, fmt.Errorf("run job %s of %s: %w", r.Name, tool, err)
	}
	release, ok := s.eng.tryOneOff(tool)
	if !ok {
		n := s.cfg.Limits.Quota.ConcurrentOneOffs
		return slipway.Job{}, slipway.Errorf(slipway.EConflict,
			"Tool %s already runs %d one-off %s at once (ad-hoc jobs and deployments' one-offs), the limit is %d: wait for one to finish (slipway jobs list), then run %s again.",
			tool, n, pluralize(n, "job"), n, r.Name)
	}
	r.Tool, r.BuildKey, r.Artifact = tool, image.BuildKey, art.Ref()
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
	run := func() {
		defer release()
		s.runAdHoc(context.WithoutCancel(ctx), r, art, env)
	}
	if !s.adHoc.start(nil, run) {
		release()
		return slipway.Job{}, slipway.Errorf(slipway.EUnavailable, "The server is stopping, so job %s was not started: run it again once the server is back.", r.Name)
	}
	return s.runJob(ctx, r)
}

// checkJobName returns EConflict when the tool has a component or an
// ad-hoc job named name that has not finished, or already lists as many
// ad-hoc jobs as its quota allows.
func (s *Jobs) checkJobName(ctx context.Context, q store.Queries, tool, name string) error {
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
		} else if !ok || st.LastRun == nil || st.State == target.StateRunning || st.LastRun.StartedAt.Before(old.CreatedAt) {
			return slipway.Errorf(slipway.EConflict, "A job with the name %s already exists", name)
		}
	}
	return s.checkAdHocCount(ctx, q, tool, name)
}

// checkAdHocCount refuses a new ad-hoc job when the tool already lists
// as many as its one-off quota (one of the same name is replaced, so it
// does not count): they stay listed until deleted, and each keeps a record
// and a log.
func (s *Jobs) checkAdHocCount(ctx context.Context, q store.Queries, tool, name string) error {
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
func (s *Jobs) runAdHoc(ctx context.Context, r slipway.JobRun, art slipway.Artifact, env slipway.ToolEnv) {
	c := r.Component()
	if r.Timeout == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.OneOffTimeout)
		defer cancel()
	}
	spec := target.Spec{Tool: r.Tool, Component: c, SpecHash: c.SpecHash(), Artifact: art}
	spec.Env, spec.SecretEnv = env.Split()
	if _, err := s.target.RunOnce(ctx, spec, r.RunID); err != nil {
		s.logger.WarnContext(ctx, "ad-hoc job did not run to its end", "tool", r.Tool, "job", r.Name, "err", err)
	}
}
