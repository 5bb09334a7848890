package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/netip"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"syscall"
	"time"

	"slipway.dev/slipway/internal/remoteconfig"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// The headers of a webhook notification.
const (
	HeaderEvent     = "X-Slipway-Event"
	HeaderDelivery  = "X-Slipway-Delivery"
	HeaderTimestamp = "X-Slipway-Timestamp"
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256, under the
	// subscription's secret, of the timestamp header's value, a dot and
	// the body.
	HeaderSignature = "X-Slipway-Signature-256"
)

// Limits of an attempt.
const (
	maxResponseRead = 64 << 10 // read of a receiver's answer
	maxResponseKept = 1 << 10  // of it, kept in the attempt
)

// Sign returns the signature header's value for a body sent at timestamp
// (Unix seconds, as the timestamp header carries it).
func Sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a webhook notification's signature and that its timestamp
// is within tolerance of now: what a receiver does (its tests use it).
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts := h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%s: %q is not Unix seconds", HeaderTimestamp, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%s: %s is %s away from now (a replay?)", HeaderTimestamp, ts, d.Round(time.Second))
	}
	if !hmac.Equal([]byte(h.Get(HeaderSignature)), []byte(Sign(secret, ts, body))) {
		return errors.New("the signature does not match")
	}
	return nil
}

// retryAfterError asks the runner to run the job again after d.
type retryAfterError struct{ d time.Duration }

func (e retryAfterError) Error() string             { return "notification: next attempt in " + e.d.String() }
func (e retryAfterError) RetryAfter() time.Duration { return e.d }

// Deliver makes the next attempt at a delivery (the runner's job). A
// delivery that failed and has attempts left returns an error with a
// RetryAfter method: RetryBase doubled after each attempt. A delivery
// gone (pruned) or no longer pending is left alone.
func (s *Service) Deliver(ctx context.Context, tool, id string) error {
	d, err := s.st.NotifyDeliveryGet(ctx, tool, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("notification %s of %s: %w", id, tool, err)
	}
	if d.State != slipway.NotifyPending {
		return nil
	}
	if err := s.Prune(ctx); err != nil {
		s.log.WarnContext(ctx, "prune notifications", "error", err.Error()) // the next delivery tries again
	}
	d, err = s.attempt(ctx, d)
	if err != nil {
		return err
	}
	if d.State == slipway.NotifyPending {
		return retryAfterError{s.cfg.RetryBase << min(d.Attempts-1, 20)}
	}
	return nil
}

// Redeliver sends one of the tool's deliveries again, now, as one more
// attempt, and returns it with its attempts. A delivery still being tried
// is EConflict.
func (s *Service) Redeliver(ctx context.Context, tool, id string) (slipway.NotifyDelivery, []slipway.NotifyAttempt, error) {
	d, _, err := s.Delivery(ctx, tool, id)
	if err != nil {
		return d, nil, err
	}
	if d.State == slipway.NotifyPending {
		return d, nil, slipway.Errorf(slipway.EConflict,
			"Notification %s is still being delivered (%d of %d attempts made): redeliver it once it is delivered or failed.", id, d.Attempts, d.MaxAttempts)
	}
	d.MaxAttempts = d.Attempts + 1
	if _, err := s.attempt(ctx, d); err != nil {
		return d, nil, err
	}
	return s.Delivery(ctx, tool, id)
}

// attempt makes attempt number d.Attempts+1 and records it, with the
// delivery's new state, in one transaction.
func (s *Service) attempt(ctx context.Context, d slipway.NotifyDelivery) (slipway.NotifyDelivery, error) {
	a := slipway.NotifyAttempt{DeliveryID: d.ID, N: d.Attempts + 1, Tool: d.Tool, At: s.now()}
	sub, err := s.st.NotifySubscriptionGet(ctx, d.Tool, d.SubscriptionID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.Error = "the subscription " + d.SubscriptionID + " was removed"
		d.MaxAttempts = a.N // nothing to try again
	case err != nil:
		return d, fmt.Errorf("notification %s of %s: %w", d.ID, d.Tool, err)
	default:
		a.StatusCode, a.Response, err = s.send(ctx, sub, d, a.At)
		if ctx.Err() != nil { // the server stops: not the receiver's failure, tried again at the next start
			return d, fmt.Errorf("notification %s of %s: %w", d.ID, d.Tool, context.Cause(ctx))
		}
		a.Duration = s.now().Sub(a.At)
		if err != nil {
			a.Error = printable(err.Error(), 500)
		}
	}
	d.Attempts, d.LastStatus, d.LastError, d.UpdatedAt = a.N, a.StatusCode, a.Error, s.now()
	switch {
	case a.Error == "":
		d.State = slipway.NotifyDelivered
	case d.Attempts >= d.MaxAttempts:
		d.State = slipway.NotifyFailed
	default:
		d.State = slipway.NotifyPending
	}
	wctx := context.WithoutCancel(ctx) // an attempt made is recorded, even if the server is stopping
	err = s.st.InTx(wctx, func(tx store.Tx) error {
		if err := tx.NotifyAttemptAdd(wctx, a); err != nil {
			return err
		}
		return tx.NotifyDeliveryUpdate(wctx, d)
	})
	if err != nil {
		return d, fmt.Errorf("record attempt %d of notification %s: %w", a.N, d.ID, err)
	}
	level := s.log.InfoContext
	if d.State != slipway.NotifyDelivered {
		level = s.log.WarnContext
	}
	level(ctx, "notification attempt", "tool", d.Tool, "delivery", d.ID, "event", string(d.Event),
		"attempt", a.N, "status", a.StatusCode, "state", string(d.State), "error", a.Error)
	return d, nil
}

// send sends a delivery to a subscription and returns the answer's status
// code (HTTP, or the SMTP server's last reply) and the start of its body.
func (s *Service) send(ctx context.Context, sub store.NotifySubscription, d slipway.NotifyDelivery, at time.Time) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	switch sub.Kind {
	case slipway.NotifyWebhook:
		secret, err := s.sealer.OpenNotifySecret(sub.Tool, sub.ID, sub.Sealed)
		if err != nil {
			return 0, "", err
		}
		return s.sender.post(ctx, sub.Target, secret, d, at)
	case slipway.NotifyEmail:
		var p Payload
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			return 0, "", fmt.Errorf("read the payload: %w", err)
		}
		return s.sender.mail(ctx, sub.Target, p, at)
	}
	return 0, "", fmt.Errorf("unknown kind %q", sub.Kind)
}

// sender holds the HTTP client and SMTP settings.
type sender struct {
	client  *http.Client
	smtp    SMTP
	timeout time.Duration
	blocked func(netip.Addr) string
}

func newSender(cfg Config) *sender {
	s := &sender{smtp: cfg.SMTP, timeout: cfg.Timeout}
	if !cfg.AllowPrivate {
		s.blocked = remoteconfig.Blocked
	}
	dialer := &net.Dialer{Control: s.guard}
	s.client = &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil, // the guard must see the real destination
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       30 * time.Second,
			ResponseHeaderTimeout: cfg.Timeout,
		},
		// A redirect is not followed: a receiver moved is a failed
		// attempt that says where to, and the guard is never asked about
		// a second address.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s
}

// guard refuses connections to addresses a public server must not reach.
func (s *sender) guard(_, address string, _ syscall.RawConn) error {
	if s.blocked == nil {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("check address %s: %w", address, err)
	}
	if reason := s.blocked(ap.Addr()); reason != "" {
		return fmt.Errorf("refusing to connect to %s (%s): this server sends notifications to public addresses only", ap.Addr(), reason)
	}
	return nil
}

func (s *sender) post(ctx context.Context, target, secret string, d slipway.NotifyDelivery, at time.Time) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(d.Payload))
	if err != nil {
		return 0, "", fmt.Errorf("request: %w", err)
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Slipway-Notifications")
	req.Header.Set(HeaderEvent, string(d.Event))
	req.Header.Set(HeaderDelivery, d.ID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(secret, ts, d.Payload))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", errors.Unwrap(err) // *url.Error repeats the URL, which may hold a token
	}
	defer resp.Body.Close()
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponseRead))
	kept := printable(string(body[:min(len(body), maxResponseKept)]), maxResponseKept)
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return resp.StatusCode, kept, fmt.Errorf("HTTP %d: redirects are not followed (to %q)", resp.StatusCode, printable(resp.Header.Get("Location"), 200))
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		return resp.StatusCode, kept, fmt.Errorf("HTTP %d", resp.StatusCode)
	case rerr != nil:
		return resp.StatusCode, kept, fmt.Errorf("read the answer: %w", rerr)
	}
	return resp.StatusCode, kept, nil
}

// mail sends p to addr through the SMTP server: STARTTLS when it offers
// it, PLAIN authentication when a user is configured.
func (s *sender) mail(ctx context.Context, addr string, p Payload, at time.Time) (code int, resp string, err error) {
	if s.smtp.Addr == "" {
		return 0, "", errors.New("this server has no SMTP server (--smtp-addr)")
	}
	host, _, err := net.SplitHostPort(s.smtp.Addr)
	if err != nil {
		return 0, "", fmt.Errorf("--smtp-addr %q: %w", s.smtp.Addr, err)
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.smtp.Addr)
	if err != nil {
		return 0, "", fmt.Errorf("connect to the SMTP server: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	defer func() { // the SMTP reply code of a refusal is the attempt's status
		if te, ok := errors.AsType[*textproto.Error](err); ok {
			code, resp = te.Code, printable(te.Msg, maxResponseKept)
		}
	}()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return 0, "", fmt.Errorf("SMTP greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello("slipway"); err != nil {
		return 0, "", fmt.Errorf("SMTP HELO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return 0, "", fmt.Errorf("SMTP STARTTLS: %w", err)
		}
	}
	if s.smtp.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.smtp.Username, s.smtp.Password, host)); err != nil {
			return 0, "", fmt.Errorf("SMTP authentication: %w", err)
		}
	}
	if err := c.Mail(s.smtp.From); err != nil {
		return 0, "", fmt.Errorf("SMTP MAIL FROM: %w", err)
	}
	if err := c.Rcpt(addr); err != nil {
		return 0, "", fmt.Errorf("SMTP RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return 0, "", fmt.Errorf("SMTP DATA: %w", err)
	}
	if _, err := w.Write(message(s.smtp.From, addr, p, at)); err != nil {
		return 0, "", fmt.Errorf("SMTP DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return 0, "", fmt.Errorf("SMTP DATA: %w", err)
	}
	_ = c.Quit() // the message was taken; a failed goodbye changes nothing
	return 250, "", nil
}

// Subject returns an email's subject line for p.
func Subject(p Payload) string {
	switch {
	case p.Event == slipway.NotifyFlowMessage && p.Deployment != nil:
		return fmt.Sprintf("[%s] flow %s: %s", p.Tool, p.Deployment.Flow, firstLine(p.Message))
	case p.Question != nil && p.Event == slipway.NotifyQuestionPending:
		return fmt.Sprintf("[%s] question waiting: %s", p.Tool, firstLine(p.Question.Prompt))
	case p.Question != nil:
		return fmt.Sprintf("[%s] question %s: %s", p.Tool, p.Question.State, firstLine(p.Question.Prompt))
	case p.Deployment != nil:
		what := map[slipway.NotifyEvent]string{
			slipway.NotifyDeploymentStarted: "started", slipway.NotifyDeploymentSucceeded: "succeeded",
			slipway.NotifyDeploymentFailed: "failed", slipway.NotifyDeploymentRolledBack: "rolled back",
		}[p.Event]
		return fmt.Sprintf("[%s] deployment %s %s", p.Tool, p.Deployment.ID, what)
	}
	return fmt.Sprintf("[%s] %s", p.Tool, p.Event)
}

// message returns the email for p: plain text, quoted-printable.
func message(from, to string, p Payload, at time.Time) []byte {
	var body bytes.Buffer
	fmt.Fprintf(&body, "%s\n\n", Subject(p))
	if p.Message != "" {
		fmt.Fprintf(&body, "%s\n\n", p.Message)
	}
	if d := p.Deployment; d != nil {
		fmt.Fprintf(&body, "Deployment: %s\nStatus:     %s\n", d.ID, d.Status)
		if d.LongStatus != "" {
			fmt.Fprintf(&body, "Detail:     %s\n", d.LongStatus)
		}
		if d.Environment != "" {
			fmt.Fprintf(&body, "Environment: %s\n", d.Environment)
		}
		if d.RollbackOf != "" {
			fmt.Fprintf(&body, "Rolls back: %s\n", d.RollbackOf)
		}
		if d.Actor != "" {
			fmt.Fprintf(&body, "By:         %s (%s)\n", d.Actor, d.Trigger)
		}
	}
	if q := p.Question; q != nil {
		fmt.Fprintf(&body, "Question %s (%s):\n%s\n", q.ID, q.State, q.Prompt)
		if q.Value != "" {
			fmt.Fprintf(&body, "Answer:     %s by %s\n", q.Value, q.SettledBy)
		}
	}
	if p.URL != "" {
		fmt.Fprintf(&body, "\n%s\n", p.URL)
	}
	fmt.Fprintf(&body, "\n-- \nSlipway notification %s (%s) for tool %s\n", p.ID, p.Event, p.Tool)

	var msg bytes.Buffer
	h := textproto.MIMEHeader{}
	h.Set("From", from)
	h.Set("To", to)
	h.Set("Subject", mime.QEncoding.Encode("utf-8", printable(Subject(p), 200)))
	h.Set("Date", at.UTC().Format(time.RFC1123Z))
	h.Set("Message-ID", "<"+p.ID+"@slipway>")
	h.Set("MIME-Version", "1.0")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	h.Set(HeaderEvent, string(p.Event))
	h.Set(HeaderDelivery, p.ID)
	for _, k := range []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", HeaderEvent, HeaderDelivery} {
		fmt.Fprintf(&msg, "%s: %s\r\n", k, h.Get(k))
	}
	msg.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&msg)
	_, _ = qp.Write([]byte(strings.ReplaceAll(body.String(), "\n", "\r\n")))
	_ = qp.Close()
	return msg.Bytes()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return printable(s, 100)
}
