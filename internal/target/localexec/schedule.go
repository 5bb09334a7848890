package localexec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/robfig/cron/v3"

	"slipway.dev/slipway/internal/sandbox"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

// errDetached ends a run whose driver stopped without stopping processes.
var errDetached = errors.New("driver detached")

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// runScheduled is the cron job of generation gen of a scheduled component:
// it runs the command with the component's timeout and retries, unless the
// previous run is still going.
func (d *Driver) runScheduled(c *comp, gen int) {
	c.mu.Lock()
	if c.removed || c.gen != gen || !c.active {
		c.mu.Unlock()
		return
	}
	if c.runActive {
		c.mu.Unlock()
		d.logger.Warn("scheduled run skipped: previous run still running", "tool", c.tool, "name", c.name)
		return
	}
	c.runActive = true
	spec := c.spec
	ctx := c.runCtx
	c.mu.Unlock()
	rec := runRecord{ID: time.Now().UTC().Format("20060102-150405"), StartedAt: time.Now().UTC()}
	if d.cfg.AskEnv != nil {
		spec.AskEnv = d.cfg.AskEnv(c.tool, c.name, rec.ID) // this run's, never saved
	}
	d.scheduledAttempts(ctx, c, spec, rec, nil)
}

// loadScheduledRun adopts the scheduled run that state.json records in
// progress, when its process still runs, and finishes it (its remaining
// attempts included) in the background; d.mu is held.
func (d *Driver) loadScheduledRun(ctx context.Context, c *comp, rec runRecord, found map[string]procInfo) {
	log := d.logger.With("tool", c.tool, "name", c.name, "run", rec.ID)
	p, err := adoptRecorded(rec.PID, rec.PGID, rec.StartTime, rec.Instance, rec.StartedAt, rec.Cgroup, found)
	if err != nil {
		// It never started, or ended while no server watched it.
		log.InfoContext(ctx, "scheduled run not running any more")
		return
	}
	log.InfoContext(ctx, "adopted scheduled run", "pid", p.pid)
	rec.PID, rec.PGID, rec.StartTime, rec.Cgroup = p.pid, p.pgid, p.start, p.cg
	c.current = &rec
	c.runActive = true
	spec := c.spec
	// The run outlives Start: it runs in the component's lifetime context
	// (ended by Remove or Stop), not in Start's ctx.
	d.wg.Go(func() { d.scheduledAttempts(c.runCtx, c, spec, rec, p) })
}

// scheduledAttempts runs the attempts of scheduled run rec after
// rec.Attempts, first waiting for adopted when set (an attempt adopted from
// a previous server), and records the result; c.runActive is set and is
// cleared at the end. Each attempt is recorded in state.json (Current)
// before its process is spawned, and again with its pid.
func (d *Driver) scheduledAttempts(ctx context.Context, c *comp, spec target.Spec, rec runRecord, adopted *proc) {
	defer func() {
		c.mu.Lock()
		c.runActive = false
		c.current = nil
		c.notify()
		c.mu.Unlock()
	}()
	logPath := d.replicaLog(c.tool, c.name, 0)
	exitPath := filepath.Join(d.compDir(c.tool, c.name), "scheduled.exit")
	setCurrent := func() error {
		cur := rec
		c.mu.Lock()
		c.current = &cur
		c.mu.Unlock()
		return d.saveErr(c)
	}
	attempts := 1 + max(spec.Component.Run.Retry, 0)
	for adopted != nil || rec.Attempts < attempts {
		var res procResult
		var err error
		if p := adopted; p != nil {
			adopted = nil
			res, err = d.waitProcess(ctx, p, spec.Component.Run.Timeout, logPath)
			if err == nil && !res.TimedOut {
				res.ExitCode = readExit(exitPath, logPath)
			}
		} else {
			rec.Attempts++
			rec.Instance, rec.PID, rec.PGID, rec.StartTime = newInstanceID(), 0, 0, 0
			rec.Cgroup = sandbox.Cgroup{}
			if err = setCurrent(); err == nil {
				a := rec.Attempts
				res, err = d.runProcess(ctx, spec, rec.Instance, logPath, fmt.Sprintf("(scheduled run %s, attempt %d/%d) at %s ---", rec.ID, a, attempts, time.Now().UTC().Format(time.RFC3339)), exitPath, func(p *proc) error {
					rec.PID, rec.PGID, rec.StartTime, rec.Cgroup = p.pid, p.pgid, p.start, p.cg
					_ = setCurrent() // logged; the process runs regardless
					return nil
				})
			}
		}
		if err != nil {
			d.logger.Error("scheduled run failed to run", "tool", c.tool, "name", c.name, "err", err)
			if ctx.Err() != nil {
				return // stopped or removed: no result
			}
			rec.ExitCode = -1
			continue
		}
		rec.ExitCode, rec.TimedOut, rec.OOMKilled, rec.MemoryLimit = res.ExitCode, res.TimedOut, res.OOMKilled, res.MemoryLimit
		if res.ExitCode == 0 {
			break
		}
	}
	_ = os.Remove(exitPath) // read already; best effort, it may be missing
	rec.Instance, rec.PID, rec.PGID, rec.StartTime, rec.Cgroup = "", 0, 0, 0, sandbox.Cgroup{}
	rec.Finished = true
	rec.FinishedAt = time.Now().UTC()
	d.logger.Info("scheduled run finished", "tool", c.tool, "name", c.name, "exit_code", rec.ExitCode, "attempts", rec.Attempts, "timed_out", rec.TimedOut)
	c.mu.Lock()
	c.runs = append(c.runs, rec)
	if len(c.runs) > keepRuns {
		c.runs = slicesTail(c.runs, keepRuns)
	}
	c.current = nil
	c.mu.Unlock()
	d.save(c)
}

// readExit returns the exit status the sandbox left in exitPath (see
// [sandbox.Process.StatusFile]), or -1 (noting it in the log) when there
// is none.
func readExit(exitPath, logPath string) int {
	if n, ok := sandbox.ReadStatus(exitPath); ok {
		return n
	}
	appendLine(logPath, "--- process ended while no server watched it; exit status unknown ---")
	return -1
}

func slicesTail[T any](s []T, n int) []T {
	return append([]T(nil), s[len(s)-n:]...)
}

// procResult is how a process ended.
type procResult struct {
	ExitCode    int
	TimedOut    bool
	OOMKilled   bool
	MemoryLimit int64
	Duration    time.Duration
}

// runProcess runs spec's command to completion with its timeout, logging
// to logPath (first marker, see [Driver.spawn]), with instance ID instance
// (recorded by the caller beforehand); its exit status also goes to
// exitPath, for a server that adopts the run later. started, when set, is
// called with the process once it runs. When ctx ends first the process
// tree is stopped and the error wraps ctx.Err().
func (d *Driver) runProcess(ctx context.Context, spec target.Spec, instance, logPath, marker, exitPath string, started func(*proc) error) (procResult, error) {
	env, err := d.env(spec, 0)
	if err != nil {
		return procResult{}, err
	}
	if err := os.MkdirAll(d.compDir(spec.Tool, spec.Component.Name), 0o700); err != nil {
		return procResult{}, err
	}
	status, err := os.OpenFile(exitPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return procResult{}, err
	}
	p, err := d.spawn(ctx, spec, env, instance, logPath, marker, status)
	_ = status.Close() // the process holds its own copy
	if err != nil {
		return procResult{}, err
	}
	if spawnedFunc != nil {
		spawnedFunc(d, p.pid)
	}
	if started != nil {
		if err := started(p); err != nil {
			stopProc(p, d.cfg.StopTimeout)
			return procResult{}, err
		}
	}
	return d.waitProcess(ctx, p, spec.Component.Run.Timeout, logPath)
}

// waitProcess waits for p with a timeout in seconds (0: none), stopping its
// group on timeout or when ctx ends.
func (d *Driver) waitProcess(ctx context.Context, p *proc, timeoutSec int, logPath string) (procResult, error) {
	var timeout <-chan time.Time
	if timeoutSec > 0 {
		left := time.Until(p.startedAt.Add(time.Duration(timeoutSec) * time.Second))
		t := time.NewTimer(max(left, 0))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-p.exited:
		// Leftovers of the tree were killed as it ended (proc.ended).
		res := procResult{ExitCode: p.exitCode, OOMKilled: p.oom, Duration: time.Since(p.startedAt)}
		if p.oom {
			res.MemoryLimit = p.cg.Limits.MemoryBytes
			appendLine(logPath, "--- killed: "+slipway.OutOfMemory(res.MemoryLimit)+" ---")
		}
		return res, nil
	case <-timeout:
		stopProc(p, d.cfg.StopTimeout)
		appendLine(logPath, fmt.Sprintf("--- timed out after %ds, stopped ---", timeoutSec))
		code := p.exitCode
		if code == 0 {
			code = -1
		}
		return procResult{ExitCode: code, TimedOut: true, Duration: time.Since(p.startedAt)}, nil
	case <-ctx.Done():
		if d.detached.Load() {
			return procResult{}, fmt.Errorf("run: %w", errDetached)
		}
		stopProc(p, d.cfg.StopTimeout)
		appendLine(logPath, "--- cancelled, stopped ---")
		return procResult{}, fmt.Errorf("run: %w", ctx.Err())
	}
}

func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.WriteString(line + "\n")
}
