package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
)

// Build is one build as the builds API shows it (after Toolforge's
// builds-api: BUILD_* statuses, parameters, destination_image).
type Build = oapiclient.Build

// Build decodes the data as one build.
func (e Envelope) Build() (Build, error) {
	var b Build
	if err := json.Unmarshal(e.Data, &b); err != nil {
		return Build{}, fmt.Errorf("decode build: %w", err)
	}
	return b, nil
}

// Builds decodes the data as a build list, newest first.
func (e Envelope) Builds() ([]Build, error) {
	var l oapiclient.BuildList
	if err := json.Unmarshal(e.Data, &l); err != nil {
		return nil, fmt.Errorf("decode build list: %w", err)
	}
	return l.Builds, nil
}

// BuildList returns the tool's builds, newest first.
func (c *Client) BuildList(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ListBuilds(ctx, tool) })
}

// BuildGet returns one build; a missing one is an ENotFound error.
func (c *Client) BuildGet(ctx context.Context, tool, id string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GetBuild(ctx, tool, id) })
}

// BuildCancel kills a running build; the data is the build, cancelled or
// still stopping. A build that is already final is an EConflict error.
func (c *Client) BuildCancel(ctx context.Context, tool, id string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.CancelBuild(ctx, tool, id) })
}

// BuildDelete deletes a finished build; the data is the deleted build. A
// build that runs or is in use is an EConflict error saying why.
func (c *Client) BuildDelete(ctx context.Context, tool, id string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.DeleteBuild(ctx, tool, id) })
}

// BuildLogs copies the build's log to w: its last lines when lines > 0.
// With follow it streams a running build's log until the build ends (no
// request timeout applies then), or ctx ends. An error response is
// returned as for the other calls.
func (c *Client) BuildLogs(ctx context.Context, tool, id string, follow bool, lines int, w io.Writer) error {
	cancel := context.CancelFunc(func() {})
	if !follow {
		ctx, cancel = c.ctx(ctx)
	}
	defer cancel()
	params := &oapiclient.GetBuildLogsParams{}
	if follow {
		params.Follow = &follow
	}
	if lines > 0 {
		params.Lines = &lines
	}
	resp, err := c.raw.GetBuildLogs(ctx, tool, id, params)
	if err != nil {
		return c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return c.transportError(ctx, err)
		}
		_, err = c.envelope(resp, body)
		if err == nil {
			err = &ServerError{Status: resp.StatusCode, Message: "Unexpected response status.", RequestID: resp.Header.Get("X-Request-Id")}
		}
		return err
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return c.transportError(ctx, err)
	}
	return nil
}
