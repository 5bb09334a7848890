package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
)

// Flow is one of a tool's flows with its latest runs.
type Flow = oapiclient.Flow

// FlowList returns the tool's flows, with their triggers and latest runs.
func (c *Client) FlowList(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ListFlows(ctx, tool) })
}

// Flows decodes the data as a list of flows.
func (e Envelope) Flows() ([]Flow, error) {
	var out []Flow
	if err := json.Unmarshal(e.Data, &out); err != nil {
		return nil, fmt.Errorf("decode flows: %w", err)
	}
	return out, nil
}

// FlowRun starts a run of the tool's flow name; the data is the run, a
// deployment.
func (c *Client) FlowRun(ctx context.Context, tool, name, description string) (Envelope, error) {
	var req oapiclient.FlowRunRequest
	if description != "" {
		req.Description = &description
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.RunFlow(ctx, tool, name, req) })
}

// FlowStepInfo is one step of a flow as the API lists it.
type FlowStepInfo = oapiclient.FlowStep
