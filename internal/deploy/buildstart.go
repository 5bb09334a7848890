package deploy

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/localrepo"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/toolconfig"
)

// maxUnfinishedBuilds bounds a tool's pending and running builds (its
// deployments' too) when another is started, as builds-api's
// MaxParallelBuilds does: each one waiting for a slot holds a goroutine
// and a record, and Toolforge's clients know the refusal.
const maxUnfinishedBuilds = 4

// imageNameRE is what a build's image_name may be: a container image
// name's path component, as builds-api's image names are.
var imageNameRE = regexp.MustCompile(`^[a-z0-9]+([._-]+[a-z0-9]+)*$`)

// errServerStopping is the cause given to the runs of BuildStart when
// the server stops ([Builds.Stop]).
var errServerStopping = errors.New("the server is stopping")

// standaloneRunID is the name under which the runs of BuildStart register
// their cancel functions with the engine ([Engine.register]), in place of
// a deployment ID (the build's ID in place of the step key): BuildCancel
// finds them there.
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
// ([Builds.SettleInterruptedBuilds]).
func (s *Builds) BuildStart(ctx context.Context, tool string, req slipway.BuildStart) (b slipway.Build, started bool, err error) {
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
	unregister := s.eng.register(standaloneRunID(tool), id, cancel)
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
			Status: slipway.BuildPending, CreatedAt: now, UpdatedAt: now,
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
	run := func() {
		defer unregister()
		defer cancel(nil)
		s.runBuildStart(slipway.WithSourceScope(work, scope), b, src)
	}
	// The run outlives the request, not the server: Stop cancels it.
	if !s.runs.start(cancel, run) {
		// The server stops: the record stays pending, and the next start
		// settles it, as for a build the stop interrupted.
		unregister()
		cancel(nil)
	}
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
func (s *Builds) checkBuildStart(tool string, req slipway.BuildStart, actor slipway.Actor) (slipway.SourceBuild, string, error) {
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
func (s *Builds) resolveBuildStart(ctx context.Context, src slipway.SourceBuild) (string, error) {
	if s.source == nil {
		return "", slipway.Errorf(slipway.EUnavailable, "This server cannot resolve git refs, so it cannot start builds.")
	}
	rctx, cancel := context.WithTimeoutCause(ctx, s.cfg.ResolveTimeout,
		fmt.Errorf("resolving the ref took longer than %s (the resolve timeout): %w", s.cfg.ResolveTimeout, context.DeadlineExceeded))
	defer cancel()
	var got map[string]string
	err := s.eng.retry(rctx, nil, func() error {
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
func (s *Builds) runBuildStart(work context.Context, b slipway.Build, src slipway.SourceBuild) {
	// The records are written after the work ended too.
	ctx := context.WithoutCancel(work)
	b = s.buildStandalone(work, b, src)
	if b.Status != slipway.BuildSuccessful && errors.Is(context.Cause(work), errServerStopping) {
		// The record stays as it is: the next start settles it
		// (SettleInterruptedBuilds), as after a crash.
		s.logger.InfoContext(ctx, "build stopped with the server", "tool", b.Tool, "build", b.ID)
		return
	}
	b.UpdatedAt = s.now()
	if err := s.store.BuildUpdate(ctx, b); err != nil {
		s.logger.ErrorContext(ctx, "record the end of a build", "tool", b.Tool, "build", b.ID, "status", b.Status, "err", err)
	}
}

// buildStandalone does the work of runBuildStart and returns the build
// as it ended.
func (s *Builds) buildStandalone(work context.Context, b slipway.Build, src slipway.SourceBuild) slipway.Build {
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
	for _, slots := range s.eng.standaloneSlots(b.Tool) {
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
	err := s.eng.retry(bctx, nil, func() error {
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
	b.Status, b.Artifact, b.Error = slipway.BuildSuccessful, art.Ref(), ""
	return b
}

// SettleInterruptedBuilds ends the builds a stopped server left pending or
// running that no unfinished deployment will run again: those started by
// [Builds.BuildStart], whose run lived in that server's process. They end
// failed, saying so, and may be started again. Call it once at start,
// before serving requests.
func (s *Builds) SettleInterruptedBuilds(ctx context.Context) (int, error) {
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
