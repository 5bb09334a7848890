package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
)

// EnvironmentStatus is one environment of a tool with what runs there.
type EnvironmentStatus = oapiclient.EnvironmentStatus

// Promotion is what promoting an environment's upstream to it would do.
type Promotion = oapiclient.Promotion

// EnvironmentList returns the tool's environments, in promotion order.
func (c *Client) EnvironmentList(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ListEnvironments(ctx, tool) })
}

// Environments decodes the data as a list of environments.
func (e Envelope) Environments() ([]EnvironmentStatus, error) {
	var out []EnvironmentStatus
	if err := json.Unmarshal(e.Data, &out); err != nil {
		return nil, fmt.Errorf("decode environments: %w", err)
	}
	return out, nil
}

// PromotionPreview asks what promoting env's upstream to env would do;
// nothing changes.
func (c *Client) PromotionPreview(ctx context.Context, tool, env string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.PreviewPromotion(ctx, tool, env) })
}

// Promotion decodes the data as a promotion preview.
func (e Envelope) Promotion() (Promotion, error) {
	var p Promotion
	if err := json.Unmarshal(e.Data, &p); err != nil {
		return p, fmt.Errorf("decode promotion: %w", err)
	}
	return p, nil
}

// Promote creates a deployment of env with the builds live and healthy in
// its upstream; the data is the new deployment.
func (c *Client) Promote(ctx context.Context, tool, env, description string) (Envelope, error) {
	var req oapiclient.PromoteRequest
	if description != "" {
		req.Description = &description
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) {
		return c.raw.PromoteEnvironment(ctx, tool, env, req)
	})
}
