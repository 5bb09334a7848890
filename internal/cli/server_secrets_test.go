package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/server"
)

func TestSecretsFlags(t *testing.T) {
	t.Parallel()
	tokenFile := filepath.Join(t.TempDir(), "metrics-token")
	if err := os.WriteFile(tokenFile, []byte("0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	shortFile := filepath.Join(t.TempDir(), "short")
	if err := os.WriteFile(shortFile, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		flags   secretsFlags
		env     map[string]string
		want    func(server.Config) bool
		wantErr string
	}{
		{"Defaults", secretsFlags{}, nil, func(c server.Config) bool {
			return c.LocalRepoDirs == nil && c.GitConnectTimeout == 0 && c.MetricsToken == ""
		}, ""},
		{"LocalRepoDirs", secretsFlags{localRepoDirs: "/srv/git:/home/shared:"}, nil, func(c server.Config) bool {
			return strings.Join(c.LocalRepoDirs, ",") == "/srv/git,/home/shared"
		}, ""},
		{"LocalRepoDirsEnv", secretsFlags{}, map[string]string{"SLIPWAY_LOCAL_REPO_DIRS": "/srv/git"}, func(c server.Config) bool {
			return len(c.LocalRepoDirs) == 1
		}, ""},
		{"LocalRepoDirsRelative", secretsFlags{localRepoDirs: "srv/git"}, nil, nil, `--local-repo-dirs: "srv/git" is not an absolute path`},
		{"GitLimits", secretsFlags{gitConnectTimeout: "3s", gitLowSpeedTime: "20s", gitLowSpeedLimit: "100", gitTimeout: "5m"}, nil, func(c server.Config) bool {
			return c.GitConnectTimeout == 3*time.Second && c.GitLowSpeedTime == 20*time.Second && c.GitLowSpeedLimit == 100 && c.GitTimeout == 5*time.Minute
		}, ""},
		{"GitLimitsEnv", secretsFlags{}, map[string]string{"SLIPWAY_GIT_CONNECT_TIMEOUT": "2s"}, func(c server.Config) bool {
			return c.GitConnectTimeout == 2*time.Second
		}, ""},
		{"BadDuration", secretsFlags{gitConnectTimeout: "soon"}, nil, nil, "--git-connect-timeout: want a positive duration"},
		{"LowSpeedFraction", secretsFlags{gitLowSpeedTime: "1500ms"}, nil, nil, "--git-low-speed-time: want whole seconds"},
		{"BadLowSpeedLimit", secretsFlags{gitLowSpeedLimit: "0"}, nil, nil, "--git-low-speed-limit: want a whole number"},
		{"MetricsTokenFile", secretsFlags{metricsTokenFile: tokenFile}, nil, func(c server.Config) bool {
			return c.MetricsToken == "0123456789abcdef0123"
		}, ""},
		{"MetricsTokenEnv", secretsFlags{}, map[string]string{"SLIPWAY_METRICS_TOKEN": "abcdefabcdefabcdef"}, func(c server.Config) bool {
			return c.MetricsToken == "abcdefabcdefabcdef"
		}, ""},
		{"MetricsTokenBoth", secretsFlags{metricsTokenFile: tokenFile}, map[string]string{"SLIPWAY_METRICS_TOKEN": "abcdefabcdefabcdef"}, nil, "both give a metrics token"},
		{"MetricsTokenShort", secretsFlags{metricsTokenFile: shortFile}, nil, nil, "want at least 16"},
		{"KeyFiles", secretsFlags{adminTokenFile: "/etc/slipway/admin-token"}, map[string]string{"SLIPWAY_SECRET_KEY_FILE": "/etc/slipway/secret-key"}, func(c server.Config) bool {
			return c.AdminTokenFile == "/etc/slipway/admin-token" && c.SecretKeyFile == "/etc/slipway/secret-key"
		}, ""},
		{"MetricsTokenMissing", secretsFlags{metricsTokenFile: filepath.Join(t.TempDir(), "nope")}, nil, nil, "--metrics-token-file: open"},
	} {
		e := &env{getenv: func(k string) string { return tt.env[k] }}
		var cfg server.Config
		err := tt.flags.apply(e, &cfg)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.wantErr)
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != nil && !tt.want(cfg):
			t.Errorf("%s: config %+v", tt.name, cfg)
		}
	}
}
