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
}

// handleReleaseList serves GET …/tool/{tool}/releases.
func (a *api) handleReleaseList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if a.cfg.Releases == nil {
			a.writeError(w, r, slipway.Errorf(slipway.EUnavailable, "Release history is not enabled on this server."))
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
		rs, err := a.cfg.Releases.ReleaseList(r.Context(), tool, q)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := oapi.ReleaseListEnvelope{Data: make([]oapi.Release, len(rs)), Messages: messages(nil, nil, nil)}
		for i, rel := range rs {
			out.Data[i] = oapi.Release{
				Seq: rel.Seq, Tool: rel.Tool, Environment: rel.Environment, Component: rel.Component,
				DeployId: rel.DeploymentID, BuildId: rel.BuildKey, Commit: rel.Commit, SpecHash: rel.SpecHash,
				ConfigVersion: rel.ConfigVersion, AppliedAt: rel.AppliedAt.UTC(), Outcome: oapi.ReleaseOutcome(rel.Outcome), Actor: rel.Actor,
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
}
