package localexec

import (
	"os"
	"path/filepath"
	"time"

	"slipway.dev/slipway/internal/logfile"
	"slipway.dev/slipway/internal/slipway"
)

// DefaultLogCheckInterval is how often the logs of running processes are
// checked for rotation by default: at 10 MiB a process must write more
// than 2 MiB/s for a log to pass its limit by half between two checks.
const DefaultLogCheckInterval = 5 * time.Second

// rotateLogs checks the logs of what runs every LogCheckInterval until the
// driver stops (its lifetime context ends), rotating those past their size
// limit by copy and truncation (the processes hold them open with
// O_APPEND). Started by Start; d.wg counts it.
func (d *Driver) rotateLogs() {
	defer d.wg.Done()
	t := time.NewTicker(d.cfg.LogCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
		d.rotatePass()
	}
}

// rotatePass stats the log of every process that may be writing (replicas
// of active continuous components, the log of an active scheduled one,
// the run logs of components with one-off runs in progress) and rotates
// those past the limit. It returns how many logs it looked at and rotated.
func (d *Driver) rotatePass() (checked, rotated int) {
	for _, path := range d.writtenLogs() {
		checked++
		fi, err := os.Stat(path)
		if err != nil || fi.Size() <= d.cfg.LogMaxSize {
			continue
		}
		ok, err := logfile.CopyTruncate(path, d.cfg.LogMaxSize, d.cfg.LogMaxFiles)
		if err != nil {
			d.logger.Warn("log not rotated", "path", path, "err", err)
			continue
		}
		if ok {
			rotated++
		}
	}
	return checked, rotated
}

// writtenLogs returns the logs that processes of the driver may be
// appending to now.
func (d *Driver) writtenLogs() []string {
	d.mu.Lock()
	comps := make([]*comp, 0, len(d.comps))
	for _, c := range d.comps {
		comps = append(comps, c)
	}
	d.mu.Unlock()
	var paths []string
	for _, c := range comps {
		c.mu.Lock()
		typ, active, replicas, oneOffs := c.spec.Component.Type, c.active, len(c.replicas), c.running
		c.mu.Unlock()
		switch {
		case active && typ == slipway.Continuous:
			for i := range replicas {
				paths = append(paths, d.replicaLog(c.tool, c.name, i))
			}
		case active && typ == slipway.Scheduled:
			paths = append(paths, d.replicaLog(c.tool, c.name, 0))
		}
		if oneOffs > 0 {
			runs, _ := filepath.Glob(filepath.Join(d.compDir(c.tool, c.name), "runs", "*.log")) // a bad pattern is impossible here
			paths = append(paths, runs...)
		}
	}
	return paths
}
