package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"slipway.dev/slipway/internal/metrics"
	"slipway.dev/slipway/internal/slipway"
)

// msgAuthRequired is the 401 message for a request without a valid token.
const msgAuthRequired = "Authentication required: send 'Authorization: Bearer <token>' (the server's admin token is in its data directory)"

// msgDeployAuthRequired is the 401 message of the two routes that also take
// a deploy token, for a request with neither credential. (Toolforge says
// "The 'x-toolforge-tool' header or a token are required".)
const msgDeployAuthRequired = "Authentication required: send the tool's deploy token as ?token=… or an API token as 'Authorization: Bearer …'"

type requestIDKey struct{}

type deployTokenKey struct{}

type toolTokenKey struct{}

// msgAdminOnly is the 403 message of an admin route for a tool's API token.
const msgAdminOnly = "Admin routes need the admin token."

// byDeployToken reports whether the request was authorized by the tool's
// deploy token (not the admin token).
func byDeployToken(ctx context.Context) bool {
	ok, _ := ctx.Value(deployTokenKey{}).(bool)
	return ok
}

// byToolToken returns the tool-scoped API token that authorized the request,
// if one did.
func byToolToken(ctx context.Context) (slipway.APIToken, bool) {
	tok, ok := ctx.Value(toolTokenKey{}).(slipway.APIToken)
	return tok, ok
}

// credentialOf names the credential that authorized the request, never by
// its secret: "admin", "deploy" or "tool-token:<id>".
func credentialOf(ctx context.Context) string {
	if tok, ok := byToolToken(ctx); ok {
		return "tool-token:" + tok.ID
	}
	if byDeployToken(ctx) {
		return "deploy"
	}
	return "admin"
}

// toolToken returns the tool-scoped API token that r's bearer is, if any.
// An error is a failed lookup (answered 500), not a wrong token.
func (a *api) toolToken(r *http.Request) (slipway.APIToken, bool, error) {
	token, ok := bearer(r)
	if !ok || token == "" || a.cfg.APITokens == nil {
		return slipway.APIToken{}, false, nil
	}
	return a.cfg.APITokens.IdentifyToken(r.Context(), token)
}

// serveToolToken lets a request authorized by tok through when the route's
// {tool} is tok's tool, else answers 403.
func (a *api) serveToolToken(w http.ResponseWriter, r *http.Request, tok slipway.APIToken, next http.Handler) {
	if tool := r.PathValue("tool"); tool != tok.Tool {
		a.writeError(w, r, slipway.Errorf(slipway.EForbidden,
			"This token is for tool '%s'; it cannot act on tool '%s'.", tok.Tool, tool))
		return
	}
	next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), toolTokenKey{}, tok)))
}

// requestIDFrom returns the request id that the middleware put in ctx.
func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestID returns the client's X-Request-Id when it is short and made of
// safe characters, else a new random id.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 && strings.IndexFunc(id, func(c rune) bool {
		return (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' && c != '.'
	}) < 0 {
		return id
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// middleware adds the request id, the request log and panic recovery.
func (a *api) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID(r)
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
		sw := &statusWriter{ResponseWriter: w}
		defer a.finishRequest(sw, r, id, start)
		next.ServeHTTP(sw, r)
	})
}

// finishRequest runs deferred after the handler: it turns a panic into a
// 500 (unless the response is already under way) and logs the request.
// It must be deferred directly, for recover to see the panic.
func (a *api) finishRequest(sw *statusWriter, r *http.Request, id string, start time.Time) {
	if p := recover(); p != nil {
		if p == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
			panic(p)
		}
		err := &slipway.Error{
			Code:    slipway.EInternal,
			Message: "Internal error.",
			Err:     fmt.Errorf("panic: %v\n%s", p, debug.Stack()),
		}
		if sw.status == 0 {
			a.writeError(sw, r, err)
		} else {
			_, _ = a.errorResponse(r, err) // logs it; the response is already under way
		}
	}
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	// The mux set the matched pattern ("GET /components/v1/tool/{tool}/…")
	// on r: a bounded label, unlike the path.
	route := metrics.UnmatchedRoute
	if _, path, ok := strings.Cut(r.Pattern, " "); ok {
		route = path
	}
	a.cfg.Metrics.ObserveHTTP(route, r.Method, status, time.Since(start))
	a.log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)),
		slog.Int64("bytes", sw.bytes),
		slog.String("request_id", id))
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// WriteHeader records the status.
func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

// Write records the size.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (flushing
// and deadlines for the event stream).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (string, bool) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// isAdmin reports whether r carries the admin bearer token.
func (a *api) isAdmin(r *http.Request) bool {
	want := []byte(a.cfg.AdminToken)
	token, ok := bearer(r)
	return ok && len(want) > 0 && subtle.ConstantTimeCompare([]byte(token), want) == 1
}

// unauthorized answers 401 with msg.
func (a *api) unauthorized(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="slipway"`)
	a.writeError(w, r, slipway.Errorf(slipway.EUnauthorized, "%s", msg))
}

// requireAdmin refuses requests without "Authorization: Bearer <admin token>":
// a tool's API token gets 403, anything else (a deploy token too) 401.
func (a *api) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.isAdmin(r) {
			next.ServeHTTP(w, r)
			return
		}
		_, ok, err := a.toolToken(r)
		switch {
		case err != nil:
			a.writeError(w, r, err)
		case ok:
			a.writeError(w, r, slipway.Errorf(slipway.EForbidden, "%s", msgAdminOnly))
		default:
			a.unauthorized(w, r, msgAuthRequired)
		}
	})
}

// requireAdminOrToolToken guards a tool's routes: the admin bearer, or an
// API token of the {tool} in the path (another tool's gets 403). A deploy
// token is no credential here: it gets the same 401 as none.
func (a *api) requireAdminOrToolToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.isAdmin(r) {
			next.ServeHTTP(w, r)
			return
		}
		tok, ok, err := a.toolToken(r)
		switch {
		case err != nil:
			a.writeError(w, r, err)
		case ok:
			a.serveToolToken(w, r, tok, next)
		default:
			a.unauthorized(w, r, msgAuthRequired)
		}
	})
}

// requireAdminOrDeployToken guards the two routes CI uses: a valid admin
// bearer wins, then a tool's API token (as requireAdminOrToolToken);
// otherwise the tool's deploy token is checked, taken from ?token= (anywhere
// among the query keys) or else from a bearer that is not the admin token.
// The token is never logged or echoed.
func (a *api) requireAdminOrDeployToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.isAdmin(r) {
			next.ServeHTTP(w, r)
			return
		}
		if tok, ok, err := a.toolToken(r); err != nil {
			a.writeError(w, r, err)
			return
		} else if ok {
			a.serveToolToken(w, r, tok, next)
			return
		}
		// Checked before "latest" reaches the handler: the deploy token is
		// only for a deployment by ID (Toolforge matches latest first, and it
		// takes the header only).
		if r.PathValue("deploy_id") == "latest" {
			a.unauthorized(w, r, msgAuthRequired)
			return
		}
		presented, ok := "", false
		if q := r.URL.Query(); q.Has("token") {
			presented, ok = q.Get("token"), true
		} else {
			presented, ok = bearer(r)
		}
		if !ok || a.cfg.DeployTokens == nil {
			a.unauthorized(w, r, msgDeployAuthRequired)
			return
		}
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if err := a.cfg.DeployTokens.Verify(r.Context(), tool, presented); err != nil {
			if slipway.ErrorCode(err) == slipway.EUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="slipway"`)
			}
			a.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), deployTokenKey{}, true)))
	})
}

// notFound answers the requests that match no route with an error envelope
// (404, or 405 with the mux's Allow header) instead of the mux's plain text.
func (a *api) notFound(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		cw := &captureWriter{header: http.Header{}}
		mux.ServeHTTP(cw, r)
		if cw.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", cw.header.Get("Allow"))
			writeErrorMessages(w, http.StatusMethodNotAllowed, fmt.Sprintf("Method %s is not allowed for %s.", r.Method, r.URL.Path))
			return
		}
		writeErrorMessages(w, http.StatusNotFound, fmt.Sprintf("Not found: %s %s.", r.Method, r.URL.Path))
	})
}

// captureWriter records the status and headers that the mux would send.
type captureWriter struct {
	header http.Header
	status int
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return len(b), nil
}

func (c *captureWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}
