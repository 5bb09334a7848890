package localexec

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"slipway.dev/slipway/internal/sandbox"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

// inflightRun is a RunOnce in progress, for callers with the same run ID.
type inflightRun struct {
	done chan struct{}
	res  target.RunResult
	err  error
}

var runIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// RunOnce runs spec's command to completion, logging to runs/<runID>.log
// and recording the result in runs/<runID>.json. It is idempotent on runID:
// a recorded result is returned, a run of this driver in progress is waited
// for, and a run left by a previous server that still runs is adopted and
// waited for. Run.Timeout stops the process group (the result has TimedOut
// in the json and a marker in the log). A non-zero exit code is not an
// error; errors mean the command could not be run, or ctx ended first (then
// the process is stopped and no result is recorded, so a retry runs again).
func (d *Driver) RunOnce(ctx context.Context, spec target.Spec, runID string) (target.RunResult, error) {
	fail := func(err error) (target.RunResult, error) {
		return target.RunResult{}, fmt.Errorf("run %s/%s %s: %w", spec.Tool, spec.Component.Name, runID, err)
	}
	if err := validateSpec(spec); err != nil {
		return fail(err)
	}
	if !runIDRE.MatchString(runID) {
		return fail(slipway.Errorf(slipway.EInvalid, "Invalid run ID %q.", runID))
	}
	done, ok := d.track()
	if !ok {
		return fail(errors.New("driver not running"))
	}
	defer done()
	key := spec.Tool + "/" + spec.Component.Name + "/" + runID
	for {
		d.mu.Lock()
		f := d.inflight[key]
		if f == nil {
			f = &inflightRun{done: make(chan struct{})}
			d.inflight[key] = f
			d.mu.Unlock()
			defer func() {
				d.mu.Lock()
				delete(d.inflight, key)
				d.mu.Unlock()
				close(f.done)
			}()
			f.res, f.err = d.runOnce(ctx, spec, runID)
			if f.err != nil {
				return fail(f.err)
			}
			return f.res, nil
		}
		d.mu.Unlock()
		select {
		case <-f.done:
			if f.err == nil {
				return f.res, nil
			}
			// The first caller gave up (its ctx ended): take over.
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
}

func (d *Driver) runOnce(ctx context.Context, spec target.Spec, runID string) (target.RunResult, error) {
	c, err := d.acquire(spec.Tool, spec.Component.Name)
	if err != nil {
		return target.RunResult{}, err
	}
	c.mu.Lock()
	if !c.active {
		// One-off only: do not clobber an applied component's spec. The
		// run's ask token is its own: kept for no later process.
		c.spec = spec
		c.spec.AskEnv = nil
	}
	c.mu.Unlock()
	c.op.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer c.afterRunsEnd(cancel)() // Remove or Stop end the run too

	dir := filepath.Join(d.compDir(spec.Tool, spec.Component.Name), "runs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return target.RunResult{}, err
	}
	jsonPath := filepath.Join(dir, runID+".json")
	logPath := d.runLog(spec.Tool, spec.Component.Name, runID)
	exitPath := filepath.Join(dir, runID+".exit")

	var rec runRecord
	err = readJSON(jsonPath, &rec)
	switch {
	case err == nil && rec.Finished:
		return runResult(rec, logPath), nil
	case err == nil:
		if res, ok, err := d.adoptRun(ctx, c, spec, rec, jsonPath, logPath, exitPath); ok {
			return res, err
		}
		// Recorded before its spawn, and nothing ran: run it now.
	case !errors.Is(err, fs.ErrNotExist):
		return target.RunResult{}, err
	}

	// The intent first: a server dying after the spawn but before the pid
	// is written leaves a process the next server finds by this ID.
	rec = runRecord{ID: runID, Instance: newInstanceID(), StartedAt: time.Now().UTC()}
	if err := writeJSON(jsonPath, rec); err != nil {
		return target.RunResult{}, err
	}
	d.setRunning(c, 1, nil)
	res, err := d.runProcess(ctx, spec, rec.Instance, logPath, fmt.Sprintf("(run %s) at %s ---", runID, time.Now().UTC().Format(time.RFC3339)), exitPath, func(p *proc) error {
		rec.PID, rec.PGID, rec.StartTime, rec.Cgroup = p.pid, p.pgid, p.start, p.cg
		return writeJSON(jsonPath, rec)
	})
	if err != nil {
		if !errors.Is(err, errDetached) {
			// No result: forget the run so that a retry runs it again.
			// Best effort, as the files may be missing already.
			_ = os.Remove(jsonPath)
			_ = os.Remove(exitPath)
		}
		d.setRunning(c, -1, nil)
		return target.RunResult{}, err
	}
	rec.Finished, rec.FinishedAt, rec.ExitCode, rec.TimedOut = true, time.Now().UTC(), res.ExitCode, res.TimedOut
	rec.OOMKilled, rec.MemoryLimit, rec.Cgroup = res.OOMKilled, res.MemoryLimit, sandbox.Cgroup{}
	return d.finishRun(c, rec, jsonPath, logPath, exitPath)
}

// adoptRun finishes a run recorded by a previous server: it waits for the
// process when it still runs (the recorded pid, or else the process Start
// found by instance ID), and reads the exit status the wrapper left. ok is
// false when the record is only an intent and nothing ran: no process
// found, no exit status.
func (d *Driver) adoptRun(ctx context.Context, c *comp, spec target.Spec, rec runRecord, jsonPath, logPath, exitPath string) (res target.RunResult, ok bool, err error) {
	pid, pgid, start := rec.PID, rec.PGID, rec.StartTime
	if !alive(pid, start) {
		if f, found := d.takeOrphan(rec.Instance); found {
			pid, pgid, start = f.pid, f.pgid, f.start
		} else if _, ended := sandbox.ReadStatus(exitPath); rec.PID == 0 && !ended {
			// Only the intent was recorded: no pid, no process found, no
			// exit status. Not an error: the caller runs it now.
			return target.RunResult{}, false, nil
		}
	}
	d.setRunning(c, 1, nil)
	if p, err := adopt(pid, pgid, start, rec.StartedAt, rec.Cgroup); err == nil {
		d.logger.InfoContext(ctx, "adopted run", "tool", spec.Tool, "name", spec.Component.Name, "run", rec.ID, "pid", p.pid, "recorded", pid == rec.PID)
		if pid != rec.PID {
			rec.PID, rec.PGID, rec.StartTime = pid, pgid, start
			_ = writeJSON(jsonPath, rec) // best effort: the process runs regardless
		}
		res, err := d.waitProcess(ctx, p, spec.Component.Run.Timeout, logPath)
		if err != nil {
			if !errors.Is(err, errDetached) {
				// No result: forget the run so that a retry runs it again.
				// Best effort, as the files may be missing already.
				_ = os.Remove(jsonPath)
				_ = os.Remove(exitPath)
			}
			d.setRunning(c, -1, nil)
			return target.RunResult{}, true, err
		}
		rec.TimedOut, rec.OOMKilled, rec.MemoryLimit = res.TimedOut, res.OOMKilled, res.MemoryLimit
	}
	rec.ExitCode = -1
	if !rec.TimedOut {
		rec.ExitCode = readExit(exitPath, logPath)
	}
	rec.Finished, rec.FinishedAt, rec.Cgroup = true, time.Now().UTC(), sandbox.Cgroup{}
	res, err = d.finishRun(c, rec, jsonPath, logPath, exitPath)
	return res, true, err
}

func (d *Driver) finishRun(c *comp, rec runRecord, jsonPath, logPath, exitPath string) (target.RunResult, error) {
	err := writeJSON(jsonPath, rec)
	_ = os.Remove(exitPath) // best effort: the run is finished, a leftover is never read
	d.setRunning(c, -1, &rec)
	d.save(c)
	if err != nil {
		return target.RunResult{}, err
	}
	return runResult(rec, logPath), nil
}

func (d *Driver) setRunning(c *comp, delta int, last *runRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running += delta
	if last != nil {
		c.lastRun = last
	}
	c.notify()
}

func runResult(rec runRecord, logPath string) target.RunResult {
	return target.RunResult{
		ExitCode:    rec.ExitCode,
		TimedOut:    rec.TimedOut,
		OOMKilled:   rec.OOMKilled,
		MemoryLimit: rec.MemoryLimit,
		Duration:    rec.FinishedAt.Sub(rec.StartedAt),
		LogTail:     tailLines(logPath, logTailLines),
	}
}
