package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
)

// Webhook is a tool's push webhook as the API sends it.
type Webhook = oapiclient.Webhook

// WebhookDelivery is one delivery of a webhook's log.
type WebhookDelivery = oapiclient.WebhookDelivery

// WebhookGet returns the tool's push webhook and its newest deliveries;
// decode it with [Envelope.Webhook].
func (c *Client) WebhookGet(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GetWebhook(ctx, tool) })
}

// WebhookRotate makes the tool's push webhook a new secret; decode the
// answer with [Envelope.WebhookSecret] (the only time it is shown).
func (c *Client) WebhookRotate(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.RotateWebhookSecret(ctx, tool) })
}

// WebhookDelete deletes the tool's push webhook secret.
func (c *Client) WebhookDelete(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.DeleteWebhookSecret(ctx, tool) })
}

// Webhook decodes the answer of [Client.WebhookGet] and
// [Client.WebhookDelete].
func (e Envelope) Webhook() (Webhook, error) {
	var w Webhook
	if err := json.Unmarshal(e.Data, &w); err != nil {
		return w, fmt.Errorf("decode webhook: %w", err)
	}
	return w, nil
}

// WebhookSecret decodes the answer of [Client.WebhookRotate].
func (e Envelope) WebhookSecret() (Webhook, string, error) {
	var v struct {
		Webhook Webhook `json:"webhook"`
		Secret  string  `json:"secret"`
	}
	if err := json.Unmarshal(e.Data, &v); err != nil {
		return v.Webhook, "", fmt.Errorf("decode webhook secret: %w", err)
	}
	return v.Webhook, v.Secret, nil
}
