package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/target"
)

// jobRecords returns the tool's live runs and ad-hoc jobs.
func (s *Jobs) jobRecords(ctx context.Context, tool string) ([]slipway.LiveRun, []slipway.JobRun, error) {
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
func (s *Jobs) findJob(ctx context.Context, tool, name string) (*slipway.LiveRun, *slipway.JobRun, error) {
	return s.findJobIn(ctx, s.store, tool, name)
}

// findJobIn is findJob reading through q (a transaction).
func (s *Jobs) findJobIn(ctx context.Context, q store.Queries, tool, name string) (*slipway.LiveRun, *slipway.JobRun, error) {
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
func (s *Jobs) imageOf(ctx context.Context, tool, imageName string) (slipway.LiveRun, error) {
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
func (s *Jobs) artifact(ctx context.Context, tool, name, key string) (slipway.Artifact, error) {
	art, ok, err := lookupArtifact(ctx, s.builder, tool, key)
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
func (s *Jobs) desiredComponents(ctx context.Context, tool string) (map[string]slipway.Component, error) {
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
func (s *Jobs) liveJob(ctx context.Context, r slipway.LiveRun, desired map[string]slipway.Component) (slipway.Job, error) {
	st, ok, err := s.target.Status(ctx, r.Tool, r.Component)
	if err != nil {
		return slipway.Job{}, fmt.Errorf("status of job %s of %s: %w", r.Component, r.Tool, err)
	}
	j := slipway.Job{
		Component: r.Spec, ImageName: r.Spec.BuildFrom(), Image: slipway.BuildImage(r.BuildKey),
		ScheduleActual: st.Schedule, Status: jobStatus(r.Type, st, ok, s.now()),
	}
	j.Component.Name, j.Component.Type = r.Component, r.Type
	j.Status.UpToDate = true
	j.Status.Commit, j.Status.URL, j.Status.Since = r.Commit, st.URL, st.Since
	if r.Type == slipway.Continuous {
		healthy := ok && st.State == target.StateRunning
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
func (s *Jobs) runJob(ctx context.Context, r slipway.JobRun) (slipway.Job, error) {
	st, ok, err := s.target.Status(ctx, r.Tool, r.Name)
	if err != nil {
		return slipway.Job{}, fmt.Errorf("status of job %s of %s: %w", r.Name, r.Tool, err)
	}
	j := slipway.Job{Component: r.Component(), ImageName: r.ImageName, Image: slipway.BuildImage(r.BuildKey), AdHoc: true}
	j.Status = jobStatus(slipway.OneOff, st, ok, s.now())
	if st.LastRun != nil && st.State != target.StateRunning && st.LastRun.StartedAt.Before(r.CreatedAt) {
		// The target's last run is an older run of this name.
		j.Status = slipway.JobStatus{Short: slipway.JobPending, Long: "Starting"}
	}
	if !ok || (st.State == target.StateStopped && st.LastRun == nil) {
		j.Status = slipway.JobStatus{Short: slipway.JobPending, Long: "Starting"}
	}
	j.Status.UpToDate = true
	return j, nil
}

// jobStatus maps what the target reports to a job status at now; ok is
// false when the target does not know the component.
func jobStatus(typ slipway.ComponentType, st target.Status, ok bool, now time.Time) slipway.JobStatus {
	if !ok || st.State == target.StateStopped {
		return slipway.JobStatus{Short: slipway.JobUnknown, Long: "Not running"}
	}
	js := slipway.JobStatus{Short: slipway.JobUnknown, Long: st.Message, NextSchedule: st.NextRun}
	if !st.Since.IsZero() {
		js.Duration = now.Sub(st.Since)
	}
	switch st.State {
	case target.StateRunning:
		js.Short = slipway.JobRunning
	case target.StateStarting:
		js.Short = slipway.JobPending
	case target.StateCrashLoop:
		js.Short = slipway.JobFailed
	case target.StateSucceeded:
		js.Short = slipway.JobSucceeded
	case target.StateFailed:
		js.Short = slipway.JobFailed
	case target.StateStopped:
		js.Short = slipway.JobUnknown
	case target.StateScheduled:
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
		js.Long = cmp.Or(string(st.State), "unknown")
	}
	return js
}
