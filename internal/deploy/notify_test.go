package deploy

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/notify"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/store"
)

// received is one request a test receiver got.
type received struct {
	event, delivery string
	status          int
	verifyErr       error
	payload         notify.Payload
}

// receiver is a webhook receiver on loopback that checks each request's
// signature with the secret set in it, answers 500 to the first request
// and 200 to the others, and hands every request to got.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	secret string
	n      atomic.Int32
	got    chan received
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: make(chan received, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		secret := r.secret
		r.mu.Unlock()
		rec := received{event: req.Header.Get(notify.HeaderEvent), delivery: req.Header.Get(notify.HeaderDelivery), status: http.StatusOK}
		rec.verifyErr = notify.Verify(secret, req.Header, body, time.Now(), 5*time.Minute)
		if err := json.Unmarshal(body, &rec.payload); err != nil && rec.verifyErr == nil {
			rec.verifyErr = err
		}
		if r.n.Add(1) == 1 {
			rec.status = http.StatusInternalServerError
		}
		w.WriteHeader(rec.status)
		_, _ = io.WriteString(w, http.StatusText(rec.status))
		r.got <- rec
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) next(t *testing.T) received {
	t.Helper()
	select {
	case rec := <-r.got:
		return rec
	case <-time.After(time.Minute):
		t.Fatal("the receiver got no request within a minute")
		return received{}
	}
}

// TestEngine_Notifications: a deployment stopped at its gate notifies a
// signed webhook of each step (retrying after the receiver's 500, which
// the delivery log shows) and sends the failure to an email address
// through an SMTP server; a redelivery is one more attempt.
func TestEngine_Notifications(t *testing.T) {
	t.Parallel()
	const tool = "notified"
	sink := slipwaytest.NewSMTPSink(t)
	sealer, err := auth.NewSealer(bytes.Repeat([]byte{7}, auth.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	var svc *notify.Service
	h := newHarnessWith(t, Config{}, true, harnessOptions{notify: func(st store.Store) *notify.Service {
		svc = notify.New(st, sealer, notify.Config{
			PublicURL: "https://slipway.example/", AllowPrivate: true, RetryBase: 10 * time.Millisecond,
			SMTP: notify.SMTP{Addr: sink.Addr, From: "slipway@example.org"}, Logger: slog.New(slog.DiscardHandler),
		})
		return svc
	}})
	ctx := t.Context()
	rcv := newReceiver(t)
	hook, secret, err := svc.Subscribe(ctx, tool, notify.NewSubscription{Kind: slipway.NotifyWebhook, Target: rcv.URL + "/hook?token=x"})
	if err != nil || secret == "" {
		t.Fatalf("subscribe the webhook: %v (secret %q)", err, secret)
	}
	rcv.mu.Lock()
	rcv.secret = secret
	rcv.mu.Unlock()
	if _, _, err := svc.Subscribe(ctx, tool, notify.NewSubscription{Kind: slipway.NotifyEmail, Target: "ops@example.org", Events: []string{"deployment.failed"}}); err != nil {
		t.Fatal(err)
	}

	q := NewQuestions(h.eng)
	d, qu := startGated(t, h, q, tool, gateConfig(t, ""))
	if _, err := q.QuestionAnswer(asToken(ctx, tool, "bob"), tool, qu.ID, slipway.Answer{Value: "stop", Comment: "not today"}); err != nil {
		t.Fatal(err)
	}
	if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentFailed {
		t.Fatalf("deployment = %s %q, want failed", d.Status, d.LongStatus)
	}

	// Four events, the first sent twice.
	want := map[string]bool{"deployment.started": true, "question.pending": true, "question.answered": true, "deployment.failed": true}
	byEvent := map[string]received{}
	first := rcv.next(t)
	if first.status != http.StatusInternalServerError {
		t.Fatalf("first request answered %d", first.status)
	}
	for len(byEvent) < len(want) {
		rec := rcv.next(t)
		if rec.verifyErr != nil {
			t.Errorf("%s %s: signature: %v", rec.event, rec.delivery, rec.verifyErr)
		}
		if !want[rec.event] || byEvent[rec.event].delivery != "" {
			t.Fatalf("unexpected request: %s %s", rec.event, rec.delivery)
		}
		byEvent[rec.event] = rec
	}
	if first.verifyErr != nil || first.delivery != byEvent[first.event].delivery {
		t.Errorf("the 500'd request %s %s (%v) was not retried as the same delivery", first.event, first.delivery, first.verifyErr)
	}
	failed := byEvent["deployment.failed"].payload
	if failed.Deployment == nil || failed.Deployment.ID != d.ID || failed.Deployment.Status != "failed" ||
		failed.URL != "https://slipway.example/ui/t/"+tool+"/d/"+d.ID {
		t.Errorf("deployment.failed payload = %+v", failed)
	}
	if p := byEvent["question.answered"].payload; p.Question == nil || p.Question.Value != "stop" || p.Question.SettledBy != "tool-token:bob" ||
		p.URL != "https://slipway.example/ui/t/"+tool+"/q/"+qu.ID {
		t.Errorf("question.answered payload = %+v", p)
	}

	// The failure email.
	select {
	case m := <-sink.Mails:
		if m.From != "slipway@example.org" || len(m.To) != 1 || m.To[0] != "ops@example.org" ||
			!strings.Contains(m.Data, "Subject: ["+tool+"] deployment "+d.ID+" failed") ||
			!strings.Contains(m.Data, "https://slipway.example/ui/t/"+tool+"/d/"+d.ID) {
			t.Errorf("mail = %+v", m)
		}
	case <-time.After(time.Minute):
		t.Fatal("no failure email within a minute")
	}

	// The delivery log: the retried delivery has two attempts, 500 then
	// 200. The attempt is recorded after the answer: wait for it.
	var log []slipway.NotifyAttempt
	deadline := time.Now().Add(30 * time.Second)
	for {
		dl, as, err := svc.Delivery(ctx, tool, first.delivery)
		if err != nil {
			t.Fatal(err)
		}
		if dl.State != slipway.NotifyPending || time.Now().After(deadline) {
			if dl.State != slipway.NotifyDelivered || dl.Attempts != 2 || dl.LastStatus != 200 || dl.SubscriptionID != hook.ID {
				t.Fatalf("delivery %s = %+v, want delivered after 2 attempts", first.delivery, dl)
			}
			log = as
			break
		}
		time.Sleep(10 * time.Millisecond) // the attempt's record has no event to await
	}
	if len(log) != 2 || log[0].StatusCode != 500 || log[0].Error != "HTTP 500" || log[0].Response != "Internal Server Error" ||
		log[1].StatusCode != 200 || log[1].Error != "" {
		t.Errorf("attempts = %+v", log)
	}
	ds, err := svc.Deliveries(ctx, tool, hook.ID)
	if err != nil || len(ds) != 4 {
		t.Errorf("deliveries of the webhook = %d, %v; want 4", len(ds), err)
	}

	// A redelivery is a third attempt, made now.
	dl, as, err := svc.Redeliver(ctx, tool, first.delivery)
	if err != nil || dl.State != slipway.NotifyDelivered || len(as) != 3 || as[2].StatusCode != 200 {
		t.Fatalf("redeliver = %+v %+v, %v", dl, as, err)
	}
	if again := rcv.next(t); again.delivery != first.delivery || again.verifyErr != nil {
		t.Errorf("redelivered request = %+v", again)
	}
}
