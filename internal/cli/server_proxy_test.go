package cli

import (
	"errors"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/edge"
	"slipway.dev/slipway/internal/server"
)

// Ensure the proxy flags set the front door's limits, the flag over the
// environment, 0 lifts the body cap, and a bad value is a usage error
// naming the flag.
func TestProxyFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		flags   proxyFlags
		env     map[string]string
		want    edge.Limits
		wantErr string
	}{
		{name: "Defaults"},
		{
			name:  "Flags",
			flags: proxyFlags{stallTimeout: "5s", idleTimeout: "1m", maxBody: "1GiB", maxHeaderBytes: "16KiB", responseHeaderTimeout: "2m", readHeaderTimeout: "3s"},
			want:  edge.Limits{StallTimeout: 5 * time.Second, IdleTimeout: time.Minute, MaxBody: 1 << 30, MaxHeaderBytes: 16 << 10, ResponseHeaderTimeout: 2 * time.Minute, ReadHeaderTimeout: 3 * time.Second},
		},
		{
			name: "EnvAndFlagWins", flags: proxyFlags{stallTimeout: "7s"},
			env:  map[string]string{"SLIPWAY_PROXY_STALL_TIMEOUT": "1s", "SLIPWAY_PROXY_MAX_BODY": "0"},
			want: edge.Limits{StallTimeout: 7 * time.Second, MaxBody: -1},
		},
		{name: "BadDuration", flags: proxyFlags{stallTimeout: "soon"}, wantErr: `--proxy-stall-timeout: want a positive duration`},
		{name: "NegativeDuration", env: map[string]string{"SLIPWAY_PROXY_IDLE_TIMEOUT": "-1s"}, wantErr: `--proxy-idle-timeout: want a positive duration`},
		{name: "BadBody", flags: proxyFlags{maxBody: "lots"}, wantErr: `--proxy-max-body: want a size`},
		{name: "TinyHeader", flags: proxyFlags{maxHeaderBytes: "10"}, wantErr: `--proxy-max-header-bytes: want from 1KiB`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := &env{getenv: func(k string) string { return tt.env[k] }}
			var cfg server.Config
			err := tt.flags.apply(e, &cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("apply = %v, want an error containing %q", err, tt.wantErr)
				}
				if _, ok := errors.AsType[*usageError](err); !ok {
					t.Errorf("error %T is not a usage error", err)
				}
				return
			}
			if err != nil || cfg.Proxy != tt.want {
				t.Errorf("apply = %+v, %v; want %+v", cfg.Proxy, err, tt.want)
			}
		})
	}
}
