package apiclient

import (
	"context"
	"net/http"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
)

// AccessLogLine is one line of a tool's access log (the server's
// AccessLogLine): a request its published component was sent.
type AccessLogLine = oapiclient.AccessLogLine

// AccessLogs reads a tool's access log: its last lines (0: all), then,
// with follow, what is appended until ctx ends; fn gets each line.
func (c *Client) AccessLogs(ctx context.Context, tool string, follow bool, lines int, fn func(AccessLogLine) error) error {
	if !follow {
		var cancel context.CancelFunc
		ctx, cancel = c.ctx(ctx)
		defer cancel()
	}
	params := &oapiclient.GetAccessLogsParams{}
	if follow {
		params.Follow = new("true")
	}
	if lines > 0 {
		params.Lines = &lines
	}
	return readLines(ctx, c, follow, "The access log is", func(ctx context.Context) (*http.Response, error) {
		return c.raw.GetAccessLogs(ctx, tool, params)
	}, fn)
}
