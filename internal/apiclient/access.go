package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"io"
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
	resp, err := c.raw.GetAccessLogs(ctx, tool, params)
	if err != nil {
		return c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, rerr := io.ReadAll(resp.Body)
		if rerr != nil {
			return c.transportError(ctx, rerr)
		}
		_, err := c.envelope(resp, body)
		return err
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var l AccessLogLine
		err := dec.Decode(&l)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil && follow && ctx.Err() != nil:
			return nil
		case err != nil:
			var syn *json.SyntaxError
			var typ *json.UnmarshalTypeError
			if errors.As(err, &syn) || errors.As(err, &typ) {
				return &ServerError{Status: resp.StatusCode, Message: "The access log is not JSON lines: " + err.Error(), RequestID: resp.Header.Get("X-Request-Id")}
			}
			return c.transportError(ctx, err)
		}
		if err := fn(l); err != nil {
			return err
		}
	}
}
