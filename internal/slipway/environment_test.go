package slipway

import (
	"slices"
	"testing"
)

// Ensure RunDiff names exactly the spec fields SpecHash hashes that
// differ, a field set on one side only included, and nothing when the
// spec hashes are equal.
func TestRunDiff(t *testing.T) {
	t.Parallel()
	a := Component{Name: "web", Type: Continuous, Run: RunSpec{Command: "web", Replicas: 1, PortProtocol: "tcp"}}
	b := a
	b.Run.Replicas, b.Run.PortProtocol, b.Run.StopGracePeriod = 3, "udp", 10
	want := []string{"port_protocol: tcp → udp", "replicas: 1 → 3", "stop_grace_period: (unset) → 10"}
	if got := RunDiff(a, b); !slices.Equal(got, want) {
		t.Errorf("RunDiff(a, b) = %q, want %q", got, want)
	}
	if got := RunDiff(b, a); !slices.Equal(got, []string{"port_protocol: udp → tcp", "replicas: 3 → 1", "stop_grace_period: 10 → (unset)"}) {
		t.Errorf("RunDiff(b, a) = %q", got)
	}
	if got := RunDiff(a, a); len(got) != 0 {
		t.Errorf("RunDiff(a, a) = %q, want nothing", got)
	}
}
