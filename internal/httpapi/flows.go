package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
)

// Flows serves a tool's flows and starts their runs
// (internal/deploy.Flows). A run is a deployment: the deployment routes
// read, watch and cancel it. Errors are [*slipway.Error] values as for
// [Service].
type Flows interface {
	FlowList(ctx context.Context, tool string) ([]slipway.FlowStatus, error)
	FlowRun(ctx context.Context, tool, name string, opts slipway.DeployOptions) (slipway.Deployment, error)
}

// flowsRequest returns the service and the tool of r, or writes the
// error.
func (a *api) flowsRequest(w http.ResponseWriter, r *http.Request) (Flows, string, bool) {
	tool, err := toolName(r)
	if err == nil && a.cfg.Flows == nil {
		err = slipway.Errorf(slipway.EUnavailable, "Flows are not enabled on this server.")
	}
	if err != nil {
		a.writeError(w, r, err)
		return nil, "", false
	}
	return a.cfg.Flows, tool, true
}

func (a *api) handleFlowList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.flowsRequest(w, r)
		if !ok {
			return
		}
		fs, err := svc.FlowList(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := make([]oapi.Flow, len(fs))
		for i, f := range fs {
			out[i] = toFlow(f)
		}
		writeJSON(w, http.StatusOK, oapi.FlowListEnvelope{Data: out, Messages: messages(nil, nil, nil)})
	})
}

func (a *api) handleFlowRun() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.flowsRequest(w, r)
		if !ok {
			return
		}
		var req oapi.FlowRunRequest
		if _, err := a.readOptionalJSON(w, r, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		opts := a.deployOptions(r)
		opts.Trigger = string(slipway.FlowManual)
		if req.Description != nil {
			opts.Description = *req.Description
		}
		name := r.PathValue("flow")
		d, err := svc.FlowRun(r.Context(), tool, name, opts)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		info := []string{fmt.Sprintf("Flow %s run %s started.", name, d.ID)}
		writeJSON(w, http.StatusCreated, oapi.DeploymentEnvelope{Data: toDeployment(d), Messages: messages(info, nil, nil)})
	})
}

// toFlow is f as the API shows it.
func toFlow(f slipway.FlowStatus) oapi.Flow {
	out := oapi.Flow{Name: f.Flow.Name, On: []oapi.FlowTrigger{}, Steps: []oapi.FlowStep{}, Runs: make([]oapi.Deployment, len(f.Runs))}
	for _, t := range f.Flow.On {
		out.On = append(out.On, oapi.FlowTrigger{Kind: oapi.FlowTriggerKind(t.Kind), Branch: optional(t.Branch), Schedule: optional(t.Schedule)})
	}
	for i, s := range f.Flow.Steps {
		st := oapi.FlowStep{
			Key: slipway.FlowStepKey(i, s.Kind), Kind: oapi.FlowStepKind(s.Kind),
			Environment: optional(s.Environment), Component: optional(s.Component), Message: optional(s.Message),
		}
		if s.Gate != nil {
			st.Question = optional(s.Gate.Question)
		}
		out.Steps = append(out.Steps, st)
	}
	for i, d := range f.Runs {
		out.Runs[i] = toDeployment(d)
	}
	return out
}
