// Package notify sends a tool's outbound notifications: HMAC-signed JSON
// webhooks and emails through the server's SMTP server, when a deployment
// starts, succeeds, fails or is rolled back and when a question is asked
// or answered.
//
// It is an outbox. [Service.Record] runs in the transaction of the event
// (the deploy engine calls it) and records one delivery per subscription
// that wants the event; the engine enqueues a River job per delivery in
// that transaction, and the job calls [Service.Deliver], which makes one
// attempt, records it, and asks to be run again after an exponential
// backoff until an attempt succeeds or the delivery runs out of attempts.
// Nothing a notification does blocks or fails a deployment.
package notify

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/remoteconfig"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/throttle"
)

// Defaults of [Config].
const (
	DefaultMaxAttempts = 6
	DefaultRetryBase   = 30 * time.Second
	DefaultTimeout     = 10 * time.Second
	DefaultRetention   = 90 * 24 * time.Hour
	// MaxSubscriptions is how many subscriptions a tool may have.
	MaxSubscriptions = 20
	// DeliveryLogLength is how many deliveries a list returns at most.
	DeliveryLogLength = 100
)

// SMTP is the server's mail relay.
type SMTP struct {
	// Addr is host:port; empty: email subscriptions are refused.
	Addr string
	// From is the sender address.
	From string
	// Username and Password authenticate (PLAIN), when Username is set;
	// only over TLS (STARTTLS) or to a loopback relay.
	Username, Password string
}

// Config holds the settings of [New].
type Config struct {
	// PublicURL is the server's URL as people reach it, for the links to
	// the web UI (no trailing slash needed).
	PublicURL string
	// AllowPrivate lets webhooks go to loopback, private and the other
	// addresses remoteconfig's guard refuses (tests, private networks).
	AllowPrivate bool
	SMTP         SMTP
	// MaxAttempts is how many times a delivery is tried; default 6.
	MaxAttempts int
	// RetryBase is the wait before the second attempt, doubled after each
	// (30 s, 1, 2, 4, 8 min by default: about a quarter of an hour).
	RetryBase time.Duration
	// Timeout bounds one attempt; default 10 s.
	Timeout time.Duration
	// Retention is how long deliveries are kept; default 90 days.
	Retention time.Duration
	Now       func() time.Time
	Logger    *slog.Logger
	// resolve looks host names up when a subscription is made; tests
	// replace it.
	resolve func(ctx context.Context, host string) ([]netip.Addr, error)
}

// Service is the tools' outbound notifications.
type Service struct {
	st     store.Store
	sealer *auth.Sealer
	cfg    Config
	now    func() time.Time
	log    *slog.Logger
	sender *sender

	pruned throttle.Every // an hour between prunes
}

// New returns the notifications of st's tools, with their webhook secrets
// sealed by sealer.
func New(st store.Store, sealer *auth.Sealer, cfg Config) *Service {
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, DefaultMaxAttempts)
	cfg.RetryBase = cmp.Or(cfg.RetryBase, DefaultRetryBase)
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.Retention = cmp.Or(cfg.Retention, DefaultRetention)
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.resolve == nil {
		cfg.resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	s := &Service{
		st: st, sealer: sealer, cfg: cfg, now: cfg.Now, log: cmp.Or(cfg.Logger, slog.Default()),
		pruned: throttle.Every{Interval: time.Hour},
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.sender = newSender(cfg)
	return s
}

// NewSubscription is what a tool asks to be notified of.
type NewSubscription = slipway.NotifySubscriptionRequest

// Subscribe adds a subscription to the tool's notifications and returns
// it with, for a webhook, its signing secret: the only time it is shown.
// Bad input is EInvalid naming the field, and nothing is stored.
func (s *Service) Subscribe(ctx context.Context, tool string, in NewSubscription) (slipway.NotifySubscription, string, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.NotifySubscription{}, "", err
	}
	sub := slipway.NotifySubscription{
		ID: "ns-" + randomHex(8), Tool: tool, Kind: in.Kind, CreatedAt: s.now(), CreatedBy: slipway.ActorFrom(ctx).Name,
	}
	events, err := ParseEvents(in.Events)
	if err != nil {
		return sub, "", err
	}
	sub.Events = events
	switch in.Kind {
	case slipway.NotifyWebhook:
		if sub.Target, err = s.checkURL(ctx, in.Target); err != nil {
			return sub, "", err
		}
	case slipway.NotifyEmail:
		if s.cfg.SMTP.Addr == "" {
			return sub, "", slipway.Errorf(slipway.EInvalid, "This server has no SMTP server (--smtp-addr): email notifications are off; use a webhook.")
		}
		if sub.Target, err = checkAddress(in.Target); err != nil {
			return sub, "", err
		}
	default:
		return sub, "", slipway.Errorf(slipway.EInvalid, "kind: %q is not a kind of notification: use webhook or email.", in.Kind)
	}
	existing, err := s.st.NotifySubscriptionList(ctx, tool)
	if err != nil {
		return sub, "", fmt.Errorf("subscriptions of %s: %w", tool, err)
	}
	if len(existing) >= MaxSubscriptions {
		return sub, "", slipway.Errorf(slipway.EConflict, "Tool %s has %d notification subscriptions, the most a tool may have: remove one first.", tool, len(existing))
	}
	for _, e := range existing {
		if e.Kind == sub.Kind && e.Target == sub.Target {
			return sub, "", slipway.Errorf(slipway.EConflict, "Tool %s already notifies %s (subscription %s): remove it first to change its events.", tool, redactTarget(sub), e.ID)
		}
	}
	stored := store.NotifySubscription{NotifySubscription: sub}
	secret := ""
	if sub.Kind == slipway.NotifyWebhook {
		secret = randomHex(32)
		stored.Sealed = s.sealer.SealNotifySecret(tool, sub.ID, secret)
	}
	if err := s.st.NotifySubscriptionCreate(ctx, stored); err != nil {
		return sub, "", fmt.Errorf("subscribe %s: %w", tool, err)
	}
	return sub, secret, nil
}

// List returns the tool's subscriptions.
func (s *Service) List(ctx context.Context, tool string) ([]slipway.NotifySubscription, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return nil, err
	}
	stored, err := s.st.NotifySubscriptionList(ctx, tool)
	if err != nil {
		return nil, fmt.Errorf("subscriptions of %s: %w", tool, err)
	}
	out := make([]slipway.NotifySubscription, len(stored))
	for i, st := range stored {
		out[i] = st.NotifySubscription
	}
	return out, nil
}

// Unsubscribe removes one of the tool's subscriptions; its deliveries
// stay in the log (those not sent yet fail, saying why).
func (s *Service) Unsubscribe(ctx context.Context, tool, id string) error {
	if err := slipway.ValidateToolName(tool); err != nil {
		return err
	}
	if err := s.st.NotifySubscriptionDelete(ctx, tool, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return slipway.Errorf(slipway.ENotFound, "Tool %s has no notification subscription %s.", tool, id)
		}
		return fmt.Errorf("unsubscribe %s of %s: %w", id, tool, err)
	}
	return nil
}

// Deliveries returns the tool's newest deliveries (one subscription's when
// subscription is not "").
func (s *Service) Deliveries(ctx context.Context, tool, subscription string) ([]slipway.NotifyDelivery, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return nil, err
	}
	if subscription != "" {
		if _, err := s.st.NotifySubscriptionGet(ctx, tool, subscription); errors.Is(err, store.ErrNotFound) {
			return nil, slipway.Errorf(slipway.ENotFound, "Tool %s has no notification subscription %s.", tool, subscription)
		} else if err != nil {
			return nil, fmt.Errorf("subscription %s of %s: %w", subscription, tool, err)
		}
	}
	ds, err := s.st.NotifyDeliveryList(ctx, tool, subscription, DeliveryLogLength)
	if err != nil {
		return nil, fmt.Errorf("notifications of %s: %w", tool, err)
	}
	return ds, nil
}

// Delivery returns one of the tool's deliveries and its attempts.
func (s *Service) Delivery(ctx context.Context, tool, id string) (slipway.NotifyDelivery, []slipway.NotifyAttempt, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.NotifyDelivery{}, nil, err
	}
	d, err := s.st.NotifyDeliveryGet(ctx, tool, id)
	if errors.Is(err, store.ErrNotFound) {
		return d, nil, slipway.Errorf(slipway.ENotFound, "Tool %s has no notification delivery %s.", tool, id)
	}
	if err != nil {
		return d, nil, fmt.Errorf("notification %s of %s: %w", id, tool, err)
	}
	as, err := s.st.NotifyAttemptList(ctx, tool, id)
	if err != nil {
		return d, nil, fmt.Errorf("notification %s of %s: %w", id, tool, err)
	}
	return d, as, nil
}

// ParseEvents checks event names; a bad one is EInvalid naming it and the
// known ones.
func ParseEvents(names []string) ([]slipway.NotifyEvent, error) {
	var out []slipway.NotifyEvent
	for _, n := range names {
		ev := slipway.NotifyEvent(strings.TrimSpace(n))
		if !slices.Contains(slipway.NotifyEvents, ev) {
			known := make([]string, len(slipway.NotifyEvents))
			for i, e := range slipway.NotifyEvents {
				known[i] = string(e)
			}
			return nil, slipway.Errorf(slipway.EInvalid, "events: %q is not an event; the events are %s.", printable(n, 60), strings.Join(known, ", "))
		}
		if !slices.Contains(out, ev) {
			out = append(out, ev)
		}
	}
	return out, nil
}

// checkURL checks a webhook URL: http or https, a host, no credentials,
// at most 2,000 characters, and (unless private addresses are allowed)
// not a host that is or resolves to an address the guard refuses. A host
// that does not resolve now is accepted: each attempt's dial is guarded.
func (s *Service) checkURL(ctx context.Context, raw string) (string, error) {
	if len(raw) > 2000 {
		return "", slipway.Errorf(slipway.EInvalid, "url: longer than 2000 characters.")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return "", slipway.Errorf(slipway.EInvalid, "url: %q is not an http or https URL with a host.", printable(raw, 200))
	}
	if u.User != nil {
		return "", slipway.Errorf(slipway.EInvalid, "url: must not carry a user or password (the signature authenticates Slipway to the receiver).")
	}
	if u.Fragment != "" {
		return "", slipway.Errorf(slipway.EInvalid, "url: must not have a fragment (#…).")
	}
	if s.cfg.AllowPrivate {
		return u.String(), nil
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		addrs = []netip.Addr{netip.IPv6Loopback()}
	} else {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		addrs, _ = s.cfg.resolve(rctx, host) // unresolvable now: the dial guard decides later
		cancel()
	}
	for _, a := range addrs {
		if reason := remoteconfig.Blocked(a); reason != "" {
			return "", slipway.Errorf(slipway.EInvalid,
				"url: %s is %s (%s): this server sends notifications to public addresses only.", host, reason, a.Unmap())
		}
	}
	return u.String(), nil
}

// checkAddress checks an email address: one bare address, no name, no
// line breaks.
func checkAddress(raw string) (string, error) {
	a, err := mail.ParseAddress(raw)
	if err != nil || a.Name != "" || a.Address != strings.TrimSpace(raw) || len(raw) > 254 || strings.ContainsAny(raw, "\r\n") {
		return "", slipway.Errorf(slipway.EInvalid, "address: %q is not one email address (like ops@example.org).", printable(raw, 200))
	}
	return a.Address, nil
}

// redactTarget is a subscription's target as messages show it: a URL
// without its query (which may hold a receiver's token).
func redactTarget(sub slipway.NotifySubscription) string {
	if sub.Kind != slipway.NotifyWebhook {
		return sub.Target
	}
	u, err := url.Parse(sub.Target)
	if err != nil {
		return "(bad URL)"
	}
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.String()
}

// Record records, in tx, a delivery of n for each of the tool's
// subscriptions that wants it, and returns their IDs, for the caller to
// enqueue their jobs in tx. A notification recorded before for the same
// subscription, event and subject (the transaction or the job ran again)
// is not recorded twice.
func (s *Service) Record(ctx context.Context, tx store.Tx, n slipway.Notification) ([]string, error) {
	subs, err := tx.NotifySubscriptionList(ctx, n.Tool)
	if err != nil || len(subs) == 0 {
		return nil, err
	}
	subject := n.Subject
	switch {
	case subject != "":
	case n.Question != nil:
		subject = n.Question.ID
	case n.Deployment != nil:
		subject = n.Deployment.ID
	}
	var ids []string
	for _, sub := range subs {
		if !sub.Wants(n.Event) {
			continue
		}
		d := slipway.NotifyDelivery{
			ID: "nd-" + randomHex(10), Tool: n.Tool, SubscriptionID: sub.ID, Event: n.Event, Subject: subject,
			CreatedAt: n.At, State: slipway.NotifyPending, MaxAttempts: s.cfg.MaxAttempts, UpdatedAt: n.At,
		}
		if d.Payload, err = json.Marshal(s.payload(d.ID, n)); err != nil {
			return nil, fmt.Errorf("notification payload: %w", err)
		}
		added, err := tx.NotifyDeliveryAdd(ctx, d)
		if err != nil {
			return nil, err
		}
		if added {
			ids = append(ids, d.ID)
		}
	}
	return ids, nil
}

// Payload is the JSON body of a webhook notification.
type Payload struct {
	ID         string              `json:"id"`
	Event      slipway.NotifyEvent `json:"event"`
	Tool       string              `json:"tool"`
	CreatedAt  time.Time           `json:"created_at"`
	URL        string              `json:"url,omitempty"`
	Deployment *PayloadDeployment  `json:"deployment,omitempty"`
	Question   *PayloadQuestion    `json:"question,omitempty"`
	// Message is a flow's notify step's text (event flow.notify).
	Message string `json:"message,omitempty"`
}

// PayloadDeployment is the deployment a notification is about.
type PayloadDeployment struct {
	ID          string     `json:"id"`
	Status      string     `json:"status"`
	LongStatus  string     `json:"long_status,omitempty"`
	Description string     `json:"description,omitempty"`
	Environment string     `json:"environment,omitempty"`
	Trigger     string     `json:"trigger,omitempty"`
	Actor       string     `json:"actor,omitempty"`
	RollbackOf  string     `json:"rollback_of,omitempty"`
	Flow        string     `json:"flow,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	URL         string     `json:"url,omitempty"`
}

// PayloadQuestion is the question a notification is about.
type PayloadQuestion struct {
	ID           string    `json:"id"`
	DeploymentID string    `json:"deployment_id,omitempty"`
	Prompt       string    `json:"prompt"`
	State        string    `json:"state"`
	Value        string    `json:"value,omitempty"`
	SettledBy    string    `json:"settled_by,omitempty"`
	DeadlineAt   time.Time `json:"deadline_at"`
	URL          string    `json:"url,omitempty"`
}

func (s *Service) payload(id string, n slipway.Notification) Payload {
	p := Payload{ID: id, Event: n.Event, Tool: n.Tool, CreatedAt: n.At.UTC(), Message: n.Message}
	if d := n.Deployment; d != nil {
		p.Deployment = &PayloadDeployment{
			ID: d.ID, Status: string(d.Status), LongStatus: d.LongStatus, Description: d.Description,
			Environment: d.Environment, Trigger: d.Trigger, Actor: d.Actor, RollbackOf: d.RollbackOf, Flow: d.Flow,
			CreatedAt: d.CreatedAt.UTC(), URL: s.uiURL("/ui/t/" + n.Tool + "/d/" + d.ID),
		}
		if !d.FinishedAt.IsZero() {
			p.Deployment.FinishedAt = new(d.FinishedAt.UTC())
		}
		p.URL = p.Deployment.URL
	}
	if q := n.Question; q != nil {
		p.Question = &PayloadQuestion{
			ID: q.ID, DeploymentID: q.DeploymentID, Prompt: q.Prompt, State: string(q.State), Value: q.Value,
			SettledBy: q.SettledBy, DeadlineAt: q.DeadlineAt.UTC(), URL: s.uiURL("/ui/t/" + n.Tool + "/q/" + q.ID),
		}
		p.URL = p.Question.URL
	}
	return p
}

func (s *Service) uiURL(path string) string {
	if s.cfg.PublicURL == "" {
		return ""
	}
	return s.cfg.PublicURL + path
}

// Prune drops deliveries past the retention (with their attempts), at
// most once an hour; [Service.Deliver] calls it.
func (s *Service) Prune(ctx context.Context) error {
	now := s.now()
	if !s.pruned.Due(now) {
		return nil
	}
	if _, err := s.st.NotifyDeliveryPrune(ctx, now.Add(-s.cfg.Retention)); err != nil {
		return fmt.Errorf("prune notifications: %w", err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// printable cuts s to n bytes and replaces control characters, for
// messages that echo input.
func printable(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
