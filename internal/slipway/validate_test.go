package slipway

import (
	"reflect"
	"strings"
	"testing"
)

func TestComponent_Validate(t *testing.T) {
	t.Parallel()
	src := BuildSpec{Source: &SourceBuild{Repository: "https://example.org/a.git", Ref: "main"}}
	web := func(r RunSpec) Component {
		if r.Command == "" {
			r.Command = "./web"
		}
		return Component{Name: "web", Type: Continuous, Build: src, Run: r}
	}
	tests := []struct {
		name string
		c    Component
		opts ValidateOptions
		want []Problem
	}{
		{"OK", web(RunSpec{Port: 8000, Publish: "/", HealthCheckHTTP: "/healthz", Replicas: 2, CPU: "500m", Memory: "1Gi"}), ValidateOptions{}, nil},
		{
			"BadNameTypeAndBuild",
			Component{Name: "Web", Type: "daemon", Run: RunSpec{Command: "x"}},
			ValidateOptions{},
			[]Problem{
				{"", `component name "Web" is not valid: use 1 to 52 lowercase letters, digits or dashes, starting and ending with a letter or digit`},
				{"component_type", `component_type must be one of continuous, scheduled, one-off, got "daemon"`},
				{"build", "build must have repository and ref (build from source), reuse_from (use another component's build) or image (a prebuilt image)"},
			},
		},
		{
			"SourceBuild",
			Component{Name: "a", Type: OneOff, Build: BuildSpec{Source: &SourceBuild{Repository: "git@example.org:a.git", Ref: "-x"}}, Run: RunSpec{Command: "x"}},
			ValidateOptions{},
			[]Problem{
				{"build.repository", `repository must be an http, https, git or file URL, or an absolute path, got "git@example.org:a.git": SSH addresses are not supported, use the https URL of the repository`},
				{"build.ref", `ref must be a branch, a tag, or a full or short commit SHA, got "-x": it must not start with "-"`},
			},
		},
		{
			"RunFieldsInOrder",
			web(RunSpec{Command: "a\x00", CPU: "lots", Port: 70000, Publish: "x", HealthCheckScript: "true", HealthCheckHTTP: "/h", StopGracePeriod: 3601}),
			ValidateOptions{},
			[]Problem{
				{"run.command", "command must not contain control characters (tab and newline are fine): character 2 is U+0000"},
				{"run.cpu", CheckCPU("lots", false)},
				{"run.port", "port must be between 1 and 65535, got 70000"},
				{"run.publish", `publish must be "/" (serve the component at the root of the tool's URL), got "x"`},
				{"run.health_check_http", BothHealthChecks},
				{"run.stop_grace_period", "stop_grace_period must be a number of seconds between 1 and 3600, got 3601"},
			},
		},
		{
			"CrossChecks",
			web(RunSpec{Port: 53, PortProtocol: "udp", Publish: "/", HealthCheckHTTP: "/h"}),
			ValidateOptions{},
			[]Problem{
				{"run.publish", "publish requires port_protocol set to tcp"},
				{"run.health_check_http", "A tcp port must be set for health_check_http"},
			},
		},
		{
			"ScheduledNeedsSchedule",
			Component{Name: "cron", Type: Scheduled, Build: src, Run: RunSpec{Command: "x", Retry: 6}},
			ValidateOptions{},
			[]Problem{
				{"run.schedule", "schedule is required for a scheduled component: " + ScheduleForms},
				{"run.retry", "retry must be between 0 and 5, got 6"},
			},
		},
		{
			// A document that gives port: 0 and command: "" gets them
			// checked; zero would otherwise mean not set.
			"GivenZeros",
			Component{Name: "web", Type: Continuous, Build: src},
			ValidateOptions{Given: func(p string) bool {
				return p == "build.repository" || p == "build.ref" || p == "run.port" || p == "run.command"
			}},
			[]Problem{
				{"run.command", "command must not be empty"},
				{"run.port", "port must be between 1 and 65535, got 0"},
			},
		},
		{
			"StoredAcceptsOlderValues",
			web(RunSpec{Command: "echo \x1b[1m", Memory: "512K"}),
			ValidateOptions{Stored: true},
			nil,
		},
		{
			"StrictRefusesThem",
			web(RunSpec{Command: "echo \u202e", Memory: "512K"}),
			ValidateOptions{},
			[]Problem{
				{"run.command", "command must not contain bidirectional formatting characters, which make text show otherwise than it runs: character 6 is U+202E"},
				{"run.memory", CheckMemory("512K", false)},
			},
		},
		{
			"FieldsOfOtherTypesIgnored",
			Component{Name: "once", Type: OneOff, Build: BuildSpec{Image: "x:1"}, Run: RunSpec{Command: "x", Port: -1, Schedule: "bad"}},
			ValidateOptions{},
			nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.c.ValidateWith(tt.opts); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ValidateWith = %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestCheckSchedule(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, wantSuffix string }{
		{"*/5 * * * *", ""},
		{"0 9 * JAN-mar mon-FRI", ""},
		{"@daily", ""},
		{"0,,5 * * * *", ""},
		{"", ": empty spec string"},
		{"61 * * * *", ": end of range (61) above maximum (59): 61"},
		{"0 0 0 * *", ": beginning of range (0) below minimum (1): 0"},
		{"5-1 * * * *", ": beginning of range (5) beyond end of range (1): 5-1"},
		{"*/0 * * * *", ": step of range should be a positive number: */0"},
		{"1-2-3 * * * *", ": too many hyphens: 1-2-3"},
		{"x * * * *", `: failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax`},
		{"@every 5m", `got "@every 5m"`},
	}
	for _, tt := range tests {
		got := CheckSchedule(tt.in)
		switch {
		case tt.wantSuffix == "" && got != "":
			t.Errorf("CheckSchedule(%q) = %q, want \"\"", tt.in, got)
		case !strings.HasSuffix(got, tt.wantSuffix):
			t.Errorf("CheckSchedule(%q) = %q, want it to end in %q", tt.in, got, tt.wantSuffix)
		}
	}
}
