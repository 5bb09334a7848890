package httpapi

import (
	"context"
	"io"
	"net/http"

	"slipway.dev/slipway/internal/slipway"
)

// AccessLogs reads the tools' access logs (internal/edge.AccessLogs).
type AccessLogs interface {
	// Read writes tool's access log to w as JSON lines: its last lines
	// (0: all), then with follow what is appended until ctx ends.
	Read(ctx context.Context, tool string, lines int, follow bool, w io.Writer) error
}

// handleAccessLogs serves GET /components/v1/tool/{tool}/access-logs:
// the tool's access log as JSON lines in text/plain (an empty log is an
// empty 200); with follow it streams until the client goes away.
func (a *api) handleAccessLogs() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if a.cfg.AccessLogs == nil {
			a.writeError(w, r, slipway.Errorf(slipway.EUnavailable, "Access logs are not kept on this server."))
			return
		}
		follow, lines, err := logQuery(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		tw := newTextWriter(w, follow)
		if follow {
			tw.open()
		}
		err = a.cfg.AccessLogs.Read(r.Context(), tool, lines, follow, tw)
		switch {
		case err != nil && r.Context().Err() != nil:
			// The client went away.
		case err != nil && !tw.started:
			a.writeError(w, r, err)
		case err != nil:
			_, _ = a.errorResponse(r, err) // logs it; the response is under way
		case !tw.started:
			tw.start()
		}
	})
}
