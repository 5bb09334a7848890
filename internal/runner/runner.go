// Package runner executes deployments durably on River (riverqueue/river).
//
// A deployment is two kinds of jobs: one start job (resolve, plan, record
// the plan) and one job per step. Jobs are inserted with [Runner.EnqueueTx]
// in the same database transaction that records the state change that makes
// them due, so a crash can neither lose nor double a step. The runner knows
// nothing about deployments: it calls a [Handler], which the deploy engine
// implements.
//
// The lifecycle is:
//  1. [New] with the River driver the composition root picked
//     (riversqlite embedded, a PostgreSQL driver to scale out).
//  2. [Migrate] River's own tables.
//  3. [Runner.Start]; with Config.SingleNode, jobs left running by a previous
//     process that died are made available again first.
//  4. [Runner.Fence] while the server cannot prove it is alive: no new
//     work, running jobs cancelled and snoozed; [Runner.Unfence] after.
//  5. [Runner.Stop]: soft stop (running jobs may finish) until the context
//     ends, then their contexts are cancelled; they are retried at the next
//     start.
package runner

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// Handler does the work of the jobs. A returned error means the job could
// not be processed (a database or infrastructure failure) and is retried
// with backoff; the outcome of a step, failed or not, is the handler's to
// record. An error with a RetryAfter() time.Duration method reschedules the
// job after that long without counting as a failure.
type Handler interface {
	StartDeployment(ctx context.Context, tool, deploymentID string) error
	RunStep(ctx context.Context, tool, deploymentID, key string) error
	// QuestionDeadline settles a question that is still open at its
	// deadline (a job scheduled when it was asked).
	QuestionDeadline(ctx context.Context, tool, deploymentID, questionID string) error
	// WatchDeployment looks at the health of what a successful deployment
	// made live, for its tool's auto-rollback (a job scheduled when it
	// succeeded, snoozed between looks).
	WatchDeployment(ctx context.Context, tool, deploymentID string) error
}

// Job is one unit of work to enqueue: a start job when Key and Question
// are empty and Watch is false, the step with Key, the deadline of
// Question, or the auto-rollback watch of the deployment (Watch), due At.
type Job struct {
	Tool         string
	DeploymentID string
	Key          string
	Question     string
	Watch        bool
	// Notify is an outbound notification's delivery ID: its job sends it
	// ([Config.Notify]).
	Notify string
	// Train is a release train's ID: its job advances it ([Config.Train]).
	Train string
	At    time.Time
}

// StartArgs are the arguments of a deployment's start job.
type StartArgs struct {
	Tool         string `json:"tool"`
	DeploymentID string `json:"deployment_id"`
}

// Kind implements river.JobArgs.
func (StartArgs) Kind() string { return "deployment_start" }

// StepArgs are the arguments of a step job.
type StepArgs struct {
	Tool         string `json:"tool"`
	DeploymentID string `json:"deployment_id"`
	Key          string `json:"key"`
}

// Kind implements river.JobArgs.
func (StepArgs) Kind() string { return "deployment_step" }

// DeadlineArgs are the arguments of a question's deadline job.
type DeadlineArgs struct {
	Tool         string `json:"tool"`
	DeploymentID string `json:"deployment_id"`
	QuestionID   string `json:"question_id"`
}

// Kind implements river.JobArgs.
func (DeadlineArgs) Kind() string { return "question_deadline" }

// WatchArgs are the arguments of a deployment's auto-rollback watch job.
type WatchArgs struct {
	Tool         string `json:"tool"`
	DeploymentID string `json:"deployment_id"`
}

// Kind implements river.JobArgs.
func (WatchArgs) Kind() string { return "auto_rollback_watch" }

// NotifyArgs are the arguments of an outbound notification's job.
type NotifyArgs struct {
	Tool       string `json:"tool"`
	DeliveryID string `json:"delivery_id"`
}

// Kind implements river.JobArgs.
func (NotifyArgs) Kind() string { return "notify" }

// TrainArgs are the arguments of a release train's advance job: one per
// train, snoozed while its members' deployments run or its question
// waits, made due again by an answer or a cancel.
type TrainArgs struct {
	TrainID string `json:"train_id"`
}

// Kind implements river.JobArgs.
func (TrainArgs) Kind() string { return "train_advance" }

// MaintenanceArgs are the arguments of the periodic maintenance job
// (retention: old releases, unneeded artifacts).
type MaintenanceArgs struct{}

// Kind implements river.JobArgs.
func (MaintenanceArgs) Kind() string { return "maintenance" }

// Config holds the runner's knobs. Zero values mean the defaults.
type Config struct {
	Logger *slog.Logger
	// MaxWorkers is how many jobs other than builds run at once (default
	// 100: most steps wait on health or a one-off).
	MaxWorkers int
	// BuildWorkers is how many build steps run at once on this server
	// (default 4; the server sets its --build-slots): build steps have a
	// queue of their own, so that builds waiting for a slot hold no worker
	// of the others.
	BuildWorkers int
	// PollInterval is how often idle workers look for due jobs they were
	// not told of; default 1s. Inserting a job from this process wakes
	// them at once ([Runner.Wake]), and with PostgreSQL so does an insert
	// by another server (LISTEN/NOTIFY), so polling only finds what
	// River's scheduler made due (snoozed and retried jobs, which it moves
	// every 5 s anyway) and what a rescue made available. At 20ms the
	// polls of an idle server cost about 9% of a core (bench/scale-tools.sh).
	PollInterval time.Duration
	// ID names this runner in the jobs it works (River's client ID, in
	// each job's attempted_by): the server's node ID, which
	// [Runner.RescueOrphans] checks against the live nodes. Default: a
	// random one.
	ID string
	// SingleNode says this process is the only one working the queue (the
	// embedded default, guarded by a lock on the data directory): River
	// runs poll-only and [Runner.Wake] starts jobs without any
	// cross-process notification.
	SingleNode bool
	// RescueAfter is when River rescues a job stuck in running on a
	// multi-node setup; default 2h, above the longest step timeout.
	RescueAfter time.Duration
	// MaxAttempts is how often a job whose handler returns an error is
	// tried; default 10.
	MaxAttempts int
	// Maintenance, when set, is a periodic job's work (the server's
	// retention): run once when the runner starts and then every
	// MaintenanceInterval (default 1h), on one server of those sharing the
	// queue (River's leader), never two at once. An error is logged and
	// retried a few times; the next period runs it anyway.
	Maintenance         func(ctx context.Context) error
	MaintenanceInterval time.Duration
	// Notify, when set, sends an outbound notification (a job enqueued
	// with [Job.Notify]); an error with a RetryAfter method tries it again
	// after that long, without counting as a failure of the job.
	Notify func(ctx context.Context, tool, deliveryID string) error
	// Train, when set, advances a release train (a job enqueued with
	// [Job.Train]); an error with a RetryAfter method looks again after
	// that long, without counting as a failure.
	Train func(ctx context.Context, trainID string) error
}

// Runner owns a River client.
type Runner struct {
	client *river.Client[*sql.Tx]
	driver riverdriver.Driver[*sql.Tx]
	cfg    Config
	logger *slog.Logger
	// fence is what [Runner.Fence] stops: every worker runs its job
	// through it.
	fence *fence
}

// New returns a runner over driver whose jobs call h.
func New(driver riverdriver.Driver[*sql.Tx], h Handler, cfg Config) (*Runner, error) {
	if h == nil {
		return nil, errors.New("runner: nil handler")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "runner")
	cfg.MaxAttempts = cmpOr(cfg.MaxAttempts, 10)
	workers := river.NewWorkers()
	f := newFence()
	river.AddWorker(workers, &startWorker{h: h, f: f})
	river.AddWorker(workers, &stepWorker{h: h, f: f})
	river.AddWorker(workers, &deadlineWorker{h: h, f: f})
	river.AddWorker(workers, &watchWorker{h: h, f: f})
	if cfg.Notify != nil {
		river.AddWorker(workers, &notifyWorker{fn: cfg.Notify, f: f})
	}
	if cfg.Train != nil {
		river.AddWorker(workers, &trainWorker{fn: cfg.Train, f: f})
	}
	var periodic []*river.PeriodicJob
	if cfg.Maintenance != nil {
		river.AddWorker(workers, &maintenanceWorker{fn: cfg.Maintenance, f: f})
		periodic = append(periodic, river.NewPeriodicJob(
			river.PeriodicInterval(cmpOr(cfg.MaintenanceInterval, time.Hour)),
			func() (river.JobArgs, *river.InsertOpts) {
				return MaintenanceArgs{}, &river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
					rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
					rivertype.JobStateRetryable, rivertype.JobStateScheduled,
				}}}
			},
			&river.PeriodicJobOpts{ID: MaintenanceArgs{}.Kind(), RunOnStart: true},
		))
	}
	poll := cmpOr(cfg.PollInterval, time.Second)
	clientDriver := driver
	if cfg.SingleNode {
		clientDriver = localDriver{driver}
	}
	client, err := river.NewClient(clientDriver, &river.Config{
		ID:     cfg.ID,
		Logger: logger,
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: cmpOr(cfg.MaxWorkers, 100)},
			BuildQueue:         {MaxWorkers: cmpOr(cfg.BuildWorkers, 4)},
		},
		Workers:              workers,
		PeriodicJobs:         periodic,
		FetchPollInterval:    poll,
		FetchCooldown:        time.Millisecond,
		JobTimeout:           -1, // the engine bounds every step itself
		RescueStuckJobsAfter: cmpOr(cfg.RescueAfter, 2*time.Hour),
		MaxAttempts:          cfg.MaxAttempts,
		RetryPolicy:          backoff{},
		// Keep finished jobs briefly: deployments are the durable record.
		CompletedJobRetentionPeriod: time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("runner: new river client: %w", err)
	}
	return &Runner{client: client, driver: driver, cfg: cfg, logger: logger, fence: f}, nil
}

// Migrate brings River's tables up to date.
func Migrate(ctx context.Context, driver riverdriver.Driver[*sql.Tx]) error {
	m, err := rivermigrate.New(driver, nil)
	if err != nil {
		return fmt.Errorf("river migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrate up: %w", err)
	}
	return nil
}

// Start starts working jobs. ctx bounds only the start itself. Rescue
// the jobs of dead nodes first ([Runner.RescueOrphans]).
func (r *Runner) Start(ctx context.Context) error {
	// River stops fetching when the context given to Start ends, so it gets
	// its own lifetime; Stop ends it.
	if err := r.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("runner: start: %w", err)
	}
	return nil
}

// Stop stops the runner: running jobs may finish until ctx ends, after
// which their contexts are cancelled and Stop waits for them to return. It
// is safe to call twice and before Start.
func (r *Runner) Stop(ctx context.Context) error {
	err := r.client.Stop(ctx)
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := r.client.StopAndCancel(hard); err != nil {
			return fmt.Errorf("runner: stop and cancel: %w", err)
		}
		return nil
	}
	return fmt.Errorf("runner: stop: %w", err)
}

// SQLTx is a store transaction that exposes its database/sql transaction.
type SQLTx interface{ SQL() *sql.Tx }

// EnqueueTx inserts jobs in tx; they become due when tx commits. A job
// that is queued, running or completed for the same deployment and step is
// not inserted twice (a step's job completes only once the step is final,
// so a completed one never needs to run again); one that waits to be tried
// again later (snoozed, or retrying after an error) is made due now, in
// tx. Call [Runner.Wake] with the same jobs after tx commits.
func (r *Runner) EnqueueTx(ctx context.Context, tx SQLTx, jobs ...Job) error {
	if len(jobs) == 0 {
		return nil
	}
	// InsertMany (not the fast variant) honours unique options.
	res, err := r.client.InsertManyTx(ctx, tx.SQL(), insertParams(unique(jobs)))
	if err != nil {
		return fmt.Errorf("enqueue %d jobs: %w", len(jobs), err)
	}
	for _, ins := range res {
		if !ins.UniqueSkippedAsDuplicate || (ins.Job.State != rivertype.JobStateScheduled && ins.Job.State != rivertype.JobStateRetryable) ||
			ins.Job.Kind == (DeadlineArgs{}).Kind() || ins.Job.Kind == (WatchArgs{}).Kind() || // a deadline or a watch waits for its time
			ins.Job.Kind == (NotifyArgs{}).Kind() { // a notification waits for its backoff
			continue
		}
		if _, err := r.client.JobRetryTx(ctx, tx.SQL(), ins.Job.ID); err != nil {
			return fmt.Errorf("enqueue job %d (%s) again: %w", ins.Job.ID, ins.Job.Kind, err)
		}
	}
	return nil
}

// Wake makes idle workers fetch jobs that a committed transaction enqueued,
// now instead of at their next poll. River wakes its own workers only for
// inserts made outside a transaction, so Wake repeats the insert outside
// one: the unique options make it insert nothing, and River then notifies
// its workers. Errors are logged only: the next poll finds the jobs anyway.
func (r *Runner) Wake(ctx context.Context, jobs ...Job) {
	jobs = slices.DeleteFunc(slices.Clone(jobs), func(j Job) bool { return j.Question != "" || j.Watch }) // due later
	if len(jobs) == 0 {
		return
	}
	if _, err := r.client.InsertMany(ctx, insertParams(jobs)); err != nil {
		r.logger.WarnContext(ctx, "wake workers", "jobs", len(jobs), "error", err.Error())
	}
}

// unique drops repeated jobs (River refuses a batch that repeats a unique
// job).
func unique(jobs []Job) []Job {
	seen := make(map[Job]bool, len(jobs))
	out := make([]Job, 0, len(jobs))
	for _, j := range jobs {
		if !seen[j] {
			seen[j] = true
			out = append(out, j)
		}
	}
	return out
}

// BuildQueue is the queue of build steps (keys "build:…").
const BuildQueue = "build"

func insertParams(jobs []Job) []river.InsertManyParams {
	unique := river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStateCompleted, rivertype.JobStatePending,
		rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}
	params := make([]river.InsertManyParams, 0, len(jobs))
	for _, j := range jobs {
		var args river.JobArgs
		opts := &river.InsertOpts{UniqueOpts: unique}
		switch {
		case j.Question != "":
			args = DeadlineArgs{Tool: j.Tool, DeploymentID: j.DeploymentID, QuestionID: j.Question}
			opts.ScheduledAt = j.At
		case j.Train != "":
			args = TrainArgs{TrainID: j.Train}
		case j.Notify != "":
			args = NotifyArgs{Tool: j.Tool, DeliveryID: j.Notify}
		case j.Watch:
			args = WatchArgs{Tool: j.Tool, DeploymentID: j.DeploymentID}
			opts.ScheduledAt = j.At
		case j.Key == "":
			args = StartArgs{Tool: j.Tool, DeploymentID: j.DeploymentID}
		default:
			args = StepArgs{Tool: j.Tool, DeploymentID: j.DeploymentID, Key: j.Key}
		}
		if strings.HasPrefix(j.Key, "build:") {
			opts.Queue = BuildQueue
		}
		params = append(params, river.InsertManyParams{Args: args, InsertOpts: opts})
	}
	return params
}

// localDriver presents a driver to River as one without LISTEN/NOTIFY.
// riversqlite emulates notifications with a table it polls every 50ms, and
// while a driver claims a listener River does not wake its own workers for
// inserts made in this process. With a single node nobody else needs the
// notifications, so River runs poll-only and [Runner.Wake] wakes the
// workers at once.
type localDriver struct {
	riverdriver.Driver[*sql.Tx]
}

func (localDriver) SupportsListener() bool     { return false }
func (localDriver) SupportsListenNotify() bool { return false }

// RescueOrphans makes the jobs found running whose runner is not alive
// (its node stopped beating, or it is not this runner after a restart)
// available again, and returns how many. A job's runner is the last
// client ID in its attempted_by. River's own rescuer, after RescueAfter,
// is the fallback.
func (r *Runner) RescueOrphans(ctx context.Context, alive func(id string) bool) (int, error) {
	res, err := r.client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateRunning).First(10_000))
	if err != nil {
		return 0, fmt.Errorf("runner: list orphaned jobs: %w", err)
	}
	var orphans []*rivertype.JobRow
	for _, j := range res.Jobs {
		if n := len(j.AttemptedBy); n == 0 || !alive(j.AttemptedBy[n-1]) {
			orphans = append(orphans, j)
		}
	}
	if len(orphans) == 0 {
		return 0, nil
	}
	now := time.Now().UTC()
	p := &riverdriver.JobRescueManyParams{StuckHorizon: now.Add(time.Minute)}
	for _, j := range orphans {
		errData, err := json.Marshal(rivertype.AttemptError{At: now, Attempt: j.Attempt, Error: "rescued: the server stopped while this job ran"})
		if err != nil {
			return 0, fmt.Errorf("runner: marshal rescue error: %w", err)
		}
		p.ID = append(p.ID, j.ID)
		p.Error = append(p.Error, errData)
		p.FinalizedAt = append(p.FinalizedAt, nil)
		p.ScheduledAt = append(p.ScheduledAt, now)
		p.State = append(p.State, string(rivertype.JobStateAvailable))
	}
	if _, err := r.driver.GetExecutor().JobRescueMany(ctx, p); err != nil {
		return 0, fmt.Errorf("runner: rescue %d orphaned jobs: %w", len(p.ID), err)
	}
	r.logger.InfoContext(ctx, "rescued orphaned jobs", "count", len(p.ID))
	return len(p.ID), nil
}

// ID returns the runner's ID (River's client ID).
func (r *Runner) ID() string { return r.client.ID() }

type startWorker struct {
	river.WorkerDefaults[StartArgs]
	h Handler
	f *fence
}

func (w *startWorker) Work(ctx context.Context, job *river.Job[StartArgs]) error {
	return w.f.work(ctx, func(ctx context.Context) error {
		return handlerResult(w.h.StartDeployment(ctx, job.Args.Tool, job.Args.DeploymentID))
	})
}

type stepWorker struct {
	river.WorkerDefaults[StepArgs]
	h Handler
	f *fence
}

func (w *stepWorker) Work(ctx context.Context, job *river.Job[StepArgs]) error {
	return w.f.work(ctx, func(ctx context.Context) error {
		return handlerResult(w.h.RunStep(ctx, job.Args.Tool, job.Args.DeploymentID, job.Args.Key))
	})
}

type deadlineWorker struct {
	river.WorkerDefaults[DeadlineArgs]
	h Handler
	f *fence
}

func (w *deadlineWorker) Work(ctx context.Context, job *river.Job[DeadlineArgs]) error {
	return w.f.work(ctx, func(ctx context.Context) error {
		return handlerResult(w.h.QuestionDeadline(ctx, job.Args.Tool, job.Args.DeploymentID, job.Args.QuestionID))
	})
}

type watchWorker struct {
	river.WorkerDefaults[WatchArgs]
	h Handler
	f *fence
}

func (w *watchWorker) Work(ctx context.Context, job *river.Job[WatchArgs]) error {
	return w.f.work(ctx, func(ctx context.Context) error {
		return handlerResult(w.h.WatchDeployment(ctx, job.Args.Tool, job.Args.DeploymentID))
	})
}

type notifyWorker struct {
	river.WorkerDefaults[NotifyArgs]
	fn func(ctx context.Context, tool, deliveryID string) error
	f  *fence
}

func (w *notifyWorker) Work(ctx context.Context, job *river.Job[NotifyArgs]) error {
	return w.f.work(ctx, func(ctx context.Context) error {
		return handlerResult(w.fn(ctx, job.Args.Tool, job.Args.DeliveryID))
	})
}

type trainWorker struct {
	river.WorkerDefaults[TrainArgs]
	fn func(ctx context.Context, trainID string) error
	f  *fence
}

func (w *trainWorker) Work(ctx context.Context, job *river.Job[TrainArgs]) error {
	return w.f.work(ctx, func(ctx context.Context) error {
		return handlerResult(w.fn(ctx, job.Args.TrainID))
	})
}

type maintenanceWorker struct {
	river.WorkerDefaults[MaintenanceArgs]
	fn func(ctx context.Context) error
	f  *fence
}

func (w *maintenanceWorker) Work(ctx context.Context, _ *river.Job[MaintenanceArgs]) error {
	return w.f.work(ctx, w.fn)
}

func handlerResult(err error) error {
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		return river.JobSnooze(ra.RetryAfter())
	}
	return err
}

// backoff retries failed jobs quickly at first (100ms, 200ms, 400ms …),
// capped at 30s: a handler error is an infrastructure hiccup, not a step
// failure.
type backoff struct{}

func (backoff) NextRetry(job *rivertype.JobRow) time.Time {
	d := time.Duration(100*math.Pow(2, float64(max(job.Attempt-1, 0)))) * time.Millisecond
	return time.Now().Add(min(d, 30*time.Second))
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
