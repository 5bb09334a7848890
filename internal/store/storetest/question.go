package storetest

import (
	"fmt"
	"sync"
	"testing"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// question returns an open gate question of a deployment step.
func question(tool, deploymentID, step, id string, created int) slipway.Question {
	return slipway.Question{
		ID: id, Tool: tool, DeploymentID: deploymentID, StepKey: step, Key: "gate",
		Origin: slipway.OriginGate, Prompt: "Live on **staging** — continue?",
		Options:    []slipway.QuestionOption{{Label: "Yes", Value: "yes"}, {Label: "No", Value: "no", Stop: true}},
		Policy:     slipway.AnswerPolicy{Answerers: []string{"tool", "tool-token:abc"}, Required: 2, ForbidInitiator: true},
		Initiator:  "tool-token:def",
		CreatedAt:  at(created),
		DeadlineAt: at(created + 60), OnDeadline: slipway.DeadlineDefault, Default: "no",
		State: slipway.QuestionOpen,
	}
}

func testQuestion(t *testing.T, f Factory) {
	t.Parallel()

	// A question round-trips whole; asking again with the same key gets
	// the first one; another tool cannot get it.
	t.Run("CreateGet", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		want := question("tool", "d1", "gate:web", "q-1", 1)
		want.Fields = []slipway.QuestionField{{Key: "why", Type: slipway.FieldSelect, Options: []string{"a", "b"}, Required: true, Default: "a"}}
		got, created := mustCreateQuestion(t, s, b, want)
		if !created || got.Seq <= 0 {
			t.Fatalf("create = seq %d, created %v; want a new question with a sequence number", got.Seq, created)
		}
		want.Seq = got.Seq
		diff(t, "created question", want, got)
		diff(t, "stored question", want, must(s.QuestionGet(b.ctx, "tool", "q-1"))(t))

		again := question("tool", "d1", "gate:web", "q-2", 2)
		again.Prompt = "another prompt"
		got2, created2 := mustCreateQuestion(t, s, b, again)
		if created2 || got2.ID != "q-1" {
			t.Errorf("asking again with the same key = %s (created %v); want q-1, not new", got2.ID, created2)
		}
		_, err := s.QuestionGet(b.ctx, "other", "q-1")
		wantNotFound(t, "another tool's question", err)
		_, err = s.QuestionGet(b.ctx, "tool", "q-9")
		wantNotFound(t, "an unknown question", err)
	})

	// Concurrent asks with one key make one question.
	t.Run("CreateRace", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			ids = map[string]int{}
		)
		for i := range 8 {
			wg.Go(func() {
				err := s.InTx(b.ctx, func(tx store.Tx) error {
					if err := tx.ToolLock(b.ctx, "tool", at(0)); err != nil {
						return err
					}
					q, _, err := tx.QuestionCreate(b.ctx, question("tool", "d1", "run:job", fmt.Sprintf("q-%d", i), i))
					if err == nil {
						mu.Lock()
						ids[q.ID]++
						mu.Unlock()
					}
					return err
				})
				if err != nil {
					t.Errorf("create %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if len(ids) != 1 {
			t.Errorf("8 concurrent asks with one key made %d questions: %v", len(ids), ids)
		}
	})

	// Settling is conditional: the first update from open wins, a second
	// one changes nothing.
	t.Run("UpdateOnce", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		q, _ := mustCreateQuestion(t, s, b, question("tool", "d1", "gate:web", "q-1", 1))
		q.Approvals = []string{"tool-token:abc"}
		if ok := must(s.QuestionUpdate(b.ctx, q, slipway.QuestionOpen))(t); !ok {
			t.Fatal("counting an approval on an open question changed nothing")
		}
		won := q
		won.State, won.Value, won.SettledBy, won.SettledAt, won.Comment = slipway.QuestionAnswered, "yes", "admin", at(5), "ship it"
		if ok := must(s.QuestionUpdate(b.ctx, won, slipway.QuestionOpen))(t); !ok {
			t.Fatal("the first answer did not settle the question")
		}
		lost := q
		lost.State, lost.Value, lost.SettledBy = slipway.QuestionRejected, "no", "tool-token:zzz"
		if ok := must(s.QuestionUpdate(b.ctx, lost, slipway.QuestionOpen))(t); ok {
			t.Error("a second answer settled a settled question")
		}
		diff(t, "settled question", won, must(s.QuestionGet(b.ctx, "tool", "q-1"))(t))
	})

	// Lists filter by tool, deployment and state, newest first.
	t.Run("List", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		a, _ := mustCreateQuestion(t, s, b, question("tool", "d1", "gate:a", "q-a", 1))
		mustCreateQuestion(t, s, b, question("tool", "d2", "gate:b", "q-b", 2))
		mustCreateQuestion(t, s, b, question("other", "d3", "gate:c", "q-c", 3))
		a.State, a.Value, a.SettledBy = slipway.QuestionAnswered, "yes", "admin"
		must(s.QuestionUpdate(b.ctx, a, slipway.QuestionOpen))(t)
		ids := func(f store.QuestionFilter) []string {
			t.Helper()
			var out []string
			for _, q := range must(s.QuestionList(b.ctx, f))(t) {
				out = append(out, q.ID)
			}
			return out
		}
		diff(t, "every question", []string{"q-c", "q-b", "q-a"}, ids(store.QuestionFilter{}))
		diff(t, "the tool's", []string{"q-b", "q-a"}, ids(store.QuestionFilter{Tool: "tool"}))
		diff(t, "open ones", []string{"q-c", "q-b"}, ids(store.QuestionFilter{State: slipway.QuestionOpen}))
		diff(t, "the tool's open ones", []string{"q-b"}, ids(store.QuestionFilter{Tool: "tool", State: slipway.QuestionOpen}))
		diff(t, "a deployment's", []string{"q-a"}, ids(store.QuestionFilter{DeploymentID: "d1"}))
		diff(t, "limited", []string{"q-c"}, ids(store.QuestionFilter{Limit: 1}))
		if got := ids(store.QuestionFilter{Tool: "nobody"}); got != nil {
			t.Errorf("an unknown tool's = %v, want none", got)
		}
	})

	// The log is append-only, numbered in order, and read per question.
	t.Run("Log", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		var seqs []int64
		for i, e := range []slipway.QuestionLogEntry{
			{QuestionID: "q-1", Tool: "tool", Kind: slipway.LogOpened, At: at(1)},
			{QuestionID: "q-2", Tool: "other", Kind: slipway.LogOpened, At: at(2)},
			{QuestionID: "q-1", Tool: "tool", Kind: slipway.LogRefused, Actor: "tool-token:def", Reason: "you started this deployment", Source: "cli", At: at(3)},
			{QuestionID: "q-1", Tool: "tool", Kind: slipway.LogAnswer, Actor: "admin", Value: "yes", Comment: "ok", Source: "ui", At: at(4)},
		} {
			seq := must(s.QuestionLogAppend(b.ctx, e))(t)
			if i > 0 && seq <= seqs[i-1] {
				t.Errorf("entry %d numbered %d after %d", i, seq, seqs[i-1])
			}
			seqs = append(seqs, seq)
		}
		log := must(s.QuestionLogList(b.ctx, "tool", "q-1"))(t)
		if len(log) != 3 || log[0].Kind != slipway.LogOpened || log[1].Reason != "you started this deployment" ||
			log[2].Value != "yes" || log[2].Source != "ui" || !log[2].At.Equal(at(4)) {
			t.Errorf("q-1's log = %+v", log)
		}
		if got := must(s.QuestionLogList(b.ctx, "other", "q-1"))(t); len(got) != 0 {
			t.Errorf("another tool read q-1's log: %+v", got)
		}
	})
}

// mustCreateQuestion creates q in a transaction holding the tool's lock.
func mustCreateQuestion(t *testing.T, s store.Store, b *testBundle, q slipway.Question) (slipway.Question, bool) {
	t.Helper()
	var (
		got     slipway.Question
		created bool
	)
	mustDo(t, s.InTx(b.ctx, func(tx store.Tx) error {
		var err error
		got, created, err = tx.QuestionCreate(b.ctx, q)
		return err
	}))
	return got, created
}
