package cli

import (
	"errors"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/server"
)

// Ensure the retention periods default to forever (releases) and a week
// (artifacts), take the flag over the environment, and refuse a bad value
// as a usage error that says what is valid.
func TestRetentionFlags(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	tests := []struct {
		name              string
		flags             serverFlags
		env               map[string]string
		release, artifact time.Duration
		wantErr           string
	}{
		{name: "Defaults", release: 0, artifact: 7 * day},
		{name: "Flags", flags: serverFlags{releaseRetention: "365d", artifactRetention: "0"}, release: 365 * day, artifact: 0},
		{
			name: "EnvAndFlagWins", flags: serverFlags{artifactRetention: "48h"},
			env:     map[string]string{"SLIPWAY_RELEASE_RETENTION": "30d", "SLIPWAY_ARTIFACT_RETENTION": "1d"},
			release: 30 * day, artifact: 48 * time.Hour,
		},
		{name: "Bad", flags: serverFlags{releaseRetention: "a year"}, wantErr: `--release-retention: "a year" is not a retention period: want 0 (forever), whole days such as 365d`},
		{name: "Negative", env: map[string]string{"SLIPWAY_ARTIFACT_RETENTION": "-1h"}, wantErr: `--artifact-retention: "-1h" is not a retention period`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := &env{getenv: func(k string) string { return tt.env[k] }}
			var cfg server.Config
			err := tt.flags.retention(e, &cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("retention = %v, want an error containing %q", err, tt.wantErr)
				}
				if _, ok := errors.AsType[*usageError](err); !ok {
					t.Errorf("error %T is not a usage error", err)
				}
				return
			}
			if err != nil || cfg.ReleaseRetention != tt.release || cfg.ArtifactRetention != tt.artifact {
				t.Errorf("retention = %v, %v, %v; want %v, %v", cfg.ReleaseRetention, cfg.ArtifactRetention, err, tt.release, tt.artifact)
			}
		})
	}
}
