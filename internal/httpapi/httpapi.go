package httpapi

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"

	"slipway.dev/slipway/internal/slipway"
)

// Service is what the API needs from the deploy engine. The engine in
// internal/deploy implements it.
//
// Errors are [*slipway.Error] values whose Code decides the HTTP status
// (see writeError); any other error is answered as an internal error.
type Service interface {
	// ConfigPut stores cfg as the tool's config and returns the stored config
	// (Raw set). EInvalid when the config is not acceptable.
	ConfigPut(ctx context.Context, tool string, cfg slipway.ToolConfig) (slipway.ToolConfig, error)
	// ConfigGet returns the tool's config; ENotFound
	// "No configuration found for tool: X" when there is none.
	ConfigGet(ctx context.Context, tool string) (slipway.ToolConfig, error)
	// ConfigDelete deletes the tool's config and returns it; ENotFound as
	// ConfigGet.
	ConfigDelete(ctx context.Context, tool string) (slipway.ToolConfig, error)
	// DeploymentCreate creates a deployment of the tool's current config and
	// returns it at once. ENotFound without a config, EConflict when the tool
	// cannot take another deployment.
	DeploymentCreate(ctx context.Context, tool string, opts slipway.DeployOptions) (slipway.Deployment, error)
	// DeploymentPlan returns what DeploymentCreate would do now with the
	// tool's stored config, step by step with the reason for each, without
	// storing or changing anything: no ID, status pending, LongStatus "Plan
	// only, nothing was changed: …". ENotFound without a config, EInvalid
	// "Cannot plan: …" when a ref cannot be resolved.
	DeploymentPlan(ctx context.Context, tool string, opts slipway.DeployOptions) (slipway.Deployment, error)
	// DeploymentPlanConfig is DeploymentPlan for cfg (parsed and checked by
	// toolconfig.Parse) instead of the stored config, which it neither reads
	// nor changes. EInvalid when cfg is not acceptable on this server.
	DeploymentPlanConfig(ctx context.Context, tool string, cfg slipway.ToolConfig, opts slipway.DeployOptions) (slipway.Deployment, error)
	// DeploymentList returns the tool's deployments, oldest first; an empty
	// list when there are none.
	DeploymentList(ctx context.Context, tool string) ([]slipway.Deployment, error)
	// DeploymentGet returns one deployment; id may be "latest". ENotFound
	// "No deployments found for tool: X" or "Deployment X not found for tool Y".
	DeploymentGet(ctx context.Context, tool, id string) (slipway.Deployment, error)
	// DeploymentEvents calls fn for each event with Seq > after, in order,
	// waiting for new ones, and returns nil after delivering the event that
	// makes the deployment final (or at once if it already is final and all
	// events are delivered), or ctx.Err(), or the first error fn returns.
	DeploymentEvents(ctx context.Context, tool, id string, after int64, fn func(slipway.Event) error) error
	// DeploymentCancel cancels a pending or running deployment (id may be
	// "latest") and returns it, cancelling or cancelled. ENotFound when there
	// is none, EConflict "Deployment can't be cancelled, its status is X"
	// when it is already final.
	DeploymentCancel(ctx context.Context, tool, id string) (slipway.Deployment, error)
}

// DeployTokens issues and checks the tools' deploy tokens; internal/auth
// implements it. Errors are [*slipway.Error] values as for [Service].
type DeployTokens interface {
	// Create issues the tool's token; EConflict when it has one.
	Create(ctx context.Context, tool string) (slipway.DeployToken, error)
	// Refresh replaces the tool's token; ENotFound when it has none.
	Refresh(ctx context.Context, tool string) (slipway.DeployToken, error)
	// Get returns the tool's token; ENotFound when it has none.
	Get(ctx context.Context, tool string) (slipway.DeployToken, error)
	// Delete deletes the tool's token and returns it; ENotFound when it has
	// none.
	Delete(ctx context.Context, tool string) (slipway.DeployToken, error)
	// Verify returns nil when presented is the tool's valid token, else an
	// EUnauthorized error whose message does not contain presented.
	Verify(ctx context.Context, tool, presented string) error
}

// DefaultMaxBodyBytes is the default limit of a request body: 1 MiB.
const DefaultMaxBodyBytes = 1 << 20

// Config holds the handler's settings.
type Config struct {
	// AdminToken is required: every request except healthz and openapi.json
	// must send "Authorization: Bearer <AdminToken>". When it is empty, every
	// authenticated request is refused.
	AdminToken string
	// DeployTokens serves the …/deployment/token routes and checks the
	// deploy tokens that POST …/deployment and GET …/deployment/{id} accept.
	// When nil, the token routes answer 503 and deploy tokens are refused.
	DeployTokens DeployTokens
	// Logger receives the request log and internal errors. Default: a logger
	// that discards everything.
	Logger *slog.Logger
	// Health returns named checks for healthz: a nil error means "ok".
	// Default: no checks (status OK).
	Health func(ctx context.Context) map[string]error
	// MaxBodyBytes limits request bodies; larger ones get 413. Default
	// [DefaultMaxBodyBytes].
	MaxBodyBytes int64
}

// NewHandler returns the HTTP handler of the whole API, backed by svc.
func NewHandler(svc Service, cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.MaxBodyBytes = cmp.Or(cfg.MaxBodyBytes, DefaultMaxBodyBytes)
	a := &api{svc: svc, cfg: cfg, log: cfg.Logger}
	mux := http.NewServeMux()
	for _, rt := range a.routes() {
		h := rt.handler
		switch rt.access {
		case adminOnly:
			h = a.requireAdmin(h)
		case adminOrDeployToken:
			h = a.requireAdminOrDeployToken(h)
		case public:
		}
		mux.Handle(rt.method+" "+rt.path, h)
		if alias, ok := unprefixed(rt.path); ok {
			mux.Handle(rt.method+" "+alias, h)
		}
	}
	return a.middleware(a.notFound(mux))
}

// api holds the handlers' dependencies.
type api struct {
	svc Service
	cfg Config
	log *slog.Logger
}
