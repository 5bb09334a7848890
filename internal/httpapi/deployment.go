package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
)

// handleDeploymentList serves GET …/tool/{tool}/deployment: oldest first.
func (a *api) handleDeploymentList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		ds, err := a.svc.DeploymentList(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		list := oapi.DeploymentList{Deployments: make([]oapi.Deployment, len(ds))}
		for i, d := range ds {
			list.Deployments[i] = toDeployment(d)
		}
		writeJSON(w, http.StatusOK, oapi.DeploymentListEnvelope{Data: list, Messages: messages(nil, nil, nil)})
	})
}

// handleDeploymentCreate serves POST …/tool/{tool}/deployment. The body is
// optional (absent, empty and null are fine); the force flags come from the
// query, in both spellings.
func (a *api) handleDeploymentCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		q := r.URL.Query()
		forceBuild, err := queryBool(q, "force-build", "force_build")
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		forceRun, err := queryBool(q, "force-run", "force_run")
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		body, err := a.readBody(w, r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		var req oapi.DeploymentCreateRequest
		if b := bytes.TrimSpace(body); len(b) > 0 && string(b) != "null" {
			if err := decodeJSON(b, &req); err != nil {
				a.writeError(w, r, err)
				return
			}
		}
		opts := slipway.DeployOptions{ForceBuild: forceBuild, ForceRun: forceRun, Trigger: "cli", Actor: "admin"}
		if req.Description != nil {
			opts.Description = *req.Description
		}
		d, err := a.svc.DeploymentCreate(r.Context(), tool, opts)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		info := []string{fmt.Sprintf("Deployment for %s created successfully.", tool)}
		writeJSON(w, http.StatusOK, oapi.DeploymentEnvelope{Data: toDeployment(d), Messages: messages(info, nil, nil)})
	})
}

// handleDeploymentGet serves GET …/deployment/latest and
// GET …/deployment/{deploy_id}.
func (a *api) handleDeploymentGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		d, err := a.svc.DeploymentGet(r.Context(), tool, deployID(r))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.DeploymentEnvelope{Data: toDeployment(d), Messages: messages(nil, nil, nil)})
	})
}

// deployID returns the {deploy_id} path value, "latest" on the latest route.
func deployID(r *http.Request) string {
	if id := r.PathValue("deploy_id"); id != "" {
		return id
	}
	return slipway.DeploymentIDLatest
}

// queryBool returns the first of the named query parameters that is present,
// parsed leniently: true/1/yes/on/t/y and an empty value are true,
// false/0/no/off/f/n are false, in any case. Anything else is EInvalid (422).
func queryBool(q url.Values, names ...string) (bool, error) {
	for _, name := range names {
		vs, ok := q[name]
		if !ok || len(vs) == 0 {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(vs[0])) {
		case "", "true", "1", "yes", "on", "t", "y":
			return true, nil
		case "false", "0", "no", "off", "f", "n":
			return false, nil
		}
		v := vs[0]
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return false, slipway.Errorf(slipway.EInvalid, "Query parameter %s must be a boolean (true or false), got %q.", name, v)
	}
	return false, nil
}

// toDeployment converts a deployment to its wire form. status and
// long_status are always present (a missing status is pending), and builds,
// runs, steps and tool_config are never null.
func toDeployment(d slipway.Deployment) oapi.Deployment {
	out := oapi.Deployment{
		DeployId:     d.ID,
		CreationTime: d.CreatedAt.UTC().Format(slipway.CreationTimeFormat),
		Description:  d.Description,
		Builds:       make(map[string]oapi.DeploymentBuild, len(d.Builds)),
		Runs:         make(map[string]oapi.DeploymentRun, len(d.Runs)),
		ToolConfig:   d.ToolConfig,
		Status:       oapi.DeploymentStatus(d.Status),
		LongStatus:   d.LongStatus,
		ForceBuild:   d.ForceBuild,
		ForceRun:     d.ForceRun,
		Steps:        make([]oapi.Step, len(d.Steps)),
	}
	if out.Status == "" {
		out.Status = oapi.DeploymentStatusPending
	}
	if len(out.ToolConfig) == 0 || !json.Valid(out.ToolConfig) {
		out.ToolConfig = json.RawMessage(`{}`)
	}
	for name, b := range d.Builds {
		out.Builds[name] = oapi.DeploymentBuild{
			BuildId:         b.BuildID,
			BuildStatus:     oapi.DeploymentBuildBuildStatus(b.BuildStatus),
			BuildImage:      b.BuildImage,
			BuildLongStatus: b.BuildLongStatus,
		}
	}
	for name, r := range d.Runs {
		out.Runs[name] = oapi.DeploymentRun{RunStatus: oapi.DeploymentRunRunStatus(r.RunStatus), RunLongStatus: r.RunLongStatus}
	}
	for i, s := range d.Steps {
		needs := s.Needs
		if needs == nil {
			needs = []string{}
		}
		out.Steps[i] = oapi.Step{
			Key:       s.Key,
			Kind:      oapi.StepKind(s.Kind),
			Component: s.Component,
			Action:    oapi.StepAction(s.Action),
			Needs:     needs,
			Reason:    s.Reason,
			State:     oapi.StepState(s.State),
			Detail:    s.Detail,
			Attempt:   s.Attempt,
		}
	}
	return out
}
