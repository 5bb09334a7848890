package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipway"
)

func TestLimitFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    func(l *slipway.Limits) // sets what differs from the zero Limits
		wantErr string
	}{
		{name: "None", want: func(*slipway.Limits) {}},
		{
			name: "Flags",
			args: []string{"--quota-memory=2Gi", "--quota-cpu=1500m", "--quota-replicas=4", "--max-memory=1e9", "--default-cpu=0.25", "--quota-concurrent-one-offs=2"},
			want: func(l *slipway.Limits) {
				l.Quota.MemoryBytes, l.Quota.MilliCPU, l.Quota.Replicas = 2<<30, 1500, 4
				l.Max.MemoryBytes, l.Default.MilliCPU, l.Quota.ConcurrentOneOffs = 1e9, 250, 2
			},
		},
		{
			name: "EnvAndFlagWins",
			args: []string{"--quota-continuous=5"},
			env:  map[string]string{"SLIPWAY_QUOTA_CONTINUOUS": "9", "SLIPWAY_MIN_MEMORY": "64Mi", "SLIPWAY_QUOTA_ONE_OFF": "3"},
			want: func(l *slipway.Limits) {
				l.Quota.Continuous, l.Min.MemoryBytes, l.Quota.OneOff = 5, 64<<20, 3
			},
		},
		{name: "BadMemory", args: []string{"--quota-memory=8GB"}, wantErr: `--quota-memory: memory must be a Kubernetes quantity`},
		{name: "ZeroCPU", env: map[string]string{"SLIPWAY_MAX_CPU": "0"}, wantErr: `--max-cpu: cpu must be more than 0, got "0"`},
		{name: "ZeroCount", args: []string{"--quota-scheduled=0"}, wantErr: `--quota-scheduled: want a whole number of at least 1, got "0"`},
		{name: "NotACount", args: []string{"--quota-replicas=ten"}, wantErr: `--quota-replicas: want a whole number of at least 1, got "ten"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f limitFlags
			cmd := &cobra.Command{Use: "x"}
			f.register(cmd)
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			e := &env{getenv: func(k string) string { return tt.env[k] }}
			var cfg server.Config
			err := f.apply(e, &cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("apply = %v, want an error containing %q", err, tt.wantErr)
				}
				if _, ok := errors.AsType[*usageError](err); !ok {
					t.Errorf("apply error %T is not a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			var want slipway.Limits
			tt.want(&want)
			if cfg.Limits != want {
				t.Errorf("Limits = %+v, want %+v", cfg.Limits, want)
			}
		})
	}
}

// TestServerRefusesContradictingLimits checks that limits that contradict
// each other stop the server before it starts, naming each.
func TestServerRefusesContradictingLimits(t *testing.T) {
	_, err := server.New(server.Config{DataDir: t.TempDir(), Limits: slipway.Limits{
		Default: slipway.Resources{MemoryBytes: 8 << 30}, Quota: slipway.Quota{MilliCPU: 100},
	}})
	for _, want := range []string{"server: limits:", "memory: the minimum (16Mi) ≤ the default (8Gi) ≤ the maximum (4Gi) does not hold", "the default cpu (500m) is over the cpu quota (100m)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("server.New = %v, want it to contain %q", err, want)
		}
	}
}
