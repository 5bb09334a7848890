package localexec

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"slipway.dev/slipway/internal/edge"
	"slipway.dev/slipway/internal/logfile"
	"slipway.dev/slipway/internal/sandbox"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

// Defaults of [Config].
const (
	DefaultStopTimeout    = 10 * time.Second
	DefaultHealthyAfter   = 2 * time.Second
	DefaultStartupTimeout = 120 * time.Second
)

const (
	maxBackoff     = 60 * time.Second
	resetAfter     = 60 * time.Second // uptime after which backoff and crash count reset
	crashLoopExits = 3
	keepRuns       = 10
	logTailLines   = 10
)

// Config configures a [Driver]. Zero values mean the documented default.
type Config struct {
	// Dir holds state and logs (see the package doc). Required.
	Dir string
	// HomeDir returns the working HOME of a tool's processes; default
	// Dir/<tool>/home. It is created when missing.
	HomeDir func(tool string) string
	// Logger receives the driver's logs; default slog.Default().
	Logger *slog.Logger
	// StopTimeout is the grace between SIGTERM and SIGKILL; default 10s.
	StopTimeout time.Duration
	// HealthyAfter is how long every replica must stay up to be healthy
	// when a component has neither a port nor a health check; default 2s.
	HealthyAfter time.Duration
	// StartupTimeout bounds WaitHealthy when its ctx has no deadline, and is
	// the window in which three exits make a crash loop; default 120s.
	StartupTimeout time.Duration
	// ProxyBaseURL returns where a tool's published component answers, e.g.
	// "http://<tool>.localhost:8080/", for [target.Status].URL; default none.
	ProxyBaseURL func(tool string) string
	// Path is the PATH given to processes when the sandbox is off; default
	// the server's $PATH. Sandboxed processes get the sandbox's.
	Path string
	// Sandbox confines the processes; default a sandbox that is off.
	Sandbox *sandbox.Sandbox
	// Limits returns the limits of a component's processes (its memory and
	// cpu with the server's defaults); default none.
	Limits func(spec target.Spec) sandbox.Limits
	// LogMaxSize and LogMaxFiles bound each process log: past LogMaxSize
	// bytes it is rotated, keeping LogMaxFiles files in all (see
	// internal/logfile); defaults logfile.DefaultMaxSize and
	// DefaultMaxFiles (10 MiB × 5). LogCheckInterval is how often the logs
	// are checked; default DefaultLogCheckInterval.
	LogMaxSize       int64
	LogMaxFiles      int
	LogCheckInterval time.Duration
	// AskEnv, when set, returns the environment with which run run of
	// scheduled component component of tool may ask questions (`slipway
	// ask`): a scheduled run belongs to no deployment step, so the target
	// asks for it at each run. Nil: scheduled runs cannot ask.
	AskEnv func(tool, component, run string) map[string]string
}

// Driver runs components as processes on this host. Create it with [New];
// its lifecycle is:
//
//  1. [Driver.Start] adopts processes left running by a previous server and
//     starts the cron scheduler;
//  2. [Driver.Restore] converges what the store says is live;
//  3. the [target.Driver] methods, safe for concurrent use;
//  4. [Driver.Stop] stops every process. It is idempotent and safe before
//     Start; a stopped Driver cannot be started again.
type Driver struct {
	cfg    Config
	logger *slog.Logger
	probe  *http.Client
	sb     *sandbox.Sandbox
	path   string // the processes' PATH

	mu       sync.Mutex
	started  bool
	stopped  bool
	ctx      context.Context // lifetime, from Start to Stop
	cancel   context.CancelFunc
	comps    map[compKey]*comp
	inflight map[string]*inflightRun
	cron     *cron.Cron
	// orphans are the processes found by Start for one-off runs recorded
	// without a live pid, by instance ID, until RunOnce adopts them.
	orphans map[string]procInfo

	wg sync.WaitGroup // supervisors and one-off runs (cron tracks its jobs)
	// detached is set by a stop that leaves processes running (tests
	// simulating a crash): runs are then abandoned, not stopped.
	detached atomic.Bool
	// stopping is set by Stop: a server shutdown gives each process
	// StopTimeout at most, whatever its component's stop_grace_period, so
	// that no tool can hold the server's shutdown for long.
	stopping atomic.Bool
	rr       atomic.Uint64 // proxy round robin
}

// Interface guards
var (
	_ target.Driver    = (*Driver)(nil)
	_ target.Lifecycle = (*Driver)(nil)
	_ edge.Backends    = (*Driver)(nil)
)

type compKey struct{ tool, name string }

// comp is one component in memory.
type comp struct {
	tool, name string
	op         sync.Mutex // serialises Apply, Remove and Restore of the component
	saveMu     sync.Mutex // serialises writes of state.json

	mu       sync.Mutex // guards what follows
	removed  bool
	spec     target.Spec
	active   bool
	gen      int
	genStart time.Time
	replicas []*replica
	healthy  *target.HealthResult // of gen, once seen
	// genSeq is the highest generation number used (rollouts abandoned
	// included), so that every start has its own.
	genSeq int
	// next is the surge replacement in progress; last is the one the last
	// Apply started (in progress or decided), nil when that Apply started
	// the component plainly. WaitHealthy answers with last's outcome.
	next, last *rollout
	// draining are replicas of a replaced generation, stopped once the
	// proxy has no request in flight to them.
	draining []*replica
	portsMu  sync.Mutex    // serialises HoldPorts of the component
	changed  chan struct{} // closed and replaced on every change
	// svc is the service listener of a continuous component with a port
	// (service.go); svcPort its port, kept when it stops, for the next.
	svc     *service
	svcPort int
	// scheduled
	cronID    cron.EntryID
	schedule  string
	runs      []runRecord
	runActive bool
	current   *runRecord // the scheduled run in progress
	// one-off
	lastRun *runRecord
	running int // one-off runs in progress
	// runCtx is cancelled by Remove (and by the driver's Stop) to end the
	// component's runs: their lifetime context. Set by newComp, never
	// changed, so it may be read without mu.
	runCtx    context.Context
	runCancel context.CancelFunc
}

// afterRunsEnd arranges for f to be called in its own goroutine when c's
// runs must end (c removed, or the driver stopped); the returned stop
// undoes it, as [context.AfterFunc].
func (c *comp) afterRunsEnd(f func()) (stop func() bool) {
	return context.AfterFunc(c.runCtx, f)
}

// notify wakes waiters; c.mu must be held.
func (c *comp) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// New returns a Driver for cfg.
func New(cfg Config) (*Driver, error) {
	if cfg.Dir == "" {
		return nil, errors.New("localexec: Dir is required")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("localexec: %w", err)
	}
	cfg.Dir = dir
	cfg.StopTimeout = cmp.Or(cfg.StopTimeout, DefaultStopTimeout)
	cfg.HealthyAfter = cmp.Or(cfg.HealthyAfter, DefaultHealthyAfter)
	cfg.StartupTimeout = cmp.Or(cfg.StartupTimeout, DefaultStartupTimeout)
	if cfg.HomeDir == nil {
		cfg.HomeDir = func(tool string) string { return filepath.Join(dir, tool, "home") }
	}
	if cfg.Path == "" {
		cfg.Path = cmp.Or(os.Getenv("PATH"), "/usr/local/bin:/usr/bin:/bin")
	}
	cfg.LogMaxSize = cmp.Or(cfg.LogMaxSize, logfile.DefaultMaxSize)
	cfg.LogMaxFiles = cmp.Or(cfg.LogMaxFiles, logfile.DefaultMaxFiles)
	cfg.LogCheckInterval = cmp.Or(cfg.LogCheckInterval, DefaultLogCheckInterval)
	if err := logfile.CheckLimits(cfg.LogMaxSize, cfg.LogMaxFiles); err != nil {
		return nil, fmt.Errorf("localexec: %w", err)
	}
	logger := cmp.Or(cfg.Logger, slog.Default()).With("component", "localexec")
	sb := cfg.Sandbox
	if sb == nil {
		sb = sandbox.Unconfined()
	}
	return &Driver{
		cfg:      cfg,
		logger:   logger,
		sb:       sb,
		path:     sb.Path(cfg.Path),
		probe:    &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		comps:    map[compKey]*comp{},
		inflight: map[string]*inflightRun{},
	}, nil
}

// Start creates Dir, adopts the processes of every state.json that still
// run with matching start times (and restarts the missing replicas of those
// components), loads the rest as stopped for [Driver.Restore], and starts
// the cron scheduler. Processes recorded only by their instance ID (the
// server died between their spawn and the write of their pid) are looked
// for in one pass over /proc, and adopted the same way.
func (d *Driver) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return errors.New("localexec: start: driver stopped")
	}
	if d.started {
		return nil
	}
	if err := os.MkdirAll(d.cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("localexec: start: %w", err)
	}
	if !d.sb.Enabled() {
		d.logger.WarnContext(ctx, "processes run unconfined as the server's user", "uid", os.Getuid())
	}
	d.ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	d.cron = cron.New(cron.WithLocation(time.UTC), cron.WithLogger(cron.DiscardLogger))
	paths, err := filepath.Glob(filepath.Join(d.cfg.Dir, "*", "*", "state.json"))
	if err != nil {
		return fmt.Errorf("localexec: start: %w", err)
	}
	var states []stateFile
	lost := map[string]bool{} // instance IDs without a live recorded pid
	for _, p := range paths {
		var st stateFile
		if err := readJSON(p, &st); err != nil {
			d.logger.WarnContext(ctx, "skip unreadable state", "path", p, "err", err)
			continue
		}
		if !slipway.ValidName(st.Tool) || !slipway.ValidName(st.Component) {
			continue
		}
		states = append(states, st)
		all := slices.Concat(st.Replicas, st.Draining)
		if st.Next != nil {
			all = append(all, st.Next.Replicas...)
		}
		for _, rs := range all {
			if rs.Instance != "" && !alive(rs.PID, rs.StartTime) {
				lost[rs.Instance] = true
			}
		}
		if r := st.Current; r != nil && r.Instance != "" && !alive(r.PID, r.StartTime) {
			lost[r.Instance] = true
		}
	}
	runPaths, err := filepath.Glob(filepath.Join(d.cfg.Dir, "*", "*", "runs", "*.json"))
	if err != nil {
		return fmt.Errorf("localexec: start: %w", err)
	}
	for _, p := range runPaths {
		var rec runRecord
		if err := readJSON(p, &rec); err == nil && !rec.Finished && rec.Instance != "" && !alive(rec.PID, rec.StartTime) {
			lost[rec.Instance] = true
		}
	}
	found := findInstances(lost)
	d.orphans = found
	for _, st := range states {
		c := d.newComp(st.Tool, st.Component)
		d.comps[compKey{st.Tool, st.Component}] = c
		d.load(ctx, c, st, found)
	}
	d.cron.Start()
	d.wg.Add(1)
	go d.rotateLogs()
	d.started = true
	return nil
}

func (d *Driver) newComp(tool, name string) *comp {
	c := &comp{tool: tool, name: name, changed: make(chan struct{})}
	base := d.ctx
	if base == nil {
		base = context.Background()
	}
	c.runCtx, c.runCancel = context.WithCancel(base)
	return c
}

// load fills c from st, adopting live processes: the recorded ones, or
// else those found by instance ID; d.mu is held.
func (d *Driver) load(ctx context.Context, c *comp, st stateFile, found map[string]procInfo) {
	c.spec = st.Spec
	c.gen = st.Generation
	c.genStart = st.StartedAt
	c.schedule = st.Schedule
	c.runs = st.Runs
	c.lastRun = st.LastRun
	if st.Current != nil && st.Spec.Component.Type == slipway.Scheduled {
		d.loadScheduledRun(ctx, c, *st.Current, found)
	}
	c.genSeq = max(st.GenerationSeq, st.Generation)
	// Replicas a rollout replaced: stopped, as the last server would have.
	for _, rs := range st.Draining {
		if p, err := adoptRecorded(rs.PID, rs.PGID, rs.StartTime, rs.Instance, rs.StartedAt, rs.Cgroup, found); err == nil {
			d.logger.InfoContext(ctx, "stopping a replica of a replaced generation", "tool", c.tool, "name", c.name, "pid", p.pid)
			d.wg.Go(func() { stopProc(p, d.cfg.StopTimeout) })
		}
	}
	if !st.Active || st.Spec.Component.Type != slipway.Continuous {
		return
	}
	c.svcPort = st.ServicePort
	reps, live, foundByID := d.adoptReplicas(ctx, c, st.Spec, st.Replicas, found)
	var next []*replica
	nextLive := 0
	if st.Next != nil {
		var byID bool
		next, nextLive, byID = d.adoptReplicas(ctx, c, st.Next.Spec, st.Next.Replicas, found)
		foundByID = foundByID || byID
	}
	switch {
	case live == 0 && nextLive == 0:
		d.logger.InfoContext(ctx, "component not running any more", "tool", c.tool, "name", c.name)
		return
	case live == 0:
		// The server died as the rollout switched: the new generation is
		// all there is.
		c.spec, c.gen, reps, next = st.Next.Spec, st.Next.Generation, next, nil
	case nextLive == 0:
		next = nil
	}
	c.active = true
	// For WaitHealthy's After, adoption is the (re)start.
	c.genStart = time.Now()
	c.replicas = reps
	if c.svcPort > 0 {
		// The adopted processes have its URL: listen there again.
		if err := d.ensureService(ctx, c); err != nil {
			d.logger.WarnContext(ctx, "no service address", "tool", c.tool, "name", c.name, "err", err)
		}
	}
	for _, r := range reps {
		d.wg.Add(1)
		go d.supervise(c, r, c.gen, r.proc)
	}
	if next != nil {
		// The rollout goes on where the last server left it.
		rctx, cancel := context.WithCancelCause(d.ctx)
		ro := &rollout{gen: st.Next.Generation, spec: st.Next.Spec, start: time.Now(), replicas: next, cancel: cancel, done: make(chan struct{})}
		c.next, c.last = ro, ro
		for _, r := range next {
			d.wg.Add(1)
			go d.supervise(c, r, ro.gen, r.proc)
		}
		d.wg.Add(1)
		go d.runRollout(rctx, c, ro) //nolint:contextcheck // the rollout outlives Start, in the driver's lifetime (rctx derives from d.ctx)
	}
	if foundByID || st.Draining != nil || (st.Next != nil && next == nil) {
		d.save(c) // record their pids, and what is gone
	}
	d.holdPorts(ctx, c)
}

// adoptReplicas makes replicas of recorded ones, each with its process
// when it still runs; live counts those, foundByID is true when one was
// found by its instance ID rather than its recorded pid.
func (d *Driver) adoptReplicas(ctx context.Context, c *comp, spec target.Spec, states []replicaState, found map[string]procInfo) (reps []*replica, live int, foundByID bool) {
	for _, rs := range states {
		r := &replica{index: rs.Index, port: rs.Port, restarts: rs.Restarts, grace: d.grace(spec), stop: make(chan struct{}), done: make(chan struct{})}
		reps = append(reps, r)
		p, err := adoptRecorded(rs.PID, rs.PGID, rs.StartTime, rs.Instance, rs.StartedAt, rs.Cgroup, found)
		if err != nil {
			continue
		}
		live++
		foundByID = foundByID || p.pid != rs.PID
		r.proc = p
		r.instance = rs.Instance
		d.logger.InfoContext(ctx, "adopted replica", "tool", c.tool, "name", c.name, "replica", r.index, "pid", p.pid, "recorded", p.pid == rs.PID)
		if d.sb.Enabled() && !sandbox.Sandboxed(p.pid) {
			d.logger.WarnContext(ctx, "adopted a replica that runs unconfined (started before the sandbox was on): deploy the tool again to confine it",
				"tool", c.tool, "name", c.name, "replica", r.index, "pid", p.pid)
		}
	}
	return reps, live, foundByID
}

// holdPorts lets c's tool reach the ports of c's replicas (when the
// sandbox isolates the network), after they were adopted or moved.
func (d *Driver) holdPorts(ctx context.Context, c *comp) {
	if err := d.holdPortsErr(ctx, c); err != nil {
		d.logger.WarnContext(ctx, "the tool's processes may not reach their own ports", "tool", c.tool, "name", c.name, "error", err.Error())
	}
}

// holdPortsErr lets c's tool reach the ports of every replica c has: the
// serving ones, a rollout's and those draining.
func (d *Driver) holdPortsErr(ctx context.Context, c *comp) error {
	c.portsMu.Lock()
	defer c.portsMu.Unlock()
	c.mu.Lock()
	reps := slices.Concat(c.replicas, c.draining)
	if c.next != nil {
		reps = append(reps, c.next.replicas...)
	}
	var ports []int
	for _, r := range reps {
		if r.port > 0 {
			ports = append(ports, r.port)
		}
	}
	if c.svc != nil {
		ports = append(ports, c.svcPort)
	}
	c.mu.Unlock()
	return d.sb.HoldPorts(ctx, c.tool, c.name, ports)
}

// releasePorts takes from c's tool the ports its stopped replicas held.
func (d *Driver) releasePorts(ctx context.Context, c *comp) {
	// Even when the caller gave up: the ports must be taken back.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	c.portsMu.Lock()
	defer c.portsMu.Unlock()
	if err := d.sb.HoldPorts(ctx, c.tool, c.name, nil); err != nil {
		d.logger.WarnContext(ctx, "the ports of a stopped component stay reachable by its tool", "tool", c.tool, "name", c.name, "error", err.Error())
	}
}

// adoptRecorded adopts the process recorded with pid and start time, or
// when it is gone the process found for instance.
func adoptRecorded(pid, pgid int, start uint64, instance string, startedAt time.Time, cg sandbox.Cgroup, found map[string]procInfo) (*proc, error) {
	if !alive(pid, start) {
		f, ok := found[instance]
		if instance == "" || !ok {
			return nil, os.ErrProcessDone
		}
		pid, pgid, start = f.pid, f.pgid, f.start
	}
	return adopt(pid, pgid, start, startedAt, cg)
}

// takeOrphan returns and forgets the process Start found for instance.
func (d *Driver) takeOrphan(instance string) (procInfo, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.orphans[instance]
	if instance == "" || !ok {
		return procInfo{}, false
	}
	delete(d.orphans, instance)
	return f, true
}

// Stop stops every process of every component (SIGTERM to each process
// group, SIGKILL after StopTimeout) and the cron scheduler, and waits for
// its goroutines. It is idempotent and safe before Start.
func (d *Driver) Stop(ctx context.Context) error {
	return d.stop(ctx, false)
}

// stop stops the driver; with detach it leaves processes running, as a
// crash of the server would.
func (d *Driver) stop(ctx context.Context, detach bool) error {
	d.mu.Lock()
	if d.stopped || !d.started {
		d.stopped = true
		d.mu.Unlock()
		return nil
	}
	d.stopped = true
	d.detached.Store(detach)
	d.stopping.Store(true)
	comps := make([]*comp, 0, len(d.comps))
	for _, c := range d.comps {
		comps = append(comps, c)
	}
	d.mu.Unlock()

	cronDone := d.cron.Stop().Done() // closed when running jobs have returned
	var wg sync.WaitGroup
	for _, c := range comps {
		wg.Go(func() {
			c.op.Lock()
			defer c.op.Unlock()
			d.stopComp(ctx, c, detach, false)
			c.stopService()
		})
	}
	wg.Wait()
	d.cancel() // ends one-off and scheduled runs
	done := make(chan struct{})
	go func() {
		<-cronDone
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("localexec: stop: %w", ctx.Err())
	}
	d.probe.CloseIdleConnections()
	return nil
}

// stopComp stops c's replicas (or detaches from them) and its schedule;
// c.op is held. With forget the component is marked inactive on disk too.
func (d *Driver) stopComp(ctx context.Context, c *comp, detach, forget bool) {
	c.mu.Lock()
	ro := c.next
	c.mu.Unlock()
	if ro != nil && !detach {
		ro.cancel(errors.New("the component was stopped"))
		<-ro.done
	}
	c.mu.Lock()
	reps := slices.Concat(c.replicas, c.draining)
	if c.next != nil { // detached: the rollout's replicas keep running too
		reps = append(reps, c.next.replicas...)
	}
	id := c.cronID
	c.cronID = 0
	for _, r := range reps {
		r.halt(detach)
	}
	c.mu.Unlock()
	if id != 0 {
		d.cron.Remove(id)
	}
	for _, r := range reps {
		<-r.done
	}
	c.mu.Lock()
	c.replicas = nil
	c.draining = nil
	if !detach {
		c.active = false
		c.last = nil
	}
	c.healthy = nil
	c.notify()
	c.mu.Unlock()
	if !detach && len(reps) > 0 {
		d.releasePorts(ctx, c)
	}
	if forget {
		d.save(c)
	}
}

// Restore converges every continuous and scheduled spec, as at server boot
// for what the store says is live: a component adopted by Start with the
// same spec hash and artifact key is left alone, anything else is started.
// Components adopted but not in specs keep running until removed.
func (d *Driver) Restore(ctx context.Context, specs []target.Spec) error {
	var errs []error
	for _, s := range specs {
		if s.Component.Type == slipway.OneOff {
			continue
		}
		if _, err := d.Apply(ctx, s); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// lookup returns the component or nil.
func (d *Driver) lookup(tool, name string) *comp {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.comps[compKey{tool, name}]
}

// acquire returns the component, created when missing, with c.op held.
func (d *Driver) acquire(tool, name string) (*comp, error) {
	for {
		d.mu.Lock()
		if !d.started || d.stopped {
			d.mu.Unlock()
			return nil, errors.New("driver not running")
		}
		c := d.comps[compKey{tool, name}]
		if c == nil {
			c = d.newComp(tool, name)
			d.comps[compKey{tool, name}] = c
		}
		d.mu.Unlock()
		c.op.Lock()
		c.mu.Lock()
		removed := c.removed
		c.mu.Unlock()
		if !removed {
			return c, nil
		}
		c.op.Unlock()
	}
}

func validateSpec(spec target.Spec) error {
	if !slipway.ValidName(spec.Tool) || !slipway.ValidName(spec.Component.Name) {
		return slipway.Errorf(slipway.EInvalid, "Invalid tool or component name %q/%q.", spec.Tool, spec.Component.Name)
	}
	if spec.Component.Run.Command == "" {
		return slipway.Errorf(slipway.EInvalid, "Component %s has no command.", spec.Component.Name)
	}
	if spec.Artifact.Dir == "" && spec.Artifact.Image != "" {
		return slipway.Errorf(slipway.EInvalid, "Component %s runs the image %s: this server's local target runs built directories, not images (use a Kubernetes target).", spec.Component.Name, spec.Artifact.Image)
	}
	if fi, err := os.Stat(spec.Artifact.Dir); err != nil || !fi.IsDir() || !filepath.IsAbs(spec.Artifact.Dir) {
		return slipway.Errorf(slipway.EInvalid, "Artifact directory %q of component %s is missing.", spec.Artifact.Dir, spec.Component.Name)
	}
	return nil
}

// Apply converges a continuous or scheduled component to spec. A component
// already active and healthy with the same SpecHash and Artifact.Key is
// left alone (Changed false); one that is not healthy (a replica down or
// crash looping) is started again. A continuous component with a
// generation serving gets the new one beside it (a surge): the new
// replicas start on their own ports, traffic moves to them once they are
// all healthy, and the old ones are drained and stopped; when the new
// generation crash loops or is not healthy in time (StartupTimeout, or a
// WaitHealthy that gives up first) it is stopped and the old one keeps
// serving. Otherwise the old generation is stopped and then the new one
// started, or the schedule (re)registered. The first processes are started
// and recorded in state.json before Apply returns.
func (d *Driver) Apply(ctx context.Context, spec target.Spec) (target.ApplyResult, error) {
	fail := func(err error) (target.ApplyResult, error) {
		return target.ApplyResult{}, fmt.Errorf("apply %s/%s: %w", spec.Tool, spec.Component.Name, err)
	}
	if err := validateSpec(spec); err != nil {
		return fail(err)
	}
	typ := spec.Component.Type
	if typ != slipway.Continuous && typ != slipway.Scheduled {
		return fail(slipway.Errorf(slipway.EInvalid, "Component %s of type %q cannot be applied.", spec.Component.Name, typ))
	}
	var sched cron.Schedule
	var expr string
	if typ == slipway.Scheduled {
		var err error
		expr, err = target.ActualSchedule(spec.Tool, spec.Component.Name, spec.Component.Run.Schedule)
		if err == nil {
			sched, err = cronParser.Parse(expr)
		}
		if err != nil {
			return fail(slipway.Errorf(slipway.EInvalid, "Invalid schedule %q: %v.", spec.Component.Run.Schedule, err))
		}
	}
	c, err := d.acquire(spec.Tool, spec.Component.Name)
	if err != nil {
		return fail(err)
	}
	defer c.op.Unlock()

	c.mu.Lock()
	ro := c.next
	c.mu.Unlock()
	if ro != nil {
		if sameSpec(ro.spec, spec) {
			return target.ApplyResult{Changed: true, Message: "replacement in progress"}, nil
		}
		ro.cancel(errSuperseded)
		<-ro.done
	}
	c.mu.Lock()
	same := c.active && sameSpec(c.spec, spec)
	healthy := d.healthyNow(c)
	wasActive := c.active
	surge := typ == slipway.Continuous && d.serving(c)
	c.mu.Unlock()
	// The service address comes first, so that every process of the new
	// spec gets its URL (an adopted component's is opened again here).
	if typ == slipway.Continuous && spec.Component.Run.Port > 0 {
		if err := d.ensureService(ctx, c); err != nil {
			return fail(err)
		}
	} else {
		c.stopService() // no port any more: nothing to address
	}
	if same && healthy {
		// The environment is not kept on disk: an adopted component gets it
		// back here, for the restarts its supervisor makes.
		c.mu.Lock()
		c.spec.Env, c.spec.SecretEnv = spec.Env, spec.SecretEnv
		c.last = nil
		c.mu.Unlock()
		return target.ApplyResult{Changed: false, Message: "already up to date"}, nil
	}
	if surge {
		res, err := d.surge(ctx, c, spec)
		if err != nil {
			return fail(err)
		}
		return res, nil
	}
	if wasActive {
		d.stopComp(ctx, c, false, false)
	}

	c.mu.Lock()
	c.spec = spec
	c.gen = c.newGen()
	c.genStart = time.Now()
	c.healthy = nil
	c.active = false
	c.last = nil
	gen := c.gen
	c.mu.Unlock()

	if typ == slipway.Scheduled {
		id := d.cron.Schedule(sched, cron.FuncJob(func() { d.runScheduled(c, gen) }))
		c.mu.Lock()
		c.cronID = id
		c.schedule = expr
		c.active = true
		c.notify()
		c.mu.Unlock()
		d.save(c)
		d.logger.InfoContext(ctx, "schedule registered", "tool", spec.Tool, "name", spec.Component.Name, "schedule", expr)
		return target.ApplyResult{Changed: true, Message: fmt.Sprintf("scheduled %q", expr)}, nil
	}

	n := spec.Component.Run.ReplicaCount()
	ports := make([]int, n)
	if spec.Component.Run.Port > 0 {
		if ports, err = freePorts(ctx, n); err != nil {
			return fail(err)
		}
	}
	// The tool's own processes (its health check script) may reach these
	// ports, no other tool's (when the sandbox isolates the network): in
	// parallel with the spawns (a few ms of nft each), done before Apply
	// returns.
	reps := make([]*replica, n)
	for i := range n {
		reps[i] = &replica{index: i, port: ports[i], grace: d.grace(spec), stop: make(chan struct{}), done: make(chan struct{})}
	}
	// Active with replicas not up yet ("starting"): spawnReplica records
	// each process's instance ID before spawning it, and then its pid.
	c.mu.Lock()
	c.replicas = reps
	c.active = true
	c.notify()
	c.mu.Unlock()
	held := make(chan error, 1)
	go func() { held <- d.holdPortsErr(ctx, c) }()
	abort := func(started []*proc, err error) (target.ApplyResult, error) {
		for _, p := range started {
			stopProc(p, d.cfg.StopTimeout)
		}
		c.mu.Lock()
		c.replicas = nil
		c.active = false
		c.notify()
		c.mu.Unlock()
		d.releasePorts(ctx, c)
		d.save(c)
		return fail(err)
	}
	procs := make([]*proc, n)
	for i, r := range reps {
		p, err := d.spawnReplica(ctx, c, spec, r, gen, false)
		if err != nil {
			if herr := <-held; herr != nil {
				err = errors.Join(err, herr)
			}
			return abort(procs[:i], err)
		}
		procs[i] = p
	}
	if err := <-held; err != nil {
		return abort(procs, err)
	}
	for i, r := range reps {
		d.wg.Add(1)
		go d.supervise(c, r, gen, procs[i])
	}
	verb := "started"
	if wasActive {
		verb = "restarted"
	}
	d.logger.InfoContext(ctx, "component started", "tool", spec.Tool, "name", spec.Component.Name, "generation", gen, "replicas", n)
	return target.ApplyResult{Changed: true, Message: fmt.Sprintf("%s %d %s", verb, n, plural(n, "replica"))}, nil
}

// sameSpec reports whether running cur satisfies spec: the same spec hash,
// artifact and type, and no other restart token asked for.
func sameSpec(cur, spec target.Spec) bool {
	return cur.SpecHash == spec.SpecHash && cur.Artifact.Key == spec.Artifact.Key &&
		cur.Component.Type == spec.Component.Type && (spec.RestartToken == "" || spec.RestartToken == cur.RestartToken)
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// Remove stops the component's processes, runs and schedule and deletes its
// state; logs are kept. Removing an unknown component is not an error.
func (d *Driver) Remove(ctx context.Context, tool, name string) error {
	c := d.lookup(tool, name)
	if c == nil {
		return nil
	}
	c.op.Lock()
	defer c.op.Unlock()
	d.stopComp(ctx, c, false, false)
	c.stopService()
	c.runCancel()
	c.mu.Lock()
	c.removed = true
	c.mu.Unlock()
	// Wait for the state writer, so no late save recreates the file.
	c.saveMu.Lock()
	err := os.Remove(d.statePath(tool, name))
	c.saveMu.Unlock()
	d.mu.Lock()
	if d.comps[compKey{tool, name}] == c {
		delete(d.comps, compKey{tool, name})
	}
	d.mu.Unlock()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s/%s: %w", tool, name, err)
	}
	d.logger.InfoContext(ctx, "component removed", "tool", tool, "name", name)
	return nil
}

func (d *Driver) compDir(tool, name string) string { return filepath.Join(d.cfg.Dir, tool, name) }
func (d *Driver) statePath(tool, name string) string {
	return filepath.Join(d.compDir(tool, name), "state.json")
}

func (d *Driver) replicaLog(tool, name string, i int) string {
	return filepath.Join(d.compDir(tool, name), strconv.Itoa(i)+".log")
}

// save writes c's state.json; failures are logged (the processes run
// regardless, and the next save retries).
func (d *Driver) save(c *comp) {
	if err := d.saveErr(c); err != nil {
		d.logger.Error("state not saved", "tool", c.tool, "name", c.name, "err", err)
	}
}

// saveErr writes c's state.json (unless c was removed).
func (d *Driver) saveErr(c *comp) error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	c.mu.Lock()
	if c.removed {
		c.mu.Unlock()
		return nil
	}
	st := stateFile{
		Tool: c.tool, Component: c.name,
		SpecHash: c.spec.SpecHash, ArtifactKey: c.spec.Artifact.Key, ArtifactDir: c.spec.Artifact.Dir,
		Spec: c.spec, Active: c.active, Generation: c.gen, StartedAt: c.genStart,
		Schedule: c.schedule, Runs: slices.Clone(c.runs), LastRun: c.lastRun, UpdatedAt: time.Now().UTC(),
	}
	if c.current != nil {
		cur := *c.current
		st.Current = &cur
	}
	st.Replicas = replicaStates(c.replicas)
	st.Draining = replicaStates(c.draining)
	if ro := c.next; ro != nil {
		st.Next = &nextState{Generation: ro.gen, Spec: ro.spec, StartedAt: ro.start, Replicas: replicaStates(ro.replicas)}
	}
	st.GenerationSeq = c.genSeq
	st.ServicePort = c.svcPort
	c.mu.Unlock()
	return writeJSON(d.statePath(c.tool, c.name), st)
}

// replicaStates returns what state.json keeps of reps; comp.mu is held.
func replicaStates(reps []*replica) []replicaState {
	var out []replicaState
	for _, r := range reps {
		rs := replicaState{Index: r.index, Instance: r.instance, Port: r.port, Restarts: r.restarts, StartedAt: r.intentAt}
		if r.proc != nil {
			rs.PID, rs.PGID, rs.StartTime, rs.StartedAt, rs.Cgroup = r.proc.pid, r.proc.pgid, r.proc.start, r.proc.startedAt, r.proc.cg
		}
		out = append(out, rs)
	}
	return out
}

// env returns the environment of a process of spec (HOME, set by the
// sandbox, and TOOL_DATA_DIR are the tool's home); port 0 sets no PORT. It
// also makes the tool's home.
func (d *Driver) env(spec target.Spec, port int) (map[string]string, error) {
	if err := d.sb.PrepareDir(spec.Tool, d.cfg.HomeDir(spec.Tool)); err != nil {
		return nil, fmt.Errorf("home: %w", err)
	}
	m := map[string]string{"PATH": d.path, "LANG": "C.UTF-8"}
	// The addresses of the tool's components (service.go), before the
	// tool's own variables, which may set others.
	maps.Copy(m, d.serviceURLs(spec.Tool))
	maps.Copy(m, spec.SecretEnv)
	maps.Copy(m, spec.Env)
	maps.Copy(m, spec.AskEnv)
	m["TOOL_NAME"] = spec.Tool
	m["TOOL_DATA_DIR"] = d.sb.HomePath(spec.Tool, d.cfg.HomeDir(spec.Tool)) // as on Toolforge: HOME
	m["COMPONENT"] = spec.Component.Name
	if port > 0 {
		m["PORT"] = strconv.Itoa(port)
	} else {
		delete(m, "PORT")
	}
	return m, nil
}

// grace returns how long spec's processes have between SIGTERM and
// SIGKILL: the component's stop_grace_period, else StopTimeout.
func (d *Driver) grace(spec target.Spec) time.Duration {
	if g := spec.Component.Run.StopGracePeriod; g > 0 {
		return time.Duration(g) * time.Second
	}
	return d.cfg.StopTimeout
}

// command returns the command line of spec: a Procfile entry or a shell
// command, run by /bin/sh -c.
func command(spec target.Spec) string {
	cmd := spec.Component.Run.Command
	if p, ok := spec.Artifact.Processes[cmd]; ok && p != "" {
		cmd = p
	}
	return cmd
}

// track counts a one-off run in d.wg; ok is false once the driver stops.
func (d *Driver) track() (done func(), ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.started || d.stopped {
		return nil, false
	}
	d.wg.Add(1)
	return d.wg.Done, true
}
