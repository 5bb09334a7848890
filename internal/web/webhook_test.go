package web_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/store"
)

// push sends tool one's webhook a GitHub push of ref, signed with secret,
// through the real receiver.
func (e *env) push(t *testing.T, secret, id, ref, pusher string) {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"ref": ref, "after": strings.Repeat("9b0d44aa", 5),
		"repository": map[string]any{"clone_url": "https://example.org/one.git", "html_url": "https://example.org/one"},
		"pusher":     map[string]any{"name": pusher},
	})
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	h := http.Header{}
	h.Set("X-GitHub-Event", "push")
	h.Set("X-GitHub-Delivery", id)
	h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	_, _ = e.hooks.Receive(t.Context(), "one", h, body) // a refusal is recorded too
}

// Ensure the push webhook page gives the URL to paste, makes the secret
// and shows it once (the answer to the POST, never again), lists the
// signed deliveries with their outcome — a deployment linked, a refused
// push with its reason and its ref shown as text — rotates, deletes, and
// shows what polling last saw.
func TestWebhook_SecretDeliveriesAndPolling(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(e.toolToken)
	if body := wantStatus(t, "overview", get(e, "/ui/t/one/", c), http.StatusOK); !strings.Contains(body, `href="/ui/t/one/webhook"`) {
		t.Errorf("the overview does not link to the webhook page")
	}
	page := wantStatus(t, "none", get(e, "/ui/t/one/webhook", c), http.StatusOK)
	for _, want := range []string{"http://example.com/triggers/v1/tool/one/webhook", "pushes are refused until one is made", "Make a secret", "No component of one is polled"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "/webhook/delete") {
		t.Error("a webhook without a secret offers Delete")
	}
	csrf := csrfOf(t, page)
	made := wantStatus(t, "make", e.do(req{method: "POST", path: "/ui/t/one/webhook/rotate", cookies: []*http.Cookie{c}, form: url.Values{"csrf": {csrf}}}), http.StatusOK)
	secret := secretOf(t, made)
	if !strings.Contains(made, "Push webhook secret of one made") || !strings.Contains(made, "http://example.com/triggers/v1/tool/one/webhook") {
		t.Errorf("the secret page:\n%s", made)
	}

	e.push(t, secret, "d-1", "refs/heads/main", "alice")
	e.push(t, secret, "d-2", "refs/heads/<script>alert(1)</script>", "<b>mallory</b>")
	e.push(t, "not-the-secret", "d-3", "refs/heads/main", "eve")
	if _, err := e.st.PollStateAdvance(t.Context(), "", store.PollState{Tool: "one", Component: "web", Ref: "main", Commit: strings.Repeat("9b0d44aa", 5), SeenAt: t0}); err != nil {
		t.Fatal(err)
	}
	page = wantStatus(t, "set", get(e, "/ui/t/one/webhook", c), http.StatusOK)
	for _, want := range []string{
		"set</span> since", "Rotate the secret", `href="/ui/t/one/d/20250601-120000-created001"`, "alice",
		"refs/heads/&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;b&gt;mallory&lt;/b&gt;", "refused", "<th scope=\"row\">web</th>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q:\n%s", want, page)
		}
	}
	for _, bad := range []string{secret, "<script>alert", "<b>mallory", "eve"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page shows %q", bad)
		}
	}

	rotated := wantStatus(t, "rotate", e.do(req{method: "POST", path: "/ui/t/one/webhook/rotate", cookies: []*http.Cookie{c}, form: url.Values{"csrf": {csrf}}}), http.StatusOK)
	if s := secretOf(t, rotated); s == secret || !strings.Contains(rotated, "The old secret no longer works") {
		t.Errorf("rotating: the same secret, or no warning:\n%s", rotated)
	}
	res := e.do(req{method: "POST", path: "/ui/t/one/webhook/delete", cookies: []*http.Cookie{c}, form: url.Values{"csrf": {csrf}}})
	wantRedirect(t, "delete", res, "/ui/t/one/webhook")
	if body := get(e, "/ui/t/one/webhook", append([]*http.Cookie{c}, res.Cookies()...)...).Body; !strings.Contains(body, "secret of one deleted") || !strings.Contains(body, "alice") {
		t.Errorf("after deleting (the log stays):\n%s", body)
	}
	res = e.do(req{method: "POST", path: "/ui/t/one/webhook/delete", cookies: []*http.Cookie{c}, form: url.Values{"csrf": {csrf}}})
	if body := get(e, wantRedirect(t, "delete again", res, "/ui/t/one/webhook"), append([]*http.Cookie{c}, res.Cookies()...)...).Body; !strings.Contains(body, "has no push webhook") {
		t.Errorf("deleting twice:\n%s", body)
	}
	wantStatus(t, "no CSRF", e.do(req{method: "POST", path: "/ui/t/one/webhook/rotate", cookies: []*http.Cookie{c}, form: url.Values{}}), http.StatusForbidden)
}
