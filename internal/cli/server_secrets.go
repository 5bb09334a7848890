package cli

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/server"
)

// secretsFlags are the server's settings for local repositories, git's
// network limits, the metrics token, and where the admin token and the
// secret key are.
type secretsFlags struct {
	adminTokenFile    string
	secretKeyFile     string
	localRepoDirs     string
	gitConnectTimeout string
	gitLowSpeedTime   string
	gitLowSpeedLimit  string
	gitTimeout        string
	metricsTokenFile  string
}

// minMetricsToken is the shortest metrics token accepted.
const minMetricsToken = 16

func (f *secretsFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.localRepoDirs, "local-repo-dirs", "", "colon-separated directories whose repositories a tool's own config may name as file:// or local paths (real paths, after symlinks); the admin's configs may name any (default $SLIPWAY_LOCAL_REPO_DIRS or none)")
	fl.StringVar(&f.gitConnectTimeout, "git-connect-timeout", "", "longest git may wait to connect to a repository's host (default $SLIPWAY_GIT_CONNECT_TIMEOUT or 10s)")
	fl.StringVar(&f.gitLowSpeedTime, "git-low-speed-time", "", "longest an http(s) git transfer may stay under --git-low-speed-limit before it is aborted (default $SLIPWAY_GIT_LOW_SPEED_TIME or 30s)")
	fl.StringVar(&f.gitLowSpeedLimit, "git-low-speed-limit", "", "bytes a second under which an http(s) git transfer counts as stalled (default $SLIPWAY_GIT_LOW_SPEED_LIMIT or 1)")
	fl.StringVar(&f.gitTimeout, "git-timeout", "", "longest one git ls-remote or fetch may take in all (default $SLIPWAY_GIT_TIMEOUT or 10m)")
	fl.StringVar(&f.adminTokenFile, "admin-token-file", "", "file holding the admin token, read and never written, e.g. a mounted secret shared by replicas (default $SLIPWAY_ADMIN_TOKEN_FILE, else the data directory's admin-token, made the first time)")
	fl.StringVar(&f.secretKeyFile, "secret-key-file", "", "file holding the 32-byte key that seals the envvars, read and never written; every server on a database needs the same (default $SLIPWAY_SECRET_KEY_FILE, else the data directory's secret-key, made the first time)")
	fl.StringVar(&f.metricsTokenFile, "metrics-token-file", "", "file holding a bearer token that may read /metrics and nothing else, for Prometheus (default $SLIPWAY_METRICS_TOKEN_FILE; or the token itself in $SLIPWAY_METRICS_TOKEN; without one, only the admin token reads /metrics)")
}

// apply adds the flags, the environment's values or the defaults to cfg.
func (f *secretsFlags) apply(e *env, cfg *server.Config) error {
	for d := range strings.SplitSeq(cmp.Or(f.localRepoDirs, e.getenv("SLIPWAY_LOCAL_REPO_DIRS")), ":") {
		if d = strings.TrimSpace(d); d == "" {
			continue
		}
		if !filepath.IsAbs(d) {
			return &usageError{fmt.Errorf("--local-repo-dirs: %q is not an absolute path", d)}
		}
		cfg.LocalRepoDirs = append(cfg.LocalRepoDirs, d)
	}
	if err := parseDurations(e, "10s or 2m", []durationFlag{
		{"git-connect-timeout", f.gitConnectTimeout, &cfg.GitConnectTimeout},
		{"git-low-speed-time", f.gitLowSpeedTime, &cfg.GitLowSpeedTime},
		{"git-timeout", f.gitTimeout, &cfg.GitTimeout},
	}); err != nil {
		return err
	}
	if cfg.GitLowSpeedTime > 0 && cfg.GitLowSpeedTime%time.Second != 0 {
		return &usageError{fmt.Errorf("--git-low-speed-time: want whole seconds (git counts in seconds), got %s", cfg.GitLowSpeedTime)}
	}
	if v := cmp.Or(f.gitLowSpeedLimit, e.getenv("SLIPWAY_GIT_LOW_SPEED_LIMIT")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return &usageError{fmt.Errorf("--git-low-speed-limit: want a whole number of bytes a second, at least 1, got %q", v)}
		}
		cfg.GitLowSpeedLimit = n
	}
	cfg.AdminTokenFile = cmp.Or(f.adminTokenFile, e.getenv("SLIPWAY_ADMIN_TOKEN_FILE"))
	cfg.SecretKeyFile = cmp.Or(f.secretKeyFile, e.getenv("SLIPWAY_SECRET_KEY_FILE"))
	file, inline := cmp.Or(f.metricsTokenFile, e.getenv("SLIPWAY_METRICS_TOKEN_FILE")), e.getenv("SLIPWAY_METRICS_TOKEN")
	switch {
	case file != "" && inline != "":
		return &usageError{fmt.Errorf("--metrics-token-file and $SLIPWAY_METRICS_TOKEN both give a metrics token: keep one")}
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("--metrics-token-file: %w", err)
		}
		cfg.MetricsToken = strings.TrimSpace(string(b))
		if cfg.MetricsToken == "" || strings.ContainsAny(cfg.MetricsToken, " \t\r\n") {
			return &usageError{fmt.Errorf("--metrics-token-file: %s must hold one token on one line", file)}
		}
	case inline != "":
		cfg.MetricsToken = strings.TrimSpace(inline)
	}
	if cfg.MetricsToken != "" && len(cfg.MetricsToken) < minMetricsToken {
		return &usageError{fmt.Errorf("the metrics token is %d characters; want at least %d (e.g. openssl rand -hex 24)", len(cfg.MetricsToken), minMetricsToken)}
	}
	return nil
}
