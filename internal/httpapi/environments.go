package httpapi

import (
	"fmt"
	"net/http"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
)

// queryEnvironment returns the environment query parameter of r ("" when
// absent); EInvalid when it is not an environment name.
func queryEnvironment(r *http.Request) (string, error) {
	env := r.URL.Query().Get("environment")
	if env == "" {
		return "", nil
	}
	return env, slipway.ValidateEnvironmentName("environment", env)
}

// environmentPath returns the {tool} and {environment} of r.
func environmentPath(r *http.Request) (string, string, error) {
	tool, err := toolName(r)
	if err != nil {
		return "", "", err
	}
	env := r.PathValue("environment")
	return tool, env, slipway.ValidateEnvironmentName("environment", env)
}

// handleEnvironmentList serves GET …/tool/{tool}/environment.
func (a *api) handleEnvironmentList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		envs, err := a.svc.EnvironmentList(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := oapi.EnvironmentListEnvelope{Data: make([]oapi.EnvironmentStatus, len(envs)), Messages: messages(nil, nil, nil)}
		for i, e := range envs {
			kind := oapi.EnvironmentStatusKindTest
			if e.Production {
				kind = oapi.EnvironmentStatusKindProduction
			}
			es := oapi.EnvironmentStatus{
				Name: e.Name, Kind: kind, Upstream: e.Upstream, AllowDirect: e.AllowDirect, Instance: e.Instance,
				Live: make([]oapi.LiveComponent, len(e.Live)), LatestDeployment: e.LatestDeployment, LatestStatus: string(e.LatestStatus),
			}
			for j, l := range e.Live {
				es.Live[j] = oapi.LiveComponent{
					Component: l.Component, BuildKey: l.BuildKey, Commit: l.Commit, DeployId: l.DeploymentID,
					AppliedAt: l.AppliedAt.UTC(), Unhealthy: l.Unhealthy,
				}
			}
			out.Data[i] = es
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// handlePromotionPreview serves GET …/environment/{environment}/promotion.
func (a *api) handlePromotionPreview() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, env, err := environmentPath(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		p, err := a.svc.PromotePlan(r.Context(), tool, env, a.deployOptions(r))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := oapi.Promotion{
			From: p.From, To: p.To, Source: p.Source, Plan: toDeployment(p.Plan),
			Changes: make([]oapi.PromotionChange, len(p.Changes)), ConfigChanges: make([]oapi.ConfigChange, len(p.ConfigChanges)),
		}
		for i, c := range p.Changes {
			out.Changes[i] = oapi.PromotionChange{
				Component: c.Component, FromCommit: c.FromCommit, ToCommit: c.ToCommit, FromBuild: c.FromBuild, ToBuild: c.ToBuild,
				New: toCommits(c.New), Removed: toCommits(c.Removed), Truncated: c.Truncated,
			}
		}
		for i, c := range p.ConfigChanges {
			fields := c.Fields
			if fields == nil {
				fields = []string{}
			}
			out.ConfigChanges[i] = oapi.ConfigChange{Component: c.Component, Change: oapi.ConfigChangeChange(c.Change), Fields: fields}
		}
		info := []string{fmt.Sprintf("Promotion of %s to %s: nothing was changed.", p.From, p.To)}
		writeJSON(w, http.StatusOK, oapi.PromotionEnvelope{Data: out, Messages: messages(info, nil, nil)})
	})
}

// toCommits returns the wire form of a commit list (never null).
func toCommits(cs []slipway.CommitInfo) []oapi.CommitInfo {
	out := make([]oapi.CommitInfo, len(cs))
	for i, c := range cs {
		out[i] = oapi.CommitInfo{Commit: c.Commit, Author: c.Author, At: c.At.UTC(), Subject: c.Subject}
	}
	return out
}

// handlePromote serves POST …/environment/{environment}/promote.
func (a *api) handlePromote() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, env, err := environmentPath(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		var req oapi.PromoteRequest
		if _, err := a.readOptionalJSON(w, r, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		opts := a.deployOptions(r)
		if req.Description != nil {
			opts.Description = *req.Description
		}
		d, err := a.svc.Promote(r.Context(), tool, env, opts)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		info := []string{fmt.Sprintf("Deployment %s promotes %s to %s.", d.ID, d.PromotedFrom, env)}
		writeJSON(w, http.StatusOK, oapi.DeploymentEnvelope{Data: toDeployment(d), Messages: messages(info, nil, nil)})
	})
}
