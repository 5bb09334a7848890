package localexec

import (
	"context"
)

// Detach stops d as a crash would: supervision ends, processes keep running.
func (d *Driver) Detach(ctx context.Context) error { return d.stop(ctx, true) }

// Procs returns the pid and pgid of each replica's current process (0 while
// restarting).
func (d *Driver) Procs(tool, name string) (pids, pgids []int) {
	c := d.lookup(tool, name)
	if c == nil {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.replicas {
		if r.proc == nil {
			pids, pgids = append(pids, 0), append(pgids, 0)
			continue
		}
		pids, pgids = append(pids, r.proc.pid), append(pgids, r.proc.pgid)
	}
	return pids, pgids
}

// TriggerScheduled runs the scheduled component now, as cron would, and
// returns when the run is over.
func (d *Driver) TriggerScheduled(tool, name string) {
	c := d.lookup(tool, name)
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	d.runScheduled(c, gen)
}

// ScheduledRun is a scheduled run's result as kept in state.json.
type ScheduledRun = runRecord

// ScheduledRuns returns the kept scheduled run results.
func (d *Driver) ScheduledRuns(tool, name string) []ScheduledRun {
	var st stateFile
	if err := readJSON(d.statePath(tool, name), &st); err != nil {
		return nil
	}
	return st.Runs
}

// GroupAlive is groupAlive.
var GroupAlive = groupAlive

// Ports returns each replica's port.
func (d *Driver) Ports(tool, name string) []int {
	c := d.lookup(tool, name)
	c.mu.Lock()
	defer c.mu.Unlock()
	var ports []int
	for _, r := range c.replicas {
		ports = append(ports, r.port)
	}
	return ports
}
