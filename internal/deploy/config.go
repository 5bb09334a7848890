package deploy

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"slipway.dev/slipway/internal/metrics"
	"slipway.dev/slipway/internal/runner"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/toolconfig"
)

// Resolver resolves git refs to commits (the git adapter).
type Resolver interface {
	// ResolveAll resolves several refs of one repository at once.
	ResolveAll(ctx context.Context, repository string, refs []string) (map[string]string, error)
	// Contains reports whether commit is tip or one of its ancestors in
	// repository (both full SHAs).
	Contains(ctx context.Context, repository, commit, tip string) (bool, error)
	// Between returns the commits that going from commit from to commit
	// to brings in and takes out, newest first, at most maxCommits each.
	Between(ctx context.Context, repository, from, to string, maxCommits int) (added, removed []slipway.CommitInfo, truncated bool, err error)
	// FirstParentLog returns `git log --first-parent to ^from` of
	// repository (full SHAs; from "" excludes nothing), newest first, at
	// most limit commits (≤ 0: the adapter's bound); the commits the
	// repository lacks are named in the log's Missing.
	FirstParentLog(ctx context.Context, repository, from, to string, limit int) (slipway.CommitLog, error)
	// CherryPick looks in tip's first-parent history since it forked from
	// commit for a commit with the same patch-id (both full SHAs).
	CherryPick(ctx context.Context, repository, commit, tip string) (slipway.CherryPick, error)
	// MayHaveCherryPick reports whether CherryPick may find a pick of
	// commit in any of tips: false means it finds none in any.
	MayHaveCherryPick(ctx context.Context, repository, commit string, tips []string) (bool, error)
}

// Enqueuer puts jobs on the durable queue in a store transaction (the
// runner), and wakes workers for them once the transaction committed.
type Enqueuer interface {
	EnqueueTx(ctx context.Context, tx runner.SQLTx, jobs ...runner.Job) error
	Wake(ctx context.Context, jobs ...runner.Job)
}

// Config holds the knobs of the engine and the application services. Zero values mean the defaults.
type Config struct {
	Logger *slog.Logger
	// NowFunc returns the current time; default time.Now.
	NowFunc func() time.Time
	// BuildSlots bounds concurrent builds on this server (default: number
	// of CPUs).
	BuildSlots int
	// ToolBuildSlots bounds concurrent builds of one tool (default:
	// BuildSlots, i.e. no tighter bound).
	ToolBuildSlots int
	// BuildTimeout bounds one build (default 30m).
	BuildTimeout time.Duration
	// HealthTimeout bounds the wait for a continuous component to become
	// healthy (default 2m).
	HealthTimeout time.Duration
	// OneOffTimeout bounds a one-off run without its own timeout (default 1h).
	OneOffTimeout time.Duration
	// DeploymentTimeout bounds a whole deployment from its creation, queue
	// time included (default 1h, as Toolforge): running steps are stopped
	// and the deployment ends timed_out.
	DeploymentTimeout time.Duration
	// ResolveTimeout bounds resolving all refs of a deployment, above the
	// git adapter's own limits (default 15m; git's connect, low-speed and
	// overall timeouts say sooner, and more precisely, why a remote does
	// not answer).
	ResolveTimeout time.Duration
	// KeepDeployments is how many deployments per tool are kept (default 25,
	// as Toolforge).
	KeepDeployments int
	// ReleaseRetention is the window of release history kept:
	// [Releases.PruneReleases] deletes the releases superseded before it
	// began, so never a live component's current release. 0 keeps them
	// forever (the default). Artifact retention keeps every artifact a
	// kept release references.
	ReleaseRetention time.Duration
	// ArtifactRetention is how long after its build ended an artifact that
	// nothing needs (see [Builds.BuildPrune]) is kept before
	// [Builds.PruneAll] removes it. 0 never removes one automatically (the
	// default here; the server's flag defaults to 7 days).
	ArtifactRetention time.Duration
	// AllowLocalRepos permits file:// and local-path repositories (the
	// embedded default; off on shared servers): to the admin anywhere, to
	// tools inside LocalRepoDirs only.
	AllowLocalRepos bool
	// LocalRepoDirs are the directories (resolved by
	// localrepo.ResolveDirs) whose repositories a tool's own config may
	// name; configs the admin creates may name any local repository.
	LocalRepoDirs []string
	// Credentials seals the credentials taken out of repository URLs and
	// source_urls (see secrets.go). Nil: a URL with a credential is refused.
	Credentials CredentialSealer
	// AllowImages permits prebuilt `image:` components (Kubernetes targets).
	AllowImages bool
	// TransientFunc reports whether an error of git, a builder or a target
	// is worth retrying (a network failure, a failed process spawn) rather
	// than permanent (an unknown ref, a build that fails). Default: none is.
	TransientFunc func(error) bool
	// Attempts is how often a transient failure is tried in all before the
	// step fails (default 4); RetryBackoff is the first wait between
	// attempts, doubling each time (default 500ms).
	Attempts     int
	RetryBackoff time.Duration
	// NoQueue turns queueing off: a deployment requested while another of
	// the same tool is unfinished is refused with Toolforge's 409 instead of
	// waiting behind it.
	NoQueue bool
	// RecheckInterval is how often an event watcher (and a running step
	// watching for a cancel) re-reads the store when nothing woke it;
	// default 1s. With a store that notifies ([Engine.Heard]) it is only
	// the safety net, and the server makes it longer.
	RecheckInterval time.Duration
	// ToolEnv returns the environment every process of a tool gets (its
	// envvars, TOOL_DEPLOY_TOKEN among them) with their fingerprints, read
	// when a component is (re)started and when a deployment is planned. An
	// error fails what needed it: nothing starts without its envvars. Nil:
	// none.
	ToolEnv func(ctx context.Context, tool string) (slipway.ToolEnv, error)
	// ConfigFetcher fetches the configs that a source_url points at (see
	// source.go). When nil, configs with a source_url are refused.
	ConfigFetcher ConfigFetcher
	// Metrics records deployments, steps and builds (see metrics.go).
	// Default nil: nothing is recorded.
	Metrics *metrics.Metrics
	// Limits bound what each tool may ask for (see limits.go); zero fields
	// take slipway.DefaultLimits' values.
	Limits slipway.Limits
	// DiskCheck, when set, is asked before each build: an error (the data
	// directory's filesystem is under its free-space floor) refuses the
	// build, whose record and step fail with the error's message.
	DiskCheck func() error
	// AskTokens issues the ask tokens of steps' processes and reads those
	// presented to the questions API. Nil: nothing may ask.
	AskTokens AskTokens
	// AskURL is the API's URL as a step's processes reach it. With
	// AskTokens, the build of a deployment's build step and the process
	// of its one-off run get it as $SLIPWAY_URL, with their step's token
	// as $SLIPWAY_ASK_TOKEN (see askEnv). Empty: they get neither.
	AskURL string
	// AutoRollbackCheck is how often the auto-rollback watch of a
	// deployment looks at the health of its components (default 5s).
	AutoRollbackCheck time.Duration
}

// withDefaults returns cfg with every zero knob set to its default.
func (cfg Config) withDefaults() Config {
	cfg.BuildSlots = cmp.Or(cfg.BuildSlots, runtime.NumCPU())
	cfg.ToolBuildSlots = cmp.Or(cfg.ToolBuildSlots, cfg.BuildSlots)
	cfg.BuildTimeout = cmp.Or(cfg.BuildTimeout, 30*time.Minute)
	cfg.HealthTimeout = cmp.Or(cfg.HealthTimeout, 2*time.Minute)
	cfg.OneOffTimeout = cmp.Or(cfg.OneOffTimeout, time.Hour)
	cfg.DeploymentTimeout = cmp.Or(cfg.DeploymentTimeout, time.Hour)
	cfg.Attempts = cmp.Or(cfg.Attempts, 4)
	cfg.RetryBackoff = cmp.Or(cfg.RetryBackoff, 500*time.Millisecond)
	if cfg.TransientFunc == nil {
		cfg.TransientFunc = func(error) bool { return false }
	}
	cfg.ResolveTimeout = cmp.Or(cfg.ResolveTimeout, 15*time.Minute)
	cfg.KeepDeployments = cmp.Or(cfg.KeepDeployments, 25)
	cfg.RecheckInterval = cmp.Or(cfg.RecheckInterval, time.Second)
	cfg.AutoRollbackCheck = cmp.Or(cfg.AutoRollbackCheck, 5*time.Second)
	cfg.Limits = cfg.Limits.WithDefaults()
	return cfg
}

// parseStored parses a config that was valid when stored, maybe by an
// older Slipway with fewer rules (toolconfig.ParseStored).
func parseStored(raw []byte) (slipway.ToolConfig, error) {
	res, err := toolconfig.ParseStored(raw)
	if err != nil {
		return slipway.ToolConfig{}, fmt.Errorf("parse stored config: %w", err)
	}
	return res.Config, nil
}
