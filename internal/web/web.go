// Package web is Slipway's web UI: server-rendered HTML pages under /ui/ on
// the API listener, mounted by internal/httpapi.
//
// Every page is complete without JavaScript and every action is a plain
// form (POST, then 303 to the page that shows the result). With
// JavaScript on, static/app.js follows a deployment's progress over
// Server-Sent Events (GET /ui/t/{tool}/d/{id}/live) and swaps the HTML
// fragments it receives into the page by element id, and follows logs.
//
// Who a request acts as comes from a server-side session (see session.go),
// opened by pasting the admin token or a tool's API token, or by
// "continuing as" a verified client certificate or trusted proxy header.
// A session is honoured on /ui routes only; the JSON API never reads its
// cookie. Each request's [slipway.Actor] is put in its context, and a tool
// session acts on its own tool only ([slipway.Actor.MayActOn]), as the API
// does.
//
// The package declares the small interfaces it needs of the deploy
// service ([Deployments], [Builds], [Jobs], [Questions], [Releases], [Cuts]), of
// the store ([Tools], [Sessions], [Polls]), of envvars ([EnvVars]), of
// credentials ([DeployTokens], [APITokens]), of notifications
// ([Notifications]) and of push webhooks ([Webhooks]); the composition
// root passes the implementations.
package web

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// Deployments is what the UI needs of the deploy service's deployments and
// configs. Errors are [*slipway.Error] values as for the API.
type Deployments interface {
	ConfigGet(ctx context.Context, tool string) (slipway.ToolConfig, error)
	// DeploymentListBrief lists without steps, builds and runs, which no
	// list in the UI shows.
	DeploymentListBrief(ctx context.Context, tool string) ([]slipway.Deployment, error)
	DeploymentGet(ctx context.Context, tool, id string) (slipway.Deployment, error)
	DeploymentEvents(ctx context.Context, tool, id string, after int64, fn func(slipway.Event) error) error
	DeploymentPlan(ctx context.Context, tool string, opts slipway.DeployOptions) (slipway.Deployment, error)
	DeploymentCreate(ctx context.Context, tool string, opts slipway.DeployOptions) (slipway.Deployment, error)
	DeploymentCancel(ctx context.Context, tool, id string) (slipway.Deployment, error)
}

// Builds is what the UI needs of the deploy service's builds.
type Builds interface {
	BuildList(ctx context.Context, tool string) ([]slipway.Build, error)
	BuildLogs(ctx context.Context, tool, id string, follow bool, lines int, w io.Writer) error
}

// Jobs is what the UI needs of the deploy service's jobs (live components
// and one-offs).
type Jobs interface {
	JobList(ctx context.Context, tool string) ([]slipway.Job, error)
	JobLogs(ctx context.Context, tool, name string, follow bool, lines int, w io.Writer) error
}

// Tools lists the tools the server knows; the store implements it.
type Tools interface {
	ToolList(ctx context.Context) ([]string, error)
}

// Sessions keeps the UI's sessions; the store implements it.
type Sessions interface {
	SessionCreate(ctx context.Context, s store.Session) error
	SessionGet(ctx context.Context, idHash string) (store.Session, error)
	SessionTouch(ctx context.Context, idHash string, seen time.Time) error
	SessionDelete(ctx context.Context, idHash string) error
	SessionPrune(ctx context.Context, now, idleSince time.Time) (int, error)
}

// Auth is how the UI checks credentials: the API's own checks, which
// internal/httpapi fills in, so that a token means the same on both.
type Auth struct {
	// VerifyToken returns who a pasted token is — the admin token or a
	// tool's API token, judged exactly as the API judges a bearer — with
	// the credential's name (admin, tool-token:<id>) as the actor's Name.
	// ok is false when it is neither; an error is a failed lookup.
	VerifyToken func(ctx context.Context, token string) (a slipway.Actor, ok bool, err error)
	// Ambient returns who the request's own credential names: a verified
	// client certificate (cert:<serial>) or a trusted proxy's tool header
	// (proxy:<addr>); ok is false when it carries neither.
	Ambient func(r *http.Request) (a slipway.Actor, ok bool)
	// ClientAddr returns the client's address, for the sign-in rate limit
	// (the peer, or what a trusted proxy says).
	ClientAddr func(r *http.Request) string
	// Seen, when set, is told the name of the credential a request acts
	// as (for the request log).
	Seen func(r *http.Request, credential string)
}

// Defaults of [Config].
const (
	DefaultSessionLifetime = 12 * time.Hour
	DefaultSessionIdle     = 2 * time.Hour
	DefaultLogLines        = 200
	DefaultKeepAlive       = 15 * time.Second
	DefaultInboxPoll       = 3 * time.Second
	// DefaultMaxFormBytes bounds a form's body.
	DefaultMaxFormBytes = 64 << 10
)

// Sign-in rate limit: this many failures from one address within
// failWindow lock it out for lockout.
const (
	maxFailures = 5
	failWindow  = 10 * time.Minute
	lockout     = 15 * time.Minute
)

// Config holds the UI's dependencies and settings.
type Config struct {
	Deployments Deployments
	Builds      Builds
	Jobs        Jobs
	Tools       Tools
	Sessions    Sessions
	// Questions are what deployments ask; nil shows none.
	Questions Questions
	// EnvVars, DeployTokens and APITokens serve the tool's envvars and
	// deploy token pages and the admin's API tokens page; nil answers 503
	// there.
	EnvVars      EnvVars
	DeployTokens DeployTokens
	APITokens    APITokens
	// Releases serves the tool's releases page; nil answers 503 there.
	Releases Releases
	// Environments serves the tool's environments and promotion pages;
	// nil answers 503 there.
	Environments Environments
	// Trains serves the admin's release trains pages; nil answers 503
	// there.
	Trains Trains
	// Notifications, Webhooks and Cuts serve the tool's notifications,
	// push webhook and named releases pages; nil answers 503 there.
	Notifications Notifications
	Webhooks      Webhooks
	Cuts          Cuts
	// Polls, when set, adds what polling last saw to the push webhook
	// page.
	Polls Polls
	// PublicURL is the server's URL as forges reach it (--public-url), for
	// the push webhook's URL; "" uses the address the page was reached at.
	PublicURL string
	// Auth is filled in by internal/httpapi when it mounts the UI.
	Auth Auth
	// Logger receives internal errors. Default: discard.
	Logger *slog.Logger
	// Now is the clock of sessions and the rate limit. Default time.Now.
	Now func() time.Time
	// Rand makes session ids and CSRF tokens. Default crypto/rand.
	Rand io.Reader
	// SessionLifetime and SessionIdle end a session that long after it
	// was opened, or was last used. Defaults 12 h and 2 h.
	SessionLifetime time.Duration
	SessionIdle     time.Duration
	// LogLines is how many last lines a log page shows. Default 200.
	LogLines int
	// KeepAlive is the comment interval of idle event streams. Default 15 s.
	KeepAlive time.Duration
	// MaxFormBytes bounds a form's body; larger ones get 413. Default 64 KiB.
	MaxFormBytes int64
	// InboxPoll is how often the questions inbox's stream reads the open
	// questions again. Default 3 s.
	InboxPoll time.Duration
}

// handler is the UI.
type handler struct {
	cfg   Config
	log   *slog.Logger
	pages *pages
	fails *limiter
	dags  dagCache
}

// New returns the UI's handler, to be mounted at /ui/ (it serves the
// paths under /ui/ itself).
func New(cfg Config) http.Handler {
	cfg.Logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	cfg.SessionLifetime = cmp.Or(cfg.SessionLifetime, DefaultSessionLifetime)
	cfg.SessionIdle = cmp.Or(cfg.SessionIdle, DefaultSessionIdle)
	cfg.LogLines = cmp.Or(cfg.LogLines, DefaultLogLines)
	cfg.KeepAlive = cmp.Or(cfg.KeepAlive, DefaultKeepAlive)
	cfg.MaxFormBytes = cmp.Or(cfg.MaxFormBytes, DefaultMaxFormBytes)
	cfg.InboxPoll = cmp.Or(cfg.InboxPoll, DefaultInboxPoll)
	if cfg.Questions == nil {
		cfg.Questions = noQuestions{}
	}
	h := &handler{cfg: cfg, log: cfg.Logger, pages: mustParsePages(), fails: newLimiter(cfg.Now)}
	return h.routes()
}

// routes returns the UI's mux behind its protections: panic recovery,
// security headers and cross-origin protection.
func (h *handler) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /ui/static/{file}", h.static())
	mux.HandleFunc("GET /ui/signin", h.signinPage)
	mux.HandleFunc("POST /ui/signin", h.signin)
	mux.Handle("POST /ui/signout", h.authed(h.signout))
	mux.Handle("GET /ui/{$}", h.authed(h.home))
	mux.Handle("GET /ui/t/{tool}/{$}", h.tool(h.overview))
	mux.Handle("GET /ui/t/{tool}/d/{$}", h.tool(h.deployments))
	mux.Handle("GET /ui/t/{tool}/d/{id}", h.tool(h.deployment))
	mux.Handle("GET /ui/t/{tool}/d/{id}/live", h.tool(h.deploymentLive))
	mux.Handle("POST /ui/t/{tool}/d/{id}/cancel", h.tool(h.cancel))
	mux.Handle("GET /ui/questions", h.authed(h.inbox))
	mux.Handle("GET /ui/questions/live", h.authed(h.inboxLive))
	mux.Handle("GET /ui/t/{tool}/q/{id}", h.tool(h.questionPage))
	mux.Handle("POST /ui/t/{tool}/q/{id}/answer", h.tool(h.answer))
	mux.Handle("GET /ui/t/{tool}/config", h.tool(h.config))
	mux.Handle("GET /ui/t/{tool}/plan", h.tool(h.plan))
	mux.Handle("POST /ui/t/{tool}/deploy", h.tool(h.deploy))
	mux.Handle("GET /ui/t/{tool}/b/{id}/logs", h.tool(h.buildLogs))
	mux.Handle("GET /ui/t/{tool}/b/{id}/logs/live", h.tool(h.buildLogsLive))
	mux.Handle("GET /ui/t/{tool}/j/{name}/logs", h.tool(h.jobLogs))
	mux.Handle("GET /ui/t/{tool}/j/{name}/logs/live", h.tool(h.jobLogsLive))
	mux.Handle("GET /ui/t/{tool}/releases", h.tool(h.releases))
	mux.Handle("GET /ui/t/{tool}/releases/notes", h.tool(h.releaseNotes))
	mux.Handle("GET /ui/t/{tool}/environments", h.tool(h.environments))
	mux.Handle("GET /ui/t/{tool}/environments/{env}/promote", h.tool(h.promotion))
	mux.Handle("POST /ui/t/{tool}/environments/{env}/promote", h.tool(h.promote))
	mux.Handle("GET /ui/t/{tool}/envvars", h.tool(h.envVars))
	mux.Handle("POST /ui/t/{tool}/envvars", h.withFormLimit(envVarFormBytes,
		fmt.Sprintf(" An envvar's value may be at most %d bytes.", slipway.MaxEnvVarValueBytes), h.tool(h.envVarPut)))
	mux.Handle("GET /ui/t/{tool}/envvars/{name}", h.tool(h.envVar))
	mux.Handle("POST /ui/t/{tool}/envvars/{name}/delete", h.tool(h.envVarDelete))
	mux.Handle("GET /ui/t/{tool}/deploy-token", h.tool(h.deployToken))
	mux.Handle("POST /ui/t/{tool}/deploy-token", h.tool(h.deployTokenMake(false)))
	mux.Handle("POST /ui/t/{tool}/deploy-token/refresh", h.tool(h.deployTokenMake(true)))
	mux.Handle("POST /ui/t/{tool}/deploy-token/delete", h.tool(h.deployTokenDelete))
	mux.Handle("GET /ui/trains", h.adminOnly(h.trains))
	mux.Handle("GET /ui/trains/{id}", h.adminOnly(h.train))
	mux.Handle("GET /ui/t/{tool}/notifications", h.tool(h.notifications))
	mux.Handle("POST /ui/t/{tool}/notifications", h.tool(h.notifySubscribe))
	mux.Handle("GET /ui/t/{tool}/notifications/s/{id}/remove", h.tool(h.notifyRemoveConfirm))
	mux.Handle("POST /ui/t/{tool}/notifications/s/{id}/remove", h.tool(h.notifyRemove))
	mux.Handle("GET /ui/t/{tool}/notifications/d/{id}", h.tool(h.notifyDelivery))
	mux.Handle("POST /ui/t/{tool}/notifications/d/{id}/redeliver", h.tool(h.notifyRedeliver))
	mux.Handle("GET /ui/t/{tool}/webhook", h.tool(h.webhook))
	mux.Handle("POST /ui/t/{tool}/webhook/rotate", h.tool(h.webhookRotate))
	mux.Handle("POST /ui/t/{tool}/webhook/delete", h.tool(h.webhookDelete))
	mux.Handle("GET /ui/t/{tool}/cuts", h.tool(h.cuts))
	mux.Handle("POST /ui/t/{tool}/cuts", h.tool(h.cutCreate))
	mux.Handle("GET /ui/t/{tool}/cuts/{name}", h.tool(h.cut))
	mux.Handle("POST /ui/t/{tool}/cuts/{name}/freeze", h.tool(h.cutFreeze))
	mux.Handle("GET /ui/tokens", h.adminOnly(h.apiTokens))
	mux.Handle("POST /ui/tokens", h.adminOnly(h.apiTokenCreate))
	mux.Handle("POST /ui/tokens/{id}/revoke", h.adminOnly(h.apiTokenRevoke))
	mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); m != r.Method && pattern != "/ui/" {
				w.Header().Set("Allow", m)
				h.errorPage(w, r, http.StatusMethodNotAllowed, "This page does not take a "+r.Method+" request.")
				return
			}
		}
		h.errorPage(w, r, http.StatusNotFound, "There is no page at "+clip(r.URL.Path, 200)+".")
	})

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.errorPage(w, r, http.StatusForbidden, msgCrossOrigin)
	}))
	return h.recoverPanics(securityHeaders(cop.Handler(mux)))
}

// msgCrossOrigin is the 403 message of a request another site made.
const msgCrossOrigin = "This request came from another site, so it was refused. Use the buttons on Slipway's own pages."

// csp is the Content-Security-Policy of every UI response: nothing inline,
// nothing from elsewhere, no framing.
const csp = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// securityHeaders sets the headers every UI response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cache-Control", "no-store") // the static files say otherwise
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a 500 page (when nothing was sent yet)
// and a log entry, never a dropped connection without a word.
func (h *handler) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &trackWriter{ResponseWriter: w}
		defer h.recovered(rw, r)
		next.ServeHTTP(rw, r)
	})
}

// recovered answers a panic of r's handler. It must be deferred directly,
// for recover to see the panic.
func (h *handler) recovered(rw *trackWriter, r *http.Request) {
	p := recover()
	if p == nil {
		return
	}
	if p == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
		panic(p)
	}
	h.log.ErrorContext(r.Context(), "web: panic", "path", r.URL.Path, "panic", p)
	if !rw.wrote {
		h.errorPage(rw, r, http.StatusInternalServerError, msgInternal)
	}
}

// trackWriter records whether a response was started.
type trackWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackWriter) WriteHeader(code int) { w.wrote = true; w.ResponseWriter.WriteHeader(code) }
func (w *trackWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes and
// deadlines of the event streams).
func (w *trackWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
