package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"slipway.dev/slipway/internal/httpapi/oapi"
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
	// BuildLogs writes the build's log to w; with follow it goes on until
	// the build ends or ctx does. Its errors come before the first write.
	BuildLogs(ctx context.Context, tool, id string, follow bool, lines int, w io.Writer) error
	// BuildCancel kills a running build and returns it; EConflict when it
	// is already final.
	BuildCancel(ctx context.Context, tool, id string) (slipway.Build, error)
	// BuildDelete deletes a finished build with its artifact and log, and
	// returns it.
	BuildDelete(ctx context.Context, tool, id string) (slipway.Build, error)
}

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
		list := oapi.BuildList{Builds: make([]oapi.Build, len(bs))}
		for i, b := range bs {
			list.Builds[i] = toBuild(b)
		}
		writeJSON(w, http.StatusOK, oapi.BuildListEnvelope{Data: list, Messages: messages(nil, nil, nil)})
	})
}

// handleBuildGet serves GET …/builds/{build_id}.
func (a *api) handleBuildGet() http.Handler {
	return a.handleBuildOp(func(ctx context.Context, svc BuildsService, tool, id string) (slipway.Build, []string, error) {
		b, err := svc.BuildGet(ctx, tool, id)
		return b, nil, err
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

// handleBuildOp serves a route that answers one build with info messages.
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
		writeJSON(w, http.StatusOK, oapi.BuildEnvelope{Data: toBuild(b), Messages: messages(info, nil, nil)})
	})
}

// handleBuildLogs serves GET …/builds/{build_id}/logs as text/plain. The
// response starts with the log's first bytes, so that an error found
// before (a bad ID, an unknown build) is still a JSON envelope; with
// follow, every write is flushed at once.
func (a *api) handleBuildLogs() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.buildsTarget(w, r)
		if !ok {
			return
		}
		follow, err := queryBool(r.URL.Query(), "follow")
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		lines, err := queryLines(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		tw := newTextWriter(w, follow)
		err = svc.BuildLogs(r.Context(), tool, r.PathValue("build_id"), follow, lines, tw)
		switch {
		case err != nil && !tw.started:
			a.writeError(w, r, err)
		case err != nil:
			_, _ = a.errorResponse(r, err) // logs it; the log is under way
		case !tw.started:
			tw.start() // an empty log
		}
	})
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
	case slipway.BuildRunning:
		return "Building " + b.Component
	case slipway.BuildSuccessful:
		return "Built " + b.Component
	case slipway.BuildFailed:
		return "Build failed: " + first
	case slipway.BuildCancelled:
		return "Build cancelled: " + first
	case slipway.BuildPending, slipway.BuildUnknown, slipway.BuildSkipped:
	}
	return "Build " + string(b.Status)
}

// toBuild converts a build to its wire form, after Toolforge's builds-api.
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
		out.DestinationImage = "builds/" + b.Key
	}
	return out
}
