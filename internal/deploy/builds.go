package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// Builds is the application service of the builds API
// (httpapi.BuildsService): builds of deployments and builds started on
// their own, their logs, cancel and delete. Builds started on their own run
// in this process: [Builds.Stop] stops them.
type Builds struct {
	app
	// runs are the goroutines of BuildStart.
	runs background
}

// NewBuilds returns the builds service over eng.
func NewBuilds(eng *Engine) *Builds { return &Builds{app: newApp(eng)} }

// Stop stops the builds that BuildStart runs, leaving their records for
// the next start to settle ([Builds.SettleInterruptedBuilds]), and waits
// for their goroutines until ctx ends. BuildStart starts none after it.
func (s *Builds) Stop(ctx context.Context) error {
	return s.runs.stop(ctx, "builds started outside deployments", errServerStopping)
}

// Waits of the builds API: how often a cancel looks at a build that has no
// events (one started by BuildStart), and how long it waits for the build
// to stop before it answers.
const (
	buildPollInterval = 200 * time.Millisecond
	cancelWait        = 10 * time.Second
)

var buildIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// buildAttempt returns the ID of deployment's attempt at building key:
// the key and a hash of the deployment, so that a retry of the step (after
// a crash) is the same attempt, components of one deployment building the
// same key share it, and another deployment's rebuild of the key is a new
// record with its own log.
func buildAttempt(key, deployment string) string {
	h := sha256.Sum256([]byte(deployment))
	return key + "-" + hex.EncodeToString(h[:4])
}

// checkBuildID returns EInvalid unless id can be a build ID (an attempt's,
// or a build key for builds recorded before attempts).
func checkBuildID(id string) error {
	if buildIDRE.MatchString(id) && !strings.Contains(id, "..") {
		return nil
	}
	shown := id
	if r := []rune(shown); len(r) > 40 {
		shown = string(r[:40]) + "…"
	}
	return slipway.Errorf(slipway.EInvalid,
		"Invalid build ID %q: a build ID is up to 128 letters, digits, '.', '_' or '-' (see `slipway builds list`).", shown)
}

// BuildList returns the tool's builds, newest first; an empty list when
// there are none. Returns EInvalid for a bad tool name.
func (s *Builds) BuildList(ctx context.Context, tool string) ([]slipway.Build, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return nil, err
	}
	bs, err := s.store.BuildList(ctx, tool)
	if err != nil {
		return nil, fmt.Errorf("list builds of %s: %w", tool, err)
	}
	return bs, nil
}

// BuildGet returns one of the tool's builds. Returns EInvalid for a bad
// tool name or build ID, ENotFound when there is no such build.
func (s *Builds) BuildGet(ctx context.Context, tool, id string) (slipway.Build, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.Build{}, err
	}
	if err := checkBuildID(id); err != nil {
		return slipway.Build{}, err
	}
	b, err := s.store.BuildGet(ctx, tool, id)
	if err != nil {
		return slipway.Build{}, notFound(err, "Build %s not found for tool %s", id, tool)
	}
	return b, nil
}

// buildFinal reports whether a build will not change again.
func buildFinal(b slipway.Build) bool {
	return b.Status != slipway.BuildRunning && b.Status != slipway.BuildPending
}

// BuildLogs writes the build's log to w: its last lines (all when lines
// is 0), read from the end of the log, in memory that does not grow with
// the log. With follow, it goes on writing what a running build logs
// until the build ends (or its record is deleted), or ctx ends; otherwise
// it writes what there is now. The builder reads the log
// ([build.Builder.Logs]); this says when the build has ended, from its
// record. Errors before the first write: EInvalid and ENotFound as
// [Builds.BuildGet], EInvalid for a negative lines, and ENotFound when a
// finished build has no log (it was removed).
func (s *Builds) BuildLogs(ctx context.Context, tool, id string, follow bool, lines int, w io.Writer) error {
	if lines < 0 {
		return slipway.Errorf(slipway.EInvalid, "lines must be a number of lines, at least 0 (0 means all), got %d.", lines)
	}
	b, err := s.BuildGet(ctx, tool, id)
	if err != nil {
		return err
	}
	opts := build.LogOptions{Lines: lines, Follow: follow, Done: func(ctx context.Context) (bool, error) {
		cur, err := s.store.BuildGet(ctx, tool, id)
		if errors.Is(err, store.ErrNotFound) {
			return true, nil // deleted: nothing more comes
		}
		return err == nil && buildFinal(cur), err
	}}
	// Records from before attempts have the key as their ID, and their
	// log is the key's.
	err = s.builder.Logs(ctx, tool, b.ID, opts, w)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return nil //nolint:nilerr // the client left: the stream just ends
	case errors.Is(err, build.ErrNoLog) && !follow && !buildFinal(b):
		return nil // a running build that has not written its log yet
	case errors.Is(err, build.ErrNoLog):
		return slipway.Errorf(slipway.ENotFound, "Build %s has no log: it was removed.", id)
	}
	return fmt.Errorf("log of build %s: %w", id, err)
}

// buildStepRef is a step of an unfinished deployment that builds a key.
type buildStepRef struct {
	deployment slipway.Deployment
	step       slipway.Step
}

// pendingUses returns the steps of unfinished deployments (of tool, or of
// every tool when tool is "") that are not final and build or use key.
func pendingUses(ctx context.Context, q store.Queries, tool, key string) ([]buildStepRef, error) {
	unfinished, err := q.DeploymentListUnfinished(ctx, tool)
	if err != nil {
		return nil, fmt.Errorf("unfinished deployments: %w", err)
	}
	var out []buildStepRef
	for _, d := range unfinished {
		steps, err := q.StepList(ctx, d.ID)
		if err != nil {
			return nil, fmt.Errorf("steps of %s: %w", d.ID, err)
		}
		for _, st := range steps {
			if st.BuildKey == key && !st.State.Final() {
				out = append(out, buildStepRef{deployment: d, step: st})
			}
		}
	}
	return out, nil
}

// BuildCancel kills a running build: each step building it becomes
// cancelled, the steps that need it are skipped with the reason, and the
// deployment ends failed ("build X was cancelled") once its other steps
// are final, as when a build fails. It waits a moment for the build to
// stop and returns the build as it is then, cancelled unless it is still
// stopping. A build started by [Builds.BuildStart] is stopped the same
// way, its run recording the end. Returns EInvalid and ENotFound as
// [Builds.BuildGet]; EConflict, in builds-api's words, when it is already
// final: "Build X cannot be cancelled again. It has already been
// cancelled", or "Build X cannot be cancelled because it has already
// completed (its status is S)".
func (s *Builds) BuildCancel(ctx context.Context, tool, id string) (slipway.Build, error) {
	b, err := s.BuildGet(ctx, tool, id)
	if err != nil {
		return slipway.Build{}, err
	}
	switch {
	case b.Status == slipway.BuildCancelled:
		// builds-api's words, which scripts around Toolforge's CLI may match.
		return slipway.Build{}, slipway.Errorf(slipway.EConflict, "Build %s cannot be cancelled again. It has already been cancelled", id)
	case buildFinal(b):
		return slipway.Build{}, slipway.Errorf(slipway.EConflict, "Build %s cannot be cancelled because it has already completed (its status is %s)", id, b.Status)
	}
	uses, err := pendingUses(ctx, s.store, tool, b.Key)
	if err != nil {
		return slipway.Build{}, fmt.Errorf("cancel build %s: %w", id, err)
	}
	// A build started with BuildStart runs under no deployment: its run
	// stops itself and records the end.
	standalone := s.eng.cancelStep(standaloneRunID(tool), id, errBuildCancelled)
	var stopping []string // deployments whose running steps stop themselves
	for _, u := range uses {
		if u.step.Kind != slipway.StepBuild {
			continue
		}
		if s.eng.cancelStep(u.deployment.ID, u.step.Key, errBuildCancelled) {
			stopping = append(stopping, u.deployment.ID)
			continue
		}
		if err := s.settleBuildCancelled(ctx, u.deployment, u.step.Key); err != nil {
			return slipway.Build{}, fmt.Errorf("cancel build %s: %w", id, err)
		}
	}
	if len(stopping) == 0 && !standalone {
		// Nobody in this process runs it: a step not started, or a record
		// left running by a crash. Record the end here.
		if err := s.markBuildCancelled(ctx, tool, id); err != nil {
			return slipway.Build{}, fmt.Errorf("cancel build %s: %w", id, err)
		}
	}
	return s.awaitBuildFinal(ctx, tool, id, stopping, standalone)
}

// settleBuildCancelled records a build step that no step job of this
// process runs as cancelled, with the deployment's progress.
func (s *Builds) settleBuildCancelled(ctx context.Context, d slipway.Deployment, key string) error {
	return s.eng.advance(ctx, d, nil, func(tx txn) error {
		_, err := s.eng.updateStep(ctx, tx, store.StepUpdate{
			DeploymentID: d.ID, Key: key, State: slipway.StepCancelled, Detail: "build cancelled by request",
			FinishedAt: s.now(), IfStateIn: []slipway.StepState{slipway.StepPending, slipway.StepRunning},
		})
		return err
	})
}

// markBuildCancelled records a build that is not final as cancelled.
func (s *Builds) markBuildCancelled(ctx context.Context, tool, id string) error {
	return s.store.InTx(ctx, func(tx store.Tx) error {
		b, err := tx.BuildGet(ctx, tool, id)
		if err != nil || buildFinal(b) {
			return err
		}
		b.Status, b.Error, b.UpdatedAt = slipway.BuildCancelled, "build cancelled by request", s.now()
		return tx.BuildUpdate(ctx, b)
	})
}

// awaitBuildFinal returns the build once it is final, or as it is after
// cancelWait or when ctx ends. The deployments whose steps stop it wake it;
// a standalone run (which has no events) is polled.
func (s *Builds) awaitBuildFinal(ctx context.Context, tool, id string, deployments []string, standalone bool) (slipway.Build, error) {
	wctx, cancel := context.WithTimeout(ctx, cancelWait)
	defer cancel()
	for {
		var woken <-chan struct{} // nil, never ready, without a deployment
		if len(deployments) > 0 {
			woken = s.eng.changed(deployments[0])
		}
		b, err := s.store.BuildGet(ctx, tool, id)
		if err != nil {
			return slipway.Build{}, notFound(err, "Build %s not found for tool %s", id, tool)
		}
		if buildFinal(b) || (len(deployments) == 0 && !standalone) {
			return b, nil
		}
		select {
		case <-wctx.Done():
			return b, nil
		case <-woken:
		case <-time.After(buildPollInterval):
		}
	}
}

// BuildQuota returns the tool's build limits and what it uses of them,
// for builds-api's GET …/quotas. builds-api reports its image registry's
// storage there; Slipway keeps artifacts on the server and bounds builds
// by count instead, so that is what it reports. Returns EInvalid for a bad
// tool name.
func (s *Builds) BuildQuota(ctx context.Context, tool string) ([]slipway.QuotaCategory, error) {
	list, err := s.BuildList(ctx, tool)
	if err != nil {
		return nil, err
	}
	unfinished, running := 0, 0
	for _, b := range list {
		if !buildFinal(b) {
			unfinished++
		}
		if b.Status == slipway.BuildRunning {
			running++
		}
	}
	itoa := strconv.Itoa
	return []slipway.QuotaCategory{{Name: "Builds", Items: []slipway.QuotaItem{
		{Name: "Builds pending or running (starting another is refused at the limit)", Limit: itoa(maxUnfinishedBuilds), Used: itoa(unfinished)},
		{Name: "Builds running at once (more wait for a slot)", Limit: itoa(s.cfg.ToolBuildSlots), Used: itoa(running)},
	}}}, nil
}
