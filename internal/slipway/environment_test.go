package slipway

import (
	"maps"
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

// TestToolEnv_Split checks that an environment's env: (from the config) is
// told apart from the envvars (secrets), and wins over an envvar of the
// same name.
func TestToolEnv_Split(t *testing.T) {
	env := ToolEnv{Values: map[string]string{"TOOL_DEPLOY_TOKEN": "s3cret", "MODE": "prod"}, Fingerprints: map[string]string{"TOOL_DEPLOY_TOKEN": "f1", "MODE": "f2"}}
	plain, secret := env.Split()
	if plain != nil || len(secret) != 2 {
		t.Fatalf("without an environment: plain %v, secret %v; want every envvar secret", plain, secret)
	}
	staged := env.WithEnvironment(Environment{Name: "staging", Env: map[string]string{"MODE": "staging", "DEBUG": "1"}})
	plain, secret = staged.Split()
	if want := map[string]string{"MODE": "staging", "DEBUG": "1"}; !maps.Equal(plain, want) {
		t.Errorf("plain = %v, want %v", plain, want)
	}
	if want := map[string]string{"TOOL_DEPLOY_TOKEN": "s3cret"}; !maps.Equal(secret, want) {
		t.Errorf("secret = %v, want %v", secret, want)
	}
	if env.FromConfig != nil {
		t.Errorf("WithEnvironment changed its receiver: %v", env.FromConfig)
	}
}
