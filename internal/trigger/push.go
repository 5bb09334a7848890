// Package trigger starts deployments from outside events: push webhooks
// from a forge (GitHub, GitLab, Gitea, Forgejo, or a generic HMAC-signed
// form). This file reads the forges' formats; hooks.go decides what a push
// deploys.
package trigger

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"slipway.dev/slipway/internal/slipway"
)

// Provider is a forge's webhook format.
type Provider string

// The formats understood.
const (
	GitHub  Provider = "github"
	GitLab  Provider = "gitlab"
	Gitea   Provider = "gitea"
	Forgejo Provider = "forgejo"
	// Generic is Slipway's own form for scripts and other forges:
	// X-Slipway-Event: push, X-Slipway-Delivery: <unique id>,
	// X-Slipway-Signature: sha256=<hex HMAC-SHA256 of the body>, and a body
	// {"ref": "refs/heads/main", "after": "<commit>", "repository":
	// "<clone URL>", "pusher": "<who>"}.
	Generic Provider = "generic"
)

// Delivery is what a delivery's headers say: who sent it, its ID and its
// event.
type Delivery struct {
	Provider Provider
	ID       string
	Event    string
}

// maxDeliveryID bounds a delivery ID: the forges send UUIDs.
const maxDeliveryID = 128

// Detect reads the forge, the delivery ID and the event from the headers.
// Gitea and Forgejo also send GitHub's headers, so their own are looked at
// first.
func Detect(h http.Header) (Delivery, error) {
	var d Delivery
	switch {
	case h.Get("X-Forgejo-Event") != "":
		d = Delivery{Forgejo, h.Get("X-Forgejo-Delivery"), h.Get("X-Forgejo-Event")}
	case h.Get("X-Gitea-Event") != "":
		d = Delivery{Gitea, h.Get("X-Gitea-Delivery"), h.Get("X-Gitea-Event")}
	case h.Get("X-Gitlab-Event") != "":
		// Idempotency-Key stays the same when GitLab retries a delivery;
		// older GitLab sends only the event's UUID.
		d = Delivery{GitLab, cmp.Or(h.Get("Idempotency-Key"), h.Get("X-Gitlab-Event-UUID")), h.Get("X-Gitlab-Event")}
	case h.Get("X-GitHub-Event") != "":
		d = Delivery{GitHub, h.Get("X-GitHub-Delivery"), h.Get("X-GitHub-Event")}
	case h.Get("X-Slipway-Event") != "":
		d = Delivery{Generic, h.Get("X-Slipway-Delivery"), h.Get("X-Slipway-Event")}
	default:
		return Delivery{}, slipway.Errorf(slipway.EInvalid,
			"Not a webhook Slipway understands: no X-GitHub-Event, X-Gitlab-Event, X-Gitea-Event, X-Forgejo-Event or X-Slipway-Event header.")
	}
	switch {
	case d.ID == "":
		return d, slipway.Errorf(slipway.EInvalid, "The %s delivery has no delivery ID header (%s): without one a replay cannot be told apart.", d.Provider, idHeader(d.Provider))
	case len(d.ID) > maxDeliveryID || strings.ContainsFunc(d.ID, func(r rune) bool { return r < 0x21 || r > 0x7e }):
		return d, slipway.Errorf(slipway.EInvalid, "The delivery ID (%s) must be 1 to %d printable ASCII characters.", idHeader(d.Provider), maxDeliveryID)
	}
	return d, nil
}

// idHeader names the header that carries a provider's delivery ID.
func idHeader(p Provider) string {
	switch p {
	case GitHub:
		return "X-GitHub-Delivery"
	case GitLab:
		return "Idempotency-Key or X-Gitlab-Event-UUID"
	case Gitea:
		return "X-Gitea-Delivery"
	case Forgejo:
		return "X-Forgejo-Delivery"
	default:
		return "X-Slipway-Delivery"
	}
}

// Verify checks that the delivery was sent by someone who knows secret:
// an HMAC-SHA256 of the body (GitHub, Gitea, Forgejo, generic) or, for
// GitLab, which signs nothing, the secret token itself. Comparisons take
// constant time. The error says which header was missing or wrong, never
// what was expected.
func Verify(p Provider, secret string, h http.Header, body []byte) error {
	if secret == "" {
		return errors.New("no secret is set")
	}
	if p == GitLab {
		got := h.Get("X-Gitlab-Token")
		if got == "" {
			return errors.New("no X-Gitlab-Token header")
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(secret)) != 1 {
			return errors.New("X-Gitlab-Token is not the webhook's secret")
		}
		return nil
	}
	header, prefix := "X-Hub-Signature-256", "sha256="
	switch p {
	case GitHub, GitLab:
	case Gitea:
		header, prefix = "X-Gitea-Signature", ""
	case Forgejo:
		header, prefix = "X-Forgejo-Signature", ""
	case Generic:
		header = "X-Slipway-Signature"
	}
	got := h.Get(header)
	if got == "" {
		return fmt.Errorf("no %s header", header)
	}
	sig, ok := strings.CutPrefix(got, prefix)
	raw, err := hex.DecodeString(sig)
	if !ok || err != nil || len(raw) != sha256.Size {
		return fmt.Errorf("%s is not %s<64 hex digits>", header, prefix)
	}
	if !hmac.Equal(raw, Sign(secret, body)) {
		return fmt.Errorf("%s does not match the body signed with the webhook's secret", header)
	}
	return nil
}

// Sign returns the HMAC-SHA256 of body under secret, as the forges sign.
func Sign(secret string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return mac.Sum(nil)
}

// IsPush reports whether event is a push in p's naming.
func IsPush(p Provider, event string) bool {
	switch p {
	case GitLab:
		return event == "Push Hook" || event == "Tag Push Hook"
	default:
		return event == "push"
	}
}

// IsPing reports whether event is a forge's test delivery.
func IsPing(p Provider, event string) bool {
	return p == GitHub && event == "ping"
}

// Push is what a push delivery says.
type Push struct {
	// Ref is the full ref pushed (refs/heads/main, refs/tags/v1).
	Ref string
	// Commit is the ref's new commit; empty when the ref was deleted.
	Commit string
	// Deleted is true when the push deleted the ref.
	Deleted bool
	// Repositories are the URLs the forge gives for the repository (clone
	// over HTTPS and SSH, web page); a component follows the push when its
	// repository is one of them.
	Repositories []string
	Pusher       string
}

// zeroCommit is the "after" of a push that deleted its ref.
const zeroCommit = "0000000000000000000000000000000000000000"

// ParsePush reads a push delivery's body.
func ParsePush(p Provider, body []byte) (Push, error) {
	var raw struct {
		Ref         string          `json:"ref"`
		After       string          `json:"after"`
		CheckoutSHA string          `json:"checkout_sha"`
		Deleted     bool            `json:"deleted"`
		Repository  json.RawMessage `json:"repository"`
		Project     struct {
			GitHTTPURL string `json:"git_http_url"`
			GitSSHURL  string `json:"git_ssh_url"`
			WebURL     string `json:"web_url"`
		} `json:"project"`
		UserUsername string          `json:"user_username"`
		Pusher       json.RawMessage `json:"pusher"`
		Sender       struct {
			Login string `json:"login"`
		} `json:"sender"`
	}
	if len(body) > 0 && body[0] != '{' {
		// GitHub's and Gitea's "application/x-www-form-urlencoded" content
		// type: the JSON in a payload field (signed as sent).
		if form, err := url.ParseQuery(string(body)); err == nil && form.Has("payload") {
			body = []byte(form.Get("payload"))
		}
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return Push{}, slipway.Errorf(slipway.EInvalid, "The %s push body is not JSON Slipway can read: %v", p, err)
	}
	out := Push{Ref: raw.Ref, Commit: raw.After}
	switch p {
	case GitLab:
		out.Repositories = nonEmpty(raw.Project.GitHTTPURL, raw.Project.GitSSHURL, raw.Project.WebURL)
		out.Pusher = raw.UserUsername
	case Generic:
		var repo string
		if err := json.Unmarshal(raw.Repository, &repo); err != nil && len(raw.Repository) > 0 {
			return Push{}, slipway.Errorf(slipway.EInvalid, "The push body's repository must be a string (a clone URL).")
		}
		out.Repositories = nonEmpty(repo)
		_ = json.Unmarshal(raw.Pusher, &out.Pusher) // a string, or absent
	default: // GitHub, Gitea, Forgejo
		var repo struct {
			CloneURL string `json:"clone_url"`
			SSHURL   string `json:"ssh_url"`
			GitURL   string `json:"git_url"`
			HTMLURL  string `json:"html_url"`
		}
		if len(raw.Repository) > 0 {
			if err := json.Unmarshal(raw.Repository, &repo); err != nil {
				return Push{}, slipway.Errorf(slipway.EInvalid, "The %s push body's repository is not an object: %v", p, err)
			}
		}
		out.Repositories = nonEmpty(repo.CloneURL, repo.SSHURL, repo.GitURL, repo.HTMLURL)
		var pusher struct {
			Name     string `json:"name"`
			Login    string `json:"login"`
			Username string `json:"username"`
		}
		_ = json.Unmarshal(raw.Pusher, &pusher) // an object, or absent
		out.Pusher = cmp.Or(pusher.Login, pusher.Username, pusher.Name, raw.Sender.Login)
	}
	out.Deleted = raw.Deleted || out.Commit == zeroCommit
	if out.Deleted {
		out.Commit = ""
	}
	switch {
	case !strings.HasPrefix(out.Ref, "refs/"):
		return Push{}, slipway.Errorf(slipway.EInvalid, "The push names no ref (refs/heads/<branch> or refs/tags/<tag>), got %q.", out.Ref)
	case !out.Deleted && !isCommit(out.Commit):
		return Push{}, slipway.Errorf(slipway.EInvalid, "The push's new commit must be 40 or 64 hex digits, got %q.", out.Commit)
	case len(out.Repositories) == 0:
		return Push{}, slipway.Errorf(slipway.EInvalid, "The push names no repository URL.")
	}
	out.Pusher = printable(out.Pusher, 100)
	return out, nil
}

// printable returns s without control characters, cut to max runes: a
// pusher's name comes from the body and ends up in records and terminals.
func printable(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			continue
		}
		if n == max {
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

func isCommit(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// SameRepository reports whether two repository URLs name the same
// repository: scheme, credentials, a trailing ".git" or slash and the
// host's case aside, and an scp-like SSH address (git@host:path) read as
// ssh://git@host/path.
func SameRepository(a, b string) bool {
	ka, kb := repoKey(a), repoKey(b)
	return ka != "" && ka == kb
}

// repoKey is the comparable form of a repository URL: host and path, or
// the path of a local repository; "" when it cannot be read.
func repoKey(s string) string {
	s = strings.TrimSpace(s)
	if at, rest, ok := strings.Cut(s, "@"); ok && !strings.Contains(at, "/") && !strings.Contains(s, "://") {
		// scp-like: git@host:owner/repo.git
		if host, path, ok := strings.Cut(rest, ":"); ok {
			s = "ssh://" + host + "/" + strings.TrimPrefix(path, "/")
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	path := strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), ".git")
	if path == "" {
		return ""
	}
	if u.Scheme == "" || u.Scheme == "file" {
		return "file:" + path
	}
	return strings.ToLower(u.Hostname()) + path
}

func nonEmpty(ss ...string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
