package httpapi

import (
	"context"
	"net/http"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
)

// Webhooks serves the /triggers routes (a tool's push webhook);
// internal/trigger implements it. Errors are [*slipway.Error] values as
// for [Service].
type Webhooks interface {
	// Get returns the tool's webhook and its newest deliveries.
	Get(ctx context.Context, tool string) (slipway.Webhook, []slipway.WebhookDelivery, error)
	// Rotate makes the webhook a new secret and returns it.
	Rotate(ctx context.Context, tool string) (slipway.Webhook, string, error)
	// Delete deletes the webhook's secret.
	Delete(ctx context.Context, tool string) error
	// Receive takes a forge's delivery, authenticated by its signature.
	Receive(ctx context.Context, tool string, h http.Header, body []byte) (slipway.WebhookDelivery, error)
}

// MaxWebhookBodyBytes limits a webhook delivery's body: a forge's push
// with many commits is bigger than the API's usual limit.
const MaxWebhookBodyBytes = 5 << 20

// webhookRequest returns the webhooks and the {tool} of r, or answers the
// error and returns ok false.
func (a *api) webhookRequest(w http.ResponseWriter, r *http.Request) (Webhooks, string, bool) {
	tool, err := toolName(r)
	if err != nil {
		a.writeError(w, r, err)
		return nil, "", false
	}
	if a.cfg.Webhooks == nil {
		a.writeError(w, r, slipway.Errorf(slipway.EUnavailable, "Push webhooks are not enabled on this server."))
		return nil, "", false
	}
	return a.cfg.Webhooks, tool, true
}

// toWebhook returns the wire form of a webhook and its deliveries.
func toWebhook(wh slipway.Webhook, ds []slipway.WebhookDelivery) oapi.Webhook {
	out := oapi.Webhook{Tool: wh.Tool, Configured: wh.Configured, Path: wh.Path, Deliveries: make([]oapi.WebhookDelivery, len(ds))}
	if !wh.CreatedAt.IsZero() {
		out.CreatedAt = new(wh.CreatedAt.UTC())
	}
	for i, d := range ds {
		out.Deliveries[i] = toWebhookDelivery(d)
	}
	return out
}

// toWebhookDelivery returns the wire form of a delivery.
func toWebhookDelivery(d slipway.WebhookDelivery) oapi.WebhookDelivery {
	return oapi.WebhookDelivery{
		Id: d.ID, Provider: oapi.WebhookDeliveryProvider(d.Provider), Event: d.Event, ReceivedAt: d.ReceivedAt.UTC(),
		Ref: optional(d.Ref), Commit: optional(d.Commit), Pusher: optional(d.Pusher),
		Outcome: oapi.WebhookDeliveryOutcome(d.Outcome), Message: optional(d.Message), DeploymentId: optional(d.DeploymentID),
	}
}

// handleWebhookGet serves GET /triggers/v1/tool/{tool}/webhook.
func (a *api) handleWebhookGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.webhookRequest(w, r)
		if !ok {
			return
		}
		wh, ds, err := svc.Get(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.WebhookEnvelope{Data: toWebhook(wh, ds), Messages: messages(nil, nil, nil)})
	})
}

// handleWebhookRotate serves POST /triggers/v1/tool/{tool}/webhook/secret.
func (a *api) handleWebhookRotate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.webhookRequest(w, r)
		if !ok {
			return
		}
		wh, secret, err := svc.Rotate(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := oapi.WebhookSecretEnvelope{Messages: messages([]string{"A new webhook secret was made; it is shown this once and the old one no longer signs."}, nil, nil)}
		out.Data.Webhook, out.Data.Secret = toWebhook(wh, nil), secret
		writeJSON(w, http.StatusCreated, out)
	})
}

// handleWebhookDelete serves DELETE /triggers/v1/tool/{tool}/webhook/secret.
func (a *api) handleWebhookDelete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.webhookRequest(w, r)
		if !ok {
			return
		}
		if err := svc.Delete(r.Context(), tool); err != nil {
			a.writeError(w, r, err)
			return
		}
		wh, ds, err := svc.Get(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.WebhookEnvelope{Data: toWebhook(wh, ds), Messages: messages([]string{"The webhook secret was deleted: pushes are refused from now on."}, nil, nil)})
	})
}

// handleWebhookReceive serves POST /triggers/v1/tool/{tool}/webhook: a
// forge's delivery, with no bearer token (its signature authenticates).
func (a *api) handleWebhookReceive() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.webhookRequest(w, r)
		if !ok {
			return
		}
		body, err := readBodyMax(w, r, MaxWebhookBodyBytes)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		d, err := svc.Receive(r.Context(), tool, r.Header, body)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		status := http.StatusOK
		if d.Outcome == slipway.WebhookDeployed {
			status = http.StatusAccepted
		}
		writeJSON(w, status, oapi.WebhookDeliveryEnvelope{Data: toWebhookDelivery(d), Messages: messages([]string{d.Message}, nil, nil)})
	})
}
