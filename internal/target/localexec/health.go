package localexec

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

const (
	probeTimeout     = 5 * time.Second // per probe, as Toolforge's startup probe
	firstPoll        = 2 * time.Millisecond
	firstPollFor     = 100 * time.Millisecond // most apps are up by then
	fastPoll         = 10 * time.Millisecond  // also the switch's delay in a surge
	scriptPoll       = 25 * time.Millisecond
	fastPollFor      = 5 * time.Second
	maxPoll          = 100 * time.Millisecond
	errNotFoundMsg   = "Component %s of tool %s is not running."
	healthyMsgFormat = "healthy after %s"
)

// WaitHealthy blocks until the component's current generation is healthy:
// with health_check_http every replica answers GET 127.0.0.1:<port><path>
// with 2xx; with health_check_script the script exits 0 (run like the
// component, once per replica); with only a port every replica accepts a TCP
// connection; otherwise every replica stayed up for HealthyAfter. Probes
// start at once and repeat after 2ms, each wait half again as long, up to
// 10ms (25ms for a health_check_script, each probe a process) for the first
// 5s after the start and 100ms later (an app in its sandbox takes a few ms
// more to listen: a first wait of 10ms made most deploys wait for the second
// probe; in a surge the wait is how long traffic stays on the old
// replicas after the new ones are ready), and also whenever
// a replica starts or exits. A crash loop (three exits) fails at once, and
// so does ctx ending (StartupTimeout when ctx has no deadline); both errors
// carry the last log lines. Scheduled components are healthy at once. An
// unknown or stopped component is a [slipway.ENotFound] error.
func (d *Driver) WaitHealthy(ctx context.Context, tool, name string) (target.HealthResult, error) {
	fail := func(err error) (target.HealthResult, error) {
		return target.HealthResult{}, fmt.Errorf("wait healthy %s/%s: %w", tool, name, err)
	}
	c := d.lookup(tool, name)
	if c == nil {
		return fail(slipway.Errorf(slipway.ENotFound, errNotFoundMsg, name, tool))
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.cfg.StartupTimeout)
		defer cancel()
	}
	c.mu.Lock()
	if c.removed || !c.active {
		c.mu.Unlock()
		return fail(slipway.Errorf(slipway.ENotFound, errNotFoundMsg, name, tool))
	}
	ro, gen := c.last, c.gen
	c.mu.Unlock()
	if ro != nil {
		// The last Apply started a surge: its outcome is the answer.
		h, err := waitRollout(ctx, ro)
		if err != nil {
			return fail(err)
		}
		return h, nil
	}
	h, err := d.waitGen(ctx, c, gen)
	if err != nil {
		return fail(err)
	}
	return h, nil
}

// waitGen waits until generation gen of c is healthy (see WaitHealthy).
func (d *Driver) waitGen(ctx context.Context, c *comp, gen int) (target.HealthResult, error) {
	tool, name := c.tool, c.name
	fail := func(err error) (target.HealthResult, error) { return target.HealthResult{}, err }
	interval := firstPoll
	last := "not probed yet"
	var ports portCheck
	for {
		c.mu.Lock()
		spec, genStart, reps, ok := c.generation(gen)
		if c.removed || !ok {
			c.mu.Unlock()
			return fail(slipway.Errorf(slipway.ENotFound, errNotFoundMsg, name, tool))
		}
		if spec.Component.Type == slipway.Scheduled {
			msg := fmt.Sprintf("scheduled %q", c.schedule)
			c.mu.Unlock()
			return target.HealthResult{Message: msg}, nil
		}
		if spec.Component.Type != slipway.Continuous {
			c.mu.Unlock()
			return fail(slipway.Errorf(slipway.EInvalid, "Component %s is not continuous.", name))
		}
		if h := c.healthy; h != nil && c.gen == gen {
			c.mu.Unlock()
			return *h, nil
		}
		var looping []int
		var oom int64
		exited := false
		targets := make([]probeTarget, 0, len(reps))
		for _, r := range reps {
			if r.crashLooping(d.cfg.StartupTimeout) {
				looping = append(looping, r.index)
				oom = max(oom, r.lastOOM)
			}
			exited = exited || len(r.exits) > 0
			t := probeTarget{index: r.index, port: r.port}
			if r.proc != nil {
				t.up = true
				t.since = r.proc.startedAt
				if at := r.proc.appAt.Load(); at != 0 {
					t.since = time.Unix(0, at)
				}
				t.pgid = r.proc.pgid
				t.proc = r.proc
			}
			targets = append(targets, t)
		}
		changed := c.changed
		c.mu.Unlock()

		if len(looping) > 0 {
			why := ""
			if oom > 0 {
				why = ", the last time " + slipway.OutOfMemory(oom)
			}
			return fail(fmt.Errorf("crash loop (replica %s exited %d times%s)%s",
				joinInts(looping), crashLoopExits, why, d.logTail(tool, name, gen, reps, looping)))
		}
		ok, msg, wait := d.probeAll(ctx, spec, targets)
		if ok {
			after := time.Since(genStart)
			h := target.HealthResult{After: after, Message: fmt.Sprintf(healthyMsgFormat, roundDuration(after))}
			c.mu.Lock()
			if c.gen == gen {
				c.healthy = &h
			}
			c.mu.Unlock()
			return h, nil
		}
		if msg != "" {
			last = msg
		}
		if wrong := ports.check(spec, genStart, targets); wrong != "" {
			return fail(fmt.Errorf("%s%s", wrong, d.logTail(tool, name, gen, reps, nil)))
		}
		if wait <= 0 {
			wait = interval
			// Poll fast while a start is likely to finish soon: this is
			// on the path of every deploy.
			// A probe of a port not open yet costs a refused connect.
			limit := maxPoll
			switch since := time.Since(genStart); {
			case since < firstPollFor:
				limit = firstPoll
			case since < fastPollFor:
				limit = fastPoll
			}
			if spec.Component.Run.HealthCheckScript != "" {
				// A script probe is a sandboxed process start (~10 ms).
				limit = max(limit, scriptPoll)
			}
			interval = min(interval*3/2, limit)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			tail := ""
			if exited {
				tail = d.logTail(tool, name, gen, reps, nil)
			}
			return fail(fmt.Errorf("not healthy (%s)%s: %w", last, tail, context.Cause(ctx)))
		case <-changed:
			t.Stop()
		case <-t.C:
		}
	}
}

type probeTarget struct {
	index int
	port  int
	pgid  int
	up    bool
	since time.Time
	// proc is the replica's process, for its start marker.
	proc *proc
}

// probeAll probes every replica. When not healthy, msg says why and wait,
// when positive, is when to look again.
func (d *Driver) probeAll(ctx context.Context, spec target.Spec, targets []probeTarget) (ok bool, msg string, wait time.Duration) {
	run := spec.Component.Run
	if run.HealthCheckHTTP != "" && run.Port <= 0 {
		return false, "health_check_http needs a port", 0
	}
	for _, t := range targets {
		if !t.up {
			return false, fmt.Sprintf("replica %d is not running", t.index), 0
		}
	}
	for _, t := range targets {
		var err error
		switch {
		case run.HealthCheckHTTP != "":
			err = d.probeHTTP(ctx, t.port, run.HealthCheckHTTP)
		case run.HealthCheckScript != "":
			err = d.probeScript(ctx, spec, t.port)
		case run.Port > 0:
			err = probeTCP(ctx, t.port)
		default:
			if p := t.proc; p != nil && p.marker != "" && t.since.Equal(p.startedAt) {
				// Up counts from the app's start, not the sandbox's: a
				// command that exits at once must not pass for one that
				// stayed up while its sandbox was being set up.
				if !startMarked(p.logPath, p.logOffset, p.marker) {
					return false, fmt.Sprintf("replica %d starting", t.index), firstPoll
				}
				p.appAt.CompareAndSwap(0, time.Now().UnixNano())
				return false, fmt.Sprintf("replica %d up for 0s", t.index), d.cfg.HealthyAfter
			}
			if up := time.Since(t.since); up < d.cfg.HealthyAfter {
				return false, fmt.Sprintf("replica %d up for %s", t.index, roundDuration(up)), d.cfg.HealthyAfter - up
			}
		}
		if err != nil {
			return false, fmt.Sprintf("replica %d: %v", t.index, err), 0
		}
	}
	return true, "", 0
}

// portCheck notices an app that listens, but not on its $PORT: a port
// hard-coded in the app, which the probes would wait on until the
// timeout. Once a replica has listened elsewhere and not on $PORT for
// wrongPortFor, check says so.
type portCheck struct {
	last  time.Time // when the sockets were last looked at
	since time.Time // when the wrong port was first seen, in a row
}

const (
	wrongPortEvery = 200 * time.Millisecond
	wrongPortFor   = time.Second
)

func (p *portCheck) check(spec target.Spec, genStart time.Time, targets []probeTarget) string {
	if spec.Component.Run.Port <= 0 || time.Since(genStart) < wrongPortEvery || time.Since(p.last) < wrongPortEvery {
		return ""
	}
	p.last = time.Now()
	for _, t := range targets {
		if !t.up {
			continue
		}
		addrs := listening(t.pgid)
		if len(addrs) == 0 || listensOn(addrs, t.port) {
			continue
		}
		if p.since.IsZero() {
			p.since = time.Now()
		}
		if time.Since(p.since) < wrongPortFor {
			return ""
		}
		return fmt.Sprintf("the app does not listen on its port: replica %d listens on %s, but its port is %d, given in $PORT "+
			"(the proxy and the health check connect there); make the app listen on $PORT rather than on a fixed port: "+
			"each replica gets a port of its own, so that a new version can start beside the old one",
			t.index, strings.Join(addrs, ", "), t.port)
	}
	p.since = time.Time{}
	return ""
}

func (d *Driver) probeHTTP(ctx context.Context, port int, path string) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "slipway-health-check")
	resp, err := d.probe.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close() // only the status matters; the body is not read
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return nil
}

func probeTCP(ctx context.Context, port int) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	return conn.Close()
}

func (d *Driver) probeScript(ctx context.Context, spec target.Spec, port int) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	env, err := d.env(spec, port)
	if err != nil {
		return err
	}
	// The script runs like the component: in the tool's sandbox, with the
	// component's limits, in a cgroup of its own.
	var out bytes.Buffer
	p := d.process(spec, env, "health-"+newInstanceID(), &out, &out, nil)
	p.Command = spec.Component.Run.HealthCheckScript
	cmd, err := d.sb.Command(ctx, p)
	if err != nil {
		return fmt.Errorf("health check script: %w", err)
	}
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	cmd.Cgroup.Kill()
	cmd.Cgroup.Remove()
	if err != nil {
		if s := strings.TrimSpace(out.String()); s != "" {
			return fmt.Errorf("health check script: %w: %s", err, lastLine(s))
		}
		return fmt.Errorf("health check script: %w", err)
	}
	return nil
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

// logTail returns "\n" and the last log lines generation gen wrote of the
// given replicas (those of reps that exited when nil), for error messages.
func (d *Driver) logTail(tool, name string, gen int, reps []*replica, replicas []int) string {
	if c := d.lookup(tool, name); replicas == nil && c != nil {
		c.mu.Lock()
		for _, r := range reps {
			if len(r.exits) > 0 {
				replicas = append(replicas, r.index)
			}
		}
		c.mu.Unlock()
	}
	if len(replicas) == 0 {
		replicas = []int{0}
	}
	var b strings.Builder
	for _, i := range replicas[:1] {
		if t := genTail(d.replicaLog(tool, name, i), gen, logTailLines); t != "" {
			fmt.Fprintf(&b, "\nlast log lines of replica %d (generation %d):\n%s", i, gen, t)
		}
	}
	return b.String()
}

// markerWindow is how far after its offset a start marker is looked for:
// in a surge the old generation's replica may write to the same log
// meanwhile. Past it the marker counts as written, so that a chatty
// neighbour cannot hold a rollout up.
const markerWindow = 256 << 10

// startMarked reports whether the launcher's start marker ("--- started
// pid <pid> " and marker) is in the log at path after offset.
func startMarked(path string, offset int64, marker string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, markerWindow)
	n, _ := f.ReadAt(buf, offset)
	return n == len(buf) || bytes.Contains(buf[:n], []byte(marker))
}
