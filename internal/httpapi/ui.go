package httpapi

import (
	"context"
	"net/http"
	"strings"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/web"
)

// uiPrefix is where the web UI is served, on the API's listener.
const uiPrefix = "/ui/"

// uiAuth returns the API's own credential checks for the web UI, so that
// a token, a certificate and a proxy header mean there what they mean
// here. The metrics token names nobody who may use the UI.
func (a *api) uiAuth() web.Auth {
	return web.Auth{
		VerifyToken: func(ctx context.Context, token string) (slipway.Actor, bool, error) {
			id, ok, err := a.identifyToken(ctx, token)
			if err != nil || !ok || id.metrics {
				return slipway.Actor{}, false, err
			}
			return id.actor(), true, nil
		},
		Ambient: func(r *http.Request) (slipway.Actor, bool) {
			id, ok, _ := a.identifyPeer(r)
			return id.actor(), ok
		},
		ClientAddr: func(r *http.Request) string {
			client, _ := a.clientAddress(r)
			return client
		},
		Seen: func(r *http.Request, credential string) {
			if info := requestInfoOf(r.Context()); info != nil {
				info.credential = credential
			}
		},
	}
}

// withUI serves the web UI (when there is one) beside the API: /ui/ and
// below go to ui, /ui to /ui/, and GET / from a browser (Accept:
// text/html) to /ui/; everything else, GET / from a JSON client included,
// is the API's as before.
func withUI(ui, apiHandler http.Handler) http.Handler {
	if ui == nil {
		return apiHandler
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, uiPrefix):
			ui.ServeHTTP(w, r)
		case r.URL.Path == "/ui" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			http.Redirect(w, r, uiPrefix, http.StatusMovedPermanently)
		case r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) && acceptsHTML(r):
			w.Header().Add("Vary", "Accept")
			http.Redirect(w, r, uiPrefix, http.StatusSeeOther)
		default:
			if r.URL.Path == "/" {
				w.Header().Add("Vary", "Accept")
			}
			apiHandler.ServeHTTP(w, r)
		}
	})
}

// acceptsHTML reports whether r's Accept header names text/html, as a
// browser's navigation does.
func acceptsHTML(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			media, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(media), "text/html") {
				return true
			}
		}
	}
	return false
}
