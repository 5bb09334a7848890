package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/logfile"
	"slipway.dev/slipway/internal/slipway"
)

// BuildsService serves the builds API (/builds/v1/tool/{tool}/builds…);
// the deploy engine implements it. Errors are [*slipway.Error] values as
// for [Service]: EInvalid for a bad tool name or build ID, ENotFound for a
// build the tool does not have.
type BuildsService interface {
	// BuildList returns the tool's builds, newest first.
	BuildList(ctx context.Context, tool string) ([]slipway.Build, error)
	// BuildGet returns one build.
	BuildGet(ctx context.Context, tool, id string) (slipway.Build, error)
	// BuildStart starts a build outside any deployment and returns its
	// record, pending; started is false when the answer is a build of the
	// same key that is under way or already built. EInvalid for a bad
	// request or a ref that does not resolve, EForbidden for a local
	// repository the caller may not build, EConflict when the tool has too
	// many builds under way.
	BuildStart(ctx context.Context, tool string, req slipway.BuildStart) (b slipway.Build, started bool, err error)
	// BuildLogs writes the build's log to w; with follow it goes on until
	// the build ends or ctx does. Its errors come before the first write.
	BuildLogs(ctx context.Context, tool, id string, follow bool, lines int, w io.Writer) error
	// BuildCancel kills a running build and returns it; EConflict when it
	// is already final.
	BuildCancel(ctx context.Context, tool, id string) (slipway.Build, error)
	// BuildDelete deletes a finished build with its artifact and log, and
	// returns it.
	BuildDelete(ctx context.Context, tool, id string) (slipway.Build, error)
	// BuildQuota returns the tool's build limits and what it uses of them.
	BuildQuota(ctx context.Context, tool string) ([]slipway.QuotaCategory, error)
	// BuildPrune removes the tool's artifacts that nothing needs (artifact
	// retention) and says what it removed; with DryRun, what it would.
	BuildPrune(ctx context.Context, tool string, opts slipway.BuildPruneOptions) (slipway.BuildPrune, error)
}

// The /builds routes answer in Toolforge's builds-api shapes, so that its
// builds CLI (toolforge_builds_cli) works unchanged: no data wrapper, the
// log as JSON lines, and errors with the messages again as a top-level
// error list (see writeError), where that CLI reads them.

// buildsTarget returns the builds service and the request's tool, or
// answers the request with the error.
func (a *api) buildsTarget(w http.ResponseWriter, r *http.Request) (BuildsService, string, bool) {
	tool, err := toolName(r)
	if err != nil {
		a.writeError(w, r, err)
		return nil, "", false
	}
	if a.cfg.Builds == nil {
		a.writeError(w, r, slipway.Errorf(slipway.EUnavailable, "The builds API is not enabled on this server."))
		return nil, "", false
	}
	return a.cfg.Builds, tool, true
}

// handleBuildList serves GET /builds/v1/tool/{tool}/builds.
func (a *api) handleBuildList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.buildsTarget(w, r)
		if !ok {
			return
		}
		bs, err := svc.BuildList(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := oapi.BuildListResponse{Builds: make([]oapi.Build, len(bs)), Messages: messages(nil, nil, nil)}
		for i, b := range bs {
			out.Builds[i] = toBuild(b)
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// handleBuildQuota serves GET /builds/v1/tool/{tool}/quotas: `toolforge
// build quota` prints every field of each item.
func (a *api) handleBuildQuota() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.buildsTarget(w, r)
		if !ok {
			return
		}
		cats, err := svc.BuildQuota(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, quotaResponse(cats))
	})
}

// handleBuildLatest serves GET …/builds/latest: the newest build, what
// the builds CLI's show and logs read when given no ID.
func (a *api) handleBuildLatest() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.buildsTarget(w, r)
		if !ok {
			return
		}
		bs, err := svc.BuildList(r.Context(), tool)
		if err == nil && len(bs) == 0 {
			err = slipway.Errorf(slipway.ENotFound, "No builds exist yet.") // builds-api's words
		}
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.BuildResponse{Build: toBuild(bs[0]), Messages: messages(nil, nil, nil)})
	})
}

// handleBuildGet serves GET …/builds/{build_id}.
func (a *api) handleBuildGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.buildsTarget(w, r)
		if !ok {
			return
		}
		b, err := svc.BuildGet(r.Context(), tool, r.PathValue("build_id"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.BuildResponse{Build: toBuild(b), Messages: messages(nil, nil, nil)})
	})
}

// handleBuildCancel serves PUT …/builds/{build_id}/cancel.
func (a *api) handleBuildCancel() http.Handler {
	return a.handleBuildOp(func(ctx context.Context, svc BuildsService, tool, id string) (slipway.Build, []string, error) {
		b, err := svc.BuildCancel(ctx, tool, id)
		if err != nil {
			return b, nil, err
		}
		if b.Status == slipway.BuildCancelled {
			return b, []string{fmt.Sprintf("Build %s cancelled.", id)}, nil
		}
		return b, []string{fmt.Sprintf("Build %s flagged for cancellation, it is still stopping.", id)}, nil
	})
}

// handleBuildDelete serves DELETE …/builds/{build_id}.
func (a *api) handleBuildDelete() http.Handler {
	return a.handleBuildOp(func(ctx context.Context, svc BuildsService, tool, id string) (slipway.Build, []string, error) {
		b, err := svc.BuildDelete(ctx, tool, id)
		if err != nil {
			return b, nil, err
		}
		return b, []string{fmt.Sprintf("Build %s deleted successfully.", id), "Its artifact and log were removed."}, nil
	})
}

// handleBuildOp serves a route that changes one build: builds-api's
// {"id", "messages"} (the builds CLI counts the answers with an id), with
// the build in addition for Slipway's CLI.
func (a *api) handleBuildOp(op func(ctx context.Context, svc BuildsService, tool, id string) (slipway.Build, []string, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.buildsTarget(w, r)
		if !ok {
			return
		}
		b, info, err := op(r.Context(), svc, tool, r.PathValue("build_id"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.BuildIDResponse{Id: b.ID, Build: toBuild(b), Messages: messages(info, nil, nil)})
	})
}

// buildStartFields are the fields of a build start request, for messages.
const buildStartFields = "a build start request has source_url, ref, image_name, envvars, use_latest_versions and use_deprecated_versions"

// handleBuildStart serves POST …/builds: `toolforge build start`.
func (a *api) handleBuildStart() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.buildsTarget(w, r)
		if !ok {
			return
		}
		var req oapi.BuildStartRequest
		if err := a.readJSONBody(w, r, &req, new(oapi.BuildStartRequest),
			`a JSON object with at least source_url, as {"source_url": "https://…/repo.git", "ref": "main"}`, buildStartFields); err != nil {
			a.writeError(w, r, err)
			return
		}
		useLatest, useDeprecated := deref(req.UseLatestVersions), deref(req.UseDeprecatedVersions)
		b, started, err := svc.BuildStart(r.Context(), tool, slipway.BuildStart{
			Repository: req.SourceUrl, Ref: deref(req.Ref), ImageName: deref(req.ImageName), Envvars: deref(req.Envvars),
			UseLatestVersions: useLatest, UseDeprecatedVersions: useDeprecated,
		})
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		commit := shortSHA(b.Commit)
		var info string
		switch {
		case started:
			info = fmt.Sprintf("Build %s of %s (%s) started.", b.ID, b.Ref, commit)
		case b.Status == slipway.BuildSuccessful:
			info = fmt.Sprintf("Build %s of %s (%s) already succeeded and its artifact is still there: nothing to build again.", b.ID, b.Ref, commit)
		default:
			info = fmt.Sprintf("Build %s of %s (%s) is already under way: this is that build.", b.ID, b.Ref, commit)
		}
		// The parameters are the build's (the same key means the same
		// source and settings), with builds-api's flags as requested.
		params := toBuild(b).Parameters
		params.UseLatestVersions, params.UseDeprecatedVersions = &useLatest, &useDeprecated
		writeJSON(w, http.StatusOK, oapi.BuildStartResponse{
			NewBuild: oapi.NewBuild{Name: b.ID, ResolvedRef: b.Commit, Parameters: params},
			Messages: messages([]string{info}, nil, nil),
		})
	})
}

// shortSHA is the first 7 characters of a commit.
func shortSHA(c string) string {
	if len(c) > 7 {
		return c[:7]
	}
	return c
}

// handleBuildLogs serves GET …/builds/{build_id}/logs as builds-api does:
// text/plain, each line of the log as a JSON object {"line": …} on a line
// of its own. The response starts with the first line, so that an error
// found before (a bad ID, an unknown build) is still a JSON error; with
// follow, every line is flushed at once.
func (a *api) handleBuildLogs() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.buildsTarget(w, r)
		if !ok {
			return
		}
		follow, lines, err := logQuery(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		tw := newTextWriter(w, follow)
		ll := &logLines{w: tw}
		err = svc.BuildLogs(r.Context(), tool, r.PathValue("build_id"), follow, lines, ll)
		if err != nil && !tw.started {
			a.writeError(w, r, err)
			return
		}
		if cerr := ll.Close(); err == nil {
			err = cerr
		}
		switch {
		case err != nil && r.Context().Err() == nil:
			// The status is sent: end the stream with the error as a line.
			// builds-api appends {"error": […]}; Toolforge's builds CLI
			// raises a line's "message", so both are there.
			_, msgs := a.errorResponse(r, err) // logs an internal one
			_ = writeLogLine(tw, struct {
				Error   []string `json:"error"`
				Message string   `json:"message"`
			}{msgs, strings.Join(msgs, "\n")})
		case !tw.started:
			tw.start() // an empty log
		}
	})
}

// logLines turns the log written to it into builds-api's log lines: each
// line, without its end, as {"line": …} on a line of its own. Close writes
// a last line that had no end.
type logLines struct {
	w   io.Writer
	buf []byte
}

// Write writes the complete lines of what was written so far. A line
// longer than logfile.DefaultMaxLine is cut there, as the log reader cuts
// it, so that a build writing without line ends cannot grow the buffer
// without bound.
func (l *logLines) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		next := i + 1
		switch {
		case i < 0 && len(l.buf) >= logfile.DefaultMaxLine:
			i, next = logfile.DefaultMaxLine, logfile.DefaultMaxLine
		case i < 0:
			return len(p), nil
		}
		if err := writeLogLine(l.w, oapi.BuildLogLine{Line: string(bytes.TrimSuffix(l.buf[:i], []byte("\r")))}); err != nil {
			return 0, err
		}
		l.buf = l.buf[next:]
	}
}

// Close writes what is left of the log.
func (l *logLines) Close() error {
	if len(l.buf) == 0 {
		return nil
	}
	line := string(l.buf)
	l.buf = nil
	return writeLogLine(l.w, oapi.BuildLogLine{Line: line})
}

// writeLogLine writes v as JSON on a line of its own, in one write (a
// flush with follow). Invalid UTF-8 becomes U+FFFD, as in every JSON
// answer.
func writeLogLine(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode a log line: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// buildStatus maps a build's status to Toolforge builds-api's.
func buildStatus(s slipway.BuildStatus) oapi.BuildStatus {
	switch s {
	case slipway.BuildPending:
		return oapi.BUILDPENDING
	case slipway.BuildRunning:
		return oapi.BUILDRUNNING
	case slipway.BuildSuccessful:
		return oapi.BUILDSUCCESS
	case slipway.BuildFailed:
		return oapi.BUILDFAILURE
	case slipway.BuildCancelled:
		return oapi.BUILDCANCELLED
	case slipway.BuildUnknown, slipway.BuildSkipped:
	}
	return oapi.BUILDUNKNOWN
}

// buildMessage says in a line what happened to a build.
func buildMessage(b slipway.Build) string {
	first, _, _ := strings.Cut(strings.TrimSpace(b.Error), "\n")
	switch b.Status {
	case slipway.BuildPending:
		return "Waiting for a build slot"
	case slipway.BuildRunning:
		return "Building " + b.Component
	case slipway.BuildSuccessful:
		return "Built " + b.Component
	case slipway.BuildFailed:
		return "Build failed: " + first
	case slipway.BuildCancelled:
		return "Build cancelled: " + first
	case slipway.BuildUnknown, slipway.BuildSkipped:
	}
	return "Build " + string(b.Status)
}

// toBuild converts a build to builds-api's Build, plus Slipway's fields.
// What a record does not keep is left out (use_latest_versions) or empty
// (envvars: Slipway's builds take none), never made up.
func toBuild(b slipway.Build) oapi.Build {
	out := oapi.Build{
		BuildId:   b.ID,
		StartTime: b.CreatedAt.UTC().Format(time.RFC3339),
		Status:    buildStatus(b.Status),
		Message:   buildMessage(b),
		Parameters: oapi.BuildParameters{
			SourceUrl: slipway.RedactURL(b.Repository), Ref: b.Ref, ImageName: b.Component, Envvars: map[string]string{},
		},
		ResolvedRef: b.Commit,
		Commit:      b.Commit,
		Component:   b.Component,
		Key:         b.Key,
		Error:       b.Error,
	}
	if b.Status != slipway.BuildRunning && b.Status != slipway.BuildPending {
		out.EndTime = b.UpdatedAt.UTC().Format(time.RFC3339)
	}
	if b.Status == slipway.BuildSuccessful {
		// An image by digest (a Kubernetes builder's) is the image; a
		// directory on the builder's machine is named by its key.
		out.DestinationImage = slipway.BuildImage(b.Key)
		if strings.Contains(b.Artifact, "@sha256:") {
			out.DestinationImage = b.Artifact
		}
	}
	return out
}

// handleBuildPrune serves POST …/prune: `slipway builds prune`.
func (a *api) handleBuildPrune() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.buildsTarget(w, r)
		if !ok {
			return
		}
		q := r.URL.Query()
		dry, err := queryBool(q, "dry_run")
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		opts := slipway.BuildPruneOptions{DryRun: dry}
		if v, ok := q["older_than"]; ok && len(v) > 0 {
			age, err := slipway.ParseRetention(v[0])
			if err != nil {
				a.writeError(w, r, slipway.Errorf(slipway.EInvalid, "Query parameter older_than: %s.", clip(err.Error(), 200)))
				return
			}
			opts.OlderThan = &age
		}
		p, err := svc.BuildPrune(r.Context(), tool, opts)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := oapi.BuildPrune{
			DryRun: p.DryRun, Removed: make([]oapi.PrunedBuild, len(p.Removed)), Bytes: p.Bytes,
			Kept: p.Kept, KeptForReleases: p.KeptReleased,
		}
		for i, b := range p.Removed {
			out.Removed[i] = oapi.PrunedBuild{
				BuildId: b.ID, Key: b.Key, Component: b.Component, Commit: b.Commit, SizeBytes: b.Size, EndTime: b.FinishedAt.UTC(),
			}
		}
		verb := "Removed"
		if p.DryRun {
			verb = "Would remove"
		}
		info := fmt.Sprintf("%s %d %s (%s); kept %d successful %s, %d of them for releases.", verb, len(p.Removed),
			pluralS(len(p.Removed), "artifact"), slipway.FormatSize(p.Bytes), p.Kept, pluralS(p.Kept, "build"), p.KeptReleased)
		writeJSON(w, http.StatusOK, oapi.BuildPruneResponse{Prune: out, Messages: messages([]string{info}, nil, nil)})
	})
}

// pluralS returns s, with an "s" unless n is 1.
func pluralS(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}
