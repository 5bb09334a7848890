package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"slipway.dev/slipway/internal/runner"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// The engine's half of questions: a gate step opens its question and
// waits; an answer, the deadline or the end of the deployment settles it,
// each in one transaction under the deployment's lock, together with the
// gate step and what it unblocks. Nothing waits in memory: the question is
// a row and its deadline a scheduled job, so a restart changes nothing.

// System actors that settle questions.
const (
	actorDeadline = "system:deadline"
	actorEnd      = "system:deployment-ended"
)

// newQuestionID returns a new question id: "q-" and 16 hex digits.
func newQuestionID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return "q-" + hex.EncodeToString(b)
}

// waitingStatus is a deployment's long status while q is open.
func waitingStatus(q slipway.Question) string {
	return "Waiting for an answer: " + firstLine(q.Prompt)
}

// openGate asks gate step st's question and leaves the step waiting for
// the answer. Asking again (the job ran twice) finds the question asked.
func (e *Engine) openGate(ctx context.Context, d slipway.Deployment, cfg slipway.ToolConfig, st slipway.Step) error {
	gate := cfg.Components[st.Component].Gate
	if d.Flow != "" {
		gate = flowGate(cfg, d.Flow, st.Key)
	}
	if gate == nil {
		return e.advance(ctx, d, nil, func(t txn) error {
			_, err := e.updateStep(ctx, t, store.StepUpdate{
				DeploymentID: d.ID, Key: st.Key, State: slipway.StepFailed, FinishedAt: e.now(),
				Detail: "the deployment's config has no gate for " + st.Component, IfStateIn: []slipway.StepState{slipway.StepPending},
			})
			return err
		})
	}
	now := e.now()
	q := gate.QuestionOf()
	q.ID, q.Tool, q.DeploymentID, q.StepKey = newQuestionID(), d.Tool, d.ID, st.Key
	q.Initiator, q.CreatedAt, q.DeadlineAt, q.State = d.Actor, now, now.Add(gate.TimeoutOrDefault()), slipway.QuestionOpen
	err := e.tx(ctx, d.ID, func(t txn) error {
		cur, err := t.DeploymentLock(ctx, d.Tool, d.ID)
		if err != nil || cur.Status != slipway.DeploymentRunning {
			return ignoreNotFound(err) // cancelling or final: its own job settles the step
		}
		q, err := e.ask(ctx, t, q)
		if err != nil {
			return err
		}
		_, err = e.updateStep(ctx, t, store.StepUpdate{
			DeploymentID: d.ID, Key: st.Key, State: slipway.StepWaiting, Detail: waitingStatus(q),
			Attempt: st.Attempt + 1, StartedAt: q.CreatedAt, IfStateIn: []slipway.StepState{slipway.StepPending},
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("gate %s of %s: %w", st.Component, d.ID, err)
	}
	return nil
}

// ask records question q (or finds the one its step asked with its key),
// and for a new one logs it, schedules its deadline, says so in the
// deployment's long status and events. The caller holds the deployment's
// lock.
func (e *Engine) ask(ctx context.Context, t txn, q slipway.Question) (slipway.Question, error) {
	q, created, err := t.QuestionCreate(ctx, q)
	if err != nil || !created {
		return q, err
	}
	if _, err := t.QuestionLogAppend(ctx, slipway.QuestionLogEntry{
		QuestionID: q.ID, Tool: q.Tool, Kind: slipway.LogOpened, Actor: q.Initiator, At: q.CreatedAt,
		Reason: fmt.Sprintf("asked by %s, deadline %s (then %s)", q.StepKey, q.DeadlineAt.Format(time.RFC3339), q.OnDeadline),
	}); err != nil {
		return q, err
	}
	if err := e.enqueue(ctx, t, runner.Job{Tool: q.Tool, DeploymentID: q.DeploymentID, Question: q.ID, At: q.DeadlineAt}); err != nil {
		return q, err
	}
	if err := e.outbox(ctx, t, slipway.Notification{Event: slipway.NotifyQuestionPending, Tool: q.Tool, Question: &q}); err != nil {
		return q, err
	}
	if q.DeploymentID == "" {
		return q, nil // a scheduled run's: no deployment to say it in
	}
	if err := e.setLongStatus(ctx, t, q.Tool, q.DeploymentID, waitingStatus(q)); err != nil {
		return q, err
	}
	return q, e.emit(ctx, t, q.DeploymentID, "question", q.StepKey, string(q.State), q.ID+": "+firstLine(q.Prompt))
}

// setLongStatus changes a running deployment's long status.
func (e *Engine) setLongStatus(ctx context.Context, t txn, tool, id, long string) error {
	_, err := t.DeploymentUpdateStatus(ctx, store.DeploymentStatusUpdate{
		Tool: tool, ID: id, Status: slipway.DeploymentRunning, LongStatus: long, UpdatedAt: e.now(),
		IfStatusIn: []slipway.DeploymentStatus{slipway.DeploymentRunning},
	})
	return err
}

// settled records that q (read in state open under the deployment's lock
// of d, and now changed) is settled: the question, its log entry, the gate
// step it ends and the steps that unblocks, the deployment's long status
// and an event. entry is the log entry of what settled it.
func (e *Engine) settled(ctx context.Context, t txn, d slipway.Deployment, q slipway.Question, entry slipway.QuestionLogEntry) error {
	ok, err := t.QuestionUpdate(ctx, q, slipway.QuestionOpen)
	if err != nil {
		return err
	}
	if !ok {
		return slipway.Errorf(slipway.EConflict, "Question %s was settled meanwhile; read it again", q.ID)
	}
	if _, err := t.QuestionLogAppend(ctx, entry); err != nil {
		return err
	}
	if q.State == slipway.QuestionAnswered || q.State == slipway.QuestionRejected {
		if err := e.outbox(ctx, t, slipway.Notification{Event: slipway.NotifyQuestionAnswered, Tool: q.Tool, Question: &q}); err != nil {
			return err
		}
	}
	if seq, ok := slipway.ChangeRequestOf(q); ok {
		return e.decideChangeRequest(ctx, t, q, seq)
	}
	if q.DeploymentID == "" {
		return nil // a scheduled run's: its process reads the answer
	}
	if err := e.emit(ctx, t, d.ID, "question", q.StepKey, string(q.State), q.ID+": "+settledText(q)); err != nil {
		return err
	}
	if d.Status.Final() {
		return nil
	}
	if q.Origin == slipway.OriginGate {
		state, detail := slipway.StepDone, "answered "+q.Value+" by "+q.SettledBy
		switch q.State {
		case slipway.QuestionRejected:
			state, detail = slipway.StepFailed, q.SettledBy+" answered "+q.Value+": stopped here"
		case slipway.QuestionExpired:
			state, detail = slipway.StepTimedOut, "no answer by the deadline ("+q.DeadlineAt.Sub(q.CreatedAt).String()+")"
		case slipway.QuestionCancelled:
			state, detail = slipway.StepCancelled, q.Comment
		case slipway.QuestionOpen, slipway.QuestionAnswered:
		}
		if _, err := e.updateStep(ctx, t, store.StepUpdate{
			DeploymentID: d.ID, Key: q.StepKey, State: state, Detail: detail, StartedAt: q.CreatedAt, FinishedAt: q.SettledAt,
			IfStateIn: []slipway.StepState{slipway.StepWaiting},
		}); err != nil {
			return err
		}
	}
	return e.resume(ctx, t, d)
}

// resume puts a deployment that no longer waits for an answer back to its
// progress: its long status and the steps now due.
func (e *Engine) resume(ctx context.Context, t txn, d slipway.Deployment) error {
	all, err := t.StepList(ctx, d.ID)
	if err != nil {
		return err
	}
	if d.Status == slipway.DeploymentRunning {
		open, err := t.QuestionList(ctx, store.QuestionFilter{Tool: d.Tool, DeploymentID: d.ID, State: slipway.QuestionOpen, Limit: 1})
		if err != nil {
			return err
		}
		long := "Deploying: " + summarize(all)
		if len(open) > 0 {
			long = waitingStatus(open[0])
		}
		if err := e.setLongStatus(ctx, t, d.Tool, d.ID, long); err != nil {
			return err
		}
	}
	return e.progress(ctx, t, d, all)
}

// settledText says how a question was settled.
func settledText(q slipway.Question) string {
	switch q.State {
	case slipway.QuestionExpired:
		return "expired without an answer"
	case slipway.QuestionCancelled:
		return "cancelled: " + q.Comment
	default:
	}
	return string(q.State) + " " + q.Value + " by " + q.SettledBy
}

// QuestionDeadline settles a question still open at its deadline: with
// its default answer (on_deadline default), else as expired. It is the
// runner's job scheduled when the question was asked; a question settled
// before is left alone.
func (e *Engine) QuestionDeadline(ctx context.Context, tool, deploymentID, id string) error {
	err := e.tx(ctx, deploymentID, func(t txn) error {
		d, err := e.questionLock(ctx, t, tool, deploymentID)
		if errors.Is(err, store.ErrNotFound) {
			d = slipway.Deployment{ID: deploymentID, Tool: tool, Status: slipway.DeploymentCancelled} // pruned: just close it
		} else if err != nil {
			return err
		}
		q, err := t.QuestionGet(ctx, tool, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && q.State.Final()) {
			return nil
		} else if err != nil {
			return err
		}
		now := e.now()
		entry := slipway.QuestionLogEntry{QuestionID: q.ID, Tool: tool, Kind: slipway.LogExpired, Actor: actorDeadline, At: now}
		q.SettledBy, q.SettledAt, q.State = actorDeadline, now, slipway.QuestionExpired
		if q.OnDeadline == slipway.DeadlineDefault {
			value, stop, problem := q.CheckAnswer(slipway.Answer{Value: q.Default})
			if problem == "" {
				q.State, q.Value = slipway.QuestionAnswered, value
				if stop {
					q.State = slipway.QuestionRejected
				}
				entry.Kind, entry.Value, entry.Reason = slipway.LogSettled, value, "the deadline took the default answer"
			} else {
				entry.Reason = "the default answer is not valid: " + problem
			}
		}
		return e.settled(ctx, t, d, q, entry)
	})
	if err != nil {
		return fmt.Errorf("deadline of question %s of %s: %w", id, deploymentID, err)
	}
	return nil
}

// questionLock takes the lock a question's settling needs: its
// deployment's, or for a scheduled run's question (no deployment) its
// tool's, returning a running placeholder deployment then.
func (e *Engine) questionLock(ctx context.Context, t txn, tool, deploymentID string) (slipway.Deployment, error) {
	if deploymentID == "" {
		return slipway.Deployment{Tool: tool, Status: slipway.DeploymentRunning}, t.ToolLock(ctx, tool, e.now())
	}
	return t.DeploymentLock(ctx, tool, deploymentID)
}

// closeQuestions cancels the open questions of a deployment that ends
// (status), in its finishing transaction.
func (e *Engine) closeQuestions(ctx context.Context, t txn, d slipway.Deployment, status slipway.DeploymentStatus) error {
	open, err := t.QuestionList(ctx, store.QuestionFilter{Tool: d.Tool, DeploymentID: d.ID, State: slipway.QuestionOpen})
	if err != nil {
		return err
	}
	now := e.now()
	for _, q := range open {
		q.State, q.SettledBy, q.SettledAt = slipway.QuestionCancelled, actorEnd, now
		q.Comment = "the deployment ended " + string(status) + " first"
		if _, err := t.QuestionUpdate(ctx, q, slipway.QuestionOpen); err != nil {
			return err
		}
		if _, err := t.QuestionLogAppend(ctx, slipway.QuestionLogEntry{
			QuestionID: q.ID, Tool: q.Tool, Kind: slipway.LogCancelled, Actor: actorEnd, Reason: q.Comment, At: now,
		}); err != nil {
			return err
		}
		if err := e.emit(ctx, t, d.ID, "question", q.StepKey, string(q.State), q.ID+": "+settledText(q)); err != nil {
			return err
		}
	}
	return nil
}

// deadline is when a deployment times out: its creation plus the
// deployment timeout plus the time it waited for answers (which does not
// count): a gate's, or a question its step's process asked.
func (e *Engine) deadline(ctx context.Context, d slipway.Deployment) (time.Time, error) {
	if d.Flow != "" {
		// A flow run has no deadline of its own: each step has its own
		// (its deployment's, the one-off's timeout, the question's).
		// This one moves on each look, so it is never reached.
		return e.now().Add(e.cfg.DeploymentTimeout), nil
	}
	base := d.CreatedAt.Add(e.cfg.DeploymentTimeout)
	qs, err := e.store.QuestionList(ctx, store.QuestionFilter{Tool: d.Tool, DeploymentID: d.ID})
	if err != nil {
		return base, fmt.Errorf("the deadline of %s: %w", d.ID, err)
	}
	return base.Add(waited(qs, e.now())), nil
}

// waited is how long, until now, at least one of qs was open: the union
// of their open intervals (two questions open at once count once).
func waited(qs []slipway.Question, now time.Time) time.Duration {
	type span struct{ from, to time.Time }
	spans := make([]span, 0, len(qs))
	for _, q := range qs {
		end := q.SettledAt
		if q.State == slipway.QuestionOpen || end.IsZero() {
			end = now
		}
		if end.After(q.CreatedAt) {
			spans = append(spans, span{q.CreatedAt, end})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from.Compare(b.from) })
	var (
		total time.Duration
		cur   span
	)
	for i, s := range spans {
		switch {
		case i == 0:
			cur = s
		case !s.from.After(cur.to):
			if s.to.After(cur.to) {
				cur.to = s.to
			}
		default:
			total += cur.to.Sub(cur.from)
			cur = s
		}
	}
	if len(spans) > 0 {
		total += cur.to.Sub(cur.from)
	}
	return total
}

// answerConflict is the 409 of an answer to a question that is settled.
func answerConflict(q slipway.Question) error {
	if q.State == slipway.QuestionExpired || q.State == slipway.QuestionCancelled {
		return slipway.Errorf(slipway.EConflict, "Question %s is %s (%s); it takes no more answers.", q.ID, q.State, strings.TrimSuffix(settledText(q), "."))
	}
	return slipway.Errorf(slipway.EConflict, "Question %s was already answered %q by %s at %s.", q.ID, q.Value, q.SettledBy, q.SettledAt.Format(time.RFC3339))
}
