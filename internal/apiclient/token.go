package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
	"slipway.dev/slipway/internal/slipway"
)

// DeployTokenGet returns the tool's deploy token.
func (c *Client) DeployTokenGet(ctx context.Context, tool string) (Envelope, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	r, err := c.api.GetDeployTokenWithResponse(ctx, tool)
	if err != nil {
		return c.result(ctx, nil, nil, err)
	}
	return c.envelope(r.HTTPResponse, r.Body)
}

// DeployTokenCreate creates the tool's deploy token; EConflict when it has
// one.
func (c *Client) DeployTokenCreate(ctx context.Context, tool string) (Envelope, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	r, err := c.api.CreateDeployTokenWithResponse(ctx, tool)
	if err != nil {
		return c.result(ctx, nil, nil, err)
	}
	return c.envelope(r.HTTPResponse, r.Body)
}

// DeployTokenRefresh replaces the tool's deploy token with a new one;
// ENotFound when it has none.
func (c *Client) DeployTokenRefresh(ctx context.Context, tool string) (Envelope, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	r, err := c.api.RefreshDeployTokenWithResponse(ctx, tool)
	if err != nil {
		return c.result(ctx, nil, nil, err)
	}
	return c.envelope(r.HTTPResponse, r.Body)
}

// DeployTokenDelete deletes the tool's deploy token; the data is the deleted
// token. ENotFound when it has none.
func (c *Client) DeployTokenDelete(ctx context.Context, tool string) (Envelope, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	r, err := c.api.DeleteDeployTokenWithResponse(ctx, tool)
	if err != nil {
		return c.result(ctx, nil, nil, err)
	}
	return c.envelope(r.HTTPResponse, r.Body)
}

// DeployToken decodes the data as a deploy token.
func (e Envelope) DeployToken() (slipway.DeployToken, error) {
	var t oapiclient.DeployToken
	if err := json.Unmarshal(e.Data, &t); err != nil {
		return slipway.DeployToken{}, fmt.Errorf("decode deploy token: %w", err)
	}
	created, err := time.Parse(time.RFC3339Nano, t.CreationDate)
	if err != nil {
		return slipway.DeployToken{}, fmt.Errorf("decode deploy token: creation_date: %w", err)
	}
	return slipway.DeployToken{Token: t.Token, CreatedAt: created}, nil
}
