package web

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// maxTokenBytes bounds a pasted token; real ones are under 100 bytes.
const maxTokenBytes = 512

// signinView is the sign-in page's data.
type signinView struct {
	Why     string
	Error   string
	Next    string
	Ambient *slipway.Actor
	// AmbientKind says what names the ambient actor: "client certificate"
	// or "trusted proxy".
	AmbientKind string
}

// signinPage serves GET /ui/signin. It sets the sign-in form's own CSRF
// cookie (double submit), since there is no session yet to hold a token.
func (h *handler) signinPage(w http.ResponseWriter, r *http.Request) {
	v := signinView{Why: whyMessages[r.URL.Query().Get("why")], Next: safeNext(r.URL.Query().Get("next"))}
	h.renderSignin(w, r, http.StatusOK, v)
}

// renderSignin renders the sign-in page with a fresh form token.
func (h *handler) renderSignin(w http.ResponseWriter, r *http.Request, status int, v signinView) {
	token, err := h.random(24)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	setCookie(w, r, cookieName(r, signinCookie, signinCookieTLS), token, int(time.Hour/time.Second))
	if a, ok := h.ambient(r); ok {
		v.Ambient = &a
		v.AmbientKind = "trusted proxy"
		if strings.HasPrefix(a.Name, credentialCert) {
			v.AmbientKind = "client certificate"
		}
	}
	h.render(w, r, status, "signin", view{Title: "Sign in", CSRF: token, Data: v})
}

// safeNext returns next when it is a path of the UI, else the UI's root:
// the sign-in page never sends anyone to another site.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/ui/") && !strings.HasPrefix(next, "/ui//") && !strings.ContainsAny(next, "\\\r\n") && len(next) < 512 {
		return next
	}
	return "/ui/"
}

// signin serves POST /ui/signin: a pasted token (field token), or the
// request's certificate or proxy tool (field ambient). Failed token
// checks count against the client's address.
func (h *handler) signin(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	c, err := r.Cookie(cookieName(r, signinCookie, signinCookieTLS))
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get(csrfField))) != 1 {
		h.errorPage(w, r, http.StatusForbidden, msgCSRF)
		return
	}
	v := signinView{Next: safeNext(r.PostForm.Get("next"))}
	addr := h.clientAddr(r)
	var a slipway.Actor
	if r.PostForm.Get("ambient") != "" {
		var ok bool
		if a, ok = h.ambient(r); !ok {
			v.Error = "This request carries no client certificate or trusted proxy header to continue with."
			h.renderSignin(w, r, http.StatusUnauthorized, v)
			return
		}
	} else {
		if until, locked := h.fails.locked(addr); locked {
			v.Error = lockedMessage(until, h.cfg.Now())
			h.renderSignin(w, r, http.StatusTooManyRequests, v)
			return
		}
		token := strings.TrimSpace(r.PostForm.Get("token"))
		ok := false
		if token != "" && len(token) <= maxTokenBytes && h.cfg.Auth.VerifyToken != nil {
			if a, ok, err = h.cfg.Auth.VerifyToken(r.Context(), token); err != nil {
				h.internal(w, r, err)
				return
			}
		}
		if !ok {
			if until, locked := h.fails.fail(addr); locked {
				v.Error = lockedMessage(until, h.cfg.Now())
				h.renderSignin(w, r, http.StatusTooManyRequests, v)
				return
			}
			v.Error = "That is not a valid token. Paste the admin token (the file admin-token in the server's data directory) or one of your tool's API tokens."
			h.renderSignin(w, r, http.StatusUnauthorized, v)
			return
		}
	}
	if err := h.openSession(w, r, a); err != nil {
		h.internal(w, r, err)
		return
	}
	setCookie(w, r, cookieName(r, signinCookie, signinCookieTLS), "", -1)
	next := v.Next
	if next == "/ui/" && !a.Admin {
		next = "/ui/t/" + a.Tool + "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// lockedMessage tells a locked-out client when it may try again.
func lockedMessage(until, now time.Time) string {
	mins := int(until.Sub(now).Round(time.Minute) / time.Minute)
	return fmt.Sprintf("Too many failed sign-ins from your address: %d in %d minutes. Try again in %d minutes (at %s UTC).",
		maxFailures, int(failWindow/time.Minute), max(mins, 1), until.UTC().Format("15:04"))
}

// clientAddr returns the address the rate limit counts.
func (h *handler) clientAddr(r *http.Request) string {
	if h.cfg.Auth.ClientAddr != nil {
		return h.cfg.Auth.ClientAddr(r)
	}
	return r.RemoteAddr
}

// signout serves POST /ui/signout: the session is deleted.
func (h *handler) signout(w http.ResponseWriter, r *http.Request) {
	s, _ := sessionOf(r.Context())
	if err := h.cfg.Sessions.SessionDelete(r.Context(), s.IDHash); err != nil {
		h.internal(w, r, err)
		return
	}
	setCookie(w, r, cookieName(r, sessionCookie, sessionCookieTLS), "", -1)
	http.Redirect(w, r, "/ui/signin?why="+whySignedOut, http.StatusSeeOther)
}

// limiter counts failed sign-ins per client address, in this process:
// maxFailures within failWindow lock the address out for lockout.
type limiter struct {
	mu    sync.Mutex
	now   func() time.Time
	tries map[string]*tries
}

type tries struct {
	fails       []time.Time
	lockedUntil time.Time
}

// maxTracked bounds the addresses the limiter remembers; past it, the
// ones with nothing current are forgotten.
const maxTracked = 10000

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, tries: map[string]*tries{}}
}

// locked reports whether addr is locked out, and until when.
func (l *limiter) locked(addr string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.tries[addr]
	if t == nil || !l.now().Before(t.lockedUntil) {
		return time.Time{}, false
	}
	return t.lockedUntil, true
}

// fail counts a failure of addr; it reports whether addr is now locked
// out, and until when.
func (l *limiter) fail(addr string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.tries) >= maxTracked {
		l.forget(now)
	}
	t := l.tries[addr]
	if t == nil {
		t = &tries{}
		l.tries[addr] = t
	}
	t.fails = append(recent(t.fails, now), now)
	if len(t.fails) >= maxFailures {
		t.fails, t.lockedUntil = nil, now.Add(lockout)
		return t.lockedUntil, true
	}
	return time.Time{}, false
}

// forget drops the addresses with no failure in the window and no lockout.
func (l *limiter) forget(now time.Time) {
	for addr, t := range l.tries {
		if t.fails = recent(t.fails, now); len(t.fails) == 0 && !now.Before(t.lockedUntil) {
			delete(l.tries, addr)
		}
	}
}

// recent returns the failures within the window before now.
func recent(fails []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(fails) && now.Sub(fails[i]) >= failWindow {
		i++
	}
	return fails[i:]
}
