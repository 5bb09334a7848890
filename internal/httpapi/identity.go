package httpapi

import (
	"context"
	"crypto/subtle"
	"net/http"
	"net/netip"
	"strings"

	"slipway.dev/slipway/internal/slipway"
)

// Who a request acts as. Four credentials name an identity, tried in this
// order:
//
//  1. the admin token as a bearer: the admin, who may do anything;
//  2. a tool-scoped API token as a bearer: that tool;
//  3. a client certificate verified by the TLS listener (see
//     [Config.TLS] in internal/server): the tool its subject CN names, as
//     Toolforge's certificates do;
//  4. the header x-toolforge-tool, from a trusted proxy address only
//     ([Config.TrustedProxies]): the tool it names, as behind Toolforge's
//     API gateway, which verifies the certificate itself.
//
// A tool identity acts on its own tool's routes only (another tool's get
// 403) and never on the admin routes (403). On the two routes CI uses, a
// request with none of these may instead carry the tool's deploy token.

// toolHeader is the header Toolforge's API gateway sets to the tool it
// authenticated.
const toolHeader = "X-Toolforge-Tool"

// msgAuthRequired is the 401 message for a request without a credential.
const msgAuthRequired = "Authentication required: send 'Authorization: Bearer <token>' (an API token; the server's admin token is in its data directory) or a client certificate"

// msgDeployAuthRequired is the 401 message of the two routes that also take
// a deploy token, for a request with no credential. (Toolforge says "The
// 'x-toolforge-tool' header or a token are required".)
const msgDeployAuthRequired = "Authentication required: send the tool's deploy token as ?token=… or an API token as 'Authorization: Bearer …'"

// msgAdminOnly is the 403 message of an admin route for a tool identity.
const msgAdminOnly = "Admin routes need the admin token."

// msgMetrics is the 401 and 403 message of /metrics for anything but the
// admin token and the metrics token.
const msgMetrics = "Metrics need the admin token or the metrics token (the server's --metrics-token-file or SLIPWAY_METRICS_TOKEN): send 'Authorization: Bearer <token>'"

// identity is who a request acts as.
type identity struct {
	// admin is true for the admin token.
	admin bool
	// tool is the tool a non-admin identity acts for.
	tool string
	// metrics is true for the metrics token, which may read /metrics and
	// nothing else.
	metrics bool
	// credential names the credential, never by its secret: "admin",
	// "tool-token:<id>", "cert:<serial>", "proxy:<address>", "deploy" or
	// "ask:<deployment>/<step>".
	credential string
	// ask is the scope of an ask token, which may ask its step's
	// questions and read them, and nothing else.
	ask *slipway.AskScope
}

// actor returns the identity as the services see it.
func (id identity) actor() slipway.Actor {
	return slipway.Actor{Name: id.credential, Admin: id.admin, Tool: id.tool}
}

type identityKey struct{}

// identityOf returns the identity the guard put in ctx.
func identityOf(ctx context.Context) identity {
	id, _ := ctx.Value(identityKey{}).(identity)
	return id
}

// credentialOf names the credential that authorized the request, never by
// its secret.
func credentialOf(ctx context.Context) string { return identityOf(ctx).credential }

// byDeployToken reports whether the request was authorized by the tool's
// deploy token.
func byDeployToken(ctx context.Context) bool { return identityOf(ctx).credential == "deploy" }

// identify returns the identity r's credentials name; ok is false when
// they name none. hint, when not empty, explains why a credential that was
// sent was not taken (for the 401 message). An error is a failed lookup
// (answered 500), not a wrong credential.
func (a *api) identify(r *http.Request) (id identity, ok bool, hint string, err error) {
	if token, isBearer := bearer(r); isBearer && token != "" {
		if strings.HasPrefix(token, slipway.AskTokenPrefix) && a.cfg.Questions != nil {
			// Not in identifyToken: an ask token never opens a web session.
			scope, ok, err := a.cfg.Questions.IdentifyAsk(r.Context(), token)
			if err != nil || !ok {
				return identity{}, false, "the ask token is not valid, or its step is no longer running", err
			}
			return identity{tool: scope.Tool, credential: "ask:" + scope.DeploymentID + "/" + scope.Step, ask: &scope}, true, "", nil
		}
		if id, ok, err := a.identifyToken(r.Context(), token); err != nil || ok {
			return id, ok, "", err
		}
	}
	id, ok, hint = a.identifyPeer(r)
	return id, ok, hint, nil
}

// identifyToken returns the identity a bearer token names: the admin
// token, the metrics token or a tool's API token; ok is false for none.
// The web UI's sign-in judges a pasted token with it too.
func (a *api) identifyToken(ctx context.Context, token string) (identity, bool, error) {
	if want := []byte(a.cfg.AdminToken); len(want) > 0 && subtle.ConstantTimeCompare([]byte(token), want) == 1 {
		return identity{admin: true, credential: "admin"}, true, nil
	}
	if want := []byte(a.cfg.MetricsToken); len(want) > 0 && subtle.ConstantTimeCompare([]byte(token), want) == 1 {
		return identity{metrics: true, credential: "metrics"}, true, nil
	}
	if a.cfg.APITokens != nil {
		tok, ok, err := a.cfg.APITokens.IdentifyToken(ctx, token)
		if err != nil || ok {
			return identity{tool: tok.Tool, credential: slipway.APITokenActorName(tok.ID)}, ok, err
		}
	}
	return identity{}, false, nil
}

// identifyPeer returns the identity the connection itself names: a
// verified client certificate, or a trusted proxy's tool header. hint
// says why one that was sent was not taken.
func (a *api) identifyPeer(r *http.Request) (id identity, ok bool, hint string) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		cert := r.TLS.VerifiedChains[0][0]
		cn := cert.Subject.CommonName
		if !isToolName(cn) {
			return identity{}, false, "the client certificate's CN " + quoteShort(cn) + " is not a tool name"
		}
		return identity{tool: cn, credential: "cert:" + cert.SerialNumber.Text(16)}, true, ""
	}
	if tool := r.Header.Get(toolHeader); tool != "" {
		addr, trusted := a.trustedProxy(r)
		if !trusted {
			return identity{}, false, "the " + toolHeader + " header is only taken from trusted proxies, and " + addr + " is not one"
		}
		if !isToolName(tool) {
			return identity{}, false, "the " + toolHeader + " header " + quoteShort(tool) + " is not a tool name"
		}
		return identity{tool: tool, credential: "proxy:" + addr}, true, ""
	}
	return identity{}, false, ""
}

// isToolName reports whether s is a valid tool name.
func isToolName(s string) bool { return slipway.ValidateToolName(s) == nil }

// trustedProxy returns r's peer address and whether it is one of the
// trusted proxies.
func (a *api) trustedProxy(r *http.Request) (string, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr, false
	}
	addr := ap.Addr().Unmap()
	return addr.String(), a.isTrustedProxy(addr)
}

// guard wraps next with the check that acc asks for. A request that passes
// carries its identity in the context (see identityOf) and in the request
// log.
func (a *api) guard(acc access, next http.Handler) http.Handler {
	if acc == public {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok, hint, err := a.identify(r)
		switch {
		case err != nil:
			a.writeError(w, r, err)
		case ok && id.admin:
			a.serveAs(w, r, id, next)
		case acc == adminOrMetricsToken && ok && id.metrics:
			a.serveAs(w, r, id, next)
		case acc == adminOrMetricsToken && ok:
			a.writeError(w, r, slipway.Errorf(slipway.EForbidden, "%s", msgMetrics))
		case acc == adminOrMetricsToken:
			msg := msgMetrics
			if hint != "" {
				msg += " (" + hint + ")"
			}
			a.unauthorized(w, r, msg)
		case ok && id.metrics:
			// The metrics token names no tool: it is no credential here.
			a.unauthorized(w, r, msgAuthRequired+" (the metrics token is for /metrics only)")
		case ok && id.ask != nil && acc != adminOrToolOrAsk:
			a.writeError(w, r, slipway.Errorf(slipway.EForbidden, "%s", msgAskTokenOnly))
		case ok && acc == anyTool && id.tool != "":
			a.serveAs(w, r, id, next)
		case ok && acc == adminOnly:
			a.writeError(w, r, slipway.Errorf(slipway.EForbidden, "%s", msgAdminOnly))
		case ok && id.tool != r.PathValue("tool"):
			a.writeError(w, r, slipway.Errorf(slipway.EForbidden,
				"This credential is for tool '%s'; it cannot act on tool '%s'.", id.tool, r.PathValue("tool")))
		case ok:
			a.serveAs(w, r, id, next)
		case acc == adminOrDeployToken && (hint == "" || hasToken(r)):
			a.serveDeployToken(w, r, next)
		default:
			msg := msgAuthRequired
			if hint != "" {
				msg += " (" + hint + ")"
			}
			a.unauthorized(w, r, msg)
		}
	})
}

// serveAs serves r as id. The service sees who acts through
// slipway.ActorFrom (the creator of a config decides which local
// repositories it may name).
func (a *api) serveAs(w http.ResponseWriter, r *http.Request, id identity, next http.Handler) {
	if info := requestInfoOf(r.Context()); info != nil {
		info.credential = id.credential
	}
	ctx := context.WithValue(r.Context(), identityKey{}, id)
	ctx = slipway.WithActor(ctx, id.actor())
	next.ServeHTTP(w, r.WithContext(ctx))
}

// serveDeployToken serves the two routes CI uses for a request that names
// no identity when it carries the tool's valid deploy token, taken from
// ?token= (anywhere among the query keys) or else from a bearer that is no
// API token. The token is never logged or echoed.
func (a *api) serveDeployToken(w http.ResponseWriter, r *http.Request, next http.Handler) {
	// Checked before "latest" reaches the handler: the deploy token is only
	// for a deployment by ID (Toolforge matches latest first, and it takes
	// the header only).
	if r.PathValue("deploy_id") == slipway.DeploymentIDLatest {
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
	a.serveAs(w, r, identity{tool: tool, credential: "deploy"}, next)
}

// hasToken reports whether r carries a token that may be a deploy token:
// ?token= or a bearer.
func hasToken(r *http.Request) bool {
	_, ok := bearer(r)
	return ok || r.URL.Query().Has("token")
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (string, bool) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// unauthorized answers 401 with msg.
func (a *api) unauthorized(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="slipway"`)
	a.writeError(w, r, slipway.Errorf(slipway.EUnauthorized, "%s", msg))
}
