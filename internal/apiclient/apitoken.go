package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
	"slipway.dev/slipway/internal/slipway"
)

// APITokenCreate creates a tool-scoped API token (admin token only); the
// data holds the token, which the server never shows again.
func (c *Client) APITokenCreate(ctx context.Context, tool, description string) (Envelope, error) {
	body := oapiclient.APITokenCreateRequest{Tool: tool}
	if description != "" {
		body.Description = &description
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.CreateAPIToken(ctx, body) })
}

// APITokenList lists the API tokens of tool, or of every tool for "".
func (c *Client) APITokenList(ctx context.Context, tool string) (Envelope, error) {
	var params oapiclient.ListAPITokensParams
	if tool != "" {
		params.Tool = &tool
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ListAPITokens(ctx, &params) })
}

// APITokenRevoke revokes an API token; ENotFound when there is none with id.
func (c *Client) APITokenRevoke(ctx context.Context, id string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.RevokeAPIToken(ctx, id) })
}

// APITokenCreated decodes the data of APITokenCreate: the token's
// description and the token.
func (e Envelope) APITokenCreated() (slipway.APIToken, string, error) {
	var t oapiclient.APITokenCreated
	if err := json.Unmarshal(e.Data, &t); err != nil {
		return slipway.APIToken{}, "", fmt.Errorf("decode API token: %w", err)
	}
	return slipway.APIToken{ID: t.Id, Tool: t.Tool, Description: t.Description, CreatedAt: t.Created}, t.Token, nil
}

// APITokens decodes the data of APITokenList.
func (e Envelope) APITokens() ([]slipway.APIToken, error) {
	var ts []oapiclient.APIToken
	if err := json.Unmarshal(e.Data, &ts); err != nil {
		return nil, fmt.Errorf("decode API tokens: %w", err)
	}
	out := make([]slipway.APIToken, 0, len(ts))
	for _, t := range ts {
		out = append(out, slipway.APIToken{ID: t.Id, Tool: t.Tool, Description: t.Description, CreatedAt: t.Created})
	}
	return out, nil
}
