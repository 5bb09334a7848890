package slipway

import (
	"reflect"
	"slices"
	"testing"
)

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

// TestSpecHashStable pins the spec hash and build key of representative
// components as Slipway computes them today: a continuous web service
// (port, publish, health check, replicas, resources), a TCP service with a
// script health check, a scheduled job, a one-off and a prebuilt image:.
// A change here restarts (or rebuilds) every such component on upgrade:
// a new field must not change these values when it is not set.
func TestSpecHashStable(t *testing.T) {
	t.Parallel()
	src := &SourceBuild{Repository: "https://example.org/a.git", Ref: "main"}
	tests := []struct {
		name string
		c    Component
		want string
	}{
		{"ContinuousWeb", Component{Name: "web", Type: Continuous, Build: BuildSpec{Source: src}, Run: RunSpec{
			Command: "web", Port: 8000, Publish: "true", HealthCheckHTTP: "/healthz", Replicas: 2, Memory: "512Mi", CPU: "500m",
		}}, "3c14c1332a42c71a"},
		{"ContinuousTCP", Component{Name: "db", Type: Continuous, Build: BuildSpec{ReuseFrom: "web"}, Run: RunSpec{
			Command: "db", Port: 5432, PortProtocol: "tcp", HealthCheckScript: "pg_isready",
		}}, "2d2f8ae3b40e682c"},
		{"Scheduled", Component{Name: "nightly", Type: Scheduled, Build: BuildSpec{Source: src}, Run: RunSpec{
			Command: "job", Schedule: "@daily", Retry: 2, Timeout: 600, Emails: "onfailure",
		}}, "575ba067d83c1dba"},
		{"OneOff", Component{Name: "migrate", Type: OneOff, Build: BuildSpec{Source: src}, Run: RunSpec{
			Command: "migrate", Timeout: 300,
		}}, "86bab95dc3e2102f"},
		{"Image", Component{Name: "cache", Type: Continuous, Build: BuildSpec{Image: "docker.io/library/redis:7"}, Run: RunSpec{
			Command: "redis-server", Port: 6379,
		}}, "ca5f4a0a8ddeed42"},
		{"Empty", Component{}, "ecd6a2faddc6b080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.c.SpecHash(); got != tt.want {
				t.Errorf("SpecHash() = %s, want %s", got, tt.want)
			}
		})
	}
	settings := SourceBuildSettings(SourceBuild{Repository: src.Repository, UseLatestVersions: true})
	if got, want := BuildKey(src.Repository, "3f2a1c9b0d44e1c0ffee3f2a1c9b0d44e1c0ffee", "localbuild/2", settings...), "e65f903a4374fd72"; got != want {
		t.Errorf("BuildKey(use_latest_versions) = %s, want %s", got, want)
	}
}

// specFieldsAlways are the names of the fields SpecHash hashes whether or
// not they are set, in its order. Frozen: see Component.specFields.
var specFieldsAlways = []string{
	"type", "command", "cpu", "memory", "emails", "filelog", "filelog_stdout", "filelog_stderr", "mount",
	"port", "port_protocol", "publish", "replicas", "health_check_script", "health_check_http", "schedule",
	"retry", "timeout",
}

// TestSpecHash_NewFieldsOnlyWhenSet guards the rule that keeps hashes
// stable across upgrades: an unset component hashes exactly the frozen
// fields (a field added since joins only when set), and every run field
// takes part in the hash when set (a field left out would change how a
// component runs without restarting it).
func TestSpecHash_NewFieldsOnlyWhenSet(t *testing.T) {
	t.Parallel()
	var names []string
	for _, f := range (Component{}).specFields() {
		names = append(names, f.name)
	}
	if !slices.Equal(names, specFieldsAlways) {
		t.Errorf("an unset component hashes %q,\nwant the frozen %q:\na field added since must join the hash only when it is set", names, specFieldsAlways)
	}

	zero := (Component{}).SpecHash()
	rt := reflect.TypeFor[RunSpec]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		var c Component
		v := reflect.ValueOf(&c.Run).Elem().Field(i)
		switch f.Type.Kind() {
		case reflect.String:
			v.SetString("x")
		case reflect.Int:
			v.SetInt(7)
		case reflect.Pointer:
			v.Set(reflect.New(f.Type.Elem()))
		default:
			t.Fatalf("RunSpec.%s is a %s: teach this test to set one", f.Name, f.Type)
		}
		if c.SpecHash() == zero {
			t.Errorf("RunSpec.%s set does not change SpecHash: hash it (only when set, at the end of specFields)", f.Name)
		}
	}
}

// TestSourceBuildSettings_NewSettingsOnlyWhenSet guards the build key the
// same way: an unset SourceBuild has exactly today's two settings, and
// every field but the repository and ref (which the key takes otherwise)
// changes them when set.
func TestSourceBuildSettings_NewSettingsOnlyWhenSet(t *testing.T) {
	t.Parallel()
	want := []string{"use_latest_versions=false", "use_deprecated_versions=false"}
	if got := SourceBuildSettings(SourceBuild{}); !slices.Equal(got, want) {
		t.Errorf("SourceBuildSettings(unset) = %q, want %q: a setting added since must join only when set", got, want)
	}
	rt := reflect.TypeFor[SourceBuild]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		if f.Name == "Repository" || f.Name == "Ref" {
			continue
		}
		var s SourceBuild
		v := reflect.ValueOf(&s).Elem().Field(i)
		switch f.Type.Kind() {
		case reflect.String:
			v.SetString("x")
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Int:
			v.SetInt(7)
		default:
			t.Fatalf("SourceBuild.%s is a %s: teach this test to set one", f.Name, f.Type)
		}
		if slices.Equal(SourceBuildSettings(s), want) {
			t.Errorf("SourceBuild.%s set does not change the build settings: add it (only when set)", f.Name)
		}
	}
}
