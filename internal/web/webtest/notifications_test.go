package webtest_test

import (
	"strings"
	"testing"

	"slipway.dev/slipway/internal/browsertest"
)

// Ensure a notification webhook added in the page shows its signing
// secret once, and the list it leads back to shows the subscription with
// the secret masked and the URL's query redacted; axe-core passes on
// both pages.
func TestBrowser_Notifications(t *testing.T) {
	t.Parallel()
	s := start(t)
	s.addTool(t, "bell", false)
	ctx := s.signin(t, s.srv.AdminToken())

	must(t, browsertest.Navigate(ctx, s.url+"/ui/t/bell/notifications"))
	must(t, browsertest.WaitText(ctx, "h1", "Notifications of bell"))
	must(t, browsertest.Fill(ctx, "#notify-target", "https://203.0.113.7/hooks?token=receiver-token"))
	must(t, browsertest.Click(ctx, `input[name="event"][value="deployment.failed"]`))
	must(t, browsertest.Click(ctx, `form.notify button[type="submit"]`))
	must(t, browsertest.WaitText(ctx, "h1", "of bell added"))
	secret, err := browsertest.Text(ctx, "#secret")
	must(t, err)
	if len(secret) != 64 || strings.Trim(secret, "0123456789abcdef") != "" {
		t.Errorf("the secret shown is %q, want 64 hex digits", secret)
	}
	check(t, ctx, "notification-secret")

	must(t, browsertest.Click(ctx, `a[href="/ui/t/bell/notifications"]`))
	must(t, browsertest.WaitGone(ctx, "#secret"))
	must(t, browsertest.WaitText(ctx, "#subscriptions-title + .scroll", "deployment.failed"))
	html := eval[string](t, ctx, `document.documentElement.outerHTML`)
	if strings.Contains(html, secret) || strings.Contains(html, "receiver-token") {
		t.Error("the list shows the secret or the receiver's token")
	}
	for _, want := range []string{"https://203.0.113.7/hooks?…", "•••", "shown once, when added"} {
		if !strings.Contains(html, want) {
			t.Errorf("the list lacks %q", want)
		}
	}
	check(t, ctx, "notifications")
}
