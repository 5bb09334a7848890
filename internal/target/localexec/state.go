package localexec

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"slipway.dev/slipway/internal/atomicfile"
	"slipway.dev/slipway/internal/sandbox"
	"slipway.dev/slipway/internal/target"
)

// stateFile is state.json: enough to adopt or restart a component.
type stateFile struct {
	Tool        string      `json:"tool"`
	Component   string      `json:"component"`
	SpecHash    string      `json:"spec_hash"`
	ArtifactKey string      `json:"artifact_key"`
	ArtifactDir string      `json:"artifact_dir"`
	Spec        target.Spec `json:"spec"`
	// Active is true while the component should run (continuous) or is
	// registered (scheduled).
	Active     bool           `json:"active"`
	Generation int            `json:"generation"`
	StartedAt  time.Time      `json:"started_at"`
	Replicas   []replicaState `json:"replicas,omitempty"`
	// ServicePort is the port of the component's service address
	// (service.go), kept across restarts of the server.
	ServicePort int `json:"service_port,omitempty"`
	// GenerationSeq is the highest generation number used.
	GenerationSeq int `json:"generation_seq,omitempty"`
	// Next is a surge replacement in progress: its replicas run beside
	// Replicas and take no traffic until they are healthy.
	Next *nextState `json:"next,omitempty"`
	// Draining are replicas of a replaced generation being stopped.
	Draining []replicaState `json:"draining,omitempty"`
	// Schedule is the concrete cron expression of a scheduled component.
	Schedule string `json:"schedule,omitempty"`
	// Runs are the last scheduled runs, oldest first.
	Runs []runRecord `json:"runs,omitempty"`
	// Current is the scheduled run in progress.
	Current *runRecord `json:"current,omitempty"`
	// LastRun is the last one-off run.
	LastRun   *runRecord `json:"last_run,omitempty"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// nextState is a rollout's generation.
type nextState struct {
	Generation int            `json:"generation"`
	Spec       target.Spec    `json:"spec"`
	StartedAt  time.Time      `json:"started_at"`
	Replicas   []replicaState `json:"replicas"`
}

// replicaState is one replica. Instance is written before its process is
// spawned (with PID 0) and PID, PGID and StartTime once it runs.
type replicaState struct {
	Index     int       `json:"index"`
	Instance  string    `json:"instance,omitempty"`
	PID       int       `json:"pid,omitempty"`
	PGID      int       `json:"pgid,omitempty"`
	Port      int       `json:"port,omitempty"`
	StartTime uint64    `json:"start_time,omitempty"`
	StartedAt time.Time `json:"started_at"`
	Restarts  int       `json:"restarts"`
	// Cgroup is the process tree's cgroup, to act on it after a restart.
	Cgroup sandbox.Cgroup `json:"cgroup,omitzero"`
}

// runRecord is one run of a scheduled or one-off component. For one-off
// runs it is runs/<runID>.json: written with Finished false and the
// instance ID before the process is spawned, again with its pid once it
// runs, and again with the result when it ends.
type runRecord struct {
	ID         string    `json:"id"`
	Instance   string    `json:"instance,omitempty"`
	Finished   bool      `json:"finished"`
	PID        int       `json:"pid,omitempty"`
	PGID       int       `json:"pgid,omitempty"`
	StartTime  uint64    `json:"start_time,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	ExitCode   int       `json:"exit_code"`
	Attempts   int       `json:"attempts,omitempty"`
	TimedOut   bool      `json:"timed_out,omitempty"`
	// OOMKilled: the run was killed for reaching MemoryLimit (bytes).
	OOMKilled   bool  `json:"oom_killed,omitempty"`
	MemoryLimit int64 `json:"memory_limit,omitempty"`
	// Cgroup is the running process tree's cgroup.
	Cgroup sandbox.Cgroup `json:"cgroup,omitzero"`
}

// writeJSON writes v to path atomically (temp file, fsync, rename).
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := atomicfile.Write(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readJSON reads path into v; the error wraps fs.ErrNotExist when it is
// missing.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}
