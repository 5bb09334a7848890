package localexec

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

// replica is one process slot of a continuous component, kept running by
// its supervisor goroutine.
type replica struct {
	index int
	stop  chan struct{} // closed to end supervision
	done  chan struct{} // closed when the supervisor has returned
	// detach, set before stop is closed, leaves the process running.
	detach   bool
	stopOnce sync.Once
	// grace is the time between SIGTERM and SIGKILL when it is stopped.
	grace time.Duration
	// inflight counts the proxy's requests being served by this replica.
	inflight atomic.Int64

	// Guarded by comp.mu.
	port int
	proc *proc // current process, nil while waiting to restart
	// instance is the instance ID of proc, or of the process about to be
	// spawned, and intentAt when that spawn was decided.
	instance string
	intentAt time.Time
	restarts int
	exits    []time.Time // recent exits, for crash-loop detection
	lastExit int
	// lastOOM is the memory limit (bytes, 1 when unknown) when the last
	// exit was an out-of-memory kill, else 0.
	lastOOM int64
}

// halt ends r's supervision (once): its process is stopped, or with
// detach left running. comp.mu is held or r is not shared yet.
func (r *replica) halt(detach bool) {
	r.stopOnce.Do(func() {
		r.detach = detach
		close(r.stop)
	})
}

// spawnReplica starts one process of replica r, which must be in
// c.replicas and not running: it records a fresh instance ID for it in
// state.json, spawns the process with that ID in its environment, and
// records the process (r.proc, its pid in state.json; a restart counts in
// r.restarts). A server dying at any point of this leaves either no process
// or one the next server finds (see [Driver.Start]).
func (d *Driver) spawnReplica(ctx context.Context, c *comp, spec target.Spec, r *replica, gen int, restart bool) (*proc, error) {
	env, err := d.env(spec, r.port)
	if err != nil {
		return nil, fmt.Errorf("replica %d: %w", r.index, err)
	}
	if err := os.MkdirAll(d.compDir(c.tool, c.name), 0o700); err != nil {
		return nil, fmt.Errorf("replica %d: %w", r.index, err)
	}
	id := newInstanceID()
	c.mu.Lock()
	r.instance, r.intentAt = id, time.Now()
	c.mu.Unlock()
	if err := d.saveErr(c); err != nil {
		// Without the intent on disk a crash could leave an unknown process.
		return nil, fmt.Errorf("replica %d: %w", r.index, err)
	}
	p, err := d.spawn(ctx, spec, env, id, d.replicaLog(c.tool, c.name, r.index), fmt.Sprintf("(generation %d) at %s ---", gen, time.Now().UTC().Format(time.RFC3339)), nil)
	if err != nil {
		return nil, fmt.Errorf("replica %d: %w", r.index, err)
	}
	if spawnedFunc != nil {
		spawnedFunc(d, p.pid)
	}
	c.mu.Lock()
	r.proc = p
	if restart {
		r.restarts++
	}
	c.notify()
	c.mu.Unlock()
	d.save(c)
	return p, nil
}

// supervise keeps replica r of generation gen running until r.stop is
// closed, starting with p (nil: start one).
func (d *Driver) supervise(c *comp, r *replica, gen int, p *proc) {
	defer d.wg.Done()
	defer close(r.done)
	// Supervision outlives the Apply or Start that began it: it runs in the
	// driver's lifetime context, created by Start. It ends on r.stop, never
	// on ctx (Stop closes r.stop before cancelling ctx).
	ctx := d.ctx
	backoff := time.Second
	log := d.logger.With("tool", c.tool, "name", c.name, "replica", r.index)
	for {
		if p == nil {
			c.mu.Lock()
			spec, _, _, ok := c.generation(gen)
			port := r.port
			c.mu.Unlock()
			if !ok {
				// Replaced or abandoned while this replica was down.
				<-r.stop
				return
			}
			if port > 0 && !portFree(ctx, port) {
				// Someone took the port while we were down: move.
				if ps, err := freePorts(ctx, 1); err == nil {
					port = ps[0]
					c.mu.Lock()
					r.port = port
					c.mu.Unlock()
					d.holdPorts(ctx, c)
				}
			}
			np, err := d.spawnReplica(ctx, c, spec, r, gen, true)
			if err != nil {
				log.Error("replica not started", "err", err)
				c.mu.Lock()
				r.exits = append(r.exits, time.Now())
				r.lastExit = -1
				c.notify()
				c.mu.Unlock()
			} else {
				p = np
				log.Info("replica restarted", "pid", p.pid)
			}
		}
		if p != nil {
			select {
			case <-r.stop:
				if !r.detach {
					grace := cmp.Or(r.grace, d.cfg.StopTimeout)
					if d.stopping.Load() {
						grace = min(grace, d.cfg.StopTimeout)
					}
					stopProc(p, grace)
				}
				return
			case <-p.exited:
			}
			// Leftovers of the tree were killed as it ended (proc.ended): none
			// holds the port or the log.
			now := time.Now()
			c.mu.Lock()
			if now.Sub(p.startedAt) >= resetAfter {
				backoff = time.Second
				r.exits = nil
			}
			r.exits = append(r.exits, now)
			r.lastExit = p.exitCode
			r.lastOOM = 0
			if p.oom {
				r.lastOOM = max(p.cg.Limits.MemoryBytes, 1)
				appendLine(d.replicaLog(c.tool, c.name, r.index), "--- killed: "+slipway.OutOfMemory(p.cg.Limits.MemoryBytes)+" ---")
			}
			r.proc = nil
			c.notify()
			c.mu.Unlock()
			log.Warn("replica exited", "pid", p.pid, "exit_code", p.exitCode, "oom_killed", p.oom, "uptime", now.Sub(p.startedAt).Round(time.Millisecond), "restart_in", backoff)
			p = nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-r.stop:
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// crashLooping reports whether r exited crashLoopExits times within window;
// comp.mu is held.
func (r *replica) crashLooping(window time.Duration) bool {
	n := 0
	cut := time.Now().Add(-window)
	for _, t := range r.exits {
		if t.After(cut) {
			n++
		}
	}
	return n >= crashLoopExits
}
