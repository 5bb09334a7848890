package apiclient

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
	"slipway.dev/slipway/internal/slipway"
)

// Event is one change of a deployment, as streamed by
// [Client.DeploymentEvents].
type Event = slipway.Event

// maxStreamFailures is how many reconnections in a row may fail before
// DeploymentEvents gives up.
const maxStreamFailures = 6

// errStreamEnded means the server closed the stream without a final event.
var errStreamEnded = errors.New("event stream ended")

// DeploymentEvents follows the deployment's events (id may be "latest"),
// calling fn for each one with Seq > after, in order. It returns nil after
// the event that puts the deployment in a final status, or when the stream
// ends and the deployment is final; the first error of fn; ctx's error; or
// the server's error. When the connection drops it reconnects with
// Last-Event-ID, so no event is delivered twice or lost.
func (c *Client) DeploymentEvents(ctx context.Context, tool, id string, after int64, fn func(Event) error) error {
	failures := 0
	for {
		got, err := c.streamOnce(ctx, tool, &id, &after, fn)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		}
		if fnErr, ok := errors.AsType[*callbackError](err); ok {
			return fnErr.err
		}
		if _, ok := errors.AsType[*slipway.Error](err); ok {
			return err // a 4xx: reconnecting will not help
		}
		if errors.Is(err, errStreamEnded) {
			// A clean end without a final event: either the deployment was
			// final already, or a proxy cut the stream.
			env, gerr := c.DeploymentGet(ctx, tool, id)
			if gerr == nil {
				if d, derr := env.Deployment(); derr == nil && d.Status.Final() {
					return nil
				}
			}
		}
		if got {
			failures = 0
		}
		failures++
		if failures > maxStreamFailures {
			return err
		}
		delay := min(c.retryDelay<<(failures-1), 5*time.Second)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// callbackError carries an error returned by the caller's fn.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

// streamOnce opens the stream once and delivers its events. It updates id
// to the deployment's real id (so that "latest" does not move between
// reconnections) and after to the last delivered sequence number. got
// reports whether any event arrived. It returns nil after a final event.
func (c *Client) streamOnce(ctx context.Context, tool string, id *string, after *int64, fn func(Event) error) (got bool, err error) {
	params := &oapiclient.StreamDeploymentEventsParams{After: after}
	if *after > 0 {
		last := strconv.FormatInt(*after, 10)
		params.LastEventID = &last
	}
	resp, err := c.raw.StreamDeploymentEvents(ctx, tool, *id, params, func(_ context.Context, req *http.Request) error {
		req.Header.Set("Accept", "text/event-stream")
		return nil
	})
	if err != nil {
		return false, c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, rerr := io.ReadAll(resp.Body)
		if rerr != nil {
			return false, c.transportError(ctx, rerr)
		}
		_, err := c.envelope(resp, body)
		if err == nil {
			err = &ServerError{Status: resp.StatusCode, Message: "Unexpected status for an event stream.", RequestID: resp.Header.Get("X-Request-Id")}
		}
		return false, err
	}

	r := bufio.NewReader(resp.Body)
	var data strings.Builder
	for {
		line, rerr := r.ReadString('\n')
		if rerr != nil {
			if rerr == io.EOF && line == "" {
				return got, errStreamEnded
			}
			return got, c.transportError(ctx, fmt.Errorf("read event stream: %w", rerr))
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if data.Len() == 0 {
				continue
			}
			var wire oapiclient.Event
			if err := json.Unmarshal([]byte(data.String()), &wire); err != nil {
				return got, fmt.Errorf("decode event: %w", err)
			}
			data.Reset()
			ev := fromEvent(wire)
			if ev.Seq <= *after {
				continue // already delivered before a reconnection
			}
			got = true
			if err := fn(ev); err != nil {
				return got, &callbackError{err}
			}
			*after = ev.Seq
			if ev.DeploymentID != "" {
				*id = ev.DeploymentID
			}
			if ev.Kind == "deployment" && slipway.DeploymentStatus(ev.State).Final() {
				return got, nil
			}
		case strings.HasPrefix(line, ":"):
			// comment (keep-alive)
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			if field == "data" {
				if data.Len() > 0 {
					data.WriteByte('\n')
				}
				data.WriteString(value)
			}
		}
	}
}
