package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/notify"
	"slipway.dev/slipway/internal/slipway"
)

// secretOf returns the one-time secret shown on a page (the #secret code).
func secretOf(t *testing.T, page string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, `<code id="secret" class="secret">`)
	if !ok {
		t.Fatalf("the page shows no secret:\n%s", page)
	}
	s, _, _ := strings.Cut(rest, "</code>")
	return s
}

// Ensure a webhook subscription added in the page shows its signing
// secret once, in the answer to the POST; the list then shows the URL
// with its query redacted (and a <script> in it as text), the events, and
// the secret masked, never the secret or the receiver's token. An email
// subscription goes back to the list with a message.
func TestNotifications_AddShowsSecretOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(e.toolToken)
	if body := wantStatus(t, "overview", get(e, "/ui/t/one/", c), http.StatusOK); !strings.Contains(body, `href="/ui/t/one/notifications"`) {
		t.Errorf("the overview does not link to the notifications page:\n%s", body)
	}
	page := wantStatus(t, "empty", get(e, "/ui/t/one/notifications", c), http.StatusOK)
	if !strings.Contains(page, "No subscriptions") {
		t.Errorf("the empty page:\n%s", page)
	}
	target := "https://203.0.113.7/hooks/<script>x</script>?token=recv-s3cret"
	res := e.do(req{method: "POST", path: "/ui/t/one/notifications", cookies: []*http.Cookie{c}, form: url.Values{
		"csrf": {csrfOf(t, page)}, "kind": {"webhook"}, "target": {target}, "event": {"deployment.failed", "question.pending"},
	}})
	created := wantStatus(t, "add webhook", res, http.StatusOK)
	secret := secretOf(t, created)
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("the secret page's Cache-Control is %q", res.Header.Get("Cache-Control"))
	}
	subs, err := e.notify.List(t.Context(), "one")
	if err != nil || len(subs) != 1 {
		t.Fatalf("subscriptions %+v, %v; want the one added", subs, err)
	}
	sub := subs[0]
	if sub.CreatedBy != "tool-token:"+e.toolID || len(sub.Events) != 2 {
		t.Errorf("stored %+v, want two events, made by the session's token", sub)
	}
	for _, bad := range []string{"recv-s3cret", "<script>x"} {
		if strings.Contains(created, bad) {
			t.Errorf("the secret page shows %q:\n%s", bad, created)
		}
	}
	list := wantStatus(t, "list", get(e, "/ui/t/one/notifications", c), http.StatusOK)
	for _, want := range []string{sub.ID, "https://203.0.113.7/hooks/%3Cscript%3Ex%3C/script%3E?…", "deployment.failed, question.pending", "•••", "shown once, when added"} {
		if !strings.Contains(list, want) {
			t.Errorf("the list lacks %q:\n%s", want, list)
		}
	}
	for _, bad := range []string{secret, "recv-s3cret", "<script>x"} {
		if strings.Contains(list, bad) {
			t.Errorf("the list shows %q", bad)
		}
	}

	res = e.do(req{method: "POST", path: "/ui/t/one/notifications", cookies: []*http.Cookie{c}, form: url.Values{
		"csrf": {csrfOf(t, list)}, "kind": {"email"}, "target": {"ops@example.org"},
	}})
	wantRedirect(t, "add email", res, "/ui/t/one/notifications")
	list = wantStatus(t, "list after email", get(e, "/ui/t/one/notifications", append([]*http.Cookie{c}, res.Cookies()...)...), http.StatusOK)
	if !strings.Contains(list, "ops@example.org is sent every event") {
		t.Errorf("no message for the email subscription:\n%s", list)
	}
}

// Ensure bad input to the subscription form comes back with the problem
// next to its field (escaped), what was typed kept, and nothing stored: a
// target that is not a URL, an unknown event, an unknown kind, a target
// over the bound, a duplicate (409, above the form), no CSRF token (403),
// a form over the size limit (413), and bad IDs (404).
func TestNotifications_BadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(adminToken)
	page := wantStatus(t, "page", get(e, "/ui/t/one/notifications", c), http.StatusOK)
	csrf := csrfOf(t, page)
	post := func(form url.Values) *response {
		form.Set("csrf", csrf)
		return e.do(req{method: "POST", path: "/ui/t/one/notifications", cookies: []*http.Cookie{c}, form: form})
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		says   []string
	}{
		{
			"not a URL",
			url.Values{"kind": {"webhook"}, "target": {"javascript:<script>alert(1)</script>"}},
			422,
			[]string{`id="notify-target-problem"`, "is not an http or https URL", "&lt;script&gt;alert(1)&lt;/script&gt;", `aria-invalid="true"`},
		},
		{
			"unknown event",
			url.Values{"kind": {"webhook"}, "target": {"https://203.0.113.7/h"}, "event": {"deployment.exploded"}},
			422,
			[]string{`id="notify-events-problem"`, "deployment.exploded", `value="https://203.0.113.7/h"`},
		},
		{"unknown kind", url.Values{"kind": {"sms"}, "target": {"+15550100"}}, 422, []string{`id="notify-kind-problem"`, `&#34;sms&#34; is not a kind`}},
		{"not an address", url.Values{"kind": {"email"}, "target": {"Ops <ops@example.org>"}}, 422, []string{`id="notify-target-problem"`, "is not one email address"}},
		{"too long", url.Values{"kind": {"webhook"}, "target": {"https://203.0.113.7/" + strings.Repeat("a", 2100)}}, 422, []string{"The target is too long: at most 2000 characters"}},
	} {
		body := wantStatus(t, tc.name, post(tc.form), tc.status)
		for _, want := range tc.says {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the page lacks %q:\n%s", tc.name, want, body)
			}
		}
		if strings.Contains(body, "<script>alert") {
			t.Errorf("%s: the page holds the typed script unescaped", tc.name)
		}
	}
	if subs, _ := e.notify.List(t.Context(), "one"); len(subs) != 0 {
		t.Fatalf("bad input stored %+v", subs)
	}
	wantStatus(t, "first", post(url.Values{"kind": {"email"}, "target": {"ops@example.org"}}), http.StatusSeeOther)
	if body := wantStatus(t, "duplicate", post(url.Values{"kind": {"email"}, "target": {"ops@example.org"}}), http.StatusConflict); !strings.Contains(body, "Nothing was added: Tool one already notifies ops@example.org") {
		t.Errorf("the duplicate's page:\n%s", body)
	}
	wantStatus(t, "no CSRF", e.do(req{
		method: "POST", path: "/ui/t/one/notifications", cookies: []*http.Cookie{c},
		form: url.Values{"kind": {"email"}, "target": {"dev@example.org"}},
	}), http.StatusForbidden)
	wantStatus(t, "too large", e.do(req{
		method: "POST", path: "/ui/t/one/notifications", cookies: []*http.Cookie{c},
		form: url.Values{"csrf": {csrf}, "kind": {"email"}, "target": {strings.Repeat("x", 70<<10)}},
	}), http.StatusRequestEntityTooLarge)
	if subs, _ := e.notify.List(t.Context(), "one"); len(subs) != 1 {
		t.Errorf("subscriptions %+v, want the first alone", subs)
	}
	for _, tc := range []struct{ method, path, says string }{
		{"GET", "/ui/t/one/notifications/s/bad<id>/remove", "subscription IDs are ns-"},
		{"POST", "/ui/t/one/notifications/s/ns-zz/remove", "subscription IDs are ns-"},
		{"GET", "/ui/t/one/notifications/s/ns-0123456789abcdef/remove", "has no notification subscription"},
		{"GET", "/ui/t/one/notifications/d/nd-nothex", "delivery IDs are nd-"},
		{"GET", "/ui/t/one/notifications/d/nd-00000000000000000000", "has no notification delivery"},
		{"POST", "/ui/t/one/notifications/d/nd-00000000000000000000/redeliver", "has no notification delivery"},
	} {
		r := req{method: tc.method, path: tc.path, cookies: []*http.Cookie{c}}
		if tc.method == "POST" {
			r.form = url.Values{"csrf": {csrf}}
		}
		res := e.do(r)
		if tc.method == "POST" && res.StatusCode == http.StatusSeeOther {
			res = get(e, res.Header.Get("Location"), append([]*http.Cookie{c}, res.Cookies()...)...)
		}
		if body := bodyOf(t, res); !strings.Contains(body, tc.says) || res.StatusCode == http.StatusInternalServerError {
			t.Errorf("%s %s: status %d, the page lacks %q:\n%s", tc.method, tc.path, res.StatusCode, tc.says, body)
		}
	}
}

// receiver is a webhook receiver that records what it gets.
type receiver struct {
	mu   sync.Mutex
	hdrs []http.Header
	body [][]byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.hdrs, rc.body = append(rc.hdrs, r.Header.Clone()), append(rc.body, b)
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// Ensure a failed delivery is listed, its page shows its attempts, and
// Redeliver sends it again at once, signed with the secret the page
// showed once; a delivery still being tried is refused with the reason.
// Remove asks first (a page naming the subscription), then removes.
func TestNotifications_RedeliverAndRemove(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	c := e.signin(e.toolToken)
	page := get(e, "/ui/t/one/notifications", c).Body
	csrf := csrfOf(t, page)
	secret := secretOf(t, e.do(req{
		method: "POST", path: "/ui/t/one/notifications", cookies: []*http.Cookie{c},
		form: url.Values{"csrf": {csrf}, "kind": {"webhook"}, "target": {srv.URL + "/hook"}},
	}).Body)
	subs, err := e.notify.List(t.Context(), "one")
	if err != nil || len(subs) != 1 {
		t.Fatalf("subscriptions %+v, %v", subs, err)
	}
	for _, d := range []slipway.NotifyDelivery{
		{ID: "nd-00000000000000000001", State: slipway.NotifyFailed, Attempts: 6, LastStatus: 500, LastError: "HTTP 500 <b>down</b>"},
		{ID: "nd-00000000000000000002", State: slipway.NotifyPending, Attempts: 1, Subject: "other"},
	} {
		d.Tool, d.SubscriptionID, d.Event, d.Payload, d.MaxAttempts = "one", subs[0].ID, slipway.NotifyDeploymentFailed, []byte(`{"event":"deployment.failed"}`), 6
		d.CreatedAt, d.UpdatedAt = t0, t0
		d.Subject += "20250601-100000-finishedbb"
		if _, err := e.st.NotifyDeliveryAdd(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	list := wantStatus(t, "list", get(e, "/ui/t/one/notifications", c), http.StatusOK)
	for _, want := range []string{`href="/ui/t/one/notifications/d/nd-00000000000000000001"`, "6 of 6", "HTTP 500 &lt;b&gt;down&lt;/b&gt;", srv.URL + "/hook"} {
		if !strings.Contains(list, want) {
			t.Errorf("the list lacks %q:\n%s", want, list)
		}
	}
	dpage := wantStatus(t, "delivery", get(e, "/ui/t/one/notifications/d/nd-00000000000000000001", c), http.StatusOK)
	if !strings.Contains(dpage, `action="/ui/t/one/notifications/d/nd-00000000000000000001/redeliver"`) {
		t.Fatalf("no Redeliver button:\n%s", dpage)
	}
	res := e.do(req{method: "POST", path: "/ui/t/one/notifications/d/nd-00000000000000000001/redeliver", cookies: []*http.Cookie{c}, form: url.Values{"csrf": {csrf}}})
	wantRedirect(t, "redeliver", res, "/ui/t/one/notifications/d/nd-00000000000000000001")
	dpage = wantStatus(t, "after", get(e, res.Header.Get("Location"), append([]*http.Cookie{c}, res.Cookies()...)...), http.StatusOK)
	for _, want := range []string{"redelivered (attempt 7)", "delivered", "<th scope=\"row\">7</th>", "<td>204</td>"} {
		if !strings.Contains(dpage, want) {
			t.Errorf("the delivery after the redelivery lacks %q:\n%s", want, dpage)
		}
	}
	rc.mu.Lock()
	if len(rc.hdrs) != 1 {
		t.Fatalf("the receiver got %d requests, want 1", len(rc.hdrs))
	}
	if err := notify.Verify(secret, rc.hdrs[0], rc.body[0], e.clock.now(), time.Hour); err != nil {
		t.Errorf("the redelivery's signature does not hold under the secret the page showed: %v", err)
	}
	rc.mu.Unlock()
	if body := wantStatus(t, "pending", get(e, "/ui/t/one/notifications/d/nd-00000000000000000002", c), http.StatusOK); strings.Contains(body, "/redeliver") {
		t.Errorf("a pending delivery offers Redeliver")
	}
	res = e.do(req{method: "POST", path: "/ui/t/one/notifications/d/nd-00000000000000000002/redeliver", cookies: []*http.Cookie{c}, form: url.Values{"csrf": {csrf}}})
	if body := get(e, wantRedirect(t, "redeliver pending", res, "/ui/t/one/notifications/d/"), append([]*http.Cookie{c}, res.Cookies()...)...).Body; !strings.Contains(body, "is still being delivered") {
		t.Errorf("the refusal is not shown:\n%s", body)
	}

	id := subs[0].ID
	confirm := wantStatus(t, "confirm", get(e, "/ui/t/one/notifications/s/"+id+"/remove", c), http.StatusOK)
	for _, want := range []string{"Remove subscription " + id + "?", srv.URL + "/hook", `action="/ui/t/one/notifications/s/` + id + `/remove"`} {
		if !strings.Contains(confirm, want) {
			t.Errorf("the confirmation lacks %q:\n%s", want, confirm)
		}
	}
	if subs, _ := e.notify.List(t.Context(), "one"); len(subs) != 1 {
		t.Fatal("asking removed the subscription")
	}
	res = e.do(req{method: "POST", path: "/ui/t/one/notifications/s/" + id + "/remove", cookies: []*http.Cookie{c}, form: url.Values{"csrf": {csrfOf(t, confirm)}}})
	wantRedirect(t, "remove", res, "/ui/t/one/notifications")
	if body := get(e, "/ui/t/one/notifications", append([]*http.Cookie{c}, res.Cookies()...)...).Body; !strings.Contains(body, "Subscription "+id+" removed") || !strings.Contains(body, "(removed)") {
		t.Errorf("after removing:\n%s", body)
	}
	if subs, _ := e.notify.List(t.Context(), "one"); len(subs) != 0 {
		t.Errorf("subscriptions %+v after removing", subs)
	}
}
