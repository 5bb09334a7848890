package httpapi

import (
	"context"
	"net/http"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
)

// Notifications serves the /notifications routes (a tool's outbound
// notifications); internal/notify implements it. Errors are
// [*slipway.Error] values as for [Service].
type Notifications interface {
	// Subscribe adds a subscription and returns it with a webhook's
	// signing secret.
	Subscribe(ctx context.Context, tool string, in slipway.NotifySubscriptionRequest) (slipway.NotifySubscription, string, error)
	// List returns the tool's subscriptions.
	List(ctx context.Context, tool string) ([]slipway.NotifySubscription, error)
	// Unsubscribe removes one.
	Unsubscribe(ctx context.Context, tool, id string) error
	// Deliveries returns the newest deliveries (of one subscription when
	// it is not "").
	Deliveries(ctx context.Context, tool, subscription string) ([]slipway.NotifyDelivery, error)
	// Delivery returns one delivery with its attempts.
	Delivery(ctx context.Context, tool, id string) (slipway.NotifyDelivery, []slipway.NotifyAttempt, error)
	// Redeliver sends a delivery again, as one more attempt.
	Redeliver(ctx context.Context, tool, id string) (slipway.NotifyDelivery, []slipway.NotifyAttempt, error)
}

// notifyRequest returns the notifications and the {tool} of r, or answers
// the error and returns ok false.
func (a *api) notifyRequest(w http.ResponseWriter, r *http.Request) (Notifications, string, bool) {
	tool, err := toolName(r)
	if err != nil {
		a.writeError(w, r, err)
		return nil, "", false
	}
	if a.cfg.Notifications == nil {
		a.writeError(w, r, slipway.Errorf(slipway.EUnavailable, "Outbound notifications are not enabled on this server."))
		return nil, "", false
	}
	return a.cfg.Notifications, tool, true
}

func toNotifySubscription(s slipway.NotifySubscription) oapi.NotifySubscription {
	out := oapi.NotifySubscription{
		Id: s.ID, Tool: s.Tool, Kind: oapi.NotifySubscriptionKind(s.Kind), Target: s.Target,
		Events: make([]oapi.NotifyEvent, len(s.Events)), CreatedAt: s.CreatedAt.UTC(), CreatedBy: optional(s.CreatedBy),
	}
	for i, e := range s.Events {
		out.Events[i] = oapi.NotifyEvent(e)
	}
	return out
}

func toNotifySubscriptions(ss []slipway.NotifySubscription) []oapi.NotifySubscription {
	out := make([]oapi.NotifySubscription, len(ss))
	for i, s := range ss {
		out[i] = toNotifySubscription(s)
	}
	return out
}

func toNotifyDelivery(d slipway.NotifyDelivery, as []slipway.NotifyAttempt) oapi.NotifyDelivery {
	out := oapi.NotifyDelivery{
		Id: d.ID, Tool: d.Tool, SubscriptionId: d.SubscriptionID, Event: oapi.NotifyEvent(d.Event), Subject: d.Subject,
		CreatedAt: d.CreatedAt.UTC(), State: oapi.NotifyDeliveryState(d.State), Attempts: d.Attempts,
		MaxAttempts: d.MaxAttempts, LastError: optional(d.LastError), UpdatedAt: d.UpdatedAt.UTC(),
	}
	if d.LastStatus != 0 {
		out.LastStatus = new(d.LastStatus)
	}
	if as != nil {
		log := make([]oapi.NotifyAttempt, len(as))
		for i, a := range as {
			log[i] = oapi.NotifyAttempt{
				N: a.N, At: a.At.UTC(), StatusCode: a.StatusCode, Error: optional(a.Error),
				DurationMs: a.Duration.Milliseconds(), Response: optional(a.Response),
			}
		}
		out.AttemptLog = &log
	}
	return out
}

// handleNotifyList serves GET /notifications/v1/tool/{tool}/subscriptions.
func (a *api) handleNotifyList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.notifyRequest(w, r)
		if !ok {
			return
		}
		ss, err := svc.List(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.NotifySubscriptionListEnvelope{Data: toNotifySubscriptions(ss), Messages: messages(nil, nil, nil)})
	})
}

// handleNotifySubscribe serves POST /notifications/v1/tool/{tool}/subscriptions.
func (a *api) handleNotifySubscribe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.notifyRequest(w, r)
		if !ok {
			return
		}
		body, err := a.readBody(w, r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		var req oapi.NotifySubscriptionCreate
		if err := decodeJSON(body, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		in := slipway.NotifySubscriptionRequest{Kind: slipway.NotifyKind(req.Kind), Target: req.Target}
		if req.Events != nil {
			in.Events = *req.Events
		}
		sub, secret, err := svc.Subscribe(r.Context(), tool, in)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := oapi.NotifySubscriptionCreatedEnvelope{Messages: messages(nil, nil, nil)}
		out.Data.Subscription = toNotifySubscription(sub)
		if secret != "" {
			out.Data.Secret = &secret
			out.Messages = messages([]string{"The webhook's signing secret is shown this once: give it to the receiver."}, nil, nil)
		}
		writeJSON(w, http.StatusCreated, out)
	})
}

// handleNotifyUnsubscribe serves DELETE
// /notifications/v1/tool/{tool}/subscriptions/{subscription_id}.
func (a *api) handleNotifyUnsubscribe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.notifyRequest(w, r)
		if !ok {
			return
		}
		id := r.PathValue("subscription_id")
		if err := svc.Unsubscribe(r.Context(), tool, id); err != nil {
			a.writeError(w, r, err)
			return
		}
		ss, err := svc.List(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.NotifySubscriptionListEnvelope{
			Data: toNotifySubscriptions(ss), Messages: messages([]string{"Subscription " + id + " was removed; its delivery log stays."}, nil, nil),
		})
	})
}

// handleNotifyDeliveries serves GET /notifications/v1/tool/{tool}/deliveries.
func (a *api) handleNotifyDeliveries() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.notifyRequest(w, r)
		if !ok {
			return
		}
		ds, err := svc.Deliveries(r.Context(), tool, r.URL.Query().Get("subscription"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := oapi.NotifyDeliveryListEnvelope{Data: make([]oapi.NotifyDelivery, len(ds)), Messages: messages(nil, nil, nil)}
		for i, d := range ds {
			out.Data[i] = toNotifyDelivery(d, nil)
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// handleNotifyDelivery serves GET
// /notifications/v1/tool/{tool}/deliveries/{delivery_id}.
func (a *api) handleNotifyDelivery() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.notifyRequest(w, r)
		if !ok {
			return
		}
		d, as, err := svc.Delivery(r.Context(), tool, r.PathValue("delivery_id"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.NotifyDeliveryEnvelope{Data: toNotifyDelivery(d, as), Messages: messages(nil, nil, nil)})
	})
}

// handleNotifyRedeliver serves POST
// /notifications/v1/tool/{tool}/deliveries/{delivery_id}/redeliver.
func (a *api) handleNotifyRedeliver() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.notifyRequest(w, r)
		if !ok {
			return
		}
		d, as, err := svc.Redeliver(r.Context(), tool, r.PathValue("delivery_id"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.NotifyDeliveryEnvelope{Data: toNotifyDelivery(d, as), Messages: messages(nil, nil, nil)})
	})
}
