package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"slipway.dev/slipway/internal/logfile"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// Waits of the builds API: how often a followed log is read again, and how
// long a cancel waits for the build to stop before it answers.
const (
	logPollInterval = 200 * time.Millisecond
	cancelWait      = 10 * time.Second
)

var buildIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// checkBuildID returns EInvalid unless id can be a build ID (a build key).
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
func (s *Service) BuildList(ctx context.Context, tool string) ([]slipway.Build, error) {
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
func (s *Service) BuildGet(ctx context.Context, tool, id string) (slipway.Build, error) {
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
// is 0), read from the end of the log and its rotated files, in memory
// that does not grow with the log. With follow, it goes on writing what a
// running build logs, across rotations, until the build ends (or its
// record is deleted), or ctx ends; otherwise it writes what there is now.
// Errors before the first write: EInvalid and ENotFound as
// [Service.BuildGet], EInvalid for a negative lines, and ENotFound when a
// finished build has no log (it was removed).
func (s *Service) BuildLogs(ctx context.Context, tool, id string, follow bool, lines int, w io.Writer) error {
	if lines < 0 {
		return slipway.Errorf(slipway.EInvalid, "lines must be a number of lines, at least 0 (0 means all), got %d.", lines)
	}
	b, err := s.BuildGet(ctx, tool, id)
	if err != nil {
		return err
	}
	path := b.LogPath
	if path == "" {
		path = s.builder.LogPath(tool, b.Key)
	}
	if ok, err := s.waitLog(ctx, tool, b, path, follow); err != nil || !ok {
		return err
	}
	pos, err := logfile.LastLines(w, path, lines, logfile.DefaultMaxLine)
	if err != nil {
		return fmt.Errorf("log of build %s: %w", id, err)
	}
	if !follow {
		return nil
	}
	fw := logfile.Follow(path, pos)
	defer fw.Close()
	for {
		cur, err := s.store.BuildGet(ctx, tool, id)
		final := errors.Is(err, store.ErrNotFound) || (err == nil && buildFinal(cur))
		if err != nil && !final {
			return fmt.Errorf("log of build %s: %w", id, err)
		}
		// After the look at the record: what the build wrote before it
		// ended is in the log by now.
		if err := fw.Next(w); err != nil {
			return fmt.Errorf("log of build %s: %w", id, err)
		}
		if final {
			return nil
		}
		if sleepCtx(ctx, logPollInterval) != nil {
			return nil // the client left: the stream just ends
		}
	}
}

// waitLog reports whether a build's log is there to read. A running build
// may not have written it yet: without follow that is an empty log (false),
// with follow it is waited for. A finished build without a log is
// ENotFound.
func (s *Service) waitLog(ctx context.Context, tool string, b slipway.Build, path string, follow bool) (bool, error) {
	for {
		for _, p := range []string{path, logfile.Rotated(path, 1)} {
			_, err := os.Stat(p)
			if err == nil {
				return true, nil
			}
			if !errors.Is(err, os.ErrNotExist) {
				return false, fmt.Errorf("log of build %s: %w", b.ID, err)
			}
		}
		if buildFinal(b) {
			return false, slipway.Errorf(slipway.ENotFound, "Build %s has no log: it was removed.", b.ID)
		}
		if !follow {
			return false, nil
		}
		if err := sleepCtx(ctx, logPollInterval); err != nil {
			return false, nil //nolint:nilerr // the client left before the log began
		}
		var err error
		if b, err = s.store.BuildGet(ctx, tool, b.ID); err != nil {
			return false, notFound(err, "Build %s not found for tool %s", b.ID, tool)
		}
	}
}

// buildStepRef is a step of an unfinished deployment that builds a key.
type buildStepRef struct {
	deployment slipway.Deployment
	step       slipway.Step
}

// pendingUses returns the steps of unfinished deployments (of tool, or of
// every tool when tool is "") that are not final and build or use key.
func pendingUses(ctx context.Context, q store.Queries, tool, key string) ([]buildStepRef, error) {
	unfinished, err := q.DeploymentListUnfinished(ctx)
	if err != nil {
		return nil, fmt.Errorf("unfinished deployments: %w", err)
	}
	var out []buildStepRef
	for _, d := range unfinished {
		if tool != "" && d.Tool != tool {
			continue
		}
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
// stopping. Returns EInvalid and ENotFound as [Service.BuildGet], EConflict
// "Build X can't be cancelled, its status is S" when it is already final.
func (s *Service) BuildCancel(ctx context.Context, tool, id string) (slipway.Build, error) {
	b, err := s.BuildGet(ctx, tool, id)
	if err != nil {
		return slipway.Build{}, err
	}
	if buildFinal(b) {
		return slipway.Build{}, slipway.Errorf(slipway.EConflict, "Build %s can't be cancelled, its status is %s", id, b.Status)
	}
	uses, err := pendingUses(ctx, s.store, tool, b.Key)
	if err != nil {
		return slipway.Build{}, fmt.Errorf("cancel build %s: %w", id, err)
	}
	var stopping []string // deployments whose running steps stop themselves
	for _, u := range uses {
		if u.step.Kind != slipway.StepBuild {
			continue
		}
		if s.running.cancelStep(u.deployment.ID, u.step.Key, errBuildCancelled) {
			stopping = append(stopping, u.deployment.ID)
			continue
		}
		if err := s.settleBuildCancelled(ctx, u.deployment, u.step.Key); err != nil {
			return slipway.Build{}, fmt.Errorf("cancel build %s: %w", id, err)
		}
	}
	if len(stopping) == 0 {
		// Nobody in this process runs it: a step not started, or a record
		// left running by a crash. Record the end here.
		if err := s.markBuildCancelled(ctx, tool, id); err != nil {
			return slipway.Build{}, fmt.Errorf("cancel build %s: %w", id, err)
		}
	}
	return s.awaitBuildFinal(ctx, tool, id, stopping)
}

// settleBuildCancelled records a build step that no step job of this
// process runs as cancelled, with the deployment's progress.
func (s *Service) settleBuildCancelled(ctx context.Context, d slipway.Deployment, key string) error {
	return s.advance(ctx, d, nil, func(tx store.Tx) error {
		_, err := s.updateStep(ctx, tx, store.StepUpdate{
			DeploymentID: d.ID, Key: key, State: slipway.StepCancelled, Detail: "build cancelled by request",
			FinishedAt: s.now(), IfStateIn: []slipway.StepState{slipway.StepPending, slipway.StepRunning},
		})
		return err
	})
}

// markBuildCancelled records a build that is not final as cancelled.
func (s *Service) markBuildCancelled(ctx context.Context, tool, id string) error {
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
// cancelWait or when ctx ends. The deployments whose steps stop it wake it.
func (s *Service) awaitBuildFinal(ctx context.Context, tool, id string, deployments []string) (slipway.Build, error) {
	wctx, cancel := context.WithTimeout(ctx, cancelWait)
	defer cancel()
	for {
		var woken []<-chan struct{}
		for _, d := range deployments {
			woken = append(woken, s.events.wait(d))
		}
		b, err := s.store.BuildGet(ctx, tool, id)
		if err != nil {
			return slipway.Build{}, notFound(err, "Build %s not found for tool %s", id, tool)
		}
		if buildFinal(b) || len(woken) == 0 {
			return b, nil
		}
		select {
		case <-wctx.Done():
			return b, nil
		case <-woken[0]:
		case <-time.After(logPollInterval):
		}
	}
}

// BuildDelete deletes a finished build's record, its artifact and its log
// (artifacts belong to the tool that built them), and returns the deleted
// build. Returns EInvalid and ENotFound as [Service.BuildGet]; EConflict
// when the build is running,
// when a live component of the tool runs it (naming the components), or
// when an unfinished deployment of the tool needs it. Nothing is deleted
// then.
func (s *Service) BuildDelete(ctx context.Context, tool, id string) (slipway.Build, error) {
	if _, err := s.BuildGet(ctx, tool, id); err != nil {
		return slipway.Build{}, err
	}
	var b slipway.Build
	err := s.store.InTx(ctx, func(tx store.Tx) error {
		var err error
		if b, err = tx.BuildGet(ctx, tool, id); err != nil {
			return notFound(err, "Build %s not found for tool %s", id, tool)
		}
		if err := s.checkDeletable(ctx, tx, b); err != nil {
			return err
		}
		if err := tx.BuildDelete(ctx, tool, id); err != nil {
			return err
		}
		// checkDeletable made sure nothing of the tool uses the artifact.
		// Inside the transaction: if removing fails, the record stays.
		return s.builder.Remove(ctx, tool, b.Key)
	})
	if err != nil {
		return slipway.Build{}, fmt.Errorf("delete build %s of %s: %w", id, tool, err)
	}
	return b, nil
}

// checkDeletable returns EConflict when build b of its tool is running, is
// what a live component runs, or is needed by an unfinished deployment.
func (s *Service) checkDeletable(ctx context.Context, tx store.Tx, b slipway.Build) error {
	if !buildFinal(b) {
		return slipway.Errorf(slipway.EConflict,
			"Build %s is %s: cancel it first (slipway builds cancel %s), or wait for it to end.", b.ID, b.Status, b.ID)
	}
	live, err := tx.LiveRunList(ctx, b.Tool)
	if err != nil {
		return fmt.Errorf("live components: %w", err)
	}
	var users []string
	for _, r := range live {
		if r.BuildKey == b.Key {
			users = append(users, r.Component)
		}
	}
	if len(users) > 0 {
		slices.Sort(users)
		return slipway.Errorf(slipway.EConflict,
			"Build %s is what component %s runs now: deploy another build of it (or remove the component) before deleting this one.",
			b.ID, strings.Join(users, ", "))
	}
	uses, err := pendingUses(ctx, tx, b.Tool, b.Key)
	if err != nil {
		return err
	}
	if len(uses) > 0 {
		return slipway.Errorf(slipway.EConflict,
			"Build %s is needed by deployment %s, which has not finished: wait for it or cancel it first.", b.ID, uses[0].deployment.ID)
	}
	return nil
}
