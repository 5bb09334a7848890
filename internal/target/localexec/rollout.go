package localexec

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

// rollout is a surge replacement of a continuous component: generation gen
// of spec, started beside the generation that serves. Its replicas take
// traffic only once all of them are healthy (promotion); when they never
// are, they are stopped and the serving generation stays.
type rollout struct {
	gen      int
	spec     target.Spec
	start    time.Time
	replicas []*replica
	// cancel ends the wait for health; the cause says why (a WaitHealthy
	// that gave up, a newer Apply, Remove, the driver stopping).
	cancel context.CancelCauseFunc
	done   chan struct{} // closed once promoted or abandoned
	// held, when not nil, gives the outcome of holding the new replicas'
	// ports (the firewall's bookkeeping, see [sandbox.Sandbox.HoldPorts]):
	// it runs beside the start and the health checks, and the rollout is
	// promoted only once it succeeded.
	held <-chan error

	// Set before done is closed.
	result target.HealthResult
	err    error // nil when promoted; a *target.KeptError otherwise
}

// errSuperseded ends a rollout that a newer Apply replaces.
var errSuperseded = errors.New("replaced by a newer version before it was healthy")

// generation returns generation gen of c: the rollout's, or the one that
// serves; ok is false when gen is neither any more. c.mu is held.
func (c *comp) generation(gen int) (spec target.Spec, start time.Time, reps []*replica, ok bool) {
	if ro := c.next; ro != nil && ro.gen == gen {
		return ro.spec, ro.start, ro.replicas, true
	}
	if c.active && c.gen == gen {
		return c.spec, c.genStart, c.replicas, true
	}
	return target.Spec{}, time.Time{}, nil, false
}

// newGen returns a generation number not used before by c; c.mu is held.
func (c *comp) newGen() int {
	c.genSeq = max(c.genSeq, c.gen) + 1
	return c.genSeq
}

// serving reports whether c has a continuous generation with a replica
// up and none crash looping: one worth keeping while a new one starts.
// c.mu is held.
func (d *Driver) serving(c *comp) bool {
	if !c.active || c.spec.Component.Type != slipway.Continuous {
		return false
	}
	up := false
	for _, r := range c.replicas {
		if r.crashLooping(d.cfg.StartupTimeout) {
			return false
		}
		up = up || r.proc != nil
	}
	return up
}

// healthyNow reports whether c runs what it should: for a continuous
// component, a replica up and none crash looping (a replica down for a
// moment is being restarted by its supervisor); c.mu is held.
func (d *Driver) healthyNow(c *comp) bool {
	if !c.active {
		return false
	}
	if c.spec.Component.Type != slipway.Continuous {
		return true
	}
	return d.serving(c)
}

// surge starts generation spec beside the serving one of c and returns
// at once; a goroutine promotes it once healthy or abandons it. c.op is
// held, no rollout is in progress.
func (d *Driver) surge(ctx context.Context, c *comp, spec target.Spec) (target.ApplyResult, error) { //nolint:contextcheck // the ports are held in the rollout's lifetime (rctx derives from d.ctx), not Apply's
	n := spec.Component.Run.ReplicaCount()
	ports := make([]int, n)
	if spec.Component.Run.Port > 0 {
		var err error
		if ports, err = freePorts(ctx, n); err != nil {
			return target.ApplyResult{}, err
		}
	}
	rctx, cancel := context.WithCancelCause(d.ctx)
	held := make(chan error, 1)
	c.mu.Lock()
	ro := &rollout{gen: c.newGen(), spec: spec, start: time.Now(), cancel: cancel, done: make(chan struct{}), held: held}
	for i := range n {
		ro.replicas = append(ro.replicas, &replica{index: i, port: ports[i], grace: d.grace(spec), stop: make(chan struct{}), done: make(chan struct{})})
	}
	c.next, c.last = ro, ro
	c.notify()
	c.mu.Unlock()
	// The new ports become the tool's (a few ms of nft) beside the spawns
	// and the health checks, which reach the replicas as the server: the
	// tool's own processes (a health check script) reach them once it is
	// done, and traffic moves only then (runRollout). It ends with the
	// rollout (rctx), not with Apply's caller.
	d.wg.Go(func() { held <- d.holdPortsErr(rctx, c) })
	procs := make([]*proc, n)
	var err error
	for i, r := range ro.replicas {
		if procs[i], err = d.spawnReplica(ctx, c, spec, r, ro.gen, false); err != nil {
			break
		}
	}
	if err != nil {
		if herr := <-held; herr != nil {
			err = errors.Join(err, herr)
		}
		cancel(err)
		for _, p := range procs {
			if p != nil {
				stopProc(p, d.cfg.StopTimeout)
			}
		}
		c.mu.Lock()
		c.next, c.last = nil, nil
		c.notify()
		c.mu.Unlock()
		// A WaitHealthy that took the rollout meanwhile gets the failure.
		ro.err = &target.KeptError{Err: fmt.Errorf("generation %d not started: %w", ro.gen, err)}
		close(ro.done)
		d.holdPorts(ctx, c)
		d.save(c)
		return target.ApplyResult{}, err
	}
	for i, r := range ro.replicas {
		d.wg.Add(1)
		go d.supervise(c, r, ro.gen, procs[i])
	}
	d.wg.Add(1)
	go d.runRollout(rctx, c, ro) //nolint:contextcheck // the rollout outlives Apply, in the driver's lifetime (rctx derives from d.ctx)
	return target.ApplyResult{Changed: true, Message: fmt.Sprintf("restarting %d %s (the running ones serve until the new are healthy)", n, plural(n, "replica"))}, nil
}

// runRollout waits for ro's generation to be healthy, then switches
// traffic to it and drains the generation it replaces; or, when ctx ends
// or it crash loops first, stops it and keeps the serving one.
func (d *Driver) runRollout(ctx context.Context, c *comp, ro *rollout) {
	defer d.wg.Done()
	deadline, cancel := context.WithTimeoutCause(ctx, d.cfg.StartupTimeout,
		fmt.Errorf("not healthy within %s: %w", d.cfg.StartupTimeout, context.DeadlineExceeded))
	defer cancel()
	h, err := d.waitGen(deadline, c, ro.gen)
	if err == nil && ro.held != nil {
		select {
		case herr := <-ro.held:
			if herr != nil {
				err = fmt.Errorf("the new replicas' ports: %w", herr)
			}
		case <-deadline.Done():
			err = context.Cause(deadline)
		}
	}
	c.mu.Lock()
	if err == nil && c.next == ro {
		old := c.replicas
		keptGen := c.gen
		c.spec, c.gen, c.genStart, c.replicas = ro.spec, ro.gen, ro.start, ro.replicas
		c.healthy = &h
		c.next = nil
		c.draining = append(c.draining, old...)
		ro.result = h
		c.notify()
		c.mu.Unlock()
		d.save(c)
		close(ro.done)
		d.logger.Info("traffic switched to the new generation", "tool", c.tool, "name", c.name,
			"generation", ro.gen, "replaced", keptGen, "healthy_after", h.After)
		d.drain(ctx, c, old)
		return
	}
	if err == nil {
		err = errSuperseded
	}
	if d.detached.Load() {
		// The driver stops as if the server crashed: the rollout's
		// processes stay for the next server, which resumes it.
		c.mu.Unlock()
		ro.err = &target.KeptError{Err: fmt.Errorf("generation %d: %w", ro.gen, err)}
		close(ro.done)
		return
	}
	if c.next == ro {
		c.next = nil
	}
	kept := c.gen
	c.notify()
	c.mu.Unlock()
	stopAll(ro.replicas)
	d.holdPorts(context.WithoutCancel(ctx), c)
	d.save(c)
	ro.err = &target.KeptError{Err: fmt.Errorf("generation %d: %w", ro.gen, err)}
	close(ro.done)
	d.logger.Warn("new generation abandoned, the running one kept", "tool", c.tool, "name", c.name,
		"generation", ro.gen, "kept", kept, "err", err)
}

// waitRollout waits for ro to be decided; when ctx ends first the rollout
// is abandoned (ctx's cause says why).
func waitRollout(ctx context.Context, ro *rollout) (target.HealthResult, error) {
	select {
	case <-ro.done:
	case <-ctx.Done():
		ro.cancel(context.Cause(ctx))
		<-ro.done
	}
	return ro.result, ro.err
}

// drain stops the replicas of a replaced generation once the proxy has no
// request in flight to them (or after their grace period), then lets each
// stop gracefully: SIGTERM, the grace period (stop_grace_period, else
// StopTimeout), SIGKILL.
func (d *Driver) drain(ctx context.Context, c *comp, old []*replica) {
	ctx = context.WithoutCancel(ctx) // the ports are set right even once the rollout's wait is over
	var grace time.Duration
	for _, r := range old {
		grace = max(grace, cmp.Or(r.grace, d.cfg.StopTimeout))
	}
	deadline := time.Now().Add(grace)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for inflight(old) > 0 && time.Now().Before(deadline) {
		select {
		case <-tick.C:
		case <-d.ctx.Done():
		}
		if d.ctx.Err() != nil {
			break
		}
	}
	if d.detached.Load() {
		return // left running, as a crash of the server would
	}
	stopAll(old)
	c.mu.Lock()
	c.draining = removeAll(c.draining, old)
	c.mu.Unlock()
	d.holdPorts(ctx, c)
	d.save(c)
}

// stopAll stops the processes of reps (all at once, each with its grace)
// and waits for their supervisors to return.
func stopAll(reps []*replica) {
	for _, r := range reps {
		r.halt(false)
	}
	for _, r := range reps {
		<-r.done
	}
}

func inflight(reps []*replica) int64 {
	var n int64
	for _, r := range reps {
		n += r.inflight.Load()
	}
	return n
}

func removeAll(reps, gone []*replica) []*replica {
	out := reps[:0]
	for _, r := range reps {
		drop := false
		for _, g := range gone {
			drop = drop || r == g
		}
		if !drop {
			out = append(out, r)
		}
	}
	return out
}
