package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// AskTokens issues and reads the credentials of a step's processes for
// asking questions (internal/auth.AskTokens).
type AskTokens interface {
	Issue(s slipway.AskScope) string
	Parse(token string) (slipway.AskScope, bool)
}

// Questions serves the questions API (httpapi.Questions): what
// deployments ask, and the answers. Who may see and answer comes from
// the actor of the context ([slipway.ActorFrom]).
type Questions struct {
	app
}

// NewQuestions returns the questions service over an engine.
func NewQuestions(eng *Engine) *Questions { return &Questions{app: newApp(eng)} }

// maxQuestionList bounds a list of questions.
const maxQuestionList = 200

// QuestionList returns tool's questions ("" every tool the actor may
// see), newest first.
func (s *Questions) QuestionList(ctx context.Context, tool string, state slipway.QuestionState, deploymentID string) ([]slipway.Question, error) {
	actor := slipway.ActorFrom(ctx)
	if tool == "" && !actor.Admin {
		tool = actor.Tool
		if tool == "" {
			return []slipway.Question{}, nil
		}
	}
	qs, err := s.store.QuestionList(ctx, store.QuestionFilter{Tool: tool, State: state, DeploymentID: deploymentID, Limit: maxQuestionList})
	if err != nil {
		return nil, fmt.Errorf("list questions: %w", err)
	}
	if qs == nil {
		qs = []slipway.Question{}
	}
	return qs, nil
}

// QuestionGet returns one question; with wait > 0 it returns once the
// question is settled or wait has passed. Changes made here are heard at
// once, those of other servers at the next recheck.
func (s *Questions) QuestionGet(ctx context.Context, tool, id string, wait time.Duration) (slipway.Question, error) {
	q, err := s.get(ctx, tool, id)
	if err != nil || wait <= 0 || q.State.Final() {
		return q, err
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(s.cfg.RecheckInterval)
	defer tick.Stop()
	for {
		changed := s.eng.changed(q.DeploymentID) // taken before the read below
		if q, err = s.get(ctx, tool, id); err != nil || q.State.Final() {
			return q, err
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return s.get(context.WithoutCancel(ctx), tool, id)
			}
			return q, ctx.Err()
		case <-changed:
		case <-tick.C:
		}
	}
}

// get reads one question; ENotFound when there is none.
func (s *Questions) get(ctx context.Context, tool, id string) (slipway.Question, error) {
	q, err := s.store.QuestionGet(ctx, tool, id)
	if errors.Is(err, store.ErrNotFound) {
		return q, slipway.Errorf(slipway.ENotFound, "Question %s not found for tool %s", id, tool)
	}
	return q, err
}

// QuestionLog returns a question's audit log.
func (s *Questions) QuestionLog(ctx context.Context, tool, id string) ([]slipway.QuestionLogEntry, error) {
	if _, err := s.get(ctx, tool, id); err != nil {
		return nil, err
	}
	log, err := s.store.QuestionLogList(ctx, tool, id)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = []slipway.QuestionLogEntry{}
	}
	return log, nil
}

// refusedError carries why an actor may not answer out of the transaction,
// which rolls back, so that the refusal is logged in one of its own.
type refusedError struct{ reason string }

func (e refusedError) Error() string { return e.reason }

// QuestionAnswer answers a question as the actor of ctx, in one
// transaction under its deployment's lock: the first valid answer
// settles it (with the gate step and what that unblocks); later ones get
// EConflict naming who answered. A gate that needs several answers counts
// each identity's once. A refused attempt is logged with its reason.
func (s *Questions) QuestionAnswer(ctx context.Context, tool, id string, a slipway.Answer) (slipway.Question, error) {
	actor := slipway.ActorFrom(ctx)
	q, err := s.get(ctx, tool, id)
	if err != nil {
		return q, err
	}
	err = s.eng.tx(ctx, q.DeploymentID, func(t txn) error {
		d, err := s.eng.questionLock(ctx, t, tool, q.DeploymentID)
		if errors.Is(err, store.ErrNotFound) {
			d = slipway.Deployment{ID: q.DeploymentID, Tool: tool, Status: slipway.DeploymentCancelled}
		} else if err != nil {
			return err
		}
		if q, err = t.QuestionGet(ctx, tool, id); err != nil {
			return err
		}
		switch {
		case q.State.Final():
			return answerConflict(q)
		case d.Status != slipway.DeploymentRunning:
			return slipway.Errorf(slipway.EConflict, "Question %s belongs to deployment %s, which is %s: it takes no more answers.", q.ID, d.ID, d.Status)
		}
		if reason := q.MayAnswer(actor); reason != "" {
			return refusedError{reason}
		}
		value, stop, problem := q.CheckAnswer(a)
		if problem != "" {
			return slipway.Errorf(slipway.EInvalid, "%s", problem)
		}
		now := s.now()
		entry := slipway.QuestionLogEntry{
			QuestionID: q.ID, Tool: tool, Kind: slipway.LogAnswer, Actor: actor.Name, Value: value,
			Comment: a.Comment, Source: a.Source, At: now,
		}
		if !stop && q.Required() > 1 {
			if slices.Contains(q.Approvals, actor.Name) {
				return slipway.Errorf(slipway.EConflict, "You (%s) answered question %s already; it needs %d answers from different identities, %d so far.", actor.Name, q.ID, q.Required(), len(q.Approvals))
			}
			q.Approvals = append(q.Approvals, actor.Name)
			if len(q.Approvals) < q.Required() {
				entry.Reason = fmt.Sprintf("%d of %d answers needed", len(q.Approvals), q.Required())
				if ok, err := t.QuestionUpdate(ctx, q, slipway.QuestionOpen); err != nil || !ok {
					return errors.Join(err, answerConflict(q))
				}
				if _, err := t.QuestionLogAppend(ctx, entry); err != nil {
					return err
				}
				return s.eng.emit(ctx, t, d.ID, "question", q.StepKey, string(q.State), q.ID+": "+entry.Reason)
			}
		}
		q.State, q.Value, q.SettledBy, q.SettledAt, q.Comment = slipway.QuestionAnswered, value, actor.Name, now, a.Comment
		if stop {
			q.State = slipway.QuestionRejected
		}
		return s.eng.settled(ctx, t, d, q, entry)
	})
	if refused, ok := errors.AsType[refusedError](err); ok {
		s.logRefused(ctx, q, actor, a, refused.reason)
		return q, slipway.Errorf(slipway.EForbidden, "You may not answer question %s: %s.", q.ID, refused.reason)
	}
	if err != nil {
		return q, fmt.Errorf("answer question %s: %w", id, err)
	}
	if seq, ok := slipway.ChangeRequestOf(q); ok && q.State == slipway.QuestionAnswered && q.Value == slipway.CRAnswerApprove {
		// Approved: pick it now. Its outcome (applied, conflict, failed)
		// is the change request's; a failure to record it leaves the
		// request approved, and applying it again retries.
		if _, err := s.eng.applyChangeRequest(context.WithoutCancel(ctx), tool, seq); err != nil {
			s.logger.WarnContext(ctx, "apply change request", "tool", tool, "change_request", seq, "error", err.Error())
		}
	}
	return q, nil
}

// logRefused records a refused answer in the question's log; a failure to
// record it is logged, not answered.
func (s *Questions) logRefused(ctx context.Context, q slipway.Question, actor slipway.Actor, a slipway.Answer, reason string) {
	_, err := s.store.QuestionLogAppend(ctx, slipway.QuestionLogEntry{
		QuestionID: q.ID, Tool: q.Tool, Kind: slipway.LogRefused, Actor: actor.Name, Value: a.Value,
		Comment: a.Comment, Source: a.Source, Reason: reason, At: s.now(),
	})
	if err != nil {
		s.logger.WarnContext(ctx, "log a refused answer", "question", q.ID, "error", err.Error())
	}
}

// QuestionAsk asks q for the running step of scope (a process's `slipway
// ask`): within timeout (default and cap as a gate's). The time it is open
// does not count against the deployment's timeout (the step's own, a
// one-off's timeout or the build timeout, still runs). Asking again with
// the same key returns the question asked first.
func (s *Questions) QuestionAsk(ctx context.Context, scope slipway.AskScope, q slipway.Question, timeout time.Duration) (slipway.Question, bool, error) {
	q.Origin, q.Tool, q.DeploymentID, q.StepKey, q.State = slipway.OriginAsk, scope.Tool, scope.DeploymentID, scope.Step, slipway.QuestionOpen
	if q.OnDeadline == "" {
		q.OnDeadline = slipway.DeadlineFail
	}
	probs := slipway.ValidateQuestion(q)
	for i, o := range q.Options {
		if o.Stop {
			probs = append(probs, fmt.Sprintf("options[%d].stop: only a gate's answers stop a deployment; the asking process decides what an answer does", i))
		}
	}
	if len(q.Options) == 0 && len(q.Fields) == 0 {
		probs = append(probs, "options: give the answers to choose from (--option) or the fields to fill in (--field)")
	}
	if len(probs) > 0 {
		return q, false, slipway.Errorf(slipway.EInvalid, "Cannot ask: %s", strings.Join(probs, "; "))
	}
	if timeout <= 0 {
		timeout = slipway.DefaultQuestionTimeout
	}
	var created bool
	err := s.eng.tx(ctx, scope.DeploymentID, func(t txn) error {
		initiator, err := s.asker(ctx, t, scope)
		if err != nil {
			return err
		}
		now := s.now()
		q.ID, q.Initiator, q.CreatedAt = newQuestionID(), initiator, now
		q.DeadlineAt = now.Add(min(timeout, slipway.MaxQuestionTimeout))
		before := q.ID
		if q, err = s.eng.ask(ctx, t, q); err != nil {
			return err
		}
		created = q.ID == before
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return q, false, slipway.Errorf(slipway.EForbidden, "The step that holds this ask token is gone.")
	}
	if err != nil {
		return q, false, fmt.Errorf("ask for %s of %s: %w", scope.Step, cmp.Or(scope.DeploymentID, scope.Tool), err)
	}
	return q, created, nil
}

// asker takes the lock an ask for scope needs and returns the question's
// initiator, or why scope may not ask. A deployment's step asks under the
// deployment's lock while both run; a run of a scheduled component (no
// deployment) under the tool's lock while the component is live and
// scheduled, and its run is part of the step's name, so the key makes
// asking idempotent within a run while the next run asks anew.
func (s *Questions) asker(ctx context.Context, t txn, scope slipway.AskScope) (string, error) {
	if component, _, ok := scope.Scheduled(); ok {
		if err := t.ToolLock(ctx, scope.Tool, s.now()); err != nil {
			return "", err
		}
		if ok, err := liveScheduled(ctx, t, scope.Tool, component); err != nil || !ok {
			return "", errors.Join(err, slipway.Errorf(slipway.EForbidden, "Component %s of tool %s is not a live scheduled component: its runs no longer ask.", component, scope.Tool))
		}
		return "schedule", nil
	}
	d, err := t.DeploymentLock(ctx, scope.Tool, scope.DeploymentID)
	if err != nil {
		return "", err
	}
	st, err := t.StepGet(ctx, d.ID, scope.Step)
	if err != nil {
		return "", err
	}
	if d.Status != slipway.DeploymentRunning || st.State != slipway.StepRunning {
		return "", slipway.Errorf(slipway.EForbidden, "Step %s of deployment %s is %s (the deployment %s): only a running step asks.", st.Key, d.ID, st.State, d.Status)
	}
	return d.Actor, nil
}

// liveScheduled reports whether component of tool is live and scheduled
// (component@env: in that environment).
func liveScheduled(ctx context.Context, q store.Queries, tool, component string) (bool, error) {
	component, env, _ := strings.Cut(component, "@")
	live, err := q.LiveRunList(ctx, slipway.InstanceName(tool, env))
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(live, func(r slipway.LiveRun) bool {
		return r.Component == component && r.Type == slipway.Scheduled
	}), nil
}

// IdentifyAsk returns the scope of an ask token whose step still runs
// (for a scheduled run's, whose component is still live and scheduled).
func (s *Questions) IdentifyAsk(ctx context.Context, token string) (slipway.AskScope, bool, error) {
	if s.cfg.AskTokens == nil {
		return slipway.AskScope{}, false, nil
	}
	scope, ok := s.cfg.AskTokens.Parse(token)
	if !ok {
		return scope, false, nil
	}
	if component, _, scheduled := scope.Scheduled(); scheduled {
		ok, err := liveScheduled(ctx, s.store, scope.Tool, component)
		return scope, ok, err
	}
	st, err := s.store.StepGet(ctx, scope.DeploymentID, scope.Step)
	if errors.Is(err, store.ErrNotFound) {
		return scope, false, nil
	} else if err != nil {
		return scope, false, err
	}
	d, err := s.store.DeploymentGet(ctx, scope.Tool, scope.DeploymentID)
	if errors.Is(err, store.ErrNotFound) {
		return scope, false, nil
	} else if err != nil {
		return scope, false, err
	}
	return scope, st.State == slipway.StepRunning && !d.Status.Final(), nil
}
