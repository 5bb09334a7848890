package deploy

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/build/localbuild"
	"slipway.dev/slipway/internal/git"
	"slipway.dev/slipway/internal/notify"
	"slipway.dev/slipway/internal/runner"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/target/localexec"

	"github.com/riverqueue/river/riverdriver"
)

// harness is the deploy engine and its application services over real
// components, as the server wires them: SQLite in a temporary directory,
// River on the same file, git, the local builder and the local process
// target.
type harness struct {
	eng     *Engine
	deploys *Deployments
	builds  *Builds
	jobs    *Jobs
	trains  *Trains
	db      store.Store
	runner  *runner.Runner
	builder *localbuild.Builder
	// dir holds everything the harness keeps (database, mirrors, builds).
	dir string
	// What restart makes a new engine and runner with.
	src    Resolver
	target *localexec.Driver
	driver riverdriver.Driver[*sql.Tx]
	cfg    Config
	rcfg   runner.Config
}

// Harness is what NewHarness gives the external tests.
type Harness struct {
	Deployments *Deployments
	Builds      *Builds
	Builder     *localbuild.Builder
}

// NewHarness is a started harness for the external tests (package
// deploy_test): the deployments and builds services and the builder.
func NewHarness(t *testing.T, cfg Config) *Harness {
	t.Helper()
	h := newHarness(t, cfg, true)
	return &Harness{Deployments: h.deploys, Builds: h.builds, Builder: h.builder}
}

// newHarness returns an engine and its services with cfg (local repositories allowed). With
// start, the runner works the queue and deployments run; without, they are
// created and stay pending.
func newHarness(t *testing.T, cfg Config, start bool) *harness {
	t.Helper()
	return newHarnessWith(t, cfg, start, harnessOptions{})
}

// harnessOptions change what newHarnessWith makes; the zero value is
// newHarness's.
type harnessOptions struct {
	// store is the store (SQLite or PostgreSQL); default SQLite.
	store *engineStore
	// wrap, when not nil, wraps the store the engine is given (the
	// benchmarks' store that drops release writes).
	wrap func(store.Store) store.Store
	// poll is how often idle River workers look for jobs (runner's
	// PollInterval). The engine wakes them for every job it enqueues, so a
	// long poll only saves the polls' queries (they dominate under -race).
	poll time.Duration
	// notify, when set, makes the notifier the engine records through and
	// the runner delivers with.
	notify func(store.Store) *notify.Service
}

// newHarnessOn is newHarness on es (SQLite or PostgreSQL).
func newHarnessOn(t testing.TB, es engineStore, cfg Config, start bool) *harness {
	t.Helper()
	return newHarnessWith(t, cfg, start, harnessOptions{store: &es})
}

// newHarnessWith is newHarness with opts.
func newHarnessWith(t testing.TB, cfg Config, start bool, opts harnessOptions) *harness {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	es := engineStores[0]
	if opts.store != nil {
		es = *opts.store
	}
	db, driver := es.open(t)
	wrap := opts.wrap
	if err := runner.Migrate(ctx, driver); err != nil {
		t.Fatal(err)
	}
	creds, err := auth.NewRepoCredentials(db, bytes.Repeat([]byte{1}, auth.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	src, err := git.New(git.Config{
		CacheDir: filepath.Join(dir, "git"), AllowLocal: true,
		LocalDirs: cfg.LocalRepoDirs, Credentials: creds.Lookup,
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Credentials == nil {
		cfg.Credentials = creds
	}
	builder, err := localbuild.New(localbuild.Config{Dir: filepath.Join(dir, "builder")}, src)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := localexec.New(localexec.Config{Dir: filepath.Join(dir, "run"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tg.Stop(context.WithoutCancel(ctx)) })
	cfg.AllowLocalRepos = true
	engStore := db
	if wrap != nil {
		engStore = wrap(db)
	}
	eng := NewEngine(engStore, src, builder, tg, cfg)
	rcfg := runner.Config{SingleNode: true, PollInterval: opts.poll}
	if opts.notify != nil {
		n := opts.notify(db)
		eng.SetNotifier(n)
		rcfg.Notify = n.Deliver
	}
	trains := NewTrains(eng)
	rcfg.Train = trains.AdvanceTrain
	r, err := runner.New(driver, eng, rcfg)
	if err != nil {
		t.Fatal(err)
	}
	eng.SetEnqueuer(r)
	h := &harness{
		eng: eng, deploys: NewDeployments(eng), builds: NewBuilds(eng), jobs: NewJobs(eng), trains: trains,
		db: db, runner: r, builder: builder, dir: dir,
		src: src, target: tg, driver: driver, cfg: cfg, rcfg: rcfg,
	}
	t.Cleanup(func() { // before the target and the store go
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = h.builds.Stop(sctx)
	})
	if start {
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = r.Stop(sctx)
		})
	}
	return h
}

// waitFinal waits, through the deployment's events, until it is final and
// returns it.
func (h *harness) waitFinal(t testing.TB, tool, id string) slipway.Deployment {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := h.deploys.DeploymentEvents(ctx, tool, id, 0, func(slipway.Event) error { return nil }); err != nil {
		t.Fatalf("events of %s: %v", id, err)
	}
	d, err := h.deploys.DeploymentGet(t.Context(), tool, id)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Status.Final() {
		t.Fatalf("deployment %s is %s after its last event", id, d.Status)
	}
	return d
}

// restart stops h's runner as a server stopping does (the running steps
// are interrupted and stay running) and returns a new engine, services
// and runner over the same store, builder and target, started: what the
// next server process finds.
func (h *harness) restart(t testing.TB) *harness {
	t.Helper()
	ctx := t.Context()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := h.runner.Stop(sctx); err != nil {
		t.Fatalf("stop the runner: %v", err)
	}
	eng := NewEngine(h.db, h.src, h.builder, h.target, h.cfg)
	if h.eng.notifier != nil {
		eng.SetNotifier(h.eng.notifier)
	}
	r, err := runner.New(h.driver, eng, h.rcfg)
	if err != nil {
		t.Fatal(err)
	}
	eng.SetEnqueuer(r)
	n := *h
	n.eng, n.runner = eng, r
	n.deploys, n.builds, n.jobs = NewDeployments(eng), NewBuilds(eng), NewJobs(eng)
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = r.Stop(sctx)
	})
	return &n
}
