package slipway

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// CredentialMarker is what a repository URL (or a source_url) carries in
// place of its user info once its credential is stored: the URL the config,
// deployments, builds, logs and API responses show is
// https://***@host/path, and the credential itself is kept sealed in the
// store, keyed by the tool and that URL. Posting such a URL again keeps
// the stored credential.
const CredentialMarker = "***"

// Credential is the user name and password of an http or https URL. It
// prints as *** with every fmt verb, JSON and slog, so that logging one by
// mistake gives nothing away; only the fields hold the secret.
type Credential struct {
	Username string
	Password string
}

// String returns ***.
func (Credential) String() string { return CredentialMarker }

// GoString returns ***.
func (Credential) GoString() string { return CredentialMarker }

// Format prints *** for every verb.
func (Credential) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(CredentialMarker)) }

// MarshalJSON returns "***".
func (Credential) MarshalJSON() ([]byte, error) { return []byte(`"` + CredentialMarker + `"`), nil }

// URLCredential is a URL split into what may be shown and what may not.
type URLCredential struct {
	// Redacted is the URL with its user info replaced by [CredentialMarker]
	// (https://***@host/path), or the URL as given when it has none.
	Redacted string
	// Credential is the user info, when the URL carried one (HasCredential).
	Credential    Credential
	HasCredential bool
	// Stored is true when the URL already carries the marker: it names the
	// credential stored for it, which the caller must find.
	Stored bool
}

// SplitURLCredential splits s, a repository URL or a source_url, into the
// URL to show and store (user info replaced by ***) and its credential.
// A URL without user info comes back as it is. Only http and https URLs may
// carry a credential; user info in another URL, or a user name or password
// with control characters, is an error that never contains the password.
func SplitURLCredential(s string) (URLCredential, error) {
	u, err := url.Parse(s)
	if err != nil || u.User == nil || u.Scheme == "" || u.Opaque != "" {
		return URLCredential{Redacted: RedactURL(s)}, nil //nolint:nilerr // not a URL with user info: nothing to split (the config's own checks judge the URL)
	}
	redacted := RedactURL(s)
	if scheme := strings.ToLower(u.Scheme); scheme != "http" && scheme != "https" {
		return URLCredential{Redacted: redacted}, fmt.Errorf("%s: only http and https URLs may carry a user name or password", redacted)
	}
	name := u.User.Username()
	pass, hasPass := u.User.Password()
	if name == CredentialMarker && !hasPass {
		return URLCredential{Redacted: redacted, Stored: true}, nil
	}
	if name == "" && pass == "" {
		return URLCredential{Redacted: redacted}, fmt.Errorf("%s: the user info is empty: give user:password@ or a token@, or leave it out", redacted)
	}
	if strings.ContainsFunc(name, unicode.IsControl) || strings.ContainsFunc(pass, unicode.IsControl) {
		return URLCredential{Redacted: redacted}, fmt.Errorf("%s: the user name or password contains control characters", redacted)
	}
	return URLCredential{Redacted: redacted, Credential: Credential{Username: name, Password: pass}, HasCredential: true}, nil
}

// RedactURL returns s with the user info of a URL (user, password or token)
// replaced by ***: https://user:pass@host/x becomes https://***@host/x. A
// string that is no URL with user info comes back as it is.
func RedactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "/?#@") {
		return s
	}
	// The authority ends at the first /, ? or #; its user info at its last @.
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return s
	}
	return scheme + "://" + CredentialMarker + "@" + rest[at+1:]
}

// HasStoredCredential reports whether s is a URL whose user info is the
// [CredentialMarker]: one whose credential is kept in the store.
func HasStoredCredential(s string) bool {
	_, rest, ok := strings.Cut(s, "://")
	return ok && strings.HasPrefix(rest, CredentialMarker+"@")
}

// StripUserInfo returns the URL s without any user info: what git or an
// HTTP client is given, the credential going separately.
func StripUserInfo(s string) string {
	r := RedactURL(s)
	if r == s && !HasStoredCredential(s) {
		return s
	}
	scheme, rest, _ := strings.Cut(r, "://")
	return scheme + "://" + strings.TrimPrefix(rest, CredentialMarker+"@")
}

// SourceScope says on whose behalf a source operation (resolving refs,
// fetching, checking out) runs. The deploy service puts it in the context of
// every such operation; the git adapter reads it to find the tool's
// credentials, to keep each tool's private fetches in a mirror of its own,
// and to hold local repositories to the directories tools may use.
type SourceScope struct {
	// Tool is the tool whose config names the repository.
	Tool string
	// Admin is true when the config was created by the admin (or the
	// server itself): local repositories outside the allowed directories
	// may be read.
	Admin bool
	// Pending holds credentials that are not stored, by redacted URL: those
	// of a config that is planned without being stored.
	Pending map[string]Credential
}

type sourceScopeKey struct{}

// WithSourceScope returns ctx carrying sc.
func WithSourceScope(ctx context.Context, sc SourceScope) context.Context {
	return context.WithValue(ctx, sourceScopeKey{}, sc)
}

// SourceScopeFrom returns the scope in ctx; ok is false when there is none
// (a caller inside the server acting for nobody in particular).
func SourceScopeFrom(ctx context.Context) (SourceScope, bool) {
	sc, ok := ctx.Value(sourceScopeKey{}).(SourceScope)
	return sc, ok
}

// Actor is who asks for a change, derived once per request from its
// credential and carried in the context: the API, the web UI, questions'
// "who may answer" and audit records all read the same value.
//
// Name is the credential, never its secret, as the request log has it:
// admin, tool-token:<id>, cert:<serial>, proxy:<addr>, deploy,
// session:<id> (a web UI session, followed by the credential it was
// opened with), ask:<step> (a process asking a question). Admin is true for
// the admin (and the server itself); Tool is the one tool a non-admin
// actor acts for.
type Actor struct {
	Name  string
	Admin bool
	Tool  string
}

// APITokenActorName is the [Actor] name of a tool-scoped API token: the
// request log, deployments and web UI sessions name the token so.
func APITokenActorName(id string) string { return "tool-token:" + id }

// MayActOn reports whether a may act on tool's resources: the admin on
// every tool, anyone else on its own tool only.
func (a Actor) MayActOn(tool string) bool { return a.Admin || (a.Tool != "" && a.Tool == tool) }

// ActorInternal is the actor of calls made inside the server, with no
// request behind them: it acts as the admin.
var ActorInternal = Actor{Name: "internal", Admin: true}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor in ctx, [ActorInternal] when there is none.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return ActorInternal
}
