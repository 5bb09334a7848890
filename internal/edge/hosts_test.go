package edge_test

import (
	"testing"

	"slipway.dev/slipway/internal/edge"
)

// Ensure LocalhostHosts serves "<instance>.localhost[:port]", environments
// included, and nothing else.
func TestLocalhostHosts_Lookup(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		host, want string
		ok         bool
	}{
		{"alpha.localhost", "alpha", true},
		{"alpha.localhost:8701", "alpha", true},
		{"Alpha.LOCALHOST.", "alpha", true},
		{"alpha--staging.localhost:80", "alpha--staging", true},
		{"localhost", "", false},
		{".localhost", "", false},
		{"a.b.localhost", "", false},
		{"-alpha.localhost", "", false},
		{"alpha.localhost.example.org", "", false},
		{"example.org", "", false},
		{"127.0.0.1:8701", "", false},
		{"", "", false},
	} {
		got, ok := edge.LocalhostHosts{}.Lookup(tt.host)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.host, got, ok, tt.want, tt.ok)
		}
	}
}
