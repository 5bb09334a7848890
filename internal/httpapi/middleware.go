package httpapi

import (
	"context"
	"crypto/rand"
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

type requestIDKey struct{}

type requestInfoKey struct{}

// requestInfo is what the handlers learn about a request that the request
// log reports: the credential that authorized it (never its secret).
type requestInfo struct {
	credential string
}

// requestInfoOf returns the request's info, nil outside the middleware.
func requestInfoOf(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
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
		info := &requestInfo{}
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		r = r.WithContext(context.WithValue(ctx, requestInfoKey{}, info))
		sw := &statusWriter{ResponseWriter: w}
		defer a.finishRequest(sw, r, id, info, start)
		next.ServeHTTP(sw, r)
	})
}

// finishRequest runs deferred after the handler: it turns a panic into a
// 500 (unless the response is already under way) and logs the request.
// It must be deferred directly, for recover to see the panic.
func (a *api) finishRequest(sw *statusWriter, r *http.Request, id string, info *requestInfo, start time.Time) {
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
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)),
		slog.Int64("bytes", sw.bytes),
		slog.String("credential", info.credential),
	}
	// The forwarding headers count only from a trusted proxy.
	client, via := a.clientAddress(r)
	attrs = append(attrs, slog.String("remote", client))
	if via != "" {
		attrs = append(attrs, slog.String("via", via))
	}
	a.log.LogAttrs(r.Context(), slog.LevelInfo, "http request", append(attrs, slog.String("request_id", id))...)
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
			writeErrorFor(w, r, http.StatusMethodNotAllowed, fmt.Sprintf("Method %s is not allowed for %s.", r.Method, r.URL.Path))
			return
		}
		writeErrorFor(w, r, http.StatusNotFound, fmt.Sprintf("Not found: %s %s.", r.Method, r.URL.Path))
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
