package localexec

import (
	"context"
	"net/http"
	"sync"

	"slipway.dev/slipway/internal/edge"
)

// spawnHooks are the OnSpawned functions, by driver.
var spawnHooks sync.Map // *Driver → func(pid int)

func init() {
	spawnedFunc = func(d *Driver, pid int) {
		if f, ok := spawnHooks.Load(d); ok {
			f.(func(int))(pid)
		}
	}
}

// OnSpawned makes d call f with the pid of every process it spawns, right
// after the spawn and before the pid is recorded anywhere: blocking in f
// freezes d in the window a crash must survive.
func (d *Driver) OnSpawned(f func(pid int)) { spawnHooks.Store(d, f) }

// FindInstances is findInstances, returning pid and pgid by instance ID.
func FindInstances(ids ...string) map[string][2]int {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	out := map[string][2]int{}
	for id, p := range findInstances(want) {
		out[id] = [2]int{p.pid, p.pgid}
	}
	return out
}

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

// NextPorts returns the ports of the replicas of the rollout in progress
// (none when there is none).
func (d *Driver) NextPorts(tool, name string) []int {
	c := d.lookup(tool, name)
	c.mu.Lock()
	defer c.mu.Unlock()
	var ports []int
	if c.next != nil {
		for _, r := range c.next.replicas {
			ports = append(ports, r.port)
		}
	}
	return ports
}

// Proxy returns the front door serving d's published components at
// "<tool>.localhost", as the server does.
func (d *Driver) Proxy() http.Handler {
	p, err := edge.New(edge.Config{Backends: d})
	if err != nil {
		panic(err) // the default limits are valid
	}
	return p
}
