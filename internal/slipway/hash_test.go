package slipway

import "testing"

// TestHashes_Pinned pins the spec hash and the build key: a change to
// either restarts (or rebuilds) every component on upgrade, and release
// records compare them across versions. A new config field must join the
// spec hash only when it is set, so that components without it keep
// their hash; a field outside the run spec (wait_for, a gate) never joins
// it.
func TestHashes_Pinned(t *testing.T) {
	filelog := true
	full := Component{Name: "all", Type: Continuous, Run: RunSpec{
		Command: "web --all", CPU: "250m", Memory: "256Mi", Emails: "all", Filelog: &filelog,
		FilelogStdout: "out.log", FilelogStderr: "err.log", Mount: "all", Port: 8000, PortProtocol: "tcp",
		Publish: "true", Replicas: 2, HealthCheckScript: "true", Schedule: "", Retry: 0, Timeout: 0,
	}}
	plain := Component{Name: "web", Type: Continuous, Run: RunSpec{Command: "web", Port: 8000}}
	withGate := plain
	withGate.WaitFor, withGate.Gate = []string{"db"}, &Gate{Question: "Go?"}
	graced := plain
	graced.Run.StopGracePeriod = 30
	cron := Component{Name: "nightly", Type: Scheduled, Run: RunSpec{Command: "job", Schedule: "0 3 * * *", Retry: 2, Timeout: 600}}
	for _, c := range []struct {
		name string
		got  string
		want string
	}{
		{"spec: command and port", plain.SpecHash(), "4732c98601534a2f"},
		{"spec: wait_for and a gate do not count", withGate.SpecHash(), "4732c98601534a2f"},
		{"spec: every run field", full.SpecHash(), "02a6ad4a85af73c2"},
		{"spec: stop_grace_period, only when set", graced.SpecHash(), "21a404cb75e9b492"},
		{"spec: scheduled", cron.SpecHash(), "768c600267b737ad"},
		{"build key", BuildKey("https://example.org/a.git", "3f2a1c9b0d44", "go/1", SourceBuildSettings(SourceBuild{})...), "94a4b461b1a0cb0e"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %s, want %s", c.name, c.got, c.want)
		}
	}
}
