package web

import (
	"context"
	"net/http"
	"strconv"

	"slipway.dev/slipway/internal/slipway"
)

// Environments is what the UI needs of a tool's environments and their
// promotions (internal/deploy.Deployments). Errors are [*slipway.Error]
// values as for the API.
type Environments interface {
	EnvironmentList(ctx context.Context, tool string) ([]slipway.EnvironmentStatus, error)
	PromotePlan(ctx context.Context, tool, env string, opts slipway.DeployOptions) (slipway.Promotion, error)
	Promote(ctx context.Context, tool, env string, opts slipway.DeployOptions) (slipway.Deployment, error)
}

// msgEnvironmentsOff is the 503 message when the server serves no
// environments to the UI.
const msgEnvironmentsOff = "Environments are not enabled on this server."

// environments serves GET /ui/t/{tool}/environments: the tool's
// environments in promotion order, what runs in each, and a link to
// preview the promotion of those with an upstream.
func (h *handler) environments(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.Environments != nil, msgEnvironmentsOff) {
		return
	}
	tool := r.PathValue("tool")
	envs, err := h.cfg.Environments.EnvironmentList(r.Context(), tool)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "environments", view{Title: "Environments of " + tool, Tool: tool, Section: "environments", Data: envs})
}

// environmentName returns the {env} of r, or answers 404 when it cannot
// be an environment's name.
func (h *handler) environmentName(w http.ResponseWriter, r *http.Request) (string, bool) {
	env := r.PathValue("env")
	if !slipway.ValidEnvironmentName(env) {
		h.errorPage(w, r, http.StatusNotFound, "There is no environment "+strconv.Quote(clip(env, 40))+".")
		return "", false
	}
	return env, true
}

// promotion serves GET /ui/t/{tool}/environments/{env}/promote: what
// promoting env's upstream to it would change (commits, config, plan),
// and the form that does it. Nothing is changed.
func (h *handler) promotion(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.Environments != nil, msgEnvironmentsOff) {
		return
	}
	tool := r.PathValue("tool")
	env, ok := h.environmentName(w, r)
	if !ok {
		return
	}
	p, err := h.cfg.Environments.PromotePlan(r.Context(), tool, env, h.deployOptions(r))
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "promote", view{Title: "Promote " + p.From + " to " + p.To, Tool: tool, Section: "environments", Data: p})
}

// promote serves POST /ui/t/{tool}/environments/{env}/promote, then shows
// the new deployment.
func (h *handler) promote(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.Environments != nil, msgEnvironmentsOff) {
		return
	}
	tool := r.PathValue("tool")
	env, ok := h.environmentName(w, r)
	if !ok || !h.parseForm(w, r) {
		return
	}
	d, err := h.cfg.Environments.Promote(r.Context(), tool, env, h.deployOptions(r))
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/t/"+tool+"/d/"+d.ID, http.StatusSeeOther)
}
