package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"slipway.dev/slipway/internal/slipway"
)

// Notifications is what the UI needs of a tool's outbound notifications
// (internal/notify; the API's httpapi.Notifications). Errors are
// [*slipway.Error] values as for the API: EInvalid naming the field
// ("url:", "address:", "events:", "kind:") for bad input, ENotFound for an
// unknown subscription or delivery, EConflict over the tool's limit, for a
// target it has already, or for a redelivery while the job still tries.
type Notifications interface {
	// Subscribe adds a subscription and returns it with a webhook's
	// signing secret (shown once).
	Subscribe(ctx context.Context, tool string, in slipway.NotifySubscriptionRequest) (slipway.NotifySubscription, string, error)
	List(ctx context.Context, tool string) ([]slipway.NotifySubscription, error)
	Unsubscribe(ctx context.Context, tool, id string) error
	// Deliveries returns the newest deliveries (of one subscription when
	// it is not "").
	Deliveries(ctx context.Context, tool, subscription string) ([]slipway.NotifyDelivery, error)
	// Delivery returns one delivery with its attempts.
	Delivery(ctx context.Context, tool, id string) (slipway.NotifyDelivery, []slipway.NotifyAttempt, error)
	// Redeliver sends a delivery again, now, as one more attempt.
	Redeliver(ctx context.Context, tool, id string) (slipway.NotifyDelivery, []slipway.NotifyAttempt, error)
}

// msgNotificationsOff is the 503 message when the server serves no
// notifications to the UI.
const msgNotificationsOff = "Outbound notifications are not enabled on this server."

// maxNotifyTarget bounds the target typed in the form (the service's own
// bound of a URL is 2,000 characters; an address, 254).
const maxNotifyTarget = 2000

// notifyForm is what the subscription form holds: what was typed, and
// the problems next to each field (or above the form).
type notifyForm struct {
	Kind   string
	Target string
	Events []string
	// Problems: next to the kind, the target and the events, or above
	// the form.
	KindProblem, TargetProblem, EventsProblem, Problem string
}

// Checked reports whether the form has event ev ticked.
func (f notifyForm) Checked(ev slipway.NotifyEvent) bool {
	return slices.Contains(f.Events, string(ev))
}

// subscriptionRow is a subscription as the page lists it: a webhook's URL
// redacted, never its secret.
type subscriptionRow struct {
	ID, Kind, Target string
	// Events are those it is sent; empty: every event.
	Events    []slipway.NotifyEvent
	CreatedAt string
	CreatedBy string
}

// deliveryRow is a delivery as the page lists it, with its subscription's
// redacted target ("" when the subscription was removed).
type deliveryRow struct {
	slipway.NotifyDelivery
	Target string
}

// notificationsView is the notifications page's data.
type notificationsView struct {
	Subscriptions []subscriptionRow
	Deliveries    []deliveryRow
	Events        []slipway.NotifyEvent
	Form          notifyForm
	MaxTarget     int
}

// redactNotifyTarget returns a subscription's target as pages show it: a
// webhook URL without user info and with its query replaced by "…" (a
// receiver's token often sits there), as the service's own messages show
// it; an email address as it is.
func redactNotifyTarget(kind slipway.NotifyKind, target string) string {
	if kind != slipway.NotifyWebhook {
		return target
	}
	u, err := url.Parse(target)
	if err != nil {
		return "(a URL that does not parse)"
	}
	u.User = nil
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery, u.ForceQuery = "…", false
	}
	return u.String()
}

// notifications serves GET /ui/t/{tool}/notifications: the tool's
// subscriptions, the form that adds one and the newest deliveries.
func (h *handler) notifications(w http.ResponseWriter, r *http.Request) {
	if h.enabled(w, r, h.cfg.Notifications != nil, msgNotificationsOff) {
		h.showNotifications(w, r, http.StatusOK, notifyForm{Kind: string(slipway.NotifyWebhook)})
	}
}

func (h *handler) showNotifications(w http.ResponseWriter, r *http.Request, status int, form notifyForm) {
	ctx, tool := r.Context(), r.PathValue("tool")
	subs, err := h.cfg.Notifications.List(ctx, tool)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	ds, err := h.cfg.Notifications.Deliveries(ctx, tool, "")
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	v := notificationsView{Events: slipway.NotifyEvents, Form: form, MaxTarget: maxNotifyTarget}
	targets := map[string]string{}
	for _, s := range subs {
		row := subscriptionRow{
			ID: s.ID, Kind: string(s.Kind), Target: redactNotifyTarget(s.Kind, s.Target), Events: s.Events,
			CreatedAt: s.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"), CreatedBy: s.CreatedBy,
		}
		targets[s.ID] = row.Target
		v.Subscriptions = append(v.Subscriptions, row)
	}
	for _, d := range ds {
		v.Deliveries = append(v.Deliveries, deliveryRow{NotifyDelivery: d, Target: targets[d.SubscriptionID]})
	}
	h.render(w, r, status, "notifications", view{
		Title: "Notifications of " + tool, Tool: tool, Section: "notifications", Flash: h.takeFlash(w, r), Data: v,
	})
}

// notifySubscribe serves POST /ui/t/{tool}/notifications: the service
// judges the form as the API's POST is judged. A webhook's answer is the
// page that shows its signing secret, once; an email's is a 303 to the
// list. Refused: the list again with what was typed and the problem next
// to its field (422), or above the form (409: the limit, a target the
// tool has).
func (h *handler) notifySubscribe(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.Notifications != nil, msgNotificationsOff) || !h.parseForm(w, r) {
		return
	}
	ctx, tool := r.Context(), r.PathValue("tool")
	form := notifyForm{
		Kind: r.PostForm.Get("kind"), Target: strings.TrimSpace(r.PostForm.Get("target")), Events: r.PostForm["event"],
	}
	if n := len(form.Target); n > maxNotifyTarget {
		form.Target = clip(form.Target, maxNotifyTarget)
		form.TargetProblem = fmt.Sprintf("The target is too long: at most %d characters, got %d.", maxNotifyTarget, n)
		h.showNotifications(w, r, http.StatusUnprocessableEntity, form)
		return
	}
	sub, secret, err := h.cfg.Notifications.Subscribe(ctx, tool, slipway.NotifySubscriptionRequest{
		Kind: slipway.NotifyKind(form.Kind), Target: form.Target, Events: form.Events,
	})
	switch slipway.ErrorCode(err) {
	case "":
	case slipway.EInvalid:
		msg := slipway.ErrorMessage(err)
		switch {
		case strings.HasPrefix(msg, "kind:"):
			form.KindProblem = msg
		case strings.HasPrefix(msg, "events:"):
			form.EventsProblem = msg
		case strings.HasPrefix(msg, "url:"), strings.HasPrefix(msg, "address:"):
			form.TargetProblem = msg
		default:
			form.Problem = msg
		}
		h.showNotifications(w, r, http.StatusUnprocessableEntity, form)
		return
	case slipway.EConflict:
		form.Problem = slipway.ErrorMessage(err)
		h.showNotifications(w, r, http.StatusConflict, form)
		return
	default:
		h.serviceError(w, r, err)
		return
	}
	target := redactNotifyTarget(sub.Kind, sub.Target)
	if secret == "" {
		s, _ := sessionOf(ctx)
		h.setFlash(w, r, s, "ok", fmt.Sprintf("Subscription %s added: %s is sent %s.", sub.ID, target, eventsText(sub.Events)))
		http.Redirect(w, r, "/ui/t/"+tool+"/notifications", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "secret", view{
		Title: "New notification webhook of " + tool, Tool: tool, Section: "notifications",
		Data: secretView{
			Heading: "Webhook " + sub.ID + " of " + tool + " added", What: "signing secret", Secret: secret,
			Keeps: "it sealed, to sign each delivery,",
			Facts: []fact{
				{"Subscription", sub.ID},
				{"URL", target},
				{"Events", eventsText(sub.Events)},
				{"Created", sub.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC")},
			},
			Use:  "Give it to the receiver: every delivery carries X-Slipway-Signature-256: sha256=<hex HMAC-SHA256 under this secret of \"<X-Slipway-Timestamp>.<body>\">; a receiver that checks it knows the delivery is Slipway's.",
			Back: "/ui/t/" + tool + "/notifications", BackText: "Done: back to the notifications",
		},
	})
}

// eventsText names the events a subscription is sent.
func eventsText(evs []slipway.NotifyEvent) string {
	if len(evs) == 0 {
		return "every event"
	}
	s := make([]string, len(evs))
	for i, e := range evs {
		s[i] = string(e)
	}
	return strings.Join(s, ", ")
}

// validNotifyID reports whether id may be a subscription's or a
// delivery's ID ("ns-…", "nd-…": short, lowercase hex after the prefix).
func validNotifyID(id, prefix string) bool {
	hex, ok := strings.CutPrefix(id, prefix)
	return ok && hex != "" && len(hex) <= 64 && !strings.ContainsFunc(hex, func(c rune) bool {
		return (c < 'a' || c > 'f') && (c < '0' || c > '9')
	})
}

// subscriptionID returns the {id} of r, or answers 404 when it cannot be
// a subscription's.
func (h *handler) subscriptionID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !validNotifyID(id, "ns-") {
		h.errorPage(w, r, http.StatusNotFound, "There is no notification subscription "+strconv.Quote(clip(id, 64))+": subscription IDs are ns- and hexadecimal digits.")
		return "", false
	}
	return id, true
}

// confirmView is the page that asks before a destructive POST.
type confirmView struct {
	Heading, Text, Action, Button, Back string
}

// notifyRemoveConfirm serves GET /ui/t/{tool}/notifications/s/{id}/remove:
// what would be removed, and the button that removes it.
func (h *handler) notifyRemoveConfirm(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.Notifications != nil, msgNotificationsOff) {
		return
	}
	id, ok := h.subscriptionID(w, r)
	if !ok {
		return
	}
	tool := r.PathValue("tool")
	subs, err := h.cfg.Notifications.List(r.Context(), tool)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	i := slices.IndexFunc(subs, func(s slipway.NotifySubscription) bool { return s.ID == id })
	if i < 0 {
		h.errorPage(w, r, http.StatusNotFound, fmt.Sprintf("Tool %s has no notification subscription %s.", tool, id))
		return
	}
	s := subs[i]
	h.render(w, r, http.StatusOK, "confirm", view{
		Title: "Remove subscription " + id, Tool: tool, Section: "notifications",
		Data: confirmView{
			Heading: "Remove subscription " + id + "?",
			Text: fmt.Sprintf("%s %s is sent %s. Removed, it is sent nothing more; its deliveries stay in the log, and those not sent yet fail.",
				s.Kind, redactNotifyTarget(s.Kind, s.Target), eventsText(s.Events)),
			Action: "/ui/t/" + tool + "/notifications/s/" + id + "/remove", Button: "Remove subscription " + id,
			Back: "/ui/t/" + tool + "/notifications",
		},
	})
}

// notifyRemove serves POST /ui/t/{tool}/notifications/s/{id}/remove, then
// goes back to the list (303) with what happened.
func (h *handler) notifyRemove(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.Notifications != nil, msgNotificationsOff) {
		return
	}
	id, ok := h.subscriptionID(w, r)
	if !ok {
		return
	}
	ctx, tool := r.Context(), r.PathValue("tool")
	s, _ := sessionOf(ctx)
	err := h.cfg.Notifications.Unsubscribe(ctx, tool, id)
	switch slipway.ErrorCode(err) {
	case "":
		h.setFlash(w, r, s, "ok", "Subscription "+id+" removed: it is sent nothing more.")
	case slipway.ENotFound:
		h.setFlash(w, r, s, "error", slipway.ErrorMessage(err)+" Nothing was removed.")
	default:
		h.serviceError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/t/"+tool+"/notifications", http.StatusSeeOther)
}

// deliveryView is one delivery's page.
type deliveryView struct {
	Delivery slipway.NotifyDelivery
	Attempts []slipway.NotifyAttempt
	Target   string
}

// notifyDeliveryID returns the {id} of r, or answers 404 when it cannot
// be a delivery's.
func (h *handler) notifyDeliveryID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !validNotifyID(id, "nd-") {
		h.errorPage(w, r, http.StatusNotFound, "There is no notification delivery "+strconv.Quote(clip(id, 64))+": delivery IDs are nd- and hexadecimal digits.")
		return "", false
	}
	return id, true
}

// notifyDelivery serves GET /ui/t/{tool}/notifications/d/{id}: a delivery
// with its attempts and the Redeliver button.
func (h *handler) notifyDelivery(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.Notifications != nil, msgNotificationsOff) {
		return
	}
	id, ok := h.notifyDeliveryID(w, r)
	if !ok {
		return
	}
	ctx, tool := r.Context(), r.PathValue("tool")
	d, as, err := h.cfg.Notifications.Delivery(ctx, tool, id)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	v := deliveryView{Delivery: d, Attempts: as}
	if subs, err := h.cfg.Notifications.List(ctx, tool); err == nil {
		for _, s := range subs {
			if s.ID == d.SubscriptionID {
				v.Target = redactNotifyTarget(s.Kind, s.Target)
			}
		}
	}
	h.render(w, r, http.StatusOK, "notify-delivery", view{
		Title: "Notification " + id + " of " + tool, Tool: tool, Section: "notifications", Flash: h.takeFlash(w, r), Data: v,
	})
}

// notifyRedeliver serves POST /ui/t/{tool}/notifications/d/{id}/redeliver:
// one more attempt, now, then back to the delivery's page (303) with how
// it went; a delivery the job still tries is refused there with the
// service's reason.
func (h *handler) notifyRedeliver(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.Notifications != nil, msgNotificationsOff) {
		return
	}
	id, ok := h.notifyDeliveryID(w, r)
	if !ok {
		return
	}
	ctx, tool := r.Context(), r.PathValue("tool")
	s, _ := sessionOf(ctx)
	d, _, err := h.cfg.Notifications.Redeliver(ctx, tool, id)
	switch slipway.ErrorCode(err) {
	case "":
		if d.State == slipway.NotifyDelivered {
			h.setFlash(w, r, s, "ok", fmt.Sprintf("Notification %s redelivered (attempt %d).", id, d.Attempts))
		} else {
			h.setFlash(w, r, s, "error", fmt.Sprintf("Notification %s: attempt %d failed: %s", id, d.Attempts, clip(cmp.Or(d.LastError, "status "+strconv.Itoa(d.LastStatus)), 300)))
		}
	case slipway.EConflict, slipway.ENotFound:
		h.setFlash(w, r, s, "error", slipway.ErrorMessage(err))
	default:
		h.serviceError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/t/"+tool+"/notifications/d/"+id, http.StatusSeeOther)
}
