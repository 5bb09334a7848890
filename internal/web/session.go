package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// Cookie names: with TLS the __Host- prefix, which browsers accept only
// with Secure, Path=/ and no Domain, so no other host can set it.
const (
	sessionCookie       = "slipway_session"
	sessionCookieTLS    = "__Host-slipway_session"
	signinCookie        = "slipway_signin"
	signinCookieTLS     = "__Host-slipway_signin"
	csrfField           = "csrf"
	csrfHeader          = "X-CSRF-Token"
	touchEvery          = time.Minute
	sessionIDBytes      = 32
	credentialCert      = "cert:"
	credentialProxy     = "proxy:"
	whyEnded            = "ended"
	whyExpired          = "expired"
	whyIdle             = "idle"
	whyMoved            = "moved"
	whySignedOut        = "signedout"
	msgCSRF             = "This form was not sent by a page of this session (its security token is missing or wrong). Go back, reload the page and try again."
	msgInternal         = "Something went wrong on the server. The error is logged; try again, or tell the server's admin."
	msgForbiddenTool    = "This session is for tool %q; it cannot see tool %q."
	msgNoSessionForLive = "Sign in to follow this deployment."
)

// session is the signed-in session of a request.
type session struct {
	store.Session
	// id is the session's id, only known while serving its request.
	id string
}

// actor returns who the session acts as: the credential it was opened
// with, so that one API token is one identity in the UI, the CLI and the
// API alike (a gate's forbid_initiator and its count of distinct answers
// compare names). Where an action came from is recorded apart: trigger
// "ui", an answer's source "ui".
func (s session) actor() slipway.Actor {
	return slipway.Actor{Name: s.Credential, Admin: s.Admin, Tool: s.Tool}
}

type sessionKey struct{}

// sessionOf returns the request's session; ok is false outside authed.
func sessionOf(ctx context.Context) (session, bool) {
	s, ok := ctx.Value(sessionKey{}).(session)
	return s, ok
}

// hashID returns the SHA-256 hex hash of a session id: what the store
// keeps and looks sessions up by.
func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// random returns n random bytes in URL-safe base64.
func (h *handler) random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(h.cfg.Rand, b); err != nil {
		return "", fmt.Errorf("web: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// cookieName returns the session cookie's name for r.
func cookieName(r *http.Request, plain, tls string) string {
	if r.TLS != nil {
		return tls
	}
	return plain
}

// setCookie sets a cookie with the UI's flags: HttpOnly, SameSite=Strict,
// Path=/, and Secure over TLS. maxAge < 0 deletes it.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{ //nolint:gosec // Secure over TLS only: the UI is also served over plain HTTP on loopback, where a Secure cookie would never come back
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

// openSession makes a session for a, sets its cookie and returns it.
func (h *handler) openSession(w http.ResponseWriter, r *http.Request, a slipway.Actor) error {
	id, err := h.random(sessionIDBytes)
	if err != nil {
		return err
	}
	csrf, err := h.random(sessionIDBytes)
	if err != nil {
		return err
	}
	now := h.cfg.Now().UTC()
	s := store.Session{
		IDHash: hashID(id), Credential: a.Name, Admin: a.Admin, Tool: a.Tool, CSRFSecret: csrf,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(h.cfg.SessionLifetime),
	}
	if _, err := h.cfg.Sessions.SessionPrune(r.Context(), now, now.Add(-h.cfg.SessionIdle)); err != nil {
		h.log.WarnContext(r.Context(), "web: prune sessions", "err", err)
	}
	if err := h.cfg.Sessions.SessionCreate(r.Context(), s); err != nil {
		return fmt.Errorf("web: open session: %w", err)
	}
	setCookie(w, r, cookieName(r, sessionCookie, sessionCookieTLS), id, int(h.cfg.SessionLifetime/time.Second))
	return nil
}

// whyMessages are the sign-in page's messages by the code in its ?why=:
// a code, never a text, so that no link can put words on the page.
var whyMessages = map[string]string{
	whyEnded:     "Your session has ended. Sign in again.",
	whyExpired:   "Your session expired (a session lasts 12 hours). Sign in again.",
	whyIdle:      "Your session ended after 2 hours without use. Sign in again.",
	whyMoved:     "Your session was opened with a client certificate or proxy that this request does not carry. Sign in again.",
	whySignedOut: "You are signed out.",
}

// noSessionError says why a request has no usable session: a key of
// whyMessages, or "" for a request that never had one.
type noSessionError struct{ why string }

func (e noSessionError) Error() string { return "no session: " + e.why }

// currentSession returns r's live session. An noSessionError says why there
// is none; any other error is a failed lookup.
func (h *handler) currentSession(r *http.Request) (session, error) {
	c, err := r.Cookie(cookieName(r, sessionCookie, sessionCookieTLS))
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return session{}, noSessionError{}
	}
	idHash := hashID(c.Value)
	s, err := h.cfg.Sessions.SessionGet(r.Context(), idHash)
	if errors.Is(err, store.ErrNotFound) {
		return session{}, noSessionError{whyEnded}
	} else if err != nil {
		return session{}, err
	}
	now := h.cfg.Now()
	switch {
	case !now.Before(s.ExpiresAt):
		_ = h.cfg.Sessions.SessionDelete(r.Context(), idHash)
		return session{}, noSessionError{whyExpired}
	case now.Sub(s.LastSeenAt) >= h.cfg.SessionIdle:
		_ = h.cfg.Sessions.SessionDelete(r.Context(), idHash)
		return session{}, noSessionError{whyIdle}
	case strings.HasPrefix(s.Credential, credentialCert) || strings.HasPrefix(s.Credential, credentialProxy):
		// A certificate or a proxy's header is no secret the session can
		// stand for: the request must still carry it.
		if a, ok := h.ambient(r); !ok || a.Name != s.Credential {
			return session{}, noSessionError{whyMoved}
		}
	}
	if now.Sub(s.LastSeenAt) >= touchEvery {
		if err := h.cfg.Sessions.SessionTouch(r.Context(), idHash, now.UTC()); err != nil && !errors.Is(err, store.ErrNotFound) {
			return session{}, err
		}
	}
	return session{Session: s, id: c.Value}, nil
}

// ambient returns who r's certificate or trusted proxy header names.
func (h *handler) ambient(r *http.Request) (slipway.Actor, bool) {
	if h.cfg.Auth.Ambient == nil {
		return slipway.Actor{}, false
	}
	return h.cfg.Auth.Ambient(r)
}

// authed serves next with the request's session and actor in its context;
// without a live session it redirects to the sign-in page (an event
// stream gets 401), and an unsafe request without the session's CSRF
// token gets 403.
func (h *handler) authed(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := h.currentSession(r)
		var none noSessionError
		switch {
		case errors.As(err, &none):
			h.toSignin(w, r, none.why)
			return
		case err != nil:
			h.internal(w, r, err)
			return
		}
		if !safeMethod(r.Method) && !h.validCSRF(w, r, s.CSRFSecret) {
			return
		}
		a := s.actor()
		if h.cfg.Auth.Seen != nil {
			h.cfg.Auth.Seen(r, a.Name)
		}
		ctx := context.WithValue(r.Context(), sessionKey{}, s)
		next(w, r.WithContext(slipway.WithActor(ctx, a)))
	})
}

// toSignin sends a request without a session to the sign-in page, which
// brings it back here afterwards.
func (h *handler) toSignin(w http.ResponseWriter, r *http.Request, why string) {
	if strings.Contains(r.Header.Get("Accept"), "text/event-stream") || strings.HasSuffix(r.URL.Path, "/live") {
		h.errorPage(w, r, http.StatusUnauthorized, msgNoSessionForLive)
		return
	}
	q := url.Values{}
	if r.Method == http.MethodGet {
		q.Set("next", r.URL.Path)
	}
	if why != "" {
		q.Set("why", why)
	}
	target := "/ui/signin"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// safeMethod reports whether m changes nothing (no CSRF token needed).
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// validCSRF checks an unsafe request's CSRF token — the X-CSRF-Token
// header (app.js's fetches) or the csrf form field — against want, and
// answers 403 (or 413 for a form over the limit) when it fails.
func (h *handler) validCSRF(w http.ResponseWriter, r *http.Request, want string) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" {
		if !h.parseForm(w, r) {
			return false
		}
		got = r.PostForm.Get(csrfField)
	}
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		h.errorPage(w, r, http.StatusForbidden, msgCSRF)
		return false
	}
	return true
}

// parseForm reads r's form, at most MaxFormBytes (or the route's own
// bound, withFormLimit); it answers 413 or 400
// and returns false when it cannot.
func (h *handler) parseForm(w http.ResponseWriter, r *http.Request) bool {
	if r.PostForm != nil {
		return true
	}
	limit := h.formLimitOf(r)
	r.Body = http.MaxBytesReader(w, r.Body, limit.bytes)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.errorPage(w, r, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("The form is too large: at most %d bytes are taken.", limit.bytes)+limit.hint)
			return false
		}
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read: "+clip(err.Error(), 200))
		return false
	}
	return true
}

// tool serves next for the {tool} of the path: a session that may not act
// on it gets 403 whether or not it exists (no difference to learn from),
// the admin gets 404 for a tool the server does not know.
func (h *handler) tool(next http.HandlerFunc) http.Handler {
	return h.authed(func(w http.ResponseWriter, r *http.Request) {
		a := slipway.ActorFrom(r.Context())
		tool := r.PathValue("tool")
		if !a.MayActOn(tool) {
			h.errorPage(w, r, http.StatusForbidden, fmt.Sprintf(msgForbiddenTool, a.Tool, clip(tool, 64)))
			return
		}
		if err := slipway.ValidateToolName(tool); err != nil {
			h.errorPage(w, r, http.StatusNotFound, fmt.Sprintf("There is no tool named %q: that is not a tool name.", clip(tool, 64)))
			return
		}
		if a.Admin {
			tools, err := h.cfg.Tools.ToolList(r.Context())
			if err != nil {
				h.internal(w, r, err)
				return
			}
			if !slices.Contains(tools, tool) {
				h.errorPage(w, r, http.StatusNotFound, fmt.Sprintf("There is no tool named %q on this server.", tool))
				return
			}
		}
		next(w, r)
	})
}
