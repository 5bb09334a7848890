package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
	"slipway.dev/slipway/internal/slipway"
)

// DeployTokenGet returns the tool's deploy token.
func (c *Client) DeployTokenGet(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GetDeployToken(ctx, tool) })
}

// DeployTokenCreate creates the tool's deploy token; EConflict when it has
// one.
func (c *Client) DeployTokenCreate(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.CreateDeployToken(ctx, tool) })
}

// DeployTokenRefresh replaces the tool's deploy token with a new one;
// ENotFound when it has none.
func (c *Client) DeployTokenRefresh(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.RefreshDeployToken(ctx, tool) })
}

// DeployTokenDelete deletes the tool's deploy token; the data is the deleted
// token. ENotFound when it has none.
func (c *Client) DeployTokenDelete(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.DeleteDeployToken(ctx, tool) })
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
