package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
)

// Releases serves a tool's release history (internal/deploy.Releases).
// Errors are [*slipway.Error] values as for [Service].
type Releases interface {
	// ReleaseList returns the tool's releases q selects, newest first.
	ReleaseList(ctx context.Context, tool string, q slipway.ReleaseQuery) ([]slipway.Release, error)
	// IsLive says, per live component, whether commit is in what it runs.
	IsLive(ctx context.Context, tool, commit string) ([]slipway.LiveCommit, error)
	// When returns, per component, the first release that included commit.
	When(ctx context.Context, tool, commit string) ([]slipway.FirstRelease, error)
}

// handleReleaseWhen serves GET …/tool/{tool}/releases/when?commit=.
func (a *api) handleReleaseWhen() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.releasesRequest(w, r)
		if !ok {
			return
		}
		frs, err := svc.When(r.Context(), tool, r.URL.Query().Get("commit"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := oapi.FirstReleaseListEnvelope{Data: make([]oapi.FirstRelease, len(frs)), Messages: messages(nil, nil, nil)}
		for i, fr := range frs {
			out.Data[i] = oapi.FirstRelease{Environment: fr.Environment, Component: fr.Component, Exact: fr.Exact}
			if fr.Release.Seq != 0 {
				out.Data[i].Release = new(toRelease(fr.Release))
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// toRelease returns the wire form of a release.
func toRelease(rel slipway.Release) oapi.Release {
	return oapi.Release{
		Seq: rel.Seq, Tool: rel.Tool, Environment: rel.Environment, Component: rel.Component,
		DeployId: rel.DeploymentID, BuildId: rel.BuildKey, Commit: rel.Commit, SpecHash: rel.SpecHash,
		ConfigVersion: rel.ConfigVersion, AppliedAt: rel.AppliedAt.UTC(), Outcome: oapi.ReleaseOutcome(rel.Outcome), Actor: rel.Actor,
	}
}

// releasesRequest returns the {tool} of r and the releases service, or
// answers the error.
func (a *api) releasesRequest(w http.ResponseWriter, r *http.Request) (Releases, string, bool) {
	tool, err := toolName(r)
	if err != nil {
		a.writeError(w, r, err)
		return nil, "", false
	}
	if a.cfg.Releases == nil {
		a.writeError(w, r, slipway.Errorf(slipway.EUnavailable, "Release history is not enabled on this server."))
		return nil, "", false
	}
	return a.cfg.Releases, tool, true
}

// handleReleaseIsLive serves GET …/tool/{tool}/releases/is-live?commit=.
func (a *api) handleReleaseIsLive() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.releasesRequest(w, r)
		if !ok {
			return
		}
		lcs, err := svc.IsLive(r.Context(), tool, r.URL.Query().Get("commit"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := oapi.LiveCommitListEnvelope{Data: make([]oapi.LiveCommit, len(lcs)), Messages: messages(nil, nil, nil)}
		for i, lc := range lcs {
			out.Data[i] = oapi.LiveCommit{
				Environment: lc.Environment, Component: lc.Component, LiveCommit: lc.Live, State: oapi.LiveCommitState(lc.State),
			}
			if !lc.Since.IsZero() {
				out.Data[i].Since, out.Data[i].Release, out.Data[i].DeployId = new(lc.Since.UTC()), new(lc.Release), new(lc.DeploymentID)
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// handleReleaseList serves GET …/tool/{tool}/releases.
func (a *api) handleReleaseList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.releasesRequest(w, r)
		if !ok {
			return
		}
		v := r.URL.Query()
		q := slipway.ReleaseQuery{
			Environment: v.Get("environment"), Component: v.Get("component"), Commit: v.Get("commit"), DeploymentID: v.Get("deployment"),
		}
		for _, p := range []struct {
			name string
			dst  func(int64)
		}{
			{"before", func(n int64) { q.Before = n }},
			{"limit", func(n int64) { q.Limit = int(n) }},
		} {
			if s := v.Get(p.name); s != "" {
				n, err := strconv.ParseInt(s, 10, 32)
				if err != nil {
					a.writeError(w, r, slipway.Errorf(slipway.EInvalid, "%s: %q is not a number", p.name, s))
					return
				}
				p.dst(n)
			}
		}
		rs, err := svc.ReleaseList(r.Context(), tool, q)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := oapi.ReleaseListEnvelope{Data: make([]oapi.Release, len(rs)), Messages: messages(nil, nil, nil)}
		for i, rel := range rs {
			out.Data[i] = toRelease(rel)
		}
		writeJSON(w, http.StatusOK, out)
	})
}
