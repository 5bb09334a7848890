package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/sse"
)

// keepAliveInterval is how often an idle event stream gets a comment line,
// so that proxies and clients do not time it out.
const keepAliveInterval = 15 * time.Second

// handleDeploymentEvents serves GET …/deployment/{deploy_id}/events as
// Server-Sent Events. It resolves the deployment first, so that a missing
// one is a 404 envelope rather than an empty stream, and "latest" names one
// deployment for the whole stream.
func (a *api) handleDeploymentEvents() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		after, err := eventsAfter(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		d, err := a.svc.DeploymentGet(r.Context(), tool, deployID(r))
		if err != nil {
			a.writeError(w, r, err)
			return
		}

		s := sse.Start(w, keepAliveInterval)
		defer s.Close()

		err = a.svc.DeploymentEvents(r.Context(), tool, d.ID, after, func(ev slipway.Event) error {
			frame, err := eventFrame(ev)
			if err != nil {
				return err
			}
			if err := s.Write(frame); err != nil {
				return fmt.Errorf("write event %d: %w", ev.Seq, err)
			}
			return nil
		})
		if err != nil && r.Context().Err() == nil {
			// The status is sent already: log, and end the stream; the client
			// reconnects with Last-Event-ID.
			_, _ = a.errorResponse(r, err)
		}
	})
}

// eventsAfter returns the sequence number to stream after: the
// Last-Event-ID header when present (a reconnecting client), else the
// "after" query parameter, else 0.
func eventsAfter(r *http.Request) (int64, error) {
	n, name, ok := sse.After(r)
	if !ok {
		return 0, slipway.Errorf(slipway.EInvalid, "%s must be a non-negative integer (an event sequence number).", name)
	}
	return n, nil
}

// eventFrame returns the Server-Sent Events frame of ev.
func eventFrame(ev slipway.Event) ([]byte, error) {
	data, err := json.Marshal(oapi.Event{
		Seq:      ev.Seq,
		DeployId: ev.DeploymentID,
		Time:     ev.Time.UTC(),
		Kind:     ev.Kind,
		Step:     ev.Step,
		State:    ev.State,
		Message:  ev.Message,
	})
	if err != nil {
		return nil, fmt.Errorf("encode event %d: %w", ev.Seq, err)
	}
	return sse.Message(strconv.FormatInt(ev.Seq, 10), ev.Kind, string(data)), nil
}
