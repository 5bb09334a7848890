package storetest

import (
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

func notifyDelivery(tool, id, sub string, n int) slipway.NotifyDelivery {
	return slipway.NotifyDelivery{
		ID: id, Tool: tool, SubscriptionID: sub, Event: slipway.NotifyDeploymentFailed, Subject: "dep-" + id,
		Payload: []byte(`{"event":"deployment.failed"}`), CreatedAt: at(n), State: slipway.NotifyPending,
		MaxAttempts: 5, UpdatedAt: at(n),
	}
}

func testNotify(t *testing.T, f Factory) {
	t.Parallel()

	t.Run("Subscriptions", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		if got := must(s.NotifySubscriptionList(b.ctx, "tool"))(t); len(got) != 0 {
			t.Fatalf("NotifySubscriptionList of a tool without any: %v", got)
		}
		hook := store.NotifySubscription{NotifySubscription: slipway.NotifySubscription{
			ID: "ns-1", Tool: "tool", Kind: slipway.NotifyWebhook, Target: "https://example.org/hook",
			Events:    []slipway.NotifyEvent{slipway.NotifyDeploymentFailed, slipway.NotifyQuestionPending},
			CreatedAt: at(1), CreatedBy: "tool-token:1",
		}, Sealed: "sealed"}
		mail := store.NotifySubscription{NotifySubscription: slipway.NotifySubscription{
			ID: "ns-2", Tool: "tool", Kind: slipway.NotifyEmail, Target: "ops@example.org", CreatedAt: at(2),
		}}
		mustDo(t, s.NotifySubscriptionCreate(b.ctx, hook))
		mustDo(t, s.NotifySubscriptionCreate(b.ctx, mail))
		if err := s.NotifySubscriptionCreate(b.ctx, hook); err == nil {
			t.Error("a second NotifySubscriptionCreate with the same ID succeeded")
		}
		diff(t, "NotifySubscriptionGet", hook, must(s.NotifySubscriptionGet(b.ctx, "tool", "ns-1"))(t))
		diff(t, "NotifySubscriptionList", []store.NotifySubscription{hook, mail}, must(s.NotifySubscriptionList(b.ctx, "tool"))(t))
		_, err := s.NotifySubscriptionGet(b.ctx, "other", "ns-1")
		wantNotFound(t, "NotifySubscriptionGet of another tool's", err)
		wantNotFound(t, "NotifySubscriptionDelete of another tool's", s.NotifySubscriptionDelete(b.ctx, "other", "ns-1"))
		mustDo(t, s.NotifySubscriptionDelete(b.ctx, "tool", "ns-1"))
		_, err = s.NotifySubscriptionGet(b.ctx, "tool", "ns-1")
		wantNotFound(t, "NotifySubscriptionGet after delete", err)
	})

	t.Run("DeliveriesAndAttempts", func(t *testing.T) {
		t.Parallel()
		s, b := setup(t, f)
		d := notifyDelivery("tool", "nd-1", "ns-1", 1)
		if !must(s.NotifyDeliveryAdd(b.ctx, d))(t) {
			t.Fatal("first NotifyDeliveryAdd: not added")
		}
		again := d
		again.ID = "nd-2"
		if must(s.NotifyDeliveryAdd(b.ctx, again))(t) {
			t.Error("NotifyDeliveryAdd of the same subscription, event and subject: added twice")
		}
		mustDo(t, mustAdd(s.NotifyDeliveryAdd(b.ctx, notifyDelivery("tool", "nd-3", "ns-2", 3))))
		mustDo(t, mustAdd(s.NotifyDeliveryAdd(b.ctx, notifyDelivery("other", "nd-4", "ns-9", 4))))
		diff(t, "NotifyDeliveryGet", d, must(s.NotifyDeliveryGet(b.ctx, "tool", "nd-1"))(t))
		_, err := s.NotifyDeliveryGet(b.ctx, "other", "nd-1")
		wantNotFound(t, "NotifyDeliveryGet of another tool's", err)

		d.State, d.Attempts, d.LastStatus, d.LastError, d.UpdatedAt = slipway.NotifyDelivered, 2, 200, "", at(5)
		mustDo(t, s.NotifyDeliveryUpdate(b.ctx, d))
		diff(t, "NotifyDeliveryGet after update", d, must(s.NotifyDeliveryGet(b.ctx, "tool", "nd-1"))(t))
		wantNotFound(t, "NotifyDeliveryUpdate of a missing one", s.NotifyDeliveryUpdate(b.ctx, notifyDelivery("tool", "nope", "ns-1", 1)))

		ids := func(ds []slipway.NotifyDelivery) []string {
			out := []string{}
			for _, d := range ds {
				out = append(out, d.ID)
			}
			return out
		}
		diff(t, "NotifyDeliveryList", []string{"nd-3", "nd-1"}, ids(must(s.NotifyDeliveryList(b.ctx, "tool", "", 0))(t)))
		diff(t, "NotifyDeliveryList of a subscription", []string{"nd-1"}, ids(must(s.NotifyDeliveryList(b.ctx, "tool", "ns-1", 0))(t)))
		diff(t, "NotifyDeliveryList limited", []string{"nd-3"}, ids(must(s.NotifyDeliveryList(b.ctx, "tool", "", 1))(t)))

		a1 := slipway.NotifyAttempt{DeliveryID: "nd-1", N: 1, Tool: "tool", At: at(2), StatusCode: 500, Error: "HTTP 500", Duration: 12 * time.Millisecond, Response: "oops"}
		a2 := slipway.NotifyAttempt{DeliveryID: "nd-1", N: 2, Tool: "tool", At: at(3), StatusCode: 200, Duration: 3 * time.Millisecond}
		mustDo(t, s.NotifyAttemptAdd(b.ctx, a2))
		mustDo(t, s.NotifyAttemptAdd(b.ctx, a1))
		if err := s.NotifyAttemptAdd(b.ctx, a1); err == nil {
			t.Error("a second attempt with the same number was recorded")
		}
		diff(t, "NotifyAttemptList", []slipway.NotifyAttempt{a1, a2}, must(s.NotifyAttemptList(b.ctx, "tool", "nd-1"))(t))
		if got := must(s.NotifyAttemptList(b.ctx, "other", "nd-1"))(t); len(got) != 0 {
			t.Errorf("NotifyAttemptList of another tool: %v", got)
		}

		if n := must(s.NotifyDeliveryPrune(b.ctx, at(3)))(t); n != 1 {
			t.Errorf("NotifyDeliveryPrune: deleted %d, want 1", n)
		}
		_, err = s.NotifyDeliveryGet(b.ctx, "tool", "nd-1")
		wantNotFound(t, "NotifyDeliveryGet after prune", err)
		if got := must(s.NotifyAttemptList(b.ctx, "tool", "nd-1"))(t); len(got) != 0 {
			t.Errorf("attempts after their delivery was pruned: %v", got)
		}
		diff(t, "NotifyDeliveryList after prune", []string{"nd-3"}, ids(must(s.NotifyDeliveryList(b.ctx, "tool", "", 0))(t)))
	})
}

func mustAdd(added bool, err error) error {
	if err == nil && !added {
		return errNotAdded
	}
	return err
}

type notAddedError struct{}

func (notAddedError) Error() string { return "not added" }

var errNotAdded = notAddedError{}
