package cli

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipway"
)

// addServerCommands adds the commands that run a server in this process.
func addServerCommands(root *cobra.Command, e *env) {
	root.AddCommand(newServerCmd(e), newDemoCmd(e))
}

// serverFlags are the settings of an in-process server.
type serverFlags struct {
	database          string
	listen            string
	proxyListen       string
	debugListen       string
	allowLocalRepos   string
	allowPrivateURLs  string
	deploymentTimeout string
	buildTimeout      string
	healthTimeout     string
	stopTimeout       string
	keepDeployments   string
	releaseRetention  string
	artifactRetention string
	buildSlots        string
	toolBuildSlots    string
	queue             string
	envVarsQuota      string
	pollFloor         string
	security          securityFlags
	sandbox           sandboxFlags
	limits            limitFlags
	secrets           secretsFlags
	storage           storageFlags
	target            targetFlags
	notify            notifyFlags
	proxy             proxyFlags
	edge              edgeFlags
}

func (f *serverFlags) register(cmd *cobra.Command, listen, proxy string) {
	cmd.Flags().StringVar(&f.database, "database", "", "where the state lives: a postgres://USER:PASSWORD@HOST:PORT/DB URL, or nothing for SQLite in the data directory (default $SLIPWAY_DATABASE)")
	cmd.Flags().StringVar(&f.listen, "listen", "", "API address (default $SLIPWAY_LISTEN or "+listen+")")
	cmd.Flags().StringVar(&f.debugListen, "debug-listen", "", "a loopback address serving Go's profiles at /debug/pprof/ to the admin token, e.g. 127.0.0.1:6060 (default $SLIPWAY_DEBUG_LISTEN or none)")
	cmd.Flags().StringVar(&f.proxyListen, "proxy-listen", "", "address serving published components over HTTP as http://<tool>.<apps domain>:<port>/ (default $SLIPWAY_PROXY_LISTEN or "+proxy+")")
	cmd.Flags().StringVar(&f.allowLocalRepos, "allow-local-repos", "", "allow file:// and local-path repositories, in the admin's configs anywhere and in a tool's inside --local-repo-dirs: true or false (default $SLIPWAY_ALLOW_LOCAL_REPOS, else true when the API listens on loopback only)")
	cmd.Flags().StringVar(&f.allowPrivateURLs, "allow-private-source-urls", "", "let source_url configs be fetched from loopback, private and link-local addresses; =false to refuse (default $SLIPWAY_ALLOW_PRIVATE_SOURCE_URLS or false)")
	cmd.Flags().Lookup("allow-private-source-urls").NoOptDefVal = "true"
	cmd.Flags().StringVar(&f.deploymentTimeout, "deployment-timeout", "", "longest a deployment may take, queue time included, e.g. 30m (default $SLIPWAY_DEPLOYMENT_TIMEOUT or 1h)")
	cmd.Flags().StringVar(&f.buildTimeout, "build-timeout", "", "longest a build may take (default $SLIPWAY_BUILD_TIMEOUT or 30m)")
	cmd.Flags().StringVar(&f.healthTimeout, "health-timeout", "", "longest a component may take to become healthy (default $SLIPWAY_HEALTH_TIMEOUT or 2m)")
	cmd.Flags().StringVar(&f.stopTimeout, "stop-timeout", "", "time a process has between SIGTERM and SIGKILL when stopped, unless its component sets stop_grace_period (default $SLIPWAY_STOP_TIMEOUT or 10s)")
	cmd.Flags().StringVar(&f.keepDeployments, "keep-deployments", "", "deployments kept per tool, with their logs (default $SLIPWAY_KEEP_DEPLOYMENTS or 25)")
	cmd.Flags().StringVar(&f.releaseRetention, "release-retention", "", "how much release history is kept, e.g. 365d or 720h: the releases in that window and what each component ran when it began (so each live component's current release, however old) (default $SLIPWAY_RELEASE_RETENTION or 0: forever)")
	cmd.Flags().StringVar(&f.artifactRetention, "artifact-retention", "", "how long after its build ended an artifact is kept when no live component, unfinished deployment or release kept by --release-retention needs it; 0 never removes one automatically (default $SLIPWAY_ARTIFACT_RETENTION or "+defaultArtifactRetention+")")
	cmd.Flags().StringVar(&f.buildSlots, "build-slots", "", "builds run at once on this server (default $SLIPWAY_BUILD_SLOTS or the number of CPUs)")
	cmd.Flags().StringVar(&f.queue, "queue", "", "queue a deployment requested while another of the tool runs (latest wins); false answers 409 as Toolforge does (default $SLIPWAY_QUEUE or true)")
	cmd.Flags().StringVar(&f.toolBuildSlots, "tool-build-slots", "", "builds of one tool run at once (default $SLIPWAY_TOOL_BUILD_SLOTS or --build-slots)")
	cmd.Flags().StringVar(&f.envVarsQuota, "envvars-quota", "", "envvars a tool may have, TOOL_DEPLOY_TOKEN included (default $SLIPWAY_ENVVARS_QUOTA or "+strconv.Itoa(slipway.DefaultEnvVarQuota)+")")
	cmd.Flags().StringVar(&f.pollFloor, "poll-floor", "", "the shortest interval repositories are polled at, whatever a tool's x-slipway poll asks (default $SLIPWAY_POLL_FLOOR or 1m)")
	f.security.register(cmd)
	f.sandbox.register(cmd)
	f.limits.register(cmd)
	f.secrets.register(cmd)
	f.storage.register(cmd)
	f.target.register(cmd)
	f.notify.register(cmd)
	f.proxy.register(cmd)
	f.edge.register(cmd)
}

// config turns the flags, the environment and defaults into a server config.
func (f *serverFlags) config(e *env, dataDir, listen, proxy string) (server.Config, error) {
	cfg := server.Config{
		DataDir:     dataDir,
		Database:    cmp.Or(f.database, e.getenv("SLIPWAY_DATABASE")),
		Listen:      cmp.Or(f.listen, e.getenv("SLIPWAY_LISTEN"), listen),
		ProxyListen: cmp.Or(f.proxyListen, e.getenv("SLIPWAY_PROXY_LISTEN"), proxy),
		DebugListen: cmp.Or(f.debugListen, e.getenv("SLIPWAY_DEBUG_LISTEN")),
		GoStdCache:  e.getenv("SLIPWAY_GO_STD_CACHE"),
	}
	if err := parseDurations(e, "30m or 1h", []durationFlag{
		{"deployment-timeout", f.deploymentTimeout, &cfg.DeploymentTimeout},
		{"build-timeout", f.buildTimeout, &cfg.BuildTimeout},
		{"health-timeout", f.healthTimeout, &cfg.HealthTimeout},
		{"stop-timeout", f.stopTimeout, &cfg.StopTimeout},
		{"poll-floor", f.pollFloor, &cfg.PollFloor},
	}); err != nil {
		return cfg, err
	}
	if err := parseCounts(e, []countFlag{
		{"keep-deployments", f.keepDeployments, &cfg.KeepDeployments},
		{"build-slots", f.buildSlots, &cfg.BuildSlots},
		{"tool-build-slots", f.toolBuildSlots, &cfg.ToolBuildSlots},
		{"envvars-quota", f.envVarsQuota, &cfg.EnvVarQuota},
	}); err != nil {
		return cfg, err
	}
	if err := f.retention(e, &cfg); err != nil {
		return cfg, err
	}
	if v := cmp.Or(f.queue, e.getenv("SLIPWAY_QUEUE")); v != "" {
		q, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, &usageError{fmt.Errorf("--queue: want true or false, got %q", v)}
		}
		cfg.NoQueue = !q
	}
	if v := cmp.Or(f.allowPrivateURLs, e.getenv("SLIPWAY_ALLOW_PRIVATE_SOURCE_URLS")); v != "" {
		p, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, &usageError{fmt.Errorf("--allow-private-source-urls: want true or false, got %q", v)}
		}
		cfg.AllowPrivateSourceURLs = p
	}
	allow := cmp.Or(f.allowLocalRepos, e.getenv("SLIPWAY_ALLOW_LOCAL_REPOS"))
	if allow == "" {
		cfg.AllowLocalRepos = isLoopback(cfg.Listen)
	} else {
		v, err := strconv.ParseBool(allow)
		if err != nil {
			return cfg, &usageError{fmt.Errorf("--allow-local-repos: want true or false, got %q", allow)}
		}
		cfg.AllowLocalRepos = v
	}
	if err := f.sandbox.apply(e, &cfg); err != nil {
		return cfg, err
	}
	if err := f.limits.apply(e, &cfg); err != nil {
		return cfg, err
	}
	if err := f.secrets.apply(e, &cfg); err != nil {
		return cfg, err
	}
	if err := f.storage.apply(e, &cfg); err != nil {
		return cfg, err
	}
	if err := f.target.apply(e, &cfg); err != nil {
		return cfg, err
	}
	if err := f.notify.apply(e, &cfg); err != nil {
		return cfg, err
	}
	if err := f.proxy.apply(e, &cfg); err != nil {
		return cfg, err
	}
	if err := f.edge.apply(e, &cfg); err != nil {
		return cfg, err
	}
	return cfg, f.security.apply(e, &cfg)
}

// defaultArtifactRetention is --artifact-retention's default: a build
// that nothing needs (never released, not live) is kept a week, so that a
// build started on its own can still be deployed.
const defaultArtifactRetention = "7d"

// retention sets the release and artifact retention periods from the
// flags, the environment and the defaults.
func (f *serverFlags) retention(e *env, cfg *server.Config) error {
	for _, r := range []struct {
		flag, value, def string
		dst              *time.Duration
	}{
		{"release-retention", f.releaseRetention, "0", &cfg.ReleaseRetention},
		{"artifact-retention", f.artifactRetention, defaultArtifactRetention, &cfg.ArtifactRetention},
	} {
		d, err := slipway.ParseRetention(cmp.Or(r.value, e.getenv(envName(r.flag)), r.def))
		if err != nil {
			return &usageError{fmt.Errorf("--%s: %w", r.flag, err)}
		}
		*r.dst = d
	}
	return nil
}

// durationFlag is a duration setting: the value of --flag, else of its
// environment variable (see [envName]), goes to dst.
type durationFlag struct {
	flag, value string
	dst         *time.Duration
}

// parseDurations sets each flag's destination to its positive duration;
// one set by neither the flag nor the environment is left alone. example
// is what the error about a bad value suggests, e.g. "30m or 1h".
func parseDurations(e *env, example string, flags []durationFlag) error {
	for _, d := range flags {
		v := cmp.Or(d.value, e.getenv(envName(d.flag)))
		if v == "" {
			continue
		}
		t, err := time.ParseDuration(v)
		if err != nil || t <= 0 {
			return &usageError{fmt.Errorf("--%s: want a positive duration such as %s, got %q", d.flag, example, v)}
		}
		*d.dst = t
	}
	return nil
}

// countFlag is a count setting: the value of --flag, else of its
// environment variable (see [envName]), goes to dst.
type countFlag struct {
	flag, value string
	dst         *int
}

// parseCounts sets each flag's destination to its count (see
// [parseCount]); one set by neither the flag nor the environment is left
// alone.
func parseCounts(e *env, flags []countFlag) error {
	for _, c := range flags {
		v := cmp.Or(c.value, e.getenv(envName(c.flag)))
		if v == "" {
			continue
		}
		n, err := parseCount(c.flag, v)
		if err != nil {
			return err
		}
		*c.dst = n
	}
	return nil
}

// parseCount parses v, the value of --flag, as a whole number of at least 1.
func parseCount(flag, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, &usageError{fmt.Errorf("--%s: want a whole number of at least 1, got %q", flag, v)}
	}
	return n, nil
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serverLogger logs to stderr: info and up with -v, warnings and up
// otherwise.
func (e *env) serverLogger() *slog.Logger {
	level := slog.LevelWarn
	if e.flags.verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
}

func newServerCmd(e *env) *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a Slipway server: API, job runner, builder and local processes",
		Long: `Run a Slipway server with its data in --data (SQLite database, builds,
logs). It serves the API on --listen and the published components on
--proxy-listen, and runs until interrupted; then it stops the processes it
started. A CLI on the same machine finds it through the data directory.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := e.dataDir()
			if err != nil {
				return err
			}
			cfg, err := f.config(e, dir, "127.0.0.1:8700", "127.0.0.1:8701")
			if err != nil {
				return err
			}
			cfg.Logger = e.serverLogger()
			srv, err := server.New(cfg)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := srv.Start(ctx); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Slipway server listening on %s (published components: %s; data: %s)\nSandbox: %s\n",
				srv.URL(), srv.ProxyURL("<tool>"), dir, srv.Sandbox())
			<-ctx.Done()
			fmt.Fprintln(e.stdout, "Stopping…")
			return stopServer(srv)
		},
	}
	f.register(cmd, "127.0.0.1:8700", "127.0.0.1:8701")
	setServerHelp(cmd, map[string]globalFlagHelp{
		"data":    {typ: "DIR"},
		"verbose": {usage: "log at info level, not only warnings and errors"},
	})
	return cmd
}

// stopServer stops srv within 30 s.
func stopServer(srv *server.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Stop(ctx); err != nil {
		return fmt.Errorf("stop server: %w", err)
	}
	return nil
}
