package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"slipway.dev/slipway/internal/runner"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// Trains is the application service of release plans and their trains
// (issue 15): a plan is one procedure over many tools (deploy to an
// environment, ask one question, promote), a train one run of it. A
// train's members' work is ordinary deployments and promotions made
// through [Deployments] (their tools' queues, events, gates and history
// apply); the train only decides when to make them and records each in
// its cell, in the deployment's own creating transaction. A River job per
// train ([runner.TrainArgs]) advances it; every decision is in the store,
// so a server that dies mid-train resumes it where it stood.
type Trains struct {
	app
	deps *Deployments
}

// NewTrains returns the trains service over eng.
func NewTrains(eng *Engine) *Trains { return &Trains{app: newApp(eng), deps: NewDeployments(eng)} }

// How often a train's job looks again at its members' deployments, and
// at its question (an answer makes the job due at once; the look is the
// fallback for an answer given while the job ran).
const (
	trainRecheck    = time.Second
	trainAskRecheck = 5 * time.Second
)

// TrainView is a train with its cells (one per member per deploy or
// promote stage), as shown.
type TrainView struct {
	Train slipway.Train
	Cells []slipway.TrainMember
}

// Cell returns member tool's cell in stage i.
func (v TrainView) Cell(tool string, i int) (slipway.TrainMember, bool) {
	j := slices.IndexFunc(v.Cells, func(c slipway.TrainMember) bool { return c.Tool == tool && c.Stage == i })
	if j < 0 {
		return slipway.TrainMember{}, false
	}
	return v.Cells[j], true
}

// Ineligible returns the members the preflight found unable to run, each
// with the reason (the first stage it cannot run), in member order.
func (v TrainView) Ineligible() map[string]string {
	out := map[string]string{}
	for _, c := range v.Cells {
		if c.State == slipway.MemberSkipped && strings.HasPrefix(c.Reason, preflightPrefix) {
			if _, ok := out[c.Tool]; !ok {
				out[c.Tool] = strings.TrimPrefix(c.Reason, preflightPrefix)
			}
		}
	}
	return out
}

// preflightPrefix starts the reason of a cell the preflight skipped.
const preflightPrefix = "Cannot: "

// PlanPut stores a release plan (a new one, or a replacement of the one of
// its name) and returns it, and whether it is new. The actor of ctx is its
// creator. EInvalid naming the field when it is wrong.
func (s *Trains) PlanPut(ctx context.Context, p slipway.ReleasePlan) (slipway.ReleasePlan, bool, error) {
	if err := p.Validate(); err != nil {
		return p, false, err
	}
	now := s.now()
	p.CreatedAt, p.UpdatedAt, p.CreatedBy = now, now, slipway.ActorFrom(ctx).Name
	_, err := s.store.PlanGet(ctx, p.Name)
	created := errors.Is(err, store.ErrNotFound)
	if err != nil && !created {
		return p, false, err
	}
	if err := s.store.PlanPut(ctx, p); err != nil {
		return p, false, err
	}
	p, err = s.store.PlanGet(ctx, p.Name)
	return p, created, err
}

// PlanGet returns a plan; ENotFound when there is none.
func (s *Trains) PlanGet(ctx context.Context, name string) (slipway.ReleasePlan, error) {
	p, err := s.store.PlanGet(ctx, name)
	return p, notFound(err, "No release plan named %q.", name)
}

// PlanList returns the plans by name.
func (s *Trains) PlanList(ctx context.Context) ([]slipway.ReleasePlan, error) {
	return s.store.PlanList(ctx)
}

// PlanDelete deletes a plan (its trains stay); ENotFound when there is
// none.
func (s *Trains) PlanDelete(ctx context.Context, name string) error {
	ok, err := s.store.PlanDelete(ctx, name)
	if err == nil && !ok {
		err = slipway.Errorf(slipway.ENotFound, "No release plan named %q.", name)
	}
	return err
}

// TrainStart says which plan to run and how.
type TrainStart struct {
	Plan string
	// Mode is what to do with members the preflight finds unable to run
	// a stage: run the others (eligible, the default) or refuse.
	Mode slipway.TrainMode
	// DryRun returns the preflight only: nothing is stored.
	DryRun bool
}

// TrainStart runs a plan's preflight and, unless r.DryRun, starts a train
// of it: the members that can run every stage run, each other member's
// cells are skipped with the reason. EConflict when no member can run, or
// (all_or_nothing) when any cannot, naming them; nothing is stored then.
func (s *Trains) TrainStart(ctx context.Context, r TrainStart) (TrainView, error) {
	r.Mode = cmp.Or(r.Mode, slipway.TrainEligible)
	if r.Mode != slipway.TrainEligible && r.Mode != slipway.TrainAllOrNothing {
		return TrainView{}, slipway.Errorf(slipway.EInvalid, "mode: %q is not a mode: eligible or all_or_nothing", r.Mode)
	}
	if !r.DryRun {
		if err := s.eng.ready(); err != nil {
			return TrainView{}, err
		}
	}
	p, err := s.PlanGet(ctx, r.Plan)
	if err != nil {
		return TrainView{}, err
	}
	now := s.now()
	t := slipway.Train{
		Plan: p.Name, Members: p.Members, Stages: p.Stages, Mode: r.Mode, MaxParallel: p.MaxParallel,
		State: slipway.TrainRunning, CreatedAt: now, CreatedBy: slipway.ActorFrom(ctx).Name, UpdatedAt: now, Version: 1,
	}
	cells, err := s.preflight(ctx, t)
	if err != nil {
		return TrainView{}, err
	}
	v := TrainView{Train: t, Cells: cells}
	if r.DryRun {
		return v, nil
	}
	bad := v.Ineligible()
	switch {
	case len(bad) == len(t.Members):
		return v, slipway.Errorf(slipway.EConflict, "No member of plan %s can run: %s.", p.Name, reasons(t.Members, bad))
	case len(bad) > 0 && r.Mode == slipway.TrainAllOrNothing:
		return v, slipway.Errorf(slipway.EConflict, "%d of %d members of plan %s cannot run, and the mode is all_or_nothing: %s.",
			len(bad), len(t.Members), p.Name, reasons(t.Members, bad))
	}
	t.ID = slipway.NewTrainID(now)
	for i := range cells {
		cells[i].TrainID = t.ID
	}
	err = s.eng.tx(ctx, t.ID, func(tx txn) error {
		if err := tx.TrainCreate(ctx, t, cells); err != nil {
			return err
		}
		return s.eng.enqueue(ctx, tx, runner.Job{Train: t.ID})
	})
	if err != nil {
		return TrainView{}, fmt.Errorf("start a train of %s: %w", p.Name, err)
	}
	return s.TrainGet(ctx, t.ID)
}

// reasons lists "tool (why)" for the members in bad, in member order.
func reasons(members []string, bad map[string]string) string {
	var out []string
	for _, m := range members {
		if why, ok := bad[m]; ok {
			out = append(out, m+" ("+why+")")
		}
	}
	return strings.Join(out, ", ")
}

// preflight returns t's cells: pending for the members that can run every
// deploy and promote stage, skipped with the reason from the first stage
// a member cannot run on. It checks what the stage's deployment would be
// refused for, storing nothing: the tool's config, the environment in it,
// a direct deployment to a production environment, and for a promotion
// whose upstream no earlier stage deploys, the upstream's readiness.
func (s *Trains) preflight(ctx context.Context, t slipway.Train) ([]slipway.TrainMember, error) {
	var cells []slipway.TrainMember
	for _, tool := range t.Members {
		why, err := s.cannot(ctx, tool, t.Stages)
		if err != nil {
			return nil, err
		}
		for i, st := range t.Stages {
			if st.Kind() == "ask" {
				continue
			}
			c := slipway.TrainMember{TrainID: t.ID, Tool: tool, Stage: i, State: slipway.MemberPending}
			if why != "" {
				c.State, c.Reason, c.FinishedAt = slipway.MemberSkipped, preflightPrefix+why, t.CreatedAt
			}
			cells = append(cells, c)
		}
	}
	return cells, nil
}

// cannot returns why tool cannot run stages ("" when it can), or an
// error when that could not be found out.
func (s *Trains) cannot(ctx context.Context, tool string, stages []slipway.PlanStage) (string, error) {
	cfg, err := s.deps.ConfigGet(ctx, tool)
	if errors.Is(err, store.ErrNotFound) {
		return "no config: the tool is unknown or was never configured", nil
	}
	var se *slipway.Error
	if errors.As(err, &se) && se.Code != slipway.EInternal {
		return "its config: " + se.Message, nil
	}
	if err != nil {
		return "", fmt.Errorf("preflight of %s: %w", tool, err)
	}
	deployed := map[string]bool{}
	for _, st := range stages {
		if st.Kind() == "ask" {
			continue
		}
		name := st.Environment()
		env, ok := cfg.Environment(name)
		switch {
		case !ok:
			return fmt.Sprintf("no environment %s; its environments: %s", name, environmentNames(cfg)), nil
		case st.Kind() == "deploy" && env.Production && env.Upstream != "" && !env.AllowDirect:
			return fmt.Sprintf("%s is a production environment that takes only builds promoted from %s", name, env.Upstream), nil
		case st.Kind() == "deploy" && !slipway.ValidName(slipway.InstanceName(tool, name)):
			return fmt.Sprintf("%s would run as %q, too long a name", name, slipway.InstanceName(tool, name)), nil
		case st.Kind() == "promote" && env.Upstream == "":
			return fmt.Sprintf("%s has no upstream to promote from", name), nil
		case st.Kind() == "promote" && !deployed[env.Upstream]:
			// Nothing in the train deploys the upstream first: what
			// runs there now is what the promotion takes.
			if _, _, err := s.deps.promotion(ctx, tool, name); err != nil {
				if errors.As(err, &se) && se.Code != slipway.EInternal {
					return se.Message, nil
				}
				return "", fmt.Errorf("preflight of %s: %w", tool, err)
			}
		}
		deployed[name] = true
	}
	return "", nil
}

// TrainGet returns a train and its cells; ENotFound when there is none.
func (s *Trains) TrainGet(ctx context.Context, id string) (TrainView, error) {
	if err := slipway.ValidateTrainID(id); err != nil {
		return TrainView{}, err
	}
	t, err := s.store.TrainGet(ctx, id)
	if err != nil {
		return TrainView{}, notFound(err, "No train %s.", id)
	}
	cells, err := s.store.TrainMemberList(ctx, id)
	if err != nil {
		return TrainView{}, err
	}
	return TrainView{Train: t, Cells: cells}, nil
}

// TrainList returns the newest trains (at most 100), without cells.
func (s *Trains) TrainList(ctx context.Context) ([]slipway.Train, error) {
	return s.store.TrainList(ctx, 100)
}

// TrainAnswer answers the question a train waits at: "yes" goes on, "no"
// stops the train (cancelled). EConflict when the train waits for no
// answer (ended, at another stage, answered already: the answer and who
// gave it); EInvalid for another value.
func (s *Trains) TrainAnswer(ctx context.Context, id, value, comment string) (TrainView, error) {
	if value != "yes" && value != "no" {
		return TrainView{}, slipway.Errorf(slipway.EInvalid, "answer: %q is not an answer: yes or no", value)
	}
	if len(comment) > slipway.MaxPlanPrompt {
		return TrainView{}, slipway.Errorf(slipway.EInvalid, "comment: longer than %d characters", slipway.MaxPlanPrompt)
	}
	actor := slipway.ActorFrom(ctx).Name
	err := s.updateTrain(ctx, id, func(t *slipway.Train) error {
		switch {
		case t.State.Final():
			return slipway.Errorf(slipway.EConflict, "Train %s has ended (%s): there is nothing to answer.", id, t.State)
		case t.Stage >= len(t.Stages) || t.Stages[t.Stage].Kind() != "ask":
			if a, ok := t.AnswerOf(t.Stage - 1); ok && t.Stage > 0 {
				return slipway.Errorf(slipway.EConflict, "The question of train %s was answered %s by %s at %s.", id, a.Value, a.By, a.At.Format(time.RFC3339))
			}
			return slipway.Errorf(slipway.EConflict, "Train %s waits for no answer: it is at stage %d (%s).", id, t.Stage+1, t.Stages[min(t.Stage, len(t.Stages)-1)])
		}
		if a, ok := t.AnswerOf(t.Stage); ok {
			return slipway.Errorf(slipway.EConflict, "The question of train %s was answered %s by %s at %s.", id, a.Value, a.By, a.At.Format(time.RFC3339))
		}
		t.Answers = append(t.Answers, slipway.TrainAnswer{Stage: t.Stage, Value: value, By: actor, At: s.now(), Comment: comment})
		return nil
	})
	if err != nil {
		return TrainView{}, err
	}
	return s.TrainGet(ctx, id)
}

// TrainCancel stops a running train: its pending cells are skipped and
// its members' running deployments cancelled. EConflict when it has
// ended.
func (s *Trains) TrainCancel(ctx context.Context, id string) (TrainView, error) {
	actor := slipway.ActorFrom(ctx).Name
	err := s.updateTrain(ctx, id, func(t *slipway.Train) error {
		if t.State.Final() {
			return slipway.Errorf(slipway.EConflict, "Train %s has ended (%s).", id, t.State)
		}
		t.State, t.Reason = slipway.TrainCancelled, "Cancelled by "+actor
		return nil
	})
	if err != nil {
		return TrainView{}, err
	}
	v, err := s.TrainGet(ctx, id)
	if err != nil {
		return v, err
	}
	if err := s.settleCells(ctx, v, "the train was cancelled", true); err != nil {
		return v, err
	}
	s.eng.notify(id)
	return s.TrainGet(ctx, id)
}

// updateTrain applies change to the train as stored and writes it over
// the version read, in a transaction that also makes the train's job due
// at once; read again and retried when another update came first.
func (s *Trains) updateTrain(ctx context.Context, id string, change func(*slipway.Train) error) error {
	if err := slipway.ValidateTrainID(id); err != nil {
		return err
	}
	for range 10 {
		applied := false
		err := s.eng.tx(ctx, id, func(tx txn) error {
			t, err := tx.TrainGet(ctx, id)
			if err != nil {
				return notFound(err, "No train %s.", id)
			}
			if err := change(&t); err != nil {
				return err
			}
			t.UpdatedAt = s.now()
			if applied, err = tx.TrainUpdate(ctx, t); err != nil || !applied {
				return err
			}
			return s.eng.enqueue(ctx, tx, runner.Job{Train: id})
		})
		if err != nil || applied {
			return err
		}
	}
	return slipway.Errorf(slipway.EConflict, "Train %s kept changing; try again.", id)
}

// settleCells ends every cell of v that has not ended, with reason:
// skipped when it has no deployment; with cancel, a running deployment is
// cancelled (its cell ends when the deployment has).
func (s *Trains) settleCells(ctx context.Context, v TrainView, reason string, cancel bool) error {
	now := s.now()
	for _, c := range v.Cells {
		switch {
		case c.State.Final():
		case c.DeploymentID == "":
			c.State, c.Reason, c.FinishedAt = slipway.MemberSkipped, reason, now
			if err := s.store.TrainMemberUpdate(ctx, c); err != nil {
				return err
			}
		case cancel:
			if _, err := s.deps.DeploymentCancel(ctx, c.Tool, c.DeploymentID); err != nil && !isRefusal(err) {
				return fmt.Errorf("cancel %s of %s: %w", c.DeploymentID, c.Tool, err)
			}
			c.State, c.Reason, c.FinishedAt = slipway.MemberFailed, "Cancelled with the train (deployment "+c.DeploymentID+")", now
			if err := s.store.TrainMemberUpdate(ctx, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// isRefusal reports whether err is a refusal with a reason for people
// (not found, invalid, conflict, forbidden), not a failure to find out.
func isRefusal(err error) bool {
	var se *slipway.Error
	return errors.As(err, &se) && se.Code != slipway.EInternal && se.Code != slipway.EUnavailable
}

// TrainWatch calls fn with the train as stored now and again at each of
// its changes, until it has ended (after fn saw it so), fn returns an
// error, or ctx ends. Changes made by this server wake it at once; a
// recheck every two seconds sees those of other servers.
func (s *Trains) TrainWatch(ctx context.Context, id string, fn func(TrainView) error) error {
	for {
		changed := s.eng.changed(id)
		v, err := s.TrainGet(ctx, id)
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
		if v.Train.State.Final() {
			return nil
		}
		recheck := time.NewTimer(2 * time.Second)
		select {
		case <-changed:
		case <-recheck.C:
		case <-ctx.Done():
			recheck.Stop()
			return ctx.Err()
		}
		recheck.Stop()
	}
}
