package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// Trains is what the UI reads of release trains (the store's reads: the
// pages change nothing; a train is answered and cancelled with the CLI or
// the API).
type Trains interface {
	TrainList(ctx context.Context, limit int) ([]slipway.Train, error)
	TrainGet(ctx context.Context, id string) (slipway.Train, error)
	TrainMemberList(ctx context.Context, trainID string) ([]slipway.TrainMember, error)
}

// msgTrainsOff is the 503 message when the server serves no trains to
// the UI.
const msgTrainsOff = "Release trains are not enabled on this server."

// trains serves GET /ui/trains (admin): the newest trains.
func (h *handler) trains(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.Trains != nil, msgTrainsOff) {
		return
	}
	ts, err := h.cfg.Trains.TrainList(r.Context(), 100)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "trains", view{Title: "Release trains", Section: "trains", Data: ts})
}

// trainView is a train as its page shows it: one row per member, one
// column per stage.
type trainView struct {
	Train  slipway.Train
	Stages []trainStage
	Rows   []trainRow
}

type trainStage struct {
	Label string
	// Ask is the question of an ask stage; Answer its answer, if any.
	Ask     bool
	Answer  *slipway.TrainAnswer
	Current bool
}

type trainRow struct {
	Tool  string
	Cells []trainCell
}

type trainCell struct {
	Ask          bool
	State        slipway.MemberState
	DeploymentID string
	Reason       string
	Elapsed      string
}

// train serves GET /ui/trains/{id} (admin): the train's members ×
// stages, each cell's state, deployment, time and reason.
func (h *handler) train(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.Trains != nil, msgTrainsOff) {
		return
	}
	id := r.PathValue("id")
	if slipway.ValidateTrainID(id) != nil {
		h.errorPage(w, r, http.StatusNotFound, "There is no train "+clip(id, 40)+".")
		return
	}
	t, err := h.cfg.Trains.TrainGet(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		h.errorPage(w, r, http.StatusNotFound, "There is no train "+id+".")
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	cells, err := h.cfg.Trains.TrainMemberList(r.Context(), id)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	v := trainView{Train: t}
	for i, st := range t.Stages {
		s := trainStage{Label: st.String(), Ask: st.Kind() == "ask", Current: i == t.Stage && !t.State.Final()}
		if a, ok := t.AnswerOf(i); ok {
			s.Answer = &a
		}
		v.Stages = append(v.Stages, s)
	}
	now := h.cfg.Now()
	for _, m := range t.Members {
		row := trainRow{Tool: m}
		for i, st := range t.Stages {
			c := trainCell{Ask: st.Kind() == "ask"}
			for _, x := range cells {
				if x.Tool == m && x.Stage == i {
					c.State, c.DeploymentID, c.Reason = x.State, x.DeploymentID, x.Reason
					if !x.StartedAt.IsZero() {
						end := x.FinishedAt
						if end.IsZero() {
							end = now
						}
						c.Elapsed = end.Sub(x.StartedAt).Round(100 * time.Millisecond).String()
					}
				}
			}
			row.Cells = append(row.Cells, c)
		}
		v.Rows = append(v.Rows, row)
	}
	h.render(w, r, http.StatusOK, "train", view{Title: "Train " + id, Section: "trains", Data: v})
}
