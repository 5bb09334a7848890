package deploy

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/localrepo"
	"slipway.dev/slipway/internal/logfile"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/toolconfig"
)

// Waits of the builds API: how often a followed log is read again, and how
// long a cancel waits for the build to stop before it answers.
const (
	logPollInterval = 200 * time.Millisecond
	cancelWait      = 10 * time.Second
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
// stopping. A build started by [Service.BuildStart] is stopped the same
// way, its run recording the end. Returns EInvalid and ENotFound as
// [Service.BuildGet]; EConflict, in builds-api's words, when it is already
// final: "Build X cannot be cancelled again. It has already been
// cancelled", or "Build X cannot be cancelled because it has already
// completed (its status is S)".
func (s *Service) BuildCancel(ctx context.Context, tool, id string) (slipway.Build, error) {
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
	standalone := s.running.cancelStep(standaloneRunID(tool), id, errBuildCancelled)
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
// cancelWait or when ctx ends. The deployments whose steps stop it wake it;
// a standalone run (which has no events) is polled.
func (s *Service) awaitBuildFinal(ctx context.Context, tool, id string, deployments []string, standalone bool) (slipway.Build, error) {
	wctx, cancel := context.WithTimeout(ctx, cancelWait)
	defer cancel()
	for {
		var woken <-chan struct{} // nil, never ready, without a deployment
		if len(deployments) > 0 {
			woken = s.events.wait(deployments[0])
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
	// First the record is marked (hidden from every read, so no new
	// deployment reuses it), under the tool's lock; the files go after
	// that commits, never inside a transaction that may run twice; then
	// the record.
	var (
		b            slipway.Build
		withArtifact bool
	)
	err := s.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.ToolLock(ctx, tool, s.now()); err != nil {
			return err
		}
		var err error
		if b, err = tx.BuildGet(ctx, tool, id); err != nil {
			return notFound(err, "Build %s not found for tool %s", id, tool)
		}
		if err := s.checkDeletable(ctx, tx, b); err != nil {
			return err
		}
		if err := tx.BuildSetDeleting(ctx, tool, id, true); err != nil {
			return err
		}
		withArtifact = false
		if b.Status != slipway.BuildSuccessful {
			return nil // the artifact, if any, is another attempt's
		}
		_, other, err := latestAttempt(ctx, tx, tool, b.Key)
		// checkDeletable made sure nothing of the tool uses the artifact;
		// another attempt that made the key too keeps it.
		withArtifact = !other
		return err
	})
	if err != nil {
		return slipway.Build{}, fmt.Errorf("delete build %s of %s: %w", id, tool, err)
	}
	if err := s.removeBuild(ctx, b, withArtifact); err != nil {
		// The record comes back: the files that are left stay findable.
		if rerr := s.store.BuildSetDeleting(context.WithoutCancel(ctx), tool, id, false); rerr != nil {
			err = errors.Join(err, fmt.Errorf("keep its record: %w", rerr))
		}
		return slipway.Build{}, fmt.Errorf("delete build %s of %s: %w", id, tool, err)
	}
	return b, nil
}

// removeBuild removes a build marked deleting: its log, its artifact
// when withArtifact, then its record.
func (s *Service) removeBuild(ctx context.Context, b slipway.Build, withArtifact bool) error {
	if err := s.builder.RemoveLog(b.Tool, b.ID); err != nil {
		return err
	}
	if withArtifact {
		if err := s.builder.Remove(ctx, b.Tool, b.Key); err != nil {
			return err
		}
	}
	return ignoreNotFound(s.store.BuildDelete(ctx, b.Tool, b.ID))
}

// FinishBuildDeletes finishes the build deletions a stopped server left
// half done (records marked deleting): their files are removed and the
// records deleted. An artifact stays when another attempt of its tool made
// it too. Call it once at start.
func (s *Service) FinishBuildDeletes(ctx context.Context) (int, error) {
	marked, err := s.store.BuildListDeleting(ctx)
	if err != nil {
		return 0, fmt.Errorf("finish build deletes: %w", err)
	}
	for i, b := range marked {
		_, other, err := latestAttempt(ctx, s.store, b.Tool, b.Key)
		if err != nil {
			return i, fmt.Errorf("finish deleting build %s of %s: %w", b.ID, b.Tool, err)
		}
		if err := s.removeBuild(ctx, b, b.Status == slipway.BuildSuccessful && !other); err != nil {
			return i, fmt.Errorf("finish deleting build %s of %s: %w", b.ID, b.Tool, err)
		}
	}
	return len(marked), nil
}

// checkDeletable returns EConflict when build b of its tool is running, is
// what a live component runs, or is needed by an unfinished deployment.
func (s *Service) checkDeletable(ctx context.Context, tx store.Tx, b slipway.Build) error {
	if !buildFinal(b) {
		return slipway.Errorf(slipway.EConflict,
			"Build %s is %s: cancel it first (slipway builds cancel %s), or wait for it to end.", b.ID, b.Status, b.ID)
	}
	if b.Status != slipway.BuildSuccessful {
		return nil // an attempt that made nothing: only its record and log go
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

// maxUnfinishedBuilds bounds a tool's pending and running builds (its
// deployments' too) when another is started, as builds-api's
// MaxParallelBuilds does: each one waiting for a slot holds a goroutine
// and a record, and Toolforge's clients know the refusal.
const maxUnfinishedBuilds = 4

// imageNameRE is what a build's image_name may be: a container image
// name's path component, as builds-api's image names are.
var imageNameRE = regexp.MustCompile(`^[a-z0-9]+([._-]+[a-z0-9]+)*$`)

// standaloneRunID is the name under which the runs of BuildStart register
// their cancel functions in s.running, in place of a deployment ID (the
// build's ID in place of the step key): BuildCancel finds them there.
func standaloneRunID(tool string) string { return "build-start:" + tool }

// BuildStart starts a build of req.Repository at req.Ref outside any
// deployment, as Toolforge's `toolforge build start` does, and returns its
// record at once, pending: the build runs in the background with the same
// slots, timeout, retries and disk check as a deployment's, and its record
// is what BuildList, BuildGet, BuildLogs (with follow), BuildCancel and
// BuildDelete act on. The ref is resolved now; the build ID is the build
// key, so a deployment whose component builds the same commit with the
// same settings reuses the result.
//
// started is false when nothing new was started: a build of the same key
// is already pending or running (the answer is that build, to follow), or
// it succeeded and its artifact is still there (rebuilding would give the
// same artifact).
//
// Returns EInvalid for a bad tool name or request (each problem on a line
// of the message) and when the ref cannot be resolved, EForbidden for a
// local repository the actor may not build, EConflict when the tool
// already has maxUnfinishedBuilds pending or running builds, and
// EUnavailable when the server cannot resolve refs.
//
// The run lives in this process: a server stopped during it leaves the
// record pending or running, which the next server's start settles
// ([Service.SettleInterruptedBuilds]).
func (s *Service) BuildStart(ctx context.Context, tool string, req slipway.BuildStart) (b slipway.Build, started bool, err error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.Build{}, false, err
	}
	actor := slipway.ActorFrom(ctx)
	src, image, err := s.checkBuildStart(tool, req, actor)
	if err != nil {
		return slipway.Build{}, false, err
	}
	scope := slipway.SourceScope{Tool: tool, Admin: actor.Admin}
	commit, err := s.resolveBuildStart(slipway.WithSourceScope(ctx, scope), src)
	if err != nil {
		return slipway.Build{}, false, err
	}
	key := slipway.BuildKey(src.Repository, commit, s.builder.Version(), slipway.SourceBuildSettings(src)...)

	// Registered before the record exists, so that a cancel sent as soon as
	// the answer arrives finds the run. The run outlives the request.
	// Each start is an attempt of its own (a random ID), with its own
	// record and log.
	var rnd [4]byte
	_, _ = rand.Read(rnd[:]) // never fails (crypto/rand)
	id := key + "-" + hex.EncodeToString(rnd[:])
	work, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	unregister := s.running.add(standaloneRunID(tool), id, cancel)
	now := s.now()
	err = s.store.InTx(ctx, func(tx store.Tx) error {
		// Under the tool's lock: two starts of one commit make one
		// attempt, and the count of unfinished builds holds.
		if err := tx.ToolLock(ctx, tool, now); err != nil {
			return err
		}
		cur, exists, err := latestAttempt(ctx, tx, tool, key)
		switch {
		case err != nil:
			return err
		case exists && !buildFinal(cur):
			b = cur // follow the build under way
			return nil
		case exists && cur.Status == slipway.BuildSuccessful:
			if _, ok, err := s.builder.Lookup(ctx, tool, key); err == nil && ok {
				b = cur
				return nil
			}
			// Its artifact is gone or corrupt: build it again.
		}
		if err := checkUnfinished(ctx, tx, tool); err != nil {
			return err
		}
		b = slipway.Build{
			ID: id, Tool: tool, Component: image, Key: key, Repository: src.Repository, Ref: src.Ref, Commit: commit,
			Status: slipway.BuildPending, LogPath: s.builder.LogPath(tool, id), CreatedAt: now, UpdatedAt: now,
		}
		started = true
		return tx.BuildCreate(ctx, b)
	})
	if err != nil || !started {
		unregister()
		cancel(nil)
		if err != nil {
			return slipway.Build{}, false, fmt.Errorf("start a build for %s: %w", tool, err)
		}
		return b, false, nil
	}
	go func() {
		defer unregister()
		defer cancel(nil)
		s.runBuildStart(slipway.WithSourceScope(work, scope), b, src)
	}()
	return b, true, nil
}

// latestAttempt returns the tool's newest attempt at building key that is
// under way or succeeded; ok is false when there is none.
func latestAttempt(ctx context.Context, q store.Queries, tool, key string) (b slipway.Build, ok bool, err error) {
	list, err := q.BuildList(ctx, tool) // newest first
	if err != nil {
		return slipway.Build{}, false, fmt.Errorf("list builds of %s: %w", tool, err)
	}
	for _, b := range list {
		if b.Key == key && (!buildFinal(b) || b.Status == slipway.BuildSuccessful) {
			return b, true, nil
		}
	}
	return slipway.Build{}, false, nil
}

// checkUnfinished returns EConflict, in builds-api's words, when the tool
// has maxUnfinishedBuilds builds pending or running.
func checkUnfinished(ctx context.Context, tx store.Tx, tool string) error {
	list, err := tx.BuildList(ctx, tool)
	if err != nil {
		return fmt.Errorf("list builds of %s: %w", tool, err)
	}
	n := 0
	for _, b := range list {
		if !buildFinal(b) {
			n++
		}
	}
	if n >= maxUnfinishedBuilds {
		return slipway.Errorf(slipway.EConflict,
			"Got too many builds running (%d out of %d max), cancel some or wait for them to finish", n, maxUnfinishedBuilds)
	}
	return nil
}

// checkBuildStart checks a BuildStart request against the rules a
// config's build is held to, and returns its build settings (the ref
// defaulted to HEAD) and image name (defaulted to tool-<tool>).
func (s *Service) checkBuildStart(tool string, req slipway.BuildStart, actor slipway.Actor) (slipway.SourceBuild, string, error) {
	src := slipway.SourceBuild{
		Repository: strings.TrimSpace(req.Repository), Ref: cmp.Or(req.Ref, "HEAD"),
		UseLatestVersions: req.UseLatestVersions, UseDeprecatedVersions: req.UseDeprecatedVersions,
	}
	image := cmp.Or(req.ImageName, "tool-"+tool)
	var problems []string
	switch {
	case src.Repository == "":
		problems = append(problems, "source_url is required: the URL of the git repository to build (http, https or git).")
	case toolconfig.CheckRepository(src.Repository) != "":
		problems = append(problems, "source_url: "+toolconfig.CheckRepository(src.Repository))
	default:
		if sp, err := slipway.SplitURLCredential(src.Repository); err == nil && (sp.HasCredential || sp.Stored) {
			// A credential here would have to be kept with the record to
			// build again; configs keep theirs sealed instead.
			problems = append(problems, fmt.Sprintf("source_url: %s carries credentials; a build started this way fetches public repositories only (put a private repository in the tool's config, which keeps its credentials sealed).", sp.Redacted))
		}
		if isLocalRepo(src.Repository) && !s.cfg.AllowLocalRepos {
			problems = append(problems, fmt.Sprintf("source_url: local repositories (%s) are not allowed on this server; use an http, https or git URL.", src.Repository))
		}
	}
	if msg := toolconfig.CheckRef(src.Ref); msg != "" {
		problems = append(problems, msg)
	}
	if len(image) > 128 || !imageNameRE.MatchString(image) {
		problems = append(problems, fmt.Sprintf("image_name must be lowercase letters and digits, with '.', '_' or '-' between them, at most 128 characters, got %q.", slipway.Clip(image, 60)))
	}
	if len(req.Envvars) > 0 {
		names := slices.Sorted(maps.Keys(req.Envvars))
		problems = append(problems, fmt.Sprintf("envvars: Slipway's builds take no build-time environment variables, got %s; start the build without them (the tool's envvars reach its processes when they run).", slipway.Clip(strings.Join(names, ", "), 120)))
	}
	if len(problems) > 0 {
		return src, image, &slipway.Error{Code: slipway.EInvalid, Message: strings.Join(problems, "\n")}
	}
	if _, local := localrepo.Path(src.Repository); local && !actor.Admin {
		if err := localrepo.Check(src.Repository, s.cfg.LocalRepoDirs); err != nil {
			where := "the server's --local-repo-dirs names none"
			if len(s.cfg.LocalRepoDirs) > 0 {
				where = "the server's --local-repo-dirs names " + strings.Join(s.cfg.LocalRepoDirs, ", ") + ", and " + err.Error()
			}
			return src, image, slipway.Errorf(slipway.EForbidden, "source_url: local repositories need the admin token, or a directory that tools may build from: %s", where)
		}
	}
	return src, image, nil
}

// resolveBuildStart resolves src's ref to a commit, with the retries and
// bound a deployment's resolving has. A ref that does not resolve is
// EInvalid in builds-api's words.
func (s *Service) resolveBuildStart(ctx context.Context, src slipway.SourceBuild) (string, error) {
	if s.source == nil {
		return "", slipway.Errorf(slipway.EUnavailable, "This server cannot resolve git refs, so it cannot start builds.")
	}
	rctx, cancel := context.WithTimeoutCause(ctx, s.cfg.ResolveTimeout,
		fmt.Errorf("resolving the ref took longer than %s (the resolve timeout): %w", s.cfg.ResolveTimeout, context.DeadlineExceeded))
	defer cancel()
	var got map[string]string
	err := s.retry(rctx, nil, func() error {
		var err error
		got, err = s.source.ResolveAll(rctx, src.Repository, []string{src.Ref})
		return err
	})
	if err == nil && got[src.Ref] == "" {
		err = errors.New("no commit")
	}
	switch {
	case err == nil:
		return got[src.Ref], nil
	case ctx.Err() != nil:
		return "", fmt.Errorf("resolve %s: %w", src.Ref, ctx.Err())
	case slipway.ErrorCode(err) == slipway.EForbidden:
		return "", err
	}
	// git's own words, as a deployment that cannot resolve says them in
	// its long status; the git adapter redacts URLs.
	why := err.Error()
	if slipway.ErrorCode(err) != slipway.EInternal {
		why = slipway.ErrorMessage(err)
	}
	return "", &slipway.Error{
		Code: slipway.EInvalid,
		Message: fmt.Sprintf("Failed to resolve ref %s, maybe the repository %s is not public? Error: %s",
			src.Ref, slipway.RedactURL(src.Repository), why),
		Err: err,
	}
}

// runBuildStart runs a build that BuildStart recorded as pending until it
// ends (or work is cancelled by BuildCancel) and records the outcome.
func (s *Service) runBuildStart(work context.Context, b slipway.Build, src slipway.SourceBuild) {
	// The records are written after the work ended too.
	ctx := context.WithoutCancel(work)
	b = s.buildStandalone(work, b, src)
	b.UpdatedAt = s.now()
	if err := s.store.BuildUpdate(ctx, b); err != nil {
		s.logger.ErrorContext(ctx, "record the end of a build", "tool", b.Tool, "build", b.ID, "status", b.Status, "err", err)
	}
}

// buildStandalone does the work of runBuildStart and returns the build
// as it ended.
func (s *Service) buildStandalone(work context.Context, b slipway.Build, src slipway.SourceBuild) slipway.Build {
	// ended records why ctx, the work's, ended the build with err.
	ended := func(ctx context.Context, err error) slipway.Build {
		switch cause := context.Cause(ctx); {
		case errors.Is(cause, errBuildCancelled):
			b.Status, b.Error = slipway.BuildCancelled, "build cancelled by request"
		case errors.Is(cause, errStepTimeout):
			b.Status, b.Error = slipway.BuildFailed, fmt.Sprintf("build timed out after %s: %v", s.cfg.BuildTimeout, err)
		default:
			b.Status, b.Error = slipway.BuildFailed, err.Error()
		}
		return b
	}
	// A slot of the tool, then one of the server, as a deployment's build.
	for _, slots := range []chan struct{}{s.toolSlots(b.Tool), s.slots} {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		case <-work.Done():
			return ended(work, errors.New("stopped while waiting for a build slot"))
		}
	}
	if s.cfg.DiskCheck != nil {
		if err := s.cfg.DiskCheck(); err != nil {
			msg := "build refused: " + slipway.ErrorMessage(err)
			if slipway.ErrorCode(err) == slipway.EInternal {
				msg = "build refused: free disk space unknown: " + err.Error()
			}
			b.Status, b.Error = slipway.BuildFailed, msg
			return b
		}
	}
	b.Status, b.UpdatedAt = slipway.BuildRunning, s.now()
	if err := s.store.BuildUpdate(context.WithoutCancel(work), b); err != nil {
		return ended(work, fmt.Errorf("record build: %w", err))
	}
	bctx, cancel := context.WithTimeoutCause(work, s.cfg.BuildTimeout, errStepTimeout)
	defer cancel()
	var art slipway.Artifact
	err := s.retry(bctx, nil, func() error {
		var err error
		art, err = s.builder.Build(bctx, build.Request{
			Tool: b.Tool, Component: b.Component, Repository: src.Repository, Ref: src.Ref,
			Commit: b.Commit, Key: b.Key, Attempt: b.ID, Settings: src,
		})
		return err
	})
	if err != nil {
		return ended(bctx, err)
	}
	b.Status, b.Artifact, b.Error = slipway.BuildSuccessful, art.Dir, ""
	return b
}

// BuildQuota returns the tool's build limits and what it uses of them,
// for builds-api's GET …/quotas. builds-api reports its image registry's
// storage there; Slipway keeps artifacts on the server and bounds builds
// by count instead, so that is what it reports. Returns EInvalid for a bad
// tool name.
func (s *Service) BuildQuota(ctx context.Context, tool string) ([]slipway.QuotaCategory, error) {
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

// SettleInterruptedBuilds ends the builds a stopped server left pending or
// running that no unfinished deployment will run again: those started by
// [Service.BuildStart], whose run lived in that server's process. They end
// failed, saying so, and may be started again. Call it once at start,
// before serving requests.
func (s *Service) SettleInterruptedBuilds(ctx context.Context) (int, error) {
	tools, err := s.store.ToolList(ctx)
	if err != nil {
		return 0, fmt.Errorf("settle interrupted builds: %w", err)
	}
	n := 0
	for _, tool := range tools {
		builds, err := s.store.BuildList(ctx, tool)
		if err != nil {
			return n, fmt.Errorf("settle interrupted builds of %s: %w", tool, err)
		}
		for _, b := range builds {
			if buildFinal(b) {
				continue
			}
			uses, err := pendingUses(ctx, s.store, tool, b.Key)
			if err != nil {
				return n, fmt.Errorf("settle build %s of %s: %w", b.ID, tool, err)
			}
			if len(uses) > 0 {
				continue // its deployment's step runs it again
			}
			b.Status, b.Error, b.UpdatedAt = slipway.BuildFailed, "interrupted: the server stopped during this build; start it again", s.now()
			if err := s.store.BuildUpdate(ctx, b); err != nil {
				return n, fmt.Errorf("settle build %s of %s: %w", b.ID, tool, err)
			}
			n++
		}
	}
	return n, nil
}
