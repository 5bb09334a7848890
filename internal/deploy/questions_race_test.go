package deploy

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// gated records a running deployment waiting at gate:web with its open
// question (as openGate leaves it), and returns both.
func gated(t *testing.T, st store.Store, round int) (slipway.Deployment, slipway.Question) {
	t.Helper()
	ctx, now := t.Context(), time.Now().UTC()
	d := slipway.Deployment{
		ID: fmt.Sprintf("20260101-000000-gated%05d", round), Tool: "tool", CreatedAt: now, UpdatedAt: now,
		Status: slipway.DeploymentRunning, Trigger: "api", ToolConfig: []byte(`{"components":{}}`), Actor: "tool-token:ci",
	}
	steps := []slipway.Step{
		{Key: "gate:web", Kind: slipway.StepGate, Component: "web", Action: slipway.ActionAsk, State: slipway.StepWaiting, Attempt: 1, StartedAt: now},
		{Key: "run:web", Kind: slipway.StepRun, Component: "web", Action: slipway.ActionApply, Needs: []string{"gate:web"}, State: slipway.StepPending},
	}
	for i := range steps {
		steps[i].DeploymentID = d.ID
	}
	q := slipway.Gate{Question: "Ship?"}.QuestionOf()
	q.ID, q.Tool, q.DeploymentID, q.StepKey, q.Initiator = newQuestionID(), "tool", d.ID, "gate:web", d.Actor
	q.CreatedAt, q.DeadlineAt, q.State = now, now.Add(time.Hour), slipway.QuestionOpen
	err := st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.ToolLock(ctx, "tool", now); err != nil {
			return err
		}
		if err := tx.DeploymentCreate(ctx, d); err != nil {
			return err
		}
		if err := tx.StepsCreate(ctx, steps); err != nil {
			return err
		}
		var err error
		q, _, err = tx.QuestionCreate(ctx, q)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return d, q
}

// TestQuestions_AnswerRacesDeadline: two answers and the deadline job
// settling one gate at the same instant, on either store: exactly one
// wins, the question's log has exactly one settling entry, the gate
// step's outcome matches the question, and the run step is enqueued only
// when the winner was the answer.
func TestQuestions_AnswerRacesDeadline(t *testing.T) {
	t.Parallel()
	for _, es := range engineStores {
		t.Run(es.name, func(t *testing.T) {
			t.Parallel()
			st, driver := es.open(t)
			eng, rec := diamondService(t, st, driver)
			qs := NewQuestions(eng)
			const rounds = 12
			for round := range rounds {
				d, q := gated(t, st, round)
				var (
					wg    sync.WaitGroup
					start = make(chan struct{})
					errs  = make([]error, 3)
				)
				for i, who := range []string{"alice", "bob"} {
					wg.Go(func() {
						<-start
						_, errs[i] = qs.QuestionAnswer(asToken(t.Context(), "tool", who), "tool", q.ID, slipway.Answer{Value: "continue"})
					})
				}
				wg.Go(func() {
					<-start
					errs[2] = eng.QuestionDeadline(t.Context(), "tool", d.ID, q.ID)
				})
				close(start)
				wg.Wait()
				won := 0
				for i, err := range errs[:2] {
					switch {
					case err == nil:
						won++
					case slipway.ErrorCode(err) != slipway.EConflict:
						t.Fatalf("round %d: answer %d: %v, want success or 409", round, i, err)
					}
				}
				if errs[2] != nil {
					t.Fatalf("round %d: deadline: %v", round, errs[2])
				}
				got, err := st.QuestionGet(t.Context(), "tool", q.ID)
				if err != nil {
					t.Fatal(err)
				}
				log, err := st.QuestionLogList(t.Context(), "tool", q.ID)
				if err != nil {
					t.Fatal(err)
				}
				settling := 0
				for _, e := range log {
					if e.Kind == slipway.LogAnswer || e.Kind == slipway.LogExpired || e.Kind == slipway.LogSettled {
						settling++
					}
				}
				gate, err := st.StepGet(t.Context(), d.ID, "gate:web")
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case settling != 1:
					t.Fatalf("round %d: %d settling log entries, want 1: %+v", round, settling, log)
				case got.State == slipway.QuestionAnswered && (won != 1 || gate.State != slipway.StepDone || !rec.enqueued(d.ID, "run:web")):
					t.Fatalf("round %d: answered, yet %d answers won, gate %s, run enqueued %v", round, won, gate.State, rec.enqueued(d.ID, "run:web"))
				case got.State == slipway.QuestionExpired && (won != 0 || gate.State != slipway.StepTimedOut || rec.enqueued(d.ID, "run:web")):
					t.Fatalf("round %d: expired, yet %d answers won, gate %s, run enqueued %v", round, won, gate.State, rec.enqueued(d.ID, "run:web"))
				case got.State != slipway.QuestionAnswered && got.State != slipway.QuestionExpired:
					t.Fatalf("round %d: question %s, want answered or expired", round, got.State)
				}
			}
		})
	}
}
