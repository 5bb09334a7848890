package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
)

// NotifySubscription is one of a tool's outbound notification
// subscriptions as the API sends it.
type NotifySubscription = oapiclient.NotifySubscription

// NotifyDelivery is one notification delivery (with its attempts when
// read alone).
type NotifyDelivery = oapiclient.NotifyDelivery

// NotifyList returns the tool's subscriptions; decode them with
// [Envelope.NotifySubscriptions].
func (c *Client) NotifyList(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ListNotifySubscriptions(ctx, tool) })
}

// NotifySubscribe adds a subscription (kind webhook or email); decode the
// answer with [Envelope.NotifySubscribed].
func (c *Client) NotifySubscribe(ctx context.Context, tool, kind, target string, events []string) (Envelope, error) {
	body := oapiclient.NotifySubscriptionCreate{Kind: oapiclient.NotifySubscriptionCreateKind(kind), Target: target}
	if len(events) > 0 {
		body.Events = &events
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) {
		return c.raw.CreateNotifySubscription(ctx, tool, body)
	})
}

// NotifyUnsubscribe removes a subscription; the answer holds those left.
func (c *Client) NotifyUnsubscribe(ctx context.Context, tool, id string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) {
		return c.raw.DeleteNotifySubscription(ctx, tool, id)
	})
}

// NotifyDeliveries returns the tool's newest deliveries (one
// subscription's when it is not ""); decode them with
// [Envelope.NotifyDeliveries].
func (c *Client) NotifyDeliveries(ctx context.Context, tool, subscription string) (Envelope, error) {
	params := &oapiclient.ListNotifyDeliveriesParams{}
	if subscription != "" {
		params.Subscription = &subscription
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) {
		return c.raw.ListNotifyDeliveries(ctx, tool, params)
	})
}

// NotifyDelivery returns one delivery with its attempts; decode it with
// [Envelope.NotifyDelivery].
func (c *Client) NotifyDelivery(ctx context.Context, tool, id string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GetNotifyDelivery(ctx, tool, id) })
}

// NotifyRedeliver sends a delivery again as one more attempt; decode the
// answer with [Envelope.NotifyDelivery].
func (c *Client) NotifyRedeliver(ctx context.Context, tool, id string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.RedeliverNotification(ctx, tool, id) })
}

// NotifySubscriptions decodes the answer of [Client.NotifyList] and
// [Client.NotifyUnsubscribe].
func (e Envelope) NotifySubscriptions() ([]NotifySubscription, error) {
	var ss []NotifySubscription
	if err := json.Unmarshal(e.Data, &ss); err != nil {
		return nil, fmt.Errorf("decode subscriptions: %w", err)
	}
	return ss, nil
}

// NotifySubscribed decodes the answer of [Client.NotifySubscribe]: the
// subscription and a webhook's secret.
func (e Envelope) NotifySubscribed() (NotifySubscription, string, error) {
	var v struct {
		Subscription NotifySubscription `json:"subscription"`
		Secret       string             `json:"secret"`
	}
	if err := json.Unmarshal(e.Data, &v); err != nil {
		return v.Subscription, "", fmt.Errorf("decode subscription: %w", err)
	}
	return v.Subscription, v.Secret, nil
}

// NotifyDeliveries decodes the answer of [Client.NotifyDeliveries].
func (e Envelope) NotifyDeliveries() ([]NotifyDelivery, error) {
	var ds []NotifyDelivery
	if err := json.Unmarshal(e.Data, &ds); err != nil {
		return nil, fmt.Errorf("decode deliveries: %w", err)
	}
	return ds, nil
}

// NotifyDelivery decodes the answer of [Client.NotifyDelivery] and
// [Client.NotifyRedeliver].
func (e Envelope) NotifyDelivery() (NotifyDelivery, error) {
	var d NotifyDelivery
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return d, fmt.Errorf("decode delivery: %w", err)
	}
	return d, nil
}
