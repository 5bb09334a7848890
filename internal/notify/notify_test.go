package notify

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/sqlite"
)

func newService(t *testing.T, cfg Config) (*Service, *sqlite.DB) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	sealer, err := auth.NewSealer([]byte(strings.Repeat("k", auth.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	if cfg.resolve == nil {
		cfg.resolve = func(_ context.Context, host string) ([]netip.Addr, error) {
			switch host {
			case "metadata.test":
				return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
			case "intranet.test":
				return []netip.Addr{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.1.2.3")}, nil
			}
			return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
		}
	}
	return New(db, sealer, cfg), db
}

// TestSubscribe_BadInput: every bad field is refused, naming it, and
// nothing is stored.
func TestSubscribe_BadInput(t *testing.T) {
	t.Parallel()
	svc, db := newService(t, Config{SMTP: SMTP{Addr: "127.0.0.1:25", From: "s@example.org"}})
	noSMTP, _ := newService(t, Config{})
	ctx := t.Context()
	hook := func(u string) NewSubscription { return NewSubscription{Kind: slipway.NotifyWebhook, Target: u} }
	mail := func(a string) NewSubscription { return NewSubscription{Kind: slipway.NotifyEmail, Target: a} }
	for _, tc := range []struct {
		name string
		svc  *Service
		tool string
		in   NewSubscription
		want string
	}{
		{"kind", svc, "tool", NewSubscription{Kind: "sms", Target: "+1"}, `kind: "sms" is not a kind`},
		{"scheme", svc, "tool", hook("ftp://example.org/x"), `url: "ftp://example.org/x" is not an http or https URL`},
		{"no host", svc, "tool", hook("https:///x"), "url: "},
		{"not a URL", svc, "tool", hook("::"), "url: "},
		{"credentials", svc, "tool", hook("https://bob:pw@example.org/"), "url: must not carry a user or password"},
		{"fragment", svc, "tool", hook("https://example.org/#x"), "url: must not have a fragment"},
		{"long", svc, "tool", hook("https://example.org/" + strings.Repeat("a", 2000)), "url: longer than 2000"},
		{"loopback", svc, "tool", hook("http://127.0.0.1:8080/hook"), "url: 127.0.0.1 is loopback"},
		{"localhost", svc, "tool", hook("http://localhost:8080/hook"), "url: localhost is loopback"},
		{"private", svc, "tool", hook("http://10.0.0.1/hook"), "url: 10.0.0.1 is private"},
		{"mapped", svc, "tool", hook("http://[::ffff:192.168.1.1]/hook"), "is private"},
		{"metadata", svc, "tool", hook("http://metadata.test/latest"), "url: metadata.test is link-local (cloud metadata)"},
		{"one private address", svc, "tool", hook("https://intranet.test/"), "url: intranet.test is private (10.1.2.3)"},
		{"event", svc, "tool", NewSubscription{Kind: slipway.NotifyWebhook, Target: "https://example.org/", Events: []string{"deployment.exploded"}}, `events: "deployment.exploded" is not an event; the events are deployment.started,`},
		{"named address", svc, "tool", mail("Bob <bob@example.org>"), "address: "},
		{"header injection", svc, "tool", mail("bob@example.org\r\nBcc: eve@example.org"), "address: "},
		{"two addresses", svc, "tool", mail("a@example.org, b@example.org"), "address: "},
		{"no SMTP", noSMTP, "tool", mail("ops@example.org"), "This server has no SMTP server (--smtp-addr)"},
		{"tool", svc, "Bad Tool", hook("https://example.org/"), `Tool name "Bad Tool"`},
	} {
		_, secret, err := tc.svc.Subscribe(ctx, tc.tool, tc.in)
		if slipway.ErrorCode(err) != slipway.EInvalid || !strings.Contains(slipway.ErrorMessage(err), tc.want) || secret != "" {
			t.Errorf("%s: Subscribe = %v (secret %q), want EInvalid with %q", tc.name, err, secret, tc.want)
		}
	}
	if subs, err := db.NotifySubscriptionList(ctx, "tool"); err != nil || len(subs) != 0 {
		t.Errorf("stored after bad input: %+v, %v", subs, err)
	}

	// Good ones, then the same target again.
	if _, secret, err := svc.Subscribe(ctx, "tool", hook("https://example.org/hook")); err != nil || len(secret) != 64 {
		t.Fatalf("Subscribe = %v (secret %q)", err, secret)
	}
	if _, secret, err := svc.Subscribe(ctx, "tool", mail("ops@example.org")); err != nil || secret != "" {
		t.Fatalf("Subscribe email = %v (secret %q)", err, secret)
	}
	if _, _, err := svc.Subscribe(ctx, "tool", hook("https://example.org/hook")); slipway.ErrorCode(err) != slipway.EConflict {
		t.Errorf("the same URL again = %v, want EConflict", err)
	}
	stored, err := db.NotifySubscriptionList(ctx, "tool")
	if err != nil || len(stored) != 2 || strings.Contains(stored[0].Sealed, "secret") || stored[0].Sealed == "" || stored[1].Sealed != "" {
		t.Errorf("stored = %+v, %v", stored, err)
	}
}

// record records a notification of a deployment of tool and returns its
// delivery IDs.
func record(t *testing.T, svc *Service, db store.Store, tool, id string) []string {
	t.Helper()
	var ids []string
	err := db.InTx(t.Context(), func(tx store.Tx) error {
		var err error
		ids, err = svc.Record(t.Context(), tx, slipway.Notification{
			Event: slipway.NotifyDeploymentFailed, Tool: tool, At: time.Now(),
			Deployment: &slipway.Deployment{ID: id, Tool: tool, Status: slipway.DeploymentFailed},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestDeliver_Guarded: a URL that resolved to a public address when it
// was added but points at loopback when it is sent (DNS rebinding) is
// refused at the dial; a redirect is not followed; another tool cannot
// read, redeliver or remove what is not its own.
func TestDeliver_Guarded(t *testing.T) {
	t.Parallel()
	redirected := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "http://169.254.169.254/latest", http.StatusFound)
			return
		}
		redirected = true
	}))
	t.Cleanup(srv.Close)
	open, db := newService(t, Config{AllowPrivate: true, MaxAttempts: 1})
	ctx := t.Context()
	moved, _, err := open.Subscribe(ctx, "tool", NewSubscription{Kind: slipway.NotifyWebhook, Target: srv.URL + "/moved"})
	if err != nil {
		t.Fatal(err)
	}
	ids := record(t, open, db, "tool", "d1")
	if len(ids) != 1 {
		t.Fatalf("recorded %v", ids)
	}
	if again := record(t, open, db, "tool", "d1"); len(again) != 0 {
		t.Errorf("the same event recorded again: %v", again)
	}
	if err := open.Deliver(ctx, "tool", ids[0]); err != nil {
		t.Fatal(err)
	}
	d, as, err := open.Delivery(ctx, "tool", ids[0])
	if err != nil || d.State != slipway.NotifyFailed || len(as) != 1 || as[0].StatusCode != 302 ||
		!strings.Contains(as[0].Error, "redirects are not followed") || redirected {
		t.Errorf("redirected delivery = %+v %+v, %v", d, as, err)
	}

	// The same store through a service that refuses private addresses.
	sealer, _ := auth.NewSealer([]byte(strings.Repeat("k", auth.KeySize)))
	guarded := New(db, sealer, Config{Logger: slog.New(slog.DiscardHandler)})
	if _, _, err := guarded.Redeliver(ctx, "tool", ids[0]); err != nil {
		t.Fatal(err)
	}
	_, as, _ = guarded.Delivery(ctx, "tool", ids[0])
	if len(as) != 2 || as[1].StatusCode != 0 || !strings.Contains(as[1].Error, "refusing to connect to 127.0.0.1 (loopback)") {
		t.Errorf("guarded attempt = %+v", as)
	}

	// Another tool.
	if _, _, err := open.Delivery(ctx, "other", ids[0]); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("another tool's Delivery = %v", err)
	}
	if _, _, err := open.Redeliver(ctx, "other", ids[0]); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("another tool's Redeliver = %v", err)
	}
	if err := open.Unsubscribe(ctx, "other", moved.ID); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("another tool's Unsubscribe = %v", err)
	}
	if _, err := open.Deliveries(ctx, "other", moved.ID); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("another tool's Deliveries of the subscription = %v", err)
	}
	if ds, err := open.Deliveries(ctx, "other", ""); err != nil || len(ds) != 0 {
		t.Errorf("another tool's Deliveries = %v, %v", ds, err)
	}

	// A removed subscription fails its pending deliveries.
	if err := open.Unsubscribe(ctx, "tool", moved.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := open.Subscribe(ctx, "tool", NewSubscription{Kind: slipway.NotifyWebhook, Target: srv.URL + "/ok"}); err != nil {
		t.Fatal(err)
	}
	ids = record(t, open, db, "tool", "d2")
	if err := open.Unsubscribe(ctx, "tool", must(open.List(ctx, "tool"))[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := open.Deliver(ctx, "tool", ids[0]); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := open.Delivery(ctx, "tool", ids[0]); d.State != slipway.NotifyFailed || !strings.Contains(d.LastError, "was removed") {
		t.Errorf("delivery of a removed subscription = %+v", d)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestSign: the documented signature, and Verify's refusals.
func TestSign(t *testing.T) {
	t.Parallel()
	body := []byte(`{"event":"deployment.failed"}`)
	// printf '1700000000.{"event":"deployment.failed"}' | openssl dgst -sha256 -hmac s3cret
	const want = "sha256=e0df037da11ae954d4a5b025f2df8c6a6ed90d83a2e38ba17a1ba8299f8455c0"
	got := Sign("s3cret", "1700000000", body)
	if got != want {
		t.Fatalf("Sign = %q", got)
	}
	h := http.Header{}
	h.Set(HeaderTimestamp, "1700000000")
	h.Set(HeaderSignature, got)
	now := time.Unix(1700000000, 0)
	if err := Verify("s3cret", h, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("Verify = %v", err)
	}
	if err := Verify("other", h, body, now, 5*time.Minute); err == nil {
		t.Error("Verify with another secret passed")
	}
	if err := Verify("s3cret", h, append(body, ' '), now, 5*time.Minute); err == nil {
		t.Error("Verify of another body passed")
	}
	if err := Verify("s3cret", h, body, now.Add(time.Hour), 5*time.Minute); err == nil || !strings.Contains(err.Error(), "replay") {
		t.Errorf("Verify an hour later = %v", err)
	}
}
