package storetest

import (
	"sync"
	"testing"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

func delivery(tool, id string, n int) slipway.WebhookDelivery {
	return slipway.WebhookDelivery{
		Tool: tool, ID: id, Provider: "github", Event: "push", ReceivedAt: at(n),
		Ref: "refs/heads/main", Commit: "c0ffee", Pusher: "alice", Outcome: slipway.WebhookReceived,
	}
}

func testWebhook(t *testing.T, f Factory) {
	t.Parallel()

	t.Run("SecretPutGetDelete", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		_, err := s.WebhookGet(b.ctx, "tool")
		wantNotFound(t, "WebhookGet of a tool without one", err)
		wantNotFound(t, "WebhookDelete of a tool without one", s.WebhookDelete(b.ctx, "tool"))
		w := store.Webhook{Tool: "tool", Sealed: "sealed-1", CreatedAt: at(1).In(cet)}
		mustDo(t, s.WebhookPut(b.ctx, w))
		diff(t, "WebhookGet", w, must(s.WebhookGet(b.ctx, "tool"))(t))
		_, err = s.WebhookGet(b.ctx, "other")
		wantNotFound(t, "WebhookGet of another tool", err)
		w2 := store.Webhook{Tool: "tool", Sealed: "sealed-2", CreatedAt: at(2)}
		mustDo(t, s.WebhookPut(b.ctx, w2))
		diff(t, "WebhookGet after a rotation", w2, must(s.WebhookGet(b.ctx, "tool"))(t))
		if err := s.WebhookPut(b.ctx, store.Webhook{Tool: "tool", CreatedAt: at(3)}); err == nil {
			t.Error("WebhookPut without a sealed secret succeeded")
		}
		mustDo(t, s.WebhookDelete(b.ctx, "tool"))
		_, err = s.WebhookGet(b.ctx, "tool")
		wantNotFound(t, "WebhookGet after delete", err)
	})

	t.Run("DeliveriesAreRecordedOnce", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		d := delivery("tool", "d-1", 1)
		if added := must(s.WebhookDeliveryAdd(b.ctx, d))(t); !added {
			t.Fatal("first WebhookDeliveryAdd: not added")
		}
		again := d
		again.Commit, again.ReceivedAt = "other", at(5)
		if added := must(s.WebhookDeliveryAdd(b.ctx, again))(t); added {
			t.Error("second WebhookDeliveryAdd of the same ID: added (a replay must be refused)")
		}
		diff(t, "WebhookDeliveryGet after the replay", d, must(s.WebhookDeliveryGet(b.ctx, "tool", "d-1"))(t))
		// The same ID at another tool is another delivery.
		if added := must(s.WebhookDeliveryAdd(b.ctx, delivery("other", "d-1", 2)))(t); !added {
			t.Error("the same delivery ID at another tool: not added")
		}
		_, err := s.WebhookDeliveryGet(b.ctx, "tool", "d-2")
		wantNotFound(t, "WebhookDeliveryGet of a missing delivery", err)

		d.Outcome, d.Message, d.DeploymentID = slipway.WebhookDeployed, "deployed web", "20261207-000000-abcdefghij"
		mustDo(t, s.WebhookDeliveryUpdate(b.ctx, d))
		diff(t, "WebhookDeliveryGet after update", d, must(s.WebhookDeliveryGet(b.ctx, "tool", "d-1"))(t))
		wantNotFound(t, "WebhookDeliveryUpdate of a missing delivery", s.WebhookDeliveryUpdate(b.ctx, delivery("tool", "nope", 1)))
		if _, err := s.WebhookDeliveryAdd(b.ctx, slipway.WebhookDelivery{Tool: "tool", ID: "x"}); err == nil {
			t.Error("WebhookDeliveryAdd without a time or outcome succeeded")
		}
	})

	// Servers racing to record the same delivery (a forge that retried,
	// an attacker replaying): exactly one of them records it.
	t.Run("ConcurrentAddRecordsOnce", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		const n = 8
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			added int
		)
		for range n {
			wg.Go(func() {
				ok, err := s.WebhookDeliveryAdd(b.ctx, delivery("tool", "race", 1))
				if err != nil {
					t.Errorf("WebhookDeliveryAdd: %v", err)
				}
				if ok {
					mu.Lock()
					added++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if added != 1 {
			t.Errorf("%d of %d concurrent adds of one delivery recorded it, want 1", added, n)
		}
	})

	t.Run("ListNewestFirstAndPrune", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		diff(t, "WebhookDeliveryList of a tool without deliveries", []slipway.WebhookDelivery{}, must(s.WebhookDeliveryList(b.ctx, "tool", 0))(t))
		d1, d2, d3 := delivery("tool", "a", 1), delivery("tool", "b", 2), delivery("tool", "c", 3)
		for _, d := range []slipway.WebhookDelivery{d2, d1, d3, delivery("other", "z", 4)} {
			must(s.WebhookDeliveryAdd(b.ctx, d))(t)
		}
		diff(t, "WebhookDeliveryList", []slipway.WebhookDelivery{d3, d2, d1}, must(s.WebhookDeliveryList(b.ctx, "tool", 0))(t))
		diff(t, "WebhookDeliveryList, limit 2", []slipway.WebhookDelivery{d3, d2}, must(s.WebhookDeliveryList(b.ctx, "tool", 2))(t))
		if n := must(s.WebhookDeliveryPrune(b.ctx, at(3)))(t); n != 2 {
			t.Errorf("WebhookDeliveryPrune(before 3) = %d, want 2", n)
		}
		diff(t, "WebhookDeliveryList after prune", []slipway.WebhookDelivery{d3}, must(s.WebhookDeliveryList(b.ctx, "tool", 0))(t))
		if got := must(s.WebhookDeliveryList(b.ctx, "other", 0))(t); len(got) != 1 {
			t.Errorf("another tool's deliveries after prune = %d, want 1", len(got))
		}
	})
}

func testPollState(t *testing.T, f Factory) {
	t.Parallel()

	t.Run("ConfigVersions", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		diff(t, "ConfigVersions of nothing", map[string]int{}, must(s.ConfigVersions(b.ctx))(t))
		for _, tool := range []string{"a", "a", "b", "a"} {
			mustDo(t, s.ToolEnsure(b.ctx, tool, at(0)))
			must(s.ConfigCreate(b.ctx, tool, []byte(`{"components":{}}`), at(1)))(t)
		}
		must(s.ConfigDelete(b.ctx, "b", at(2)))(t)
		diff(t, "ConfigVersions", map[string]int{"a": 3, "b": 2}, must(s.ConfigVersions(b.ctx))(t))
	})

	t.Run("AdvanceOnlyFromTheCommitHeld", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		diff(t, "PollStateList of nothing", []store.PollState{}, must(s.PollStateList(b.ctx, ""))(t))
		first := store.PollState{Tool: "tool", Component: "web", Ref: "main", Commit: "aaa", SeenAt: at(1).In(cet)}
		if !must(s.PollStateAdvance(b.ctx, "", first))(t) {
			t.Fatal("first advance from none: not done")
		}
		if must(s.PollStateAdvance(b.ctx, "", first))(t) {
			t.Error("a second advance from none: done (there is a state)")
		}
		next := store.PollState{Tool: "tool", Component: "web", Ref: "main", Commit: "bbb", SeenAt: at(2)}
		if must(s.PollStateAdvance(b.ctx, "zzz", next))(t) {
			t.Error("advance from a commit not held: done")
		}
		if !must(s.PollStateAdvance(b.ctx, "aaa", next))(t) {
			t.Error("advance from the commit held: not done")
		}
		if must(s.PollStateAdvance(b.ctx, "aaa", next))(t) {
			t.Error("the same advance twice: done twice")
		}
		other := store.PollState{Tool: "other", Component: "web", Ref: "dev", Commit: "ccc", SeenAt: at(3)}
		must(s.PollStateAdvance(b.ctx, "", other))(t)
		api := store.PollState{Tool: "tool", Component: "api", Ref: "main", Commit: "ddd", SeenAt: at(4)}
		must(s.PollStateAdvance(b.ctx, "", api))(t)
		diff(t, "PollStateList", []store.PollState{other, api, next}, must(s.PollStateList(b.ctx, ""))(t))
		diff(t, "PollStateList of tool", []store.PollState{api, next}, must(s.PollStateList(b.ctx, "tool"))(t))
		if n := must(s.PollStateDelete(b.ctx, "tool", []string{"web"}))(t); n != 1 {
			t.Errorf("PollStateDelete keeping web = %d, want 1", n)
		}
		diff(t, "PollStateList after delete", []store.PollState{other, next}, must(s.PollStateList(b.ctx, ""))(t))
		if _, err := s.PollStateAdvance(b.ctx, "", store.PollState{Tool: "tool", Component: "x"}); err == nil {
			t.Error("PollStateAdvance without a commit or time succeeded")
		}
	})

	// Servers racing to advance the same state: exactly one does.
	t.Run("ConcurrentAdvanceOnce", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		must(s.PollStateAdvance(b.ctx, "", store.PollState{Tool: "tool", Component: "web", Ref: "main", Commit: "aaa", SeenAt: at(1)}))(t)
		var (
			wg sync.WaitGroup
			mu sync.Mutex
			n  int
		)
		for range 8 {
			wg.Go(func() {
				ok, err := s.PollStateAdvance(b.ctx, "aaa", store.PollState{Tool: "tool", Component: "web", Ref: "main", Commit: "bbb", SeenAt: at(2)})
				if err != nil {
					t.Errorf("PollStateAdvance: %v", err)
				}
				if ok {
					mu.Lock()
					n++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if n != 1 {
			t.Errorf("%d of 8 concurrent advances done, want 1", n)
		}
	})
}
