package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// errClaimed is what a member's deployment creation returns when its
// cell has a deployment already (an earlier run of the job made it): the
// new one is not created, and the cell's is adopted.
var errClaimed = errors.New("the train's cell has a deployment already")

// AdvanceTrain is the work of a train's job ([runner.TrainArgs]): it
// reads the train and its cells as stored, records the members'
// deployments that ended, starts the next members of the stage (up to
// max_parallel), moves to the next stage once every cell of this one has
// ended, and finishes the train after the last. It returns a
// retryAfterError while it waits (for deployments or an answer), nil when
// the train has ended. Run again at any point (a crash, a second server),
// it does the same: a cell's deployment is created once, in the
// transaction that records it on the cell; stage moves are conditional on
// the version read.
func (s *Trains) AdvanceTrain(ctx context.Context, id string) error {
	defer s.eng.notify(id) // its watchers read what changed
	for {
		t, err := s.store.TrainGet(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if t.State.Final() {
			return nil
		}
		cells, err := s.store.TrainMemberList(ctx, id)
		if err != nil {
			return err
		}
		v := TrainView{Train: t, Cells: cells}
		if t.Stage >= len(t.Stages) {
			return s.finishTrain(ctx, v)
		}
		if t.Stages[t.Stage].Kind() == "ask" {
			a, ok := t.AnswerOf(t.Stage)
			if !ok {
				return retryAfterError(trainAskRecheck)
			}
			if a.Value == "no" {
				return s.stopTrain(ctx, v, fmt.Sprintf("Stopped at the question: %s answered no", a.By))
			}
			if err := s.nextStage(ctx, t); err != nil {
				return err
			}
			continue
		}
		done, err := s.driveStage(ctx, v)
		if err != nil || !done {
			return err
		}
		if err := s.nextStage(ctx, t); err != nil {
			return err
		}
	}
}

// driveStage records the cells of t's stage whose deployments ended and
// starts pending ones; true when every cell of the stage has ended.
func (s *Trains) driveStage(ctx context.Context, v TrainView) (bool, error) {
	t := v.Train
	running, open := 0, 0
	var pending []slipway.TrainMember
	for _, c := range v.Cells {
		if c.Stage != t.Stage || c.State.Final() {
			continue
		}
		open++
		if c.DeploymentID == "" {
			pending = append(pending, c)
			continue
		}
		ended, err := s.recordDeployment(ctx, c)
		if err != nil {
			return false, err
		}
		if ended {
			open--
		} else {
			running++
		}
	}
	for _, c := range pending {
		if t.MaxParallel > 0 && running >= t.MaxParallel {
			break
		}
		started, err := s.startMember(ctx, t, c)
		if err != nil {
			return false, err
		}
		if started {
			running++
		} else {
			open-- // refused: the cell failed with the reason
		}
	}
	if open > 0 {
		return false, retryAfterError(trainRecheck)
	}
	return true, nil
}

// recordDeployment ends cell c when its deployment has ended; true when
// it has.
func (s *Trains) recordDeployment(ctx context.Context, c slipway.TrainMember) (bool, error) {
	d, err := s.store.DeploymentGet(ctx, c.Tool, c.DeploymentID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.State, c.Reason = slipway.MemberFailed, "Deployment "+c.DeploymentID+" was deleted"
	case err != nil:
		return false, err
	case !d.Status.Final():
		return false, nil
	case d.Status == slipway.DeploymentSuccessful:
		c.State, c.Reason = slipway.MemberSucceeded, "Deployment "+d.ID+" successful"
	default:
		c.State, c.Reason = slipway.MemberFailed, fmt.Sprintf("Deployment %s %s: %s", d.ID, d.Status, d.LongStatus)
	}
	c.FinishedAt = s.now()
	if !d.UpdatedAt.IsZero() {
		c.FinishedAt = d.UpdatedAt
	}
	return true, s.store.TrainMemberUpdate(ctx, c)
}

// startMember creates cell c's deployment (a deployment of the tool's
// current config, or a promotion), recording it on the cell in its
// creating transaction; false when the deployment is refused, and the
// cell then failed with the reason. A cell found to have a deployment
// already (made by an earlier run that died before seeing it) counts as
// started.
func (s *Trains) startMember(ctx context.Context, t slipway.Train, c slipway.TrainMember) (bool, error) {
	st := t.Stages[c.Stage]
	ctx = slipway.WithActor(ctx, slipway.Actor{Name: t.CreatedBy, Admin: true})
	opts := slipway.DeployOptions{
		Environment: st.Environment(), Trigger: "train", Actor: t.CreatedBy,
		Description: fmt.Sprintf("Train %s (plan %s): %s", t.ID, t.Plan, st),
	}
	claim := func(ctx context.Context, q store.Queries, d slipway.Deployment) error {
		c.State, c.DeploymentID, c.StartedAt, c.Reason = slipway.MemberRunning, d.ID, s.now(), "Deployment "+d.ID
		ok, err := q.TrainMemberClaim(ctx, c)
		if err == nil && !ok {
			err = errClaimed
		}
		return err
	}
	var err error
	if st.Kind() == "deploy" {
		_, err = s.deps.DeploymentCreateIf(ctx, c.Tool, opts, claim)
	} else {
		err = s.promoteMember(ctx, c.Tool, opts, claim)
	}
	switch {
	case err == nil, errors.Is(err, errClaimed):
		return true, nil
	case isRefusal(err):
		var se *slipway.Error
		errors.As(err, &se)
		c.State, c.Reason, c.FinishedAt = slipway.MemberFailed, "Refused: "+se.Message, s.now()
		return false, s.store.TrainMemberUpdate(ctx, c)
	default:
		return false, fmt.Errorf("train %s: start %s of %s: %w", t.ID, st, c.Tool, err)
	}
}

// promoteMember is [Deployments.Promote] with check run in the creating
// transaction.
func (s *Trains) promoteMember(ctx context.Context, tool string, opts slipway.DeployOptions,
	check func(context.Context, store.Queries, slipway.Deployment) error,
) error {
	if err := s.eng.ready(); err != nil {
		return err
	}
	src, pins, err := s.deps.promotion(ctx, tool, opts.Environment)
	if err != nil {
		return err
	}
	o := origin{promotedFrom: src.Environment, pins: pins, created: func(tx txn, d slipway.Deployment) error { return check(ctx, tx, d) }}
	_, err = s.deps.create(ctx, tool, opts, o, func(store.Tx, time.Time) (int, json.RawMessage, error) {
		return src.ConfigVersion, src.ToolConfig, nil
	})
	return err
}

// nextStage moves t to its next stage. The cells of members that failed
// this stage are skipped in the later ones.
func (s *Trains) nextStage(ctx context.Context, t slipway.Train) error {
	cells, err := s.store.TrainMemberList(ctx, t.ID)
	if err != nil {
		return err
	}
	failed := map[string]string{}
	for _, c := range cells {
		if c.Stage == t.Stage && c.State == slipway.MemberFailed {
			failed[c.Tool] = c.Reason
		}
	}
	for _, c := range cells {
		if why, ok := failed[c.Tool]; ok && c.Stage > t.Stage && !c.State.Final() {
			c.State, c.Reason, c.FinishedAt = slipway.MemberSkipped, fmt.Sprintf("Failed at stage %d (%s): %s", t.Stage+1, t.Stages[t.Stage], why), s.now()
			if err := s.store.TrainMemberUpdate(ctx, c); err != nil {
				return err
			}
		}
	}
	t.Stage++
	t.UpdatedAt = s.now()
	if _, err := s.store.TrainUpdate(ctx, t); err != nil {
		return err
	}
	return nil // not applied: another update came first; the loop reads it
}

// finishTrain ends a train whose stages all ran: completed when no member
// that ran failed, partial when some did, failed when all did.
func (s *Trains) finishTrain(ctx context.Context, v TrainView) error {
	ran, failed := map[string]bool{}, map[string]bool{}
	for _, c := range v.Cells {
		if c.State == slipway.MemberSkipped && strings.HasPrefix(c.Reason, preflightPrefix) {
			continue
		}
		ran[c.Tool] = true
		if c.State != slipway.MemberSucceeded {
			failed[c.Tool] = true
		}
	}
	t := v.Train
	switch {
	case len(failed) == 0:
		t.State = slipway.TrainCompleted
	case len(failed) < len(ran):
		t.State, t.Reason = slipway.TrainPartial, fmt.Sprintf("%d of %d members failed", len(failed), len(ran))
	default:
		t.State, t.Reason = slipway.TrainFailed, "every member failed"
	}
	t.UpdatedAt = s.now()
	_, err := s.store.TrainUpdate(ctx, t)
	return err
}

// stopTrain ends a train cancelled with reason; its cells not run are
// skipped.
func (s *Trains) stopTrain(ctx context.Context, v TrainView, reason string) error {
	// The cells first: whoever sees the train ended sees them ended.
	if err := s.settleCells(ctx, v, reason, false); err != nil {
		return err
	}
	t := v.Train
	t.State, t.Reason, t.UpdatedAt = slipway.TrainCancelled, reason, s.now()
	_, err := s.store.TrainUpdate(ctx, t)
	return err
}
