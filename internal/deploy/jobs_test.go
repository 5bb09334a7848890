package deploy

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

// The service's jobs methods run against a real server in the httpapi and
// cli tests (servertest); these are the pure parts.

func TestJobStatus(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC)
	run := func(exit int, timedOut bool) *target.RunSummary {
		return &target.RunSummary{StartedAt: now.Add(-time.Hour), FinishedAt: now.Add(-time.Hour + 90*time.Second), ExitCode: exit, TimedOut: timedOut}
	}
	tests := []struct {
		name string
		typ  slipway.ComponentType
		st   target.Status
		ok   bool
		want slipway.JobStatus
	}{
		{"Unknown", slipway.Continuous, target.Status{}, false, slipway.JobStatus{Short: slipway.JobUnknown, Long: "Not running"}},
		{"Stopped", slipway.Continuous, target.Status{State: "stopped"}, true, slipway.JobStatus{Short: slipway.JobUnknown, Long: "Not running"}},
		{
			"Running", slipway.Continuous,
			target.Status{State: "running", Message: "2 replicas up", Since: now.Add(-90 * time.Second)},
			true,
			slipway.JobStatus{Short: slipway.JobRunning, Long: "2 replicas up", Duration: 90 * time.Second},
		},
		{
			"Starting", slipway.Continuous,
			target.Status{State: "starting", Message: "0 of 1 replicas up"},
			true,
			slipway.JobStatus{Short: slipway.JobPending, Long: "0 of 1 replicas up"},
		},
		{
			"CrashLoop", slipway.Continuous,
			target.Status{State: "crashloop", Message: "crash looping"},
			true,
			slipway.JobStatus{Short: slipway.JobFailed, Long: "crash looping"},
		},
		{
			"ScheduledWaiting", slipway.Scheduled,
			target.Status{State: "scheduled", Message: "schedule", NextRun: now.Add(time.Hour)},
			true,
			slipway.JobStatus{Short: slipway.JobPending, Long: "schedule", NextSchedule: now.Add(time.Hour)},
		},
		{
			"ScheduledRunning", slipway.Scheduled,
			target.Status{State: "scheduled", Message: "running now", RunInProgress: true, Since: now.Add(-time.Second), LastRun: run(1, false)},
			true,
			slipway.JobStatus{Short: slipway.JobRunning, Long: "running now", Duration: time.Second, PreviousSchedule: now.Add(-time.Hour)},
		},
		{
			"ScheduledLastOK", slipway.Scheduled,
			target.Status{State: "scheduled", Message: "m", LastRun: run(0, false)},
			true,
			slipway.JobStatus{Short: slipway.JobSucceeded, Long: "m", Duration: 90 * time.Second, PreviousSchedule: now.Add(-time.Hour)},
		},
		{
			"ScheduledTimedOut", slipway.Scheduled,
			target.Status{State: "scheduled", Message: "m", LastRun: run(0, true)},
			true,
			slipway.JobStatus{Short: slipway.JobFailed, Long: "m", Duration: 90 * time.Second, PreviousSchedule: now.Add(-time.Hour)},
		},
		{
			"OneOffFailed", slipway.OneOff,
			target.Status{State: "failed", Message: "exited 3", LastRun: run(3, false)},
			true,
			slipway.JobStatus{Short: slipway.JobFailed, Long: "exited 3", Duration: 90 * time.Second},
		},
		{
			"OneOffRunning", slipway.OneOff,
			target.Status{State: "running"},
			true,
			slipway.JobStatus{Short: slipway.JobRunning, Long: "running"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, jobStatus(tt.typ, tt.st, tt.ok, now)); diff != "" {
				t.Errorf("jobStatus(%s, %+v) mismatch (-want +got):\n%s", tt.typ, tt.st, diff)
			}
		})
	}
}

func TestCheckJob(t *testing.T) {
	t.Parallel()
	job := func(typ slipway.ComponentType, run slipway.RunSpec) slipway.Job {
		if run.Command == "" {
			run.Command = "./run"
		}
		return slipway.Job{Component: slipway.Component{Name: "web", Type: typ, Run: run}, ImageName: "web"}
	}
	tests := []struct {
		name string
		def  slipway.Job
		want string // a line of the error, "" for none
	}{
		{"Continuous", job(slipway.Continuous, slipway.RunSpec{Port: 8000, Publish: "/", HealthCheckHTTP: "/healthz", Replicas: 2}), ""},
		{"Scheduled", job(slipway.Scheduled, slipway.RunSpec{Schedule: "@daily", Timeout: 60, Retry: 2}), ""},
		{"OneOff", job(slipway.OneOff, slipway.RunSpec{Timeout: 5}), ""},
		{"NoName", slipway.Job{Component: slipway.Component{Type: slipway.OneOff, Run: slipway.RunSpec{Command: "x"}}, ImageName: "web"}, `Job name "" must be 1-52 lowercase letters`},
		{"NoCmd", job(slipway.OneOff, slipway.RunSpec{Command: "  "}), "cmd is required"},
		{"NoImage", slipway.Job{Component: slipway.Component{Name: "x", Type: slipway.OneOff, Run: slipway.RunSpec{Command: "x"}}}, "imagename is required"},
		{"BadType", job("daemon", slipway.RunSpec{}), `job_type must be one of continuous, scheduled, one-off, got "daemon".`},
		{"PortOnScheduled", job(slipway.Scheduled, slipway.RunSpec{Schedule: "@daily", Port: 80}), "port is not valid for a scheduled job (only for continuous jobs)."},
		{"TimeoutOnContinuous", job(slipway.Continuous, slipway.RunSpec{Timeout: 5}), "timeout is not valid for a continuous job (only for scheduled or one-off jobs)."},
		{"NoSchedule", job(slipway.Scheduled, slipway.RunSpec{}), "schedule is required for a scheduled job"},
		{"BadSchedule", job(slipway.Scheduled, slipway.RunSpec{Schedule: "61 * * * *"}), "schedule must be a cron expression"},
		{"HTTPCheckNoPort", job(slipway.Continuous, slipway.RunSpec{HealthCheckHTTP: "/"}), "A tcp port must be set for health_check of type http"},
		{"BadMemory", job(slipway.OneOff, slipway.RunSpec{Memory: "lots"}), "memory must be a Kubernetes quantity"},
		{"BadRetry", job(slipway.OneOff, slipway.RunSpec{Retry: 6}), "retry must be between 0 and 5, got 6"},
		{"NULInCmd", job(slipway.OneOff, slipway.RunSpec{Command: "./run\x00 --admin"}), "cmd must not contain control characters (tab and newline are fine): character 6 is U+0000"},
		{"EscapeInHealthCheck", job(slipway.Continuous, slipway.RunSpec{HealthCheckScript: "true\x1b[2J"}), "health_check of type script must not contain control characters"},
		{"MultiLineCmd", job(slipway.OneOff, slipway.RunSpec{Command: "set -e\n\t./migrate"}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkJob(tt.def)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("checkJob(%+v) = %v, want nil", tt.def, err)
			case tt.want != "" && slipway.ErrorCode(err) != slipway.EInvalid:
				t.Errorf("checkJob(%+v) = %v, want EInvalid", tt.def, err)
			case tt.want != "" && !strings.Contains(slipway.ErrorMessage(err), tt.want):
				t.Errorf("checkJob(%+v) = %q, want a line with %q", tt.def, slipway.ErrorMessage(err), tt.want)
			}
		})
	}
}
