package deploy_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/deploy"
	"slipway.dev/slipway/internal/slipway"
)

// dag builds steps from "key=state<-need,need" specs, in the order given.
func dag(specs ...string) []slipway.Step {
	steps := make([]slipway.Step, len(specs))
	for i, spec := range specs {
		head, needs, _ := strings.Cut(spec, "<-")
		key, state, _ := strings.Cut(head, "=")
		steps[i] = slipway.Step{Key: key, State: slipway.StepState(state)}
		if needs != "" {
			steps[i].Needs = strings.Split(needs, ",")
		}
	}
	return steps
}

func TestSchedule(t *testing.T) {
	t.Parallel()
	const (
		p = "pending"
		r = "running"
		d = "done"
		u = "unchanged"
		f = "failed"
	)
	tests := []struct {
		name       string
		steps      []slipway.Step
		cancelling bool
		want       deploy.Decision
	}{
		{
			name:  "ChainStartsAtTheHead",
			steps: dag("build:a="+p, "run:a="+p+"<-build:a", "run:b="+p+"<-build:a,run:a", "run:c="+p+"<-build:a,run:b"),
			want:  deploy.Decision{Due: []string{"build:a"}},
		},
		{
			name:  "ChainAdvancesOneLink",
			steps: dag("build:a="+d, "run:a="+d+"<-build:a", "run:b="+p+"<-build:a,run:a", "run:c="+p+"<-build:a,run:b"),
			want:  deploy.Decision{Due: []string{"run:b"}},
		},
		{
			name:  "FanOutStartsTogether",
			steps: dag("build:a="+u, "run:a="+d+"<-build:a", "run:b="+p+"<-run:a", "run:c="+p+"<-run:a", "run:d="+p+"<-run:a"),
			want:  deploy.Decision{Due: []string{"run:b", "run:c", "run:d"}},
		},
		{
			name:  "DiamondWaitsForBothSides",
			steps: dag("run:a="+d, "run:b="+d+"<-run:a", "run:c="+r+"<-run:a", "run:d="+p+"<-run:b,run:c"),
			want:  deploy.Decision{},
		},
		{
			name:  "DiamondJoins",
			steps: dag("run:a="+d, "run:b="+d+"<-run:a", "run:c="+u+"<-run:a", "run:d="+p+"<-run:b,run:c"),
			want:  deploy.Decision{Due: []string{"run:d"}},
		},
		{
			name: "FailureInTheMiddleSkipsDownstreamTransitively",
			// build:x → run:x → run:y → run:z fails at run:x; build:o and run:o
			// are independent and go on.
			steps: dag("build:x="+d, "build:o="+d, "run:x="+f+"<-build:x", "run:o="+p+"<-build:o",
				"run:y="+p+"<-build:x,run:x", "run:z="+p+"<-build:x,run:y", "prune:old="+p+"<-run:x,run:o,run:y,run:z"),
			want: deploy.Decision{
				Settle: []deploy.Settle{
					{Key: "run:y", State: slipway.StepSkipped, Reason: "skipped: run:x failed"},
					{Key: "run:z", State: slipway.StepSkipped, Reason: "skipped: run:y skipped"},
					{Key: "prune:old", State: slipway.StepSkipped, Reason: "skipped: run:x failed"},
				},
				Due: []string{"run:o"},
			},
		},
		{
			name:  "StepsOutOfOrderStillSettle",
			steps: dag("run:z="+p+"<-run:y", "run:y="+p+"<-run:x", "run:x="+f),
			want: deploy.Decision{
				Settle: []deploy.Settle{
					{Key: "run:y", State: slipway.StepSkipped, Reason: "skipped: run:x failed"},
					{Key: "run:z", State: slipway.StepSkipped, Reason: "skipped: run:y skipped"},
				},
				Final: true,
			},
		},
		{
			name:  "AllFinalIsFinal",
			steps: dag("build:a="+u, "run:a="+d+"<-build:a"),
			want:  deploy.Decision{Final: true},
		},
		{
			name:       "CancelSettlesEveryPendingStep",
			steps:      dag("build:a="+r, "run:a="+p+"<-build:a", "run:b="+p),
			cancelling: true,
			want: deploy.Decision{Settle: []deploy.Settle{
				{Key: "run:a", State: slipway.StepCancelled, Reason: "The deployment was cancelled"},
				{Key: "run:b", State: slipway.StepCancelled, Reason: "The deployment was cancelled"},
			}},
		},
		{
			name:       "CancelWithNothingRunningIsFinal",
			steps:      dag("build:a="+d, "run:a="+p+"<-build:a"),
			cancelling: true,
			want: deploy.Decision{
				Settle: []deploy.Settle{{Key: "run:a", State: slipway.StepCancelled, Reason: "The deployment was cancelled"}},
				Final:  true,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := append([]slipway.Step(nil), tt.steps...)
			got := deploy.Schedule(tt.steps, tt.cancelling)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Schedule() (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tt.steps); diff != "" {
				t.Errorf("Schedule() changed its input (-before +after):\n%s", diff)
			}
		})
	}
}
