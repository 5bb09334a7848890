package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"slipway.dev/slipway/internal/deploy"
	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
)

// Trains serves release plans and their trains (internal/deploy.Trains):
// admin routes, as a plan spans tools. Errors are [*slipway.Error]
// values as for [Service].
type Trains interface {
	PlanPut(ctx context.Context, p slipway.ReleasePlan) (slipway.ReleasePlan, bool, error)
	PlanGet(ctx context.Context, name string) (slipway.ReleasePlan, error)
	PlanList(ctx context.Context) ([]slipway.ReleasePlan, error)
	PlanDelete(ctx context.Context, name string) error
	TrainStart(ctx context.Context, r deploy.TrainStart) (deploy.TrainView, error)
	TrainGet(ctx context.Context, id string) (deploy.TrainView, error)
	TrainList(ctx context.Context) ([]slipway.Train, error)
	TrainAnswer(ctx context.Context, id, value, comment string) (deploy.TrainView, error)
	TrainCancel(ctx context.Context, id string) (deploy.TrainView, error)
}

// trainsService returns the service, or writes 503 when there is none.
func (a *api) trainsService(w http.ResponseWriter, r *http.Request) (Trains, bool) {
	if a.cfg.Trains == nil {
		a.writeError(w, r, slipway.Errorf(slipway.EUnavailable, "Release plans are not enabled on this server."))
		return nil, false
	}
	return a.cfg.Trains, true
}

func (a *api) handlePlanList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, ok := a.trainsService(w, r)
		if !ok {
			return
		}
		ps, err := svc.PlanList(r.Context())
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := make([]oapi.ReleasePlan, len(ps))
		for i, p := range ps {
			out[i] = toPlan(p)
		}
		writeJSON(w, http.StatusOK, oapi.ReleasePlanListEnvelope{Data: out, Messages: messages(nil, nil, nil)})
	})
}

func (a *api) handlePlanPut() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, ok := a.trainsService(w, r)
		if !ok {
			return
		}
		var req oapi.ReleasePlanRequest
		if _, err := a.readOptionalJSON(w, r, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		p := slipway.ReleasePlan{Name: req.Name, Members: req.Members, MaxParallel: deref(req.MaxParallel)}
		for _, st := range req.Stages {
			p.Stages = append(p.Stages, slipway.PlanStage{Deploy: deref(st.Deploy), Ask: deref(st.Ask), Promote: deref(st.Promote)})
		}
		p, created, err := svc.PlanPut(r.Context(), p)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		status, info := http.StatusOK, fmt.Sprintf("Plan %s replaced: %d members, %d stages.", p.Name, len(p.Members), len(p.Stages))
		if created {
			status, info = http.StatusCreated, fmt.Sprintf("Plan %s created: %d members, %d stages.", p.Name, len(p.Members), len(p.Stages))
		}
		writeJSON(w, status, oapi.ReleasePlanEnvelope{Data: toPlan(p), Messages: messages([]string{info}, nil, nil)})
	})
}

func (a *api) handlePlanGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, ok := a.trainsService(w, r)
		if !ok {
			return
		}
		p, err := svc.PlanGet(r.Context(), r.PathValue("plan"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.ReleasePlanEnvelope{Data: toPlan(p), Messages: messages(nil, nil, nil)})
	})
}

func (a *api) handlePlanDelete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, ok := a.trainsService(w, r)
		if !ok {
			return
		}
		name := r.PathValue("plan")
		if err := svc.PlanDelete(r.Context(), name); err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.ErrorEnvelope{Messages: messages([]string{"Plan " + name + " deleted."}, nil, nil)})
	})
}

func (a *api) handleTrainStart() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, ok := a.trainsService(w, r)
		if !ok {
			return
		}
		var req oapi.TrainStartRequest
		if _, err := a.readOptionalJSON(w, r, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		start := deploy.TrainStart{Plan: r.PathValue("plan"), DryRun: deref(req.DryRun)}
		if req.Mode != nil {
			start.Mode = slipway.TrainMode(*req.Mode)
		}
		v, err := svc.TrainStart(r.Context(), start)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		n, bad := len(v.Train.Members), v.Ineligible()
		status, info := http.StatusCreated, fmt.Sprintf("Train %s of plan %s started: %d of %d members run.", v.Train.ID, v.Train.Plan, n-len(bad), n)
		if start.DryRun {
			status, info = http.StatusOK, fmt.Sprintf("%d of %d members of plan %s can run.", n-len(bad), n, v.Train.Plan)
		}
		writeJSON(w, status, oapi.TrainEnvelope{Data: toTrain(v), Messages: messages([]string{info}, nil, nil)})
	})
}

func (a *api) handleTrainList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, ok := a.trainsService(w, r)
		if !ok {
			return
		}
		ts, err := svc.TrainList(r.Context())
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := make([]oapi.Train, len(ts))
		for i, t := range ts {
			out[i] = toTrain(deploy.TrainView{Train: t})
		}
		writeJSON(w, http.StatusOK, oapi.TrainListEnvelope{Data: out, Messages: messages(nil, nil, nil)})
	})
}

func (a *api) handleTrainGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, ok := a.trainsService(w, r)
		if !ok {
			return
		}
		a.writeTrain(w, r, "")(svc.TrainGet(r.Context(), r.PathValue("train")))
	})
}

func (a *api) handleTrainAnswer() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, ok := a.trainsService(w, r)
		if !ok {
			return
		}
		var req oapi.TrainAnswerRequest
		if _, err := a.readOptionalJSON(w, r, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		a.writeTrain(w, r, "Answered "+string(req.Answer)+".")(svc.TrainAnswer(r.Context(), r.PathValue("train"), string(req.Answer), deref(req.Comment)))
	})
}

func (a *api) handleTrainCancel() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, ok := a.trainsService(w, r)
		if !ok {
			return
		}
		a.writeTrain(w, r, "Train cancelled.")(svc.TrainCancel(r.Context(), r.PathValue("train")))
	})
}

// writeTrain returns a function writing a train (with info when not "")
// or the error.
func (a *api) writeTrain(w http.ResponseWriter, r *http.Request, info string) func(deploy.TrainView, error) {
	return func(v deploy.TrainView, err error) {
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		var msgs []string
		if info != "" {
			msgs = append(msgs, info)
		}
		writeJSON(w, http.StatusOK, oapi.TrainEnvelope{Data: toTrain(v), Messages: messages(msgs, nil, nil)})
	}
}

func toStages(ss []slipway.PlanStage) []oapi.PlanStage {
	out := make([]oapi.PlanStage, len(ss))
	for i, s := range ss {
		out[i] = oapi.PlanStage{Deploy: optString(s.Deploy), Ask: optString(s.Ask), Promote: optString(s.Promote)}
	}
	return out
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toPlan(p slipway.ReleasePlan) oapi.ReleasePlan {
	return oapi.ReleasePlan{
		Name: p.Name, Members: p.Members, Stages: toStages(p.Stages), MaxParallel: p.MaxParallel,
		Created: p.CreatedAt, CreatedBy: p.CreatedBy, Updated: p.UpdatedAt,
	}
}

func toTrain(v deploy.TrainView) oapi.Train {
	t := v.Train
	out := oapi.Train{
		Id: t.ID, Plan: t.Plan, Members: t.Members, Stages: toStages(t.Stages), Mode: string(t.Mode), MaxParallel: t.MaxParallel,
		State: oapi.TrainState(t.State), Stage: t.Stage, Reason: t.Reason, Created: t.CreatedAt, CreatedBy: t.CreatedBy,
		Updated: t.UpdatedAt, Answers: []oapi.TrainAnswer{}, Cells: []oapi.TrainCell{},
	}
	for _, a := range t.Answers {
		out.Answers = append(out.Answers, oapi.TrainAnswer{Stage: a.Stage, Value: a.Value, By: a.By, At: a.At, Comment: optString(a.Comment)})
	}
	for _, c := range v.Cells {
		out.Cells = append(out.Cells, oapi.TrainCell{
			Tool: c.Tool, Stage: c.Stage, State: oapi.TrainCellState(c.State), DeploymentId: c.DeploymentID, Reason: c.Reason,
			Started: optTime(c.StartedAt), Finished: optTime(c.FinishedAt),
		})
	}
	if bad := v.Ineligible(); len(bad) > 0 {
		out.Ineligible = &bad
	}
	return out
}
