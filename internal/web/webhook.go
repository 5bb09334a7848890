package web

import (
	"context"
	"net/http"
	"strings"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// Webhooks is what the UI needs of a tool's push webhook
// (internal/trigger; the API's httpapi.Webhooks without Receive). Errors
// are [*slipway.Error] values as for the API; Delete is ENotFound when the
// tool has no secret.
type Webhooks interface {
	// Get returns the tool's webhook and its newest deliveries.
	Get(ctx context.Context, tool string) (slipway.Webhook, []slipway.WebhookDelivery, error)
	// Rotate makes the webhook a new secret and returns it (shown once).
	Rotate(ctx context.Context, tool string) (slipway.Webhook, string, error)
	// Delete deletes the webhook's secret.
	Delete(ctx context.Context, tool string) error
}

// Polls reads what polling last saw of a tool's components; the store
// implements it.
type Polls interface {
	// PollStateList returns the tool's polled components' states.
	PollStateList(ctx context.Context, tool string) ([]store.PollState, error)
}

// msgWebhooksOff is the 503 message when the server serves no push
// webhooks to the UI.
const msgWebhooksOff = "Push webhooks are not enabled on this server."

// webhookView is the push webhook page's data.
type webhookView struct {
	Webhook slipway.Webhook
	// URL is the endpoint to give the forge.
	URL        string
	Deliveries []slipway.WebhookDelivery
	// Polls is what polling last saw, when the server serves it (Polled).
	Polled bool
	Polls  []store.PollState
}

// webhookURL returns the URL a forge posts tool's pushes to: the server's
// public URL when it has one (--public-url), else the address this page
// was reached at, which is what the CLI prints too (its server URL).
func (h *handler) webhookURL(r *http.Request, path string) string {
	base := strings.TrimRight(h.cfg.PublicURL, "/")
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + path
}

// webhook serves GET /ui/t/{tool}/webhook: the URL to give the forge,
// whether a secret is set, the buttons, the newest deliveries and, when
// the tool's components are polled, what polling last saw.
func (h *handler) webhook(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.Webhooks != nil, msgWebhooksOff) {
		return
	}
	ctx, tool := r.Context(), r.PathValue("tool")
	wh, ds, err := h.cfg.Webhooks.Get(ctx, tool)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	v := webhookView{Webhook: wh, URL: h.webhookURL(r, wh.Path), Deliveries: ds}
	if h.cfg.Polls != nil {
		ps, err := h.cfg.Polls.PollStateList(ctx, tool)
		if err != nil {
			h.internal(w, r, err)
			return
		}
		v.Polled, v.Polls = true, ps
	}
	h.render(w, r, http.StatusOK, "webhook", view{
		Title: "Push webhook of " + tool, Tool: tool, Section: "webhook", Flash: h.takeFlash(w, r), Data: v,
	})
}

// webhookRotate serves POST /ui/t/{tool}/webhook/rotate: makes the first
// secret, or a new one in place of the old (which stops working at once);
// the answer is the page that shows it, once.
func (h *handler) webhookRotate(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.Webhooks != nil, msgWebhooksOff) {
		return
	}
	ctx, tool := r.Context(), r.PathValue("tool")
	old, _, err := h.cfg.Webhooks.Get(ctx, tool)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	wh, secret, err := h.cfg.Webhooks.Rotate(ctx, tool)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	done, use := "made", ""
	if old.Configured {
		done, use = "rotated", "The old secret no longer works: give the forge this one. "
	}
	u := h.webhookURL(r, wh.Path)
	h.render(w, r, http.StatusOK, "secret", view{
		Title: "New push webhook secret of " + tool, Tool: tool, Section: "webhook",
		Data: secretView{
			Heading: "Push webhook secret of " + tool + " " + done, What: "webhook secret", Secret: secret,
			Keeps: "it sealed, to check each delivery's signature,",
			Facts: []fact{{"Payload URL", u}, {"Content type", "application/json"}, {"Created", wh.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC")}},
			Use:   use + "In the repository's webhook settings (GitHub, Gitea, Forgejo: payload URL, content type application/json and this secret; GitLab: the URL and this secret as its token), send push events: a push to a branch a component builds from deploys the tool.",
			Back:  "/ui/t/" + tool + "/webhook", BackText: "Done: back to the push webhook",
		},
	})
}

// webhookDelete serves POST /ui/t/{tool}/webhook/delete, then goes back
// to the page (303) saying what happened.
func (h *handler) webhookDelete(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.Webhooks != nil, msgWebhooksOff) {
		return
	}
	ctx, tool := r.Context(), r.PathValue("tool")
	s, _ := sessionOf(ctx)
	err := h.cfg.Webhooks.Delete(ctx, tool)
	switch slipway.ErrorCode(err) {
	case "":
		h.setFlash(w, r, s, "ok", "Push webhook secret of "+tool+" deleted: pushes are refused from now on (the delivery log stays).")
	case slipway.ENotFound:
		h.setFlash(w, r, s, "error", slipway.ErrorMessage(err)+" Nothing was deleted.")
	default:
		h.serviceError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/t/"+tool+"/webhook", http.StatusSeeOther)
}
