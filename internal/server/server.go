// Package server is Slipway's composition root: the one place that picks
// implementations (SQLite store, River on SQLite, git CLI, local builder,
// local process target, HTTP API) and wires them together.
//
// The lifecycle is:
//  1. [New] with a [Config].
//  2. [Server.Start]: lock the data directory, open and migrate the store,
//     take over or restore the components that are live, resume unfinished
//     deployments, and start listening.
//  3. [Server.Stop]: stop accepting requests, let running steps finish for
//     a moment then cancel them (they resume at the next start), stop the
//     components' processes, close the store, unlock. Safe to call twice.
package server

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"

	"slipway.dev/slipway/internal/atomicfile"
	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/build/localbuild"
	"slipway.dev/slipway/internal/deploy"
	"slipway.dev/slipway/internal/diskspace"
	"slipway.dev/slipway/internal/edge"
	"slipway.dev/slipway/internal/envvars"
	"slipway.dev/slipway/internal/flock"
	"slipway.dev/slipway/internal/git"
	"slipway.dev/slipway/internal/httpapi"
	"slipway.dev/slipway/internal/localrepo"
	"slipway.dev/slipway/internal/logfile"
	"slipway.dev/slipway/internal/metrics"
	"slipway.dev/slipway/internal/notify"
	"slipway.dev/slipway/internal/remoteconfig"
	"slipway.dev/slipway/internal/runner"
	"slipway.dev/slipway/internal/sandbox"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/target"
	"slipway.dev/slipway/internal/target/kube"
	"slipway.dev/slipway/internal/target/localexec"
	"slipway.dev/slipway/internal/trigger"
	"slipway.dev/slipway/internal/web"
)

// Files in the data directory that clients read.
const (
	// AdminTokenFile holds the admin API token (mode 0600).
	AdminTokenFile = "admin-token"
	// SecretKeyFile holds the 32-byte key that seals the tools' envvars
	// (the deploy tokens among them) in the store and keys their
	// fingerprints (mode 0600). Losing it loses every envvar's value: the
	// components that get them fail to start, `deploy-token show` fails;
	// the deploy tokens themselves keep working, and refresh makes new ones.
	SecretKeyFile = "secret-key"
	// InfoFile holds where a running server listens, as [Info] JSON.
	InfoFile = "server.json"
	// DBFile is the SQLite database, when the state lives in the data
	// directory (no Config.Database).
	DBFile = "slipway.db"
	// LockFile is locked (flock) by the server using the data directory,
	// for as long as it runs.
	LockFile = "slipway.lock"
)

// Info is what a running server publishes in its data directory so that a
// CLI on the same machine finds it.
type Info struct {
	URL      string `json:"url"`
	ProxyURL string `json:"proxy_url"`
	PID      int    `json:"pid"`
	// CA is the certificate file that signed the server's TLS certificate,
	// when the server made it itself (TLS on, no TLSCert): a local CLI
	// trusts it.
	CA string `json:"ca,omitempty"`
}

// Config holds the server's settings. Zero values mean the defaults.
type Config struct {
	// DataDir holds everything the server keeps (required).
	DataDir string
	// Database is where the state lives: a postgres:// URL, or "" for
	// SQLite in DataDir (slipway.db). With PostgreSQL the server registers
	// as a node of the database; with the local target it must be the only
	// live one.
	Database string
	// Listen is the API address; default 127.0.0.1:8700. Port 0 picks one.
	Listen string
	// ProxyListen is where published components are served as
	// http://<tool>.localhost:<port>/; default 127.0.0.1:8701.
	ProxyListen string
	// DebugListen, a loopback address, serves Go's profiles
	// (/debug/pprof/, the admin token required); "" serves none.
	DebugListen string
	// Proxy are the front door's timeouts and size caps (see
	// internal/edge); zero fields take the defaults.
	Proxy edge.Limits
	// AllowLocalRepos permits file:// and local-path repositories: to the
	// admin's configs anywhere, to tools' inside LocalRepoDirs only.
	AllowLocalRepos bool
	// LocalRepoDirs are the directories whose repositories a tool's own
	// config may name (checked on real paths, after symlinks and "..").
	LocalRepoDirs []string
	// Git's network limits (see internal/git): connect, low-speed
	// (LowSpeedLimit bytes a second for LowSpeedTime) and overall timeouts
	// of each ls-remote and fetch. Zero values mean git's defaults.
	GitConnectTimeout time.Duration
	GitLowSpeedLimit  int
	GitLowSpeedTime   time.Duration
	GitTimeout        time.Duration
	// Domains are the apps domain, custom domains and TLS of the proxy.
	Domains edge.DomainConfig
	// MetricsToken is a bearer token that may read /metrics (and nothing
	// else), for Prometheus scrapers; the admin token always may.
	MetricsToken string
	// AdminTokenFile and SecretKeyFile, when set, are read (and never
	// written) instead of DataDir's admin-token and secret-key: an
	// orchestrator's mounted secret that every replica shares, outside a
	// data directory that is empty at each start. They must exist.
	AdminTokenFile, SecretKeyFile string
	// AllowPrivateSourceURLs lets source_url configs be fetched from
	// loopback, private and link-local addresses (see internal/remoteconfig);
	// off, only public addresses are fetched from.
	AllowPrivateSourceURLs bool
	// PublicURL is the server's URL as people reach it, for the links
	// notifications carry to the web UI; default the API's own address.
	PublicURL string
	// SMTP is the mail relay of email notifications; without an address,
	// email subscriptions are refused.
	SMTP notify.SMTP
	// AllowPrivateNotifyURLs lets notification webhooks go to loopback,
	// private and link-local addresses (the address guard of
	// internal/remoteconfig); off, only public addresses.
	AllowPrivateNotifyURLs bool
	// NotifyRetryBase is the wait before a failed notification's second
	// attempt, doubled after each (default 30s).
	NotifyRetryBase time.Duration
	Logger          *slog.Logger
	// HealthTimeout bounds the wait for a component to become healthy.
	HealthTimeout time.Duration
	// StopTimeout is the time a process has between SIGTERM and SIGKILL
	// when its component sets no stop_grace_period (default 10s).
	StopTimeout time.Duration
	// DeploymentTimeout bounds a whole deployment (default 1h).
	DeploymentTimeout time.Duration
	// BuildTimeout bounds one build (default 30m).
	BuildTimeout time.Duration
	// KeepDeployments is how many deployments per tool are kept (default 25).
	KeepDeployments int
	// ReleaseRetention is how long releases are kept (0: forever, the
	// default); ArtifactRetention how long an artifact nothing needs is
	// kept after its build ended (0: never removed automatically). The
	// maintenance job applies both every MaintenanceInterval (default 1h).
	ReleaseRetention, ArtifactRetention time.Duration
	MaintenanceInterval                 time.Duration
	// NoQueue refuses a deployment while another of the tool is unfinished
	// (Toolforge's 409) instead of queueing it.
	NoQueue bool
	// BuildSlots bounds concurrent builds (default: number of CPUs);
	// ToolBuildSlots bounds those of one tool (default: BuildSlots).
	BuildSlots, ToolBuildSlots int
	// GoStdCache is the Go build cache, shared by the servers of this host,
	// where the standard library is compiled once for builds (see
	// localbuild.Config.GoStdCache); default <user cache dir>/slipway/go-std.
	GoStdCache string

	// Unsandboxed runs tools' builds and processes unconfined, as the
	// server's user: only for a single-user workstation. The server says
	// so at start and in healthz.
	Unsandboxed bool
	// SandboxLimits picks how the sandbox enforces limits: "" (the best
	// this host offers), "cgroup2", "cgroup1", "rlimit" or "none".
	SandboxLimits string
	// SandboxNetwork is "" (isolate tools from this host's ports when it
	// can), "isolated" (or refuse to start) or "shared".
	SandboxNetwork string
	// SandboxUIDBase is the first uid given to tools (the server is root);
	// default sandbox.DefaultUIDBase.
	SandboxUIDBase int
	// SandboxReadOnlyPaths are host directories tools see read-only, such
	// as a toolchain outside /usr; the Go toolchain's GOROOT is added when
	// it is outside the system directories.
	SandboxReadOnlyPaths []string
	// BuildMemory and BuildCPU are the limits of each build command
	// (default 4Gi, no CPU limit); a component's are its memory and cpu,
	// else Limits.Default.
	BuildMemory, BuildCPU string
	// Now is the clock of the deploy tokens (their creation and expiry);
	// default time.Now. Tests set it.
	Now func() time.Time
	// StopGrace is how long running steps may go on at shutdown before
	// they are cancelled; default 3s.
	StopGrace time.Duration
	// EventRecheck is how often a watcher of a deployment (an event
	// stream, a running step watching for a cancel) re-reads the store
	// when nothing woke it. Default 1s on SQLite, where every change is
	// this server's own and wakes its watchers at once; 10s on
	// PostgreSQL, where the changes other servers commit wake them
	// through the store's notifications, and this is the safety net.
	EventRecheck time.Duration
	// NodeBeat, NodeFence and NodeTTL are the heartbeat contract of the
	// servers sharing a PostgreSQL database (ARCHITECTURE.md, "Scale-out"):
	// a server records a heartbeat every NodeBeat (default 5s); one whose
	// heartbeat has not succeeded for NodeFence (default 15s) fences itself
	// — it takes no work, cancels the steps it runs and reports unhealthy —
	// until one succeeds; the others rescue the jobs of a server not seen
	// for NodeTTL (default 30s). Every server of a database must have the
	// same values. New refuses NodeFence ≤ NodeBeat and NodeTTL < 2 ×
	// NodeFence: the rest of NodeTTL is the margin for the fenced steps to
	// stop and for the servers' clocks to disagree.
	NodeBeat, NodeFence, NodeTTL time.Duration
	// SlipwayBinary is the program that a deployment's build and one-off
	// processes run as `slipway` (to ask questions with `slipway ask`);
	// default this process's own executable. Tests running the server in
	// their own binary set it.
	SlipwayBinary string

	// TLS serves the API over HTTPS and accepts client certificates signed
	// by the data directory's CA (see auth.LoadOrCreateCA) or by
	// ClientCAFiles: a certificate whose CN is a tool's name acts for that
	// tool. The server certificate is TLSCertFile/TLSKeyFile, or else one
	// the CA issues for localhost, 127.0.0.1, ::1 and TLSHosts.
	TLS                     bool
	TLSCertFile, TLSKeyFile string
	TLSHosts                []string
	ClientCAFiles           []string
	// TrustedProxies are the peer addresses whose x-toolforge-tool header
	// names the tool they authenticated (a gateway in front of Slipway).
	TrustedProxies []netip.Prefix
	// DeployTokenLifetime is how long a deploy token is accepted; default
	// Toolforge's 365 days.
	DeployTokenLifetime time.Duration
	// PollFloor is the shortest interval a tool's repositories are polled
	// at; default 1m.
	PollFloor time.Duration
	// EnvVarQuota is how many envvars a tool may have; default
	// slipway.DefaultEnvVarQuota.
	EnvVarQuota int
	// ToolRate and ToolBurst are the per-tool request rate limit (see
	// httpapi.Config); zero means the defaults, negative turns it off
	// (tests that drive one tool hard).
	ToolRate  float64
	ToolBurst int
	// Limits bound what each tool may ask for: the memory and cpu a
	// component gets by default and at most, and the tool's quotas. Zero
	// fields take slipway.DefaultLimits' (Toolforge's) values; New refuses
	// limits that contradict each other. Limits.Default is what the
	// sandbox gives a component that sets no memory or cpu
	// (slipway.RunSpec.Resources).
	Limits slipway.Limits

	// LogMaxSize and LogMaxFiles bound each process log (rotated past
	// LogMaxSize, LogMaxFiles files kept in all); BuildLogMaxSize and
	// BuildLogMaxFiles each build log. Zero means the defaults: 10 MiB × 5
	// and 10 MiB × 2 (see internal/logfile).
	LogMaxSize, BuildLogMaxSize   int64
	LogMaxFiles, BuildLogMaxFiles int
	// MinFreeDisk is the free-space floor of the data directory's
	// filesystem: under it builds are refused and healthz reports
	// DEGRADED. The zero value is diskspace.DefaultFloor (1 GiB).
	MinFreeDisk diskspace.Floor
	// Target is where components run: TargetLocal (the default: processes
	// on this host, in the sandbox) or TargetKubernetes.
	Target string
	// Kube configures the Kubernetes target.
	Kube KubeTarget
}

// The targets a server can run components on.
const (
	TargetLocal      = "local"
	TargetKubernetes = "kubernetes"
)

// KubeTarget configures the Kubernetes target. Templates replace {tool}
// with a tool instance's name (a tool, or tool--environment).
type KubeTarget struct {
	// Kubeconfig is the kubeconfig file; "" means the in-cluster config.
	Kubeconfig string
	// NamespaceTemplate names an instance's namespace; default
	// "tool-{tool}".
	NamespaceTemplate string
	// IngressHostTemplate gives the host of an instance's published
	// component, e.g. "{tool}.apps.example.org"; "" makes no Ingress.
	IngressHostTemplate string
	// IngressClass is the Ingresses' class; "" leaves it to the cluster.
	IngressClass string
	// IngressNamespace is the ingress controller's namespace, whose pods
	// a tool namespace's NetworkPolicy admits; "" admits no other
	// namespace's.
	IngressNamespace string
	// Registry, when set, makes source builds run in the cluster
	// (internal/build/kubebuild), pushing their images to it
	// (host[:port][/path]); without it they stay on this server as
	// directories, which this target refuses to run.
	Registry string
	// RegistrySecret names the docker config Secret (in the build
	// namespace) holding the registry's push credential.
	RegistrySecret string
	// BuildNamespaceTemplate names the namespace a tool's builds run in;
	// {tool} may appear; default kubebuild.DefaultNamespace.
	BuildNamespaceTemplate string
	// BuilderImage is the Cloud Native Buildpacks builder image whose
	// lifecycle creator builds; default kubebuild.DefaultBuilderImage.
	BuilderImage string
	// BuildNodeSelector places build pods (a pool of build nodes); no
	// flag sets it yet. Tests keep them off kwok's node with it.
	BuildNodeSelector map[string]string
	// WrapTransport, when not nil, wraps the transport of the driver's
	// API client (client-go's rest.Config.WrapTransport). It is for
	// tests, which count the requests the server makes; no flag sets it.
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// ExpandTemplate replaces {tool} in a KubeTarget template with instance.
func ExpandTemplate(tpl, instance string) string { return strings.ReplaceAll(tpl, "{tool}", instance) }

// Server is a running Slipway.
type Server struct {
	cfg     Config
	logger  *slog.Logger
	sandbox *sandbox.Sandbox
	unlock  func()
	db      store.Store
	// nodeID names this server in the store's nodes and in the jobs its
	// runner works.
	nodeID string
	// fence is this server's heartbeat state: whether it is fenced
	// (database.go).
	fence fenceState
	// target runs the tools' components (localexec: processes on this
	// host); the server knows it only through the target seams.
	target runtimeTarget
	// kubeCS is the Kubernetes client of the target and the builder,
	// when the target is Kubernetes.
	kubeCS kubernetes.Interface
	runner *runner.Runner
	// metrics are the server's Prometheus metrics (the maintenance job
	// counts what retention removed).
	metrics *metrics.Metrics

	// engine runs the deployments that deployments creates; builds and
	// jobs are the other application services of the API.
	engine      *deploy.Engine
	deployments *deploy.Deployments
	builds      *deploy.Builds
	jobs        *deploy.Jobs
	questions   *deploy.Questions
	releases    *deploy.Releases
	cuts        *deploy.Cuts
	trains      *deploy.Trains
	flows       *deploy.Flows

	api   *http.Server
	proxy *http.Server
	// access are the tools' access logs, which the proxy writes.
	access *edge.AccessLogs
	// cancelBase ends the contexts of every request the HTTP servers
	// serve; Stop calls it first.
	cancelBase context.CancelFunc
	apiLn      net.Listener
	proxyLn    net.Listener
	debug      *http.Server
	debugLn    net.Listener
	token      string
	// caFile is the CA certificate that signed the API's TLS certificate,
	// when the server issued that itself.
	caFile  string
	toolEnv func(ctx context.Context, tool string) (slipway.ToolEnv, error)
	envVars *envvars.Vars
	// source is the git adapter (ref resolution), which polling shares.
	source *git.Client
	// webhooks serves the tools' push webhooks.
	webhooks *trigger.Hooks
	notify   *notify.Service
	// disk checks the data directory's free space against MinFreeDisk.
	disk    *diskspace.Checker
	stopped sync.Once
	// wroteInfo is set once this server published InfoFile.
	wroteInfo bool
	closers   []func(context.Context) error
	edge      edgeState
}

// New returns a server that is not started yet.
func New(cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: no data directory")
	}
	if err := checkDatabase(cfg.Database); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("server: data directory: %w", err)
	}
	cfg.DataDir = abs
	cfg.Listen = cmp.Or(cfg.Listen, "127.0.0.1:8700")
	cfg.ProxyListen = cmp.Or(cfg.ProxyListen, "127.0.0.1:8701")
	cfg.StopGrace = cmp.Or(cfg.StopGrace, 3*time.Second)
	cfg.NodeBeat = cmp.Or(cfg.NodeBeat, nodeBeat)
	cfg.NodeFence = cmp.Or(cfg.NodeFence, nodeFence)
	cfg.NodeTTL = cmp.Or(cfg.NodeTTL, nodeTTL)
	if cfg.NodeFence <= cfg.NodeBeat || cfg.NodeTTL < 2*cfg.NodeFence {
		return nil, fmt.Errorf("server: heartbeat every %s, fence after %s, rescue after %s: want the fence after more than one heartbeat, and the rescue after at least twice the fence, so that a fenced server stops its steps before another runs them again",
			cfg.NodeBeat, cfg.NodeFence, cfg.NodeTTL)
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	if err := cfg.Proxy.Validate(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if err := cfg.Domains.Validate(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if err := cfg.Limits.Validate(); err != nil {
		return nil, fmt.Errorf("server: limits: %w", err)
	}
	for _, l := range []struct {
		size  int64
		files int
		what  string
	}{{cfg.LogMaxSize, cfg.LogMaxFiles, "process logs"}, {cfg.BuildLogMaxSize, cfg.BuildLogMaxFiles, "build logs"}} {
		size := cmp.Or(l.size, logfile.DefaultMaxSize)
		if err := logfile.CheckLimits(size, cmp.Or(l.files, logfile.DefaultMaxFiles)); err != nil {
			return nil, fmt.Errorf("server: %s: %w", l.what, err)
		}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, logger: logger}, nil
}

// Start starts the server; on error everything started so far is stopped.
func (s *Server) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = s.Stop(context.WithoutCancel(ctx)) // the start error is the one to report
		}
	}()
	dir := s.cfg.DataDir
	if err := secureDataDir(dir); err != nil {
		return err
	}
	if err := s.lockDataDir(); err != nil {
		return err
	}
	if s.token, err = loadOrCreateToken(filepath.Join(dir, AdminTokenFile), s.cfg.AdminTokenFile); err != nil {
		return err
	}
	key, err := loadOrCreateKey(filepath.Join(dir, SecretKeyFile), s.cfg.SecretKeyFile)
	if err != nil {
		return err
	}

	driver, err := s.openStore(ctx)
	if err != nil {
		return err
	}
	if err := s.checkSecretKey(ctx, key); err != nil {
		return err
	}
	me := s.newNode()
	s.nodeID = me.ID
	s.fence.init(time.Now())
	if err := s.join(ctx, me); err != nil {
		return err
	}
	s.warnClearCredentials(ctx)
	if err := s.migrateQueue(ctx, driver); err != nil {
		return err
	}

	deployTokens, err := auth.New(s.db, key, s.cfg.Now)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	deployTokens.SetLifetime(s.cfg.DeployTokenLifetime)
	// Deploy tokens that an older Slipway kept sealed become the tools'
	// TOOL_DEPLOY_TOKEN envvars (SQL could not re-encrypt them; see
	// migration 0006). One that cannot be moved keeps working.
	if n, err := deployTokens.MoveLegacySeals(ctx); err != nil {
		s.logger.WarnContext(ctx, "some deploy tokens could not be moved into TOOL_DEPLOY_TOKEN envvars: they still work but cannot be shown; refresh them",
			"moved", n, "error", err.Error())
	} else if n > 0 {
		s.logger.InfoContext(ctx, "deploy tokens moved into TOOL_DEPLOY_TOKEN envvars", "moved", n)
	}
	sealer, err := auth.NewSealer(key)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.envVars = envvars.New(s.db, sealer, envvars.Config{Quota: s.cfg.EnvVarQuota, Now: s.cfg.Now})
	// Every process of a tool gets its envvars (TOOL_DEPLOY_TOKEN among
	// them, as on Toolforge), read at each (re)start.
	s.toolEnv = s.envVars.Environ

	localDirs, err := localrepo.ResolveDirs(s.cfg.LocalRepoDirs)
	if err != nil {
		return fmt.Errorf("server: local repository directories: %w", err)
	}
	repoCreds, err := auth.NewRepoCredentials(s.db, key)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.disk = diskspace.NewChecker(dir, s.cfg.MinFreeDisk)
	if err := s.disk.Check(); err != nil {
		s.logger.WarnContext(ctx, "builds are refused until there is more free disk space", "error", err.Error())
	}
	src, err := git.New(git.Config{
		CacheDir: filepath.Join(dir, "git"), AllowLocal: s.cfg.AllowLocalRepos, LocalDirs: localDirs,
		Credentials: repoCreds.Lookup, ConnectTimeout: s.cfg.GitConnectTimeout, Timeout: s.cfg.GitTimeout,
		LowSpeedLimit: s.cfg.GitLowSpeedLimit, LowSpeedTime: s.cfg.GitLowSpeedTime, DiskCheck: s.disk.Check,
	})
	if err != nil {
		return fmt.Errorf("server: git: %w", err)
	}
	s.source = src
	if err := s.openSandbox(ctx); err != nil {
		return err
	}
	limits, err := s.limits()
	if err != nil {
		return err
	}
	var builder build.Builder
	if s.cfg.Target == TargetKubernetes && s.cfg.Kube.Registry != "" {
		// Source builds run in the cluster and push images.
		if builder, err = s.openKubeBuilder(limits.build, repoCreds.Lookup); err != nil {
			return err
		}
	} else {
		if s.cfg.Target == TargetKubernetes {
			s.logger.WarnContext(ctx, "no --kube-registry: source builds stay on this server as directories, which the Kubernetes target refuses to run; only prebuilt images (build: image:) deploy")
		}
		if builder, err = localbuild.New(localbuild.Config{
			Dir: filepath.Join(dir, "builder"), GoStdCache: s.goStdCache(), Sandbox: s.sandbox, Limits: limits.build,
			LogMaxSize: s.cfg.BuildLogMaxSize, LogMaxFiles: s.cfg.BuildLogMaxFiles,
		}, src); err != nil {
			return fmt.Errorf("server: builder: %w", err)
		}
	}

	var lc net.ListenConfig
	if s.apiLn, err = lc.Listen(ctx, "tcp", s.cfg.Listen); err != nil {
		return fmt.Errorf("server: listen %s: %w", s.cfg.Listen, err)
	}
	if s.cfg.TLS {
		tlsCfg, err := s.tlsConfig()
		if err != nil {
			return err
		}
		s.apiLn = tls.NewListener(s.apiLn, tlsCfg)
	}
	if s.proxyLn, err = lc.Listen(ctx, "tcp", s.cfg.ProxyListen); err != nil {
		return fmt.Errorf("server: proxy listen %s: %w", s.cfg.ProxyListen, err)
	}
	if err := s.openEdge(ctx, sealer); err != nil {
		return err
	}
	// Tools may reach this server's API and proxy (HTTP and HTTPS), and no
	// other port of this host (when the sandbox isolates their network).
	ports := []int{s.apiLn.Addr().(*net.TCPAddr).Port, s.proxyLn.Addr().(*net.TCPAddr).Port}
	if s.edge.httpsLn != nil {
		ports = append(ports, s.edge.httpsLn.Addr().(*net.TCPAddr).Port)
	}
	if err := s.sandbox.IsolateNetwork(ctx, ports...); err != nil {
		return fmt.Errorf("server: %w", err)
	}

	askTokens := auth.NewAskTokens(key)
	if s.target, err = s.openTarget(dir, askTokens, limits.component); err != nil {
		return err
	}
	if err := s.target.Start(ctx); err != nil {
		return fmt.Errorf("server: start target: %w", err)
	}
	// Closers run last first: the ad-hoc jobs are waited for once the
	// target stopped, which ends their runs.
	s.closers = append(s.closers, func(ctx context.Context) error {
		if s.jobs == nil {
			return nil
		}
		return s.jobs.Stop(ctx)
	})
	s.closers = append(s.closers, s.target.Stop)

	m := metrics.New()
	s.metrics = m
	m.CountInProgress(func(ctx context.Context) (int, error) {
		ds, err := s.db.DeploymentListUnfinished(ctx, "")
		return len(ds), err
	})
	s.engine = deploy.NewEngine(s.db, src, builder, s.target, deploy.Config{
		Logger: s.logger, AllowLocalRepos: s.cfg.AllowLocalRepos, HealthTimeout: s.cfg.HealthTimeout,
		LocalRepoDirs: localDirs, Credentials: repoCreds,
		DeploymentTimeout: s.cfg.DeploymentTimeout, KeepDeployments: s.cfg.KeepDeployments,
		ReleaseRetention: s.cfg.ReleaseRetention, ArtifactRetention: s.cfg.ArtifactRetention,
		BuildSlots: s.cfg.BuildSlots, ToolBuildSlots: s.cfg.ToolBuildSlots, NoQueue: s.cfg.NoQueue,
		AllowImages:   s.cfg.Target == TargetKubernetes,
		TransientFunc: transient, BuildTimeout: s.cfg.BuildTimeout, ToolEnv: s.toolEnv,
		ConfigFetcher: remoteconfig.New(remoteconfig.Config{AllowPrivate: s.cfg.AllowPrivateSourceURLs}),
		Metrics:       m, Limits: s.cfg.Limits,
		DiskCheck: s.disk.Check, AskTokens: askTokens, AskURL: s.askURL(),
		RecheckInterval: s.eventRecheck(),
	})
	s.deployments = deploy.NewDeployments(s.engine)
	// A tool's push webhook deploys through the same service as the API.
	s.webhooks = trigger.New(s.db, sealer, s.deployments, trigger.Config{Now: s.cfg.Now, Logger: s.logger.With("component", "trigger")})
	// Outbound notifications: recorded by the engine in the transaction
	// of each event, sent by the runner's jobs.
	s.notify = notify.New(s.db, sealer, notify.Config{
		PublicURL: cmp.Or(s.cfg.PublicURL, s.askURL()), AllowPrivate: s.cfg.AllowPrivateNotifyURLs, SMTP: s.cfg.SMTP,
		RetryBase: s.cfg.NotifyRetryBase, Now: s.cfg.Now, Logger: s.logger.With("component", "notify"),
	})
	s.engine.SetNotifier(s.notify)
	s.questions = deploy.NewQuestions(s.engine)
	s.releases = deploy.NewReleases(s.engine)
	s.cuts = deploy.NewCuts(s.engine)
	s.trains = deploy.NewTrains(s.engine)
	s.flows = deploy.NewFlows(s.engine)
	s.webhooks.SetFlows(s.flows)
	s.builds = deploy.NewBuilds(s.engine)
	s.jobs = deploy.NewJobs(s.engine)
	if err := s.listenChanges(ctx); err != nil {
		return err
	}
	// Before the target and the store close: the builds started outside
	// deployments stop and leave their records for the next start.
	s.closers = append(s.closers, s.builds.Stop)
	if err := s.recoverIfAlone(ctx, builder); err != nil {
		return err
	}
	// With SQLite this is the only server (the data directory's lock);
	// with PostgreSQL others may share the queue and must be woken.
	rcfg := runner.Config{
		Logger: s.logger, ID: s.nodeID, SingleNode: !isPostgres(s.cfg.Database),
		BuildWorkers: cmp.Or(s.cfg.BuildSlots, runtime.NumCPU()),
		Notify:       s.notify.Deliver,
		Train:        s.trains.AdvanceTrain,
	}
	if s.cfg.ReleaseRetention > 0 || s.cfg.ArtifactRetention > 0 {
		// Nothing to do without a retention: no job.
		rcfg.Maintenance, rcfg.MaintenanceInterval = s.maintain, s.cfg.MaintenanceInterval
	}
	s.runner, err = runner.New(driver, s.engine, rcfg)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.engine.SetEnqueuer(s.runner)
	if n, err := s.rescueOrphans(ctx); err != nil {
		return fmt.Errorf("server: %w", err)
	} else if n > 0 {
		s.logger.InfoContext(ctx, "jobs a stopped server left running are picked up", "jobs", n)
	}
	if isPostgres(s.cfg.Database) {
		// A fresh heartbeat before the first job: the start (a restore,
		// River's migrations) may have outlasted the one of the join, and
		// the fence counts from here.
		start := time.Now()
		me.SeenAt = s.now()
		if err := s.db.NodeBeat(ctx, me); err != nil {
			return fmt.Errorf("server: record heartbeat: %w", err)
		}
		s.fence.init(start)
	}
	if err := s.runner.Start(ctx); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	// Heartbeats tell other servers this one lives. With SQLite there are
	// none (the data directory's lock), and the next start forgets this
	// node anyway (join).
	if isPostgres(s.cfg.Database) {
		beatCtx, stopBeat := context.WithCancel(context.WithoutCancel(ctx))
		beaten, guarded := make(chan struct{}), make(chan struct{})
		go func() { defer close(beaten); s.beat(beatCtx, me) }()
		go func() { defer close(guarded); s.guard(beatCtx) }()
		s.closers = append(s.closers, func(context.Context) error { stopBeat(); <-beaten; <-guarded; return nil })
	}

	// Polling: deployments for new commits of the tools that ask for it.
	// Every server polls; a commit deploys once (the poll state advances
	// in the deployment's own transaction).
	pollCtx, stopPoll := context.WithCancel(context.WithoutCancel(ctx))
	polled := make(chan struct{})
	poller := trigger.NewPoller(s.db, s.deployments, s.source, trigger.PollConfig{
		Floor: s.cfg.PollFloor, Now: s.cfg.Now, Logger: s.logger.With("component", "poll"), Metrics: s.metrics,
	})
	go func() { defer close(polled); _ = poller.Run(pollCtx) }()
	s.closers = append(s.closers, func(context.Context) error { stopPoll(); <-polled; return nil })

	// Requests' contexts derive from base, which Stop cancels first: event
	// streams and followed logs end at once instead of holding Shutdown
	// until its timeout.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	s.cancelBase = cancelBase
	baseContext := func(net.Listener) context.Context { return base }
	// The front door: published components, when the driver serves them
	// itself (Kubernetes reaches them through Ingresses), with an access
	// log per tool bounded as the process logs are.
	backends, _ := s.target.(edge.Backends)
	access, err := edge.NewAccessLogs(filepath.Join(dir, "access"), s.cfg.LogMaxSize, s.cfg.LogMaxFiles)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.access = access
	s.closers = append(s.closers, func(context.Context) error { return access.Close() })
	proxy, err := edge.New(edge.Config{Hosts: s.edge.domains, Backends: backends, Limits: s.cfg.Proxy, Logger: s.logger, AccessLogs: access, Metrics: m})
	if err != nil {
		return fmt.Errorf("server: proxy: %w", err)
	}
	// With HTTPS on, the plain listener redirects (or answers ACME's
	// HTTP-01 challenges) and the HTTPS one serves.
	s.proxy = s.cfg.Proxy.Server(s.startEdge(proxy, baseContext))
	s.proxy.BaseContext = baseContext
	apiTokens := auth.NewAPITokens(s.db, s.cfg.Now)
	s.api = &http.Server{
		Handler: httpapi.NewHandler(s.deployments, httpapi.Config{
			AdminToken: s.token, Logger: s.logger, Health: s.health, DeployTokens: deployTokens,
			APITokens: apiTokens, TrustedProxies: s.cfg.TrustedProxies, EnvVars: s.envVars, Webhooks: s.webhooks,
			Builds: s.builds, Jobs: s.jobs, Notifications: s.notify, Questions: s.questions, Releases: s.releases, AccessLogs: s.access, Cuts: s.cuts, Trains: s.trains, Flows: s.flows, Metrics: m, ToolRate: s.cfg.ToolRate, ToolBurst: s.cfg.ToolBurst,
			MetricsToken: s.cfg.MetricsToken, Domains: s.edge.domains,
			UI: &web.Config{
				Deployments: s.deployments, Builds: s.builds, Jobs: s.jobs, Tools: s.db, Sessions: s.db, Questions: s.questions,
				EnvVars: s.envVars, DeployTokens: deployTokens, APITokens: apiTokens, Now: s.cfg.Now,
				Releases: s.releases, Environments: s.deployments, Trains: s.db,
				Notifications: s.notify, Webhooks: s.webhooks, Cuts: s.cuts, Polls: s.db, PublicURL: s.cfg.PublicURL,
			},
		}),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       baseContext,
	}
	if err := s.startDebug(ctx); err != nil {
		return err
	}
	go s.serve(s.api, s.apiLn)
	go s.serve(s.proxy, s.proxyLn)

	info := Info{URL: s.URL(), ProxyURL: fmt.Sprintf("http://127.0.0.1:%d", s.proxyLn.Addr().(*net.TCPAddr).Port), PID: os.Getpid(), CA: s.caFile}
	if err := writeJSON(filepath.Join(dir, InfoFile), info); err != nil {
		return err
	}
	s.wroteInfo = true
	s.logger.InfoContext(ctx, "slipway server started", "url", info.URL, "proxy", info.ProxyURL, "data", dir)
	return nil
}

// maintain is the maintenance job's work: release retention, then
// artifact retention (which keeps the artifacts of the releases left).
// Each logs what it removed.
func (s *Server) maintain(ctx context.Context) error {
	releases, rerr := s.releases.PruneReleases(ctx)
	artifacts, bytes, aerr := s.builds.PruneAll(ctx)
	s.metrics.Retained(releases, artifacts, bytes)
	return errors.Join(rerr, aerr)
}

// transient reports whether an adapter's error is worth retrying: git's
// network failures, and processes the kernel could not create right now.
func transient(err error) bool {
	return git.IsTransient(err) || errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.ENOMEM) || kube.Transient(err)
}

func (s *Server) serve(srv *http.Server, ln net.Listener) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.logger.Error("http server stopped", "addr", ln.Addr().String(), "error", err.Error())
	}
}

// goStdCache returns the Go standard library cache for builds.
func (s *Server) goStdCache() string {
	if s.cfg.GoStdCache != "" {
		return s.cfg.GoStdCache
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "slipway", "go-std")
	}
	return ""
}

// recoverAlone puts right what the last stop left: the live components
// restored, the builds it interrupted settled, its build deletions
// finished. Only a server that starts alone on its store calls it.
func (s *Server) recoverAlone(ctx context.Context, builder build.Builder) error {
	// After the engine: it knows each instance's environment variables.
	if err := s.restoreLive(ctx, builder); err != nil {
		return err
	}
	if n, err := s.builds.SettleInterruptedBuilds(ctx); err != nil {
		return fmt.Errorf("server: %w", err)
	} else if n > 0 {
		s.logger.WarnContext(ctx, "builds started outside a deployment were interrupted by the last stop", "builds", n)
	}
	if n, err := s.builds.FinishBuildDeletes(ctx); err != nil {
		return fmt.Errorf("server: %w", err)
	} else if n > 0 {
		s.logger.InfoContext(ctx, "finished build deletes the last stop interrupted", "builds", n)
	}
	return nil
}

// restoreLive makes the target run what the store says is live: processes
// that survived a crash are taken over, the others are started again.
func (s *Server) restoreLive(ctx context.Context, builder build.Builder) error {
	live, err := s.db.LiveRunListAll(ctx)
	if err != nil {
		return fmt.Errorf("server: live state: %w", err)
	}
	specs := make([]target.Spec, 0, len(live))
	envs := map[string]slipway.ToolEnv{} // by instance: read once, not per component
	for _, r := range live {
		if r.Type == slipway.OneOff {
			continue
		}
		tool, _ := slipway.SplitInstance(r.Tool) // r.Tool is the instance
		art, ok, err := builder.Lookup(ctx, tool, r.BuildKey)
		if err != nil || !ok {
			why := "artifact missing"
			if err != nil {
				why = err.Error()
			}
			s.logger.WarnContext(ctx, "cannot restore component", "tool", r.Tool, "component", r.Component, "build", r.BuildKey, "why", why)
			continue
		}
		// Restored processes get the envvars of now; the live record keeps
		// what the deployment gave them, so a change made before the stop
		// still shows in the next plan (which restarts them once more).
		env, known := envs[r.Tool]
		if !known {
			env, err = s.engine.InstanceEnv(ctx, r.Tool)
		}
		if err != nil {
			s.logger.ErrorContext(ctx, "cannot restore component: its envvars cannot be read, and it does not start without them; fix the secret key or recreate the envvars, then deploy with --force-run",
				"tool", r.Tool, "component", r.Component, "error", err.Error())
			continue
		}
		envs[r.Tool] = env
		spec := target.Spec{Tool: r.Tool, Component: r.Spec, SpecHash: r.SpecHash, Artifact: art}
		spec.Env, spec.SecretEnv = env.Split()
		specs = append(specs, spec)
	}
	if err := s.target.Restore(ctx, specs); err != nil {
		return fmt.Errorf("server: restore live components: %w", err)
	}
	return nil
}

// runtimeTarget is what the server needs of a target driver: the driver
// seam the engine uses, and a life alongside the server's.
type runtimeTarget interface {
	target.Driver
	target.Lifecycle
}

// openTarget makes the target driver: localexec, processes on this host
// in the sandbox, each tool's published component behind the proxy.
func (s *Server) openTarget(dir string, askTokens *auth.AskTokens, limits func(target.Spec) sandbox.Limits) (runtimeTarget, error) {
	switch s.cfg.Target {
	case "", TargetLocal:
	case TargetKubernetes:
		return s.openKube()
	default:
		return nil, fmt.Errorf("server: unknown target %q: want %s or %s", s.cfg.Target, TargetLocal, TargetKubernetes)
	}
	d, err := localexec.New(localexec.Config{
		AskEnv: func(instance, component, run string) map[string]string {
			tool, env := slipway.SplitInstance(instance)
			scope := slipway.AskScope{Tool: tool, Step: slipway.ScheduledAskStepIn(component, env, run)}
			return map[string]string{slipway.EnvAskURL: s.askURL(), slipway.EnvAskToken: askTokens.Issue(scope)}
		},
		Dir:          filepath.Join(dir, "run"),
		HomeDir:      func(tool string) string { return filepath.Join(dir, "tools", tool, "home") },
		Logger:       s.logger,
		ProxyBaseURL: s.publicURL,
		Sandbox:      s.sandbox,
		Limits:       limits,
		LogMaxSize:   s.cfg.LogMaxSize,
		LogMaxFiles:  s.cfg.LogMaxFiles,
		StopTimeout:  s.cfg.StopTimeout,
		// A replacement is given up (the old version kept) when the
		// deployment's health wait would give up.
		StartupTimeout: s.cfg.HealthTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("server: target: %w", err)
	}
	return d, nil
}

// pinger is a target that tells whether it answers without listing a
// tool's components: the Kubernetes driver, for which "-" is no tool (nor
// a label value) to list.
type pinger interface {
	Ping(ctx context.Context) error
}

func (s *Server) health(ctx context.Context) map[string]error {
	checks := map[string]error{}
	_, err := s.db.ToolList(ctx)
	checks["store"] = err
	checks["runner"] = nil
	if s.runner == nil {
		checks["runner"] = errors.New("not started")
	}
	if p, ok := s.target.(pinger); ok {
		checks["target"] = p.Ping(ctx)
	} else {
		_, checks["target"] = s.target.List(ctx, "-")
	}
	checks["disk"] = httpapi.Degraded(s.disk.Check())
	if isPostgres(s.cfg.Database) {
		checks["node"] = s.fenced()
	}
	checks["sandbox"] = httpapi.Degraded(s.sandboxWarning())
	return checks
}

// sandboxWarning says what is weak about how tools are confined: the
// sandbox off, or limits by rlimits or none; nil when all is as it should.
func (s *Server) sandboxWarning() error {
	switch {
	case s.sandbox == nil:
		return errors.New("not started")
	case !s.sandbox.Enabled(), s.sandbox.LimitsBackend() == "none", s.sandbox.LimitsBackend() == "rlimit":
		return errors.New(s.sandbox.Describe())
	}
	return nil
}

// openSandbox makes the sandbox every build and tool process runs in, or
// refuses to start, saying why and what to install, when it cannot work
// here; unless the sandbox is explicitly off.
func (s *Server) openSandbox(ctx context.Context) error {
	cfg := sandbox.Config{
		Mode: sandbox.Bubblewrap, Dir: filepath.Join(s.cfg.DataDir, "sandbox"), Name: dataDirID(s.cfg.DataDir),
		UIDBase: s.cfg.SandboxUIDBase, Limits: s.cfg.SandboxLimits, Network: s.cfg.SandboxNetwork, Logger: s.logger,
		ReadOnlyPaths: append(slices.Clone(s.cfg.SandboxReadOnlyPaths), toolchainRoots()...),
	}
	if s.cfg.Unsandboxed {
		cfg = sandbox.Config{Mode: sandbox.Off, Logger: s.logger}
	}
	ask, err := s.askFiles(ctx)
	if err != nil {
		return err
	}
	cfg.Ask = ask
	sb, err := sandbox.New(ctx, cfg)
	if errors.Is(err, sandbox.ErrUnavailable) {
		return fmt.Errorf("server: %w (on a single-user workstation, --unsandboxed runs tools unconfined)", err)
	} else if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.sandbox = sb
	s.closers = append(s.closers, func(ctx context.Context) error { sb.Shutdown(ctx); return nil })
	if !sb.Enabled() {
		s.logger.WarnContext(ctx, "SANDBOX OFF (--unsandboxed): tool processes run unconfined as the server's user and can read the data directory, the admin token and every other tool's files")
	} else {
		s.logger.InfoContext(ctx, "sandbox on", "sandbox", sb.Describe())
	}
	return nil
}

// askFiles returns what a step's processes need to run `slipway ask`
// besides their environment: this program (or SlipwayBinary), and the CA
// of the API's certificate when the server issues it. Without a program
// (its file is gone: replaced while running) the processes get none, and
// the server says so.
func (s *Server) askFiles(ctx context.Context) (sandbox.AskFiles, error) {
	var a sandbox.AskFiles
	bin := s.cfg.SlipwayBinary
	if bin == "" {
		exe, err := os.Executable()
		if err == nil {
			bin, err = filepath.EvalSymlinks(exe)
		}
		if err != nil {
			s.logger.WarnContext(ctx, "steps' processes get no slipway binary: `slipway ask` is not on their PATH", "error", err.Error())
			bin = ""
		}
	}
	a.Binary = bin
	if s.cfg.TLS && s.cfg.TLSCertFile == "" && s.cfg.TLSKeyFile == "" {
		ca, err := auth.LoadOrCreateCA(s.cfg.DataDir)
		if err != nil {
			return a, fmt.Errorf("server: %w", err)
		}
		a.CA = ca.CertPath
	}
	return a, nil
}

// askURL returns the API's URL as the tools' processes reach it: the
// listening address, loopback when it listens on every address (the
// sandbox lets tools reach the API's port on any address of the host).
func (s *Server) askURL() string {
	addr := s.apiLn.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	scheme := "http"
	if s.cfg.TLS {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// dataDirID names this server's cgroups apart from those of servers of
// other data directories on the host.
func dataDirID(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return hex.EncodeToString(sum[:6])
}

// toolchainRoots returns the GOROOT of the go on PATH when it lies outside
// the system directories a sandbox sees anyway.
func toolchainRoots() []string {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil
	}
	real, err := filepath.EvalSymlinks(goBin)
	if err != nil {
		return nil
	}
	root := filepath.Dir(filepath.Dir(real))
	for _, d := range []string{"/usr", "/bin", "/sbin", "/lib"} {
		if root == d || strings.HasPrefix(root, d+"/") {
			return nil
		}
	}
	if _, err := os.Stat(filepath.Join(root, "src", "runtime")); err != nil {
		return nil // not a GOROOT: a go wrapper of some sort
	}
	return []string{root}
}

// limitSet are the limits of components and of builds.
type limitSet struct {
	component func(target.Spec) sandbox.Limits
	build     sandbox.Limits
}

// limits returns the limits from the settings: a component's memory and
// cpu when it sets them, else Limits.Default; the build settings.
func (s *Server) limits() (limitSet, error) {
	parse := func(name, v, def string, f func(string) (int64, error)) (int64, error) {
		if v = cmp.Or(v, def); v == "" {
			return 0, nil
		}
		n, err := f(v)
		if err != nil {
			return 0, fmt.Errorf("server: %s: %w", name, err)
		}
		return n, nil
	}
	var ls limitSet
	var err error
	if ls.build.MemoryBytes, err = parse("build memory", s.cfg.BuildMemory, "4Gi", slipway.ParseMemory); err != nil {
		return ls, err
	}
	if ls.build.MilliCPU, err = parse("build cpu", s.cfg.BuildCPU, "", slipway.ParseCPU); err != nil {
		return ls, err
	}
	ls.build.Pids = 4096
	def := s.cfg.Limits.Default
	ls.component = func(spec target.Spec) sandbox.Limits {
		r := spec.Component.Run.Resources(def)
		return sandbox.Limits{MemoryBytes: r.MemoryBytes, MilliCPU: r.MilliCPU}
	}
	return ls, nil
}

// URL returns the API's base URL.
func (s *Server) URL() string {
	if s.cfg.TLS {
		return "https://" + s.apiLn.Addr().String()
	}
	return "http://" + s.apiLn.Addr().String()
}

// tlsConfig returns the API listener's TLS settings: the server
// certificate, and the CAs whose client certificates name a tool.
func (s *Server) tlsConfig() (*tls.Config, error) {
	ca, err := auth.LoadOrCreateCA(s.cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool()}
	if s.cfg.TLSCertFile != "" || s.cfg.TLSKeyFile != "" {
		pair, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("server: TLS certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	} else {
		pair, err := ca.IssueServer(s.cfg.TLSHosts)
		if err != nil {
			return nil, fmt.Errorf("server: TLS certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
		s.caFile = ca.CertPath
	}
	for _, f := range s.cfg.ClientCAFiles {
		if err := addPEMFile(cfg.ClientCAs, f); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// addPEMFile adds the certificates in a PEM file to pool.
func addPEMFile(pool *x509.CertPool, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("server: client CA: %w", err)
	}
	if !pool.AppendCertsFromPEM(b) {
		return fmt.Errorf("server: client CA %s: no PEM certificate in it", path)
	}
	return nil
}

// ProxyURL returns where a tool's published component answers.
func (s *Server) ProxyURL(tool string) string {
	return s.publicURL(tool)
}

// Sandbox says in one line how tools' builds and processes are confined.
func (s *Server) Sandbox() string { return s.sandbox.Describe() }

// AdminToken returns the admin API token.
func (s *Server) AdminToken() string { return s.token }

// Stop shuts the server down in order; see the package doc.
func (s *Server) Stop(ctx context.Context) error {
	var errs []error
	s.stopped.Do(func() {
		if s.wroteInfo { // a server that failed to start must not remove another's
			_ = os.Remove(filepath.Join(s.cfg.DataDir, InfoFile))
		}
		if s.cancelBase != nil {
			s.cancelBase() // event streams and followed logs end now
		}
		for _, srv := range []*http.Server{s.api, s.proxy, s.debug} {
			if srv == nil {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := srv.Shutdown(sctx); err != nil {
				errs = append(errs, fmt.Errorf("http shutdown: %w", err))
			}
			cancel()
		}
		for _, ln := range []net.Listener{s.apiLn, s.proxyLn, s.debugLn} {
			if ln != nil {
				_ = ln.Close()
			}
		}
		if s.runner != nil {
			sctx, cancel := context.WithTimeout(ctx, s.cfg.StopGrace)
			if err := s.runner.Stop(sctx); err != nil {
				errs = append(errs, err)
			}
			cancel()
		}
		for _, closeFunc := range slices.Backward(s.closers) {
			if err := closeFunc(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if s.unlock != nil {
			s.unlock()
		}
	})
	return errors.Join(errs...)
}

// lockDataDir makes sure one server at a time uses the data directory: the
// embedded runner relies on being the only one working its queue.
func (s *Server) lockDataDir() error {
	unlock, err := flock.TryLock(filepath.Join(s.cfg.DataDir, LockFile))
	if errors.Is(err, flock.ErrLocked) {
		return fmt.Errorf("server: another slipway server is using %s", s.cfg.DataDir)
	} else if err != nil {
		return fmt.Errorf("server: lock data directory: %w", err)
	}
	s.unlock = unlock
	return nil
}

// loadOrCreateToken returns the admin token: the one in given when it is
// set (which must hold one of 32 characters or more), else the one in
// path, made the first time (or when path holds a short one).
func loadOrCreateToken(path, given string) (string, error) {
	if given != "" {
		b, err := os.ReadFile(given)
		if err != nil {
			return "", fmt.Errorf("server: read admin token: %w", err)
		}
		if t := strings.TrimSpace(string(b)); len(t) >= 32 && !strings.ContainsAny(t, " \t\r\n") {
			return t, nil
		}
		return "", fmt.Errorf("server: %s must hold the admin token, at least 32 characters on one line (e.g. slw_ and the output of openssl rand -hex 24)", given)
	}
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("server: read admin token: %w", err)
	}
	raw := make([]byte, 24)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails
	token := "slw_" + hex.EncodeToString(raw)
	if err := writeFileAtomic(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("server: write admin token: %w", err)
	}
	return token, nil
}

// loadOrCreateKey returns the secret key: the one in given when it is set
// (which must exist), else the one in path, made the first time.
func loadOrCreateKey(path, given string) ([]byte, error) {
	if given != "" {
		b, err := os.ReadFile(given)
		if err != nil {
			return nil, fmt.Errorf("server: read secret key: %w", err)
		}
		if len(b) != auth.KeySize {
			return nil, fmt.Errorf("server: %s is %d bytes, want %d (e.g. head -c %d /dev/urandom, or a data directory's secret-key)", given, len(b), auth.KeySize, auth.KeySize)
		}
		return b, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil && len(b) == auth.KeySize:
		return b, nil
	case err == nil:
		return nil, fmt.Errorf("server: %s is %d bytes, want %d", filepath.Base(path), len(b), auth.KeySize)
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("server: read secret key: %w", err)
	}
	key := make([]byte, auth.KeySize)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	if err := writeFileAtomic(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("server: write secret key: %w", err)
	}
	return key, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("server: encode %s: %w", filepath.Base(path), err)
	}
	return writeFileAtomic(path, append(b, '\n'), 0o644)
}

// writeFileAtomic writes a file of the data directory whole and durably:
// a crash never leaves an empty secret key.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := atomicfile.Write(path, data, perm); err != nil {
		return fmt.Errorf("server: write %s: %w", filepath.Base(path), err)
	}
	return nil
}
