package slipway

import "time"

// JobState is the short status of a job, as Toolforge's jobs API words it.
type JobState string

// The job states.
const (
	JobPending   JobState = "pending"   // not started yet (starting, or waiting for its first scheduled run)
	JobRunning   JobState = "running"   // running (a scheduled job: a run is in progress)
	JobSucceeded JobState = "succeeded" // the last run exited 0
	JobFailed    JobState = "failed"    // crash looping, or the last run failed
	JobUnknown   JobState = "unknown"   // not running and nothing known about why
)

// Job is what Slipway runs for a tool, in the shape of Toolforge's jobs
// API: a live component (named after it), or an ad-hoc one-off started
// through the jobs API ([JobRun]).
type Job struct {
	// Component is the job's definition: Name, Type and Run; Build says
	// where its artifact comes from.
	Component Component
	// ImageName is the live component whose build the job runs.
	ImageName string
	// Image is the artifact the job runs, "builds/<build key>".
	Image string
	// AdHoc is true for a one-off started through the jobs API rather than
	// by a deployment.
	AdHoc bool
	// ScheduleActual is the concrete cron expression of a scheduled job
	// (macros such as @daily made concrete).
	ScheduleActual string
	Status         JobStatus
}

// JobStatus is the observed state of a job.
type JobStatus struct {
	Short JobState
	// Long is a sentence for people.
	Long string
	// Duration is how long the job's processes or its run in progress have
	// been running, or how long its last finished run took (0: unknown).
	Duration time.Duration
	// UpToDate is false when what runs differs from the tool's config (it
	// was changed through the jobs API); the next deployment reverts it.
	UpToDate bool
	// Messages are warnings about the job.
	Messages []string
	// PreviousSchedule and NextSchedule are the last and next scheduled
	// runs of a scheduled job (zero: none).
	PreviousSchedule time.Time
	NextSchedule     time.Time
	// What runs, as the target reports it: the source commit of the build
	// (empty for prebuilt images), since when the newest process of a
	// continuous job runs (zero when none does), whether a continuous
	// job is healthy (every replica up, none crash looping; nil for
	// others) and where a published one answers.
	Commit  string
	Since   time.Time
	Healthy *bool
	URL     string
}

// JobRun is an ad-hoc one-off job started through the jobs API: it is not
// a component of the tool's config, so deployments neither run nor prune
// it; it is listed until deleted.
type JobRun struct {
	Tool string
	Name string
	// Command is the command line, as for a component.
	Command string
	// ImageName is the live component whose build the run uses, and
	// BuildKey and Artifact that build.
	ImageName string
	BuildKey  string
	Artifact  string
	// Timeout in seconds; 0 means the server's default bound.
	Timeout int
	// RunID identifies the run in the target (one run per JobRun).
	RunID     string
	CreatedAt time.Time
}

// Component returns the run as a one-off component reusing ImageName's
// build.
func (r JobRun) Component() Component {
	return Component{
		Name:  r.Name,
		Type:  OneOff,
		Build: BuildSpec{ReuseFrom: r.ImageName},
		Run:   RunSpec{Command: r.Command, Timeout: r.Timeout},
	}
}
