package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
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

		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Time{}) // the stream outlives the server's write timeout
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		_ = rc.Flush()

		var mu sync.Mutex // the event writer and the keep-alive ticker share w
		done := make(chan struct{})
		defer close(done)
		go func() {
			t := time.NewTicker(keepAliveInterval)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					mu.Lock()
					_, _ = w.Write([]byte(": keep-alive\n\n"))
					_ = rc.Flush()
					mu.Unlock()
				}
			}
		}()

		err = a.svc.DeploymentEvents(r.Context(), tool, d.ID, after, func(ev slipway.Event) error {
			frame, err := eventFrame(ev)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if _, err := w.Write(frame); err != nil {
				return fmt.Errorf("write event %d: %w", ev.Seq, err)
			}
			return rc.Flush()
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
	name, v := "Last-Event-ID", strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if v == "" {
		name, v = "after", r.URL.Query().Get("after")
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
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
	var b bytes.Buffer
	fmt.Fprintf(&b, "id: %d\n", ev.Seq)
	if kind := sseField(ev.Kind); kind != "" {
		fmt.Fprintf(&b, "event: %s\n", kind)
	}
	fmt.Fprintf(&b, "data: %s\n\n", data)
	return b.Bytes(), nil
}

// sseField strips line breaks, which would end an SSE field early.
func sseField(s string) string {
	return strings.NewReplacer("\r", "", "\n", "").Replace(s)
}
