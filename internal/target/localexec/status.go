package localexec

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

// Status reports one component from memory; ok is false when it is
// unknown. State is "starting", "running" or "crashloop" for continuous
// components, "scheduled" for scheduled ones, "running", "succeeded" or
// "failed" for one-off ones, and "stopped" for anything not running.
func (d *Driver) Status(ctx context.Context, tool, name string) (target.Status, bool, error) {
	c := d.lookup(tool, name)
	if c == nil {
		return target.Status{}, false, nil
	}
	return d.withNextRun(c, d.status(c)), true, nil
}

// withNextRun fills in when a scheduled component fires next; the cron
// scheduler is asked without holding c.mu.
func (d *Driver) withNextRun(c *comp, s target.Status) target.Status {
	c.mu.Lock()
	id := c.cronID
	c.mu.Unlock()
	if id != 0 && d.cron != nil {
		s.NextRun = d.cron.Entry(id).Next
	}
	return s
}

// summary returns the summary of a finished run record.
func summary(r *runRecord) *target.RunSummary {
	if r == nil {
		return nil
	}
	return &target.RunSummary{StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, ExitCode: r.ExitCode, TimedOut: r.TimedOut, OOMKilled: r.OOMKilled}
}

// List reports every component of a tool, by name.
func (d *Driver) List(ctx context.Context, tool string) ([]target.Status, error) {
	comps := d.toolComps(tool)
	out := make([]target.Status, 0, len(comps))
	for _, c := range comps {
		out = append(out, d.withNextRun(c, d.status(c)))
	}
	return out, nil
}

func (d *Driver) status(c *comp) target.Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	run := c.spec.Component.Run
	s := target.Status{
		Tool: c.tool, Component: c.name, Type: c.spec.Component.Type,
		SpecHash: c.spec.SpecHash, BuildKey: c.spec.Artifact.Key, State: target.StateStopped,
	}
	switch s.Type {
	case slipway.Continuous:
		if !c.active {
			break
		}
		up, looping := 0, false
		var upSince time.Time
		var oom int64
		for _, r := range c.replicas {
			oom = max(oom, r.lastOOM)
			s.Restarts += r.restarts
			if r.proc != nil {
				up++
				if upSince.IsZero() || r.proc.startedAt.After(upSince) {
					upSince = r.proc.startedAt
				}
			}
			looping = looping || r.crashLooping(d.cfg.StartupTimeout)
		}
		s.Replicas = up
		s.Since = upSince
		switch {
		case looping:
			s.State = target.StateCrashLoop
			s.Message = fmt.Sprintf("%d of %d replicas up, crash looping", up, len(c.replicas))
		case up == len(c.replicas) && (c.healthy != nil || time.Since(upSince) >= d.cfg.HealthyAfter):
			s.State = target.StateRunning
			s.Message = fmt.Sprintf("%d %s up", up, plural(up, "replica"))
		default:
			s.State = target.StateStarting
			s.Message = fmt.Sprintf("%d of %d replicas up", up, len(c.replicas))
		}
		if s.Restarts > 0 {
			s.Message += fmt.Sprintf(", %d %s", s.Restarts, plural(s.Restarts, "restart"))
		}
		if oom > 0 {
			s.Message += ", last exit: " + slipway.OutOfMemory(oom)
		}
		if run.Publish != "" && d.cfg.ProxyBaseURL != nil {
			s.URL = d.cfg.ProxyBaseURL(c.tool)
		}
	case slipway.Scheduled:
		if !c.active {
			break
		}
		s.State = target.StateScheduled
		s.Schedule = c.schedule
		s.Message = fmt.Sprintf("schedule %q", c.schedule)
		if c.runActive {
			s.Message += ", running now"
			s.RunInProgress = true
			if c.current != nil {
				s.Since = c.current.StartedAt
			}
		}
		if n := len(c.runs); n > 0 {
			r := c.runs[n-1]
			s.LastRun = summary(&r)
			s.Message += fmt.Sprintf(", last run %s exited %d", r.StartedAt.Format(time.RFC3339), r.ExitCode)
			if r.TimedOut {
				s.Message += " (timed out)"
			}
			if r.OOMKilled {
				s.Message += " (" + slipway.OutOfMemory(r.MemoryLimit) + ")"
			}
		}
	case slipway.OneOff:
		switch {
		case c.running > 0:
			s.State = target.StateRunning
		case c.lastRun == nil:
		case c.lastRun.ExitCode == 0:
			s.State = target.StateSucceeded
		default:
			s.State = target.StateFailed
		}
		if r := c.lastRun; r != nil {
			s.LastRun = summary(r)
			s.Message = fmt.Sprintf("run %s exited %d after %s", r.ID, r.ExitCode, roundDuration(r.FinishedAt.Sub(r.StartedAt)))
			if r.OOMKilled {
				s.Message += " (" + slipway.OutOfMemory(r.MemoryLimit) + ")"
			}
		}
	}
	return s
}

// toolComps returns the components of tool, by name.
func (d *Driver) toolComps(tool string) []*comp {
	d.mu.Lock()
	var comps []*comp
	for k, c := range d.comps {
		if k.tool == tool {
			comps = append(comps, c)
		}
	}
	d.mu.Unlock()
	slices.SortFunc(comps, func(a, b *comp) int { return strings.Compare(a.name, b.name) })
	return comps
}
