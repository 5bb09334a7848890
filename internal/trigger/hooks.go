package trigger

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/throttle"
)

// Deployer is what a push starts: the deploy service.
type Deployer interface {
	// ConfigGet returns the tool's current config.
	ConfigGet(ctx context.Context, tool string) (slipway.ToolConfig, error)
	// DeploymentCreate creates and queues a deployment of it.
	DeploymentCreate(ctx context.Context, tool string, opts slipway.DeployOptions) (slipway.Deployment, error)
}

// FlowStarter starts runs of a tool's flows: the flows service.
type FlowStarter interface {
	// FlowRun creates and queues a run of the tool's flow name.
	FlowRun(ctx context.Context, tool, name string, opts slipway.DeployOptions) (slipway.Deployment, error)
}

// Config holds the settings of [New].
type Config struct {
	// Retention is how long the delivery log keeps a delivery, and so how
	// long its ID is refused as a replay; default 90 days. A delivery
	// older than that could be replayed: it deploys the branch as it is
	// then, never the commit it names.
	Retention time.Duration
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Hooks serves the tools' push webhooks: their secrets, their delivery
// logs, and the deliveries themselves.
type Hooks struct {
	st        store.Store
	sealer    *auth.Sealer
	deploy    Deployer
	flows     FlowStarter
	retention time.Duration
	now       func() time.Time
	log       *slog.Logger

	pruned throttle.Every // an hour between prunes
}

// New returns the push webhooks of st's tools, their secrets sealed with
// sealer, deploying through d.
func New(st store.Store, sealer *auth.Sealer, d Deployer, cfg Config) *Hooks {
	h := &Hooks{
		st: st, sealer: sealer, deploy: d,
		retention: cmp.Or(cfg.Retention, 90*24*time.Hour),
		now:       cfg.Now,
		log:       cmp.Or(cfg.Logger, slog.Default()),
		pruned:    throttle.Every{Interval: time.Hour},
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}

// SetFlows makes a push to a branch start the tool's flows whose on: has
// push: BRANCH, through f (without it no flow starts on push).
func (h *Hooks) SetFlows(f FlowStarter) { h.flows = f }

// DeliveryLogLength is how many deliveries [Hooks.Get] returns.
const DeliveryLogLength = 50

// Get returns the tool's webhook and its newest deliveries.
func (h *Hooks) Get(ctx context.Context, tool string) (slipway.Webhook, []slipway.WebhookDelivery, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.Webhook{}, nil, err
	}
	w := slipway.Webhook{Tool: tool, Path: slipway.WebhookPath(tool)}
	stored, err := h.st.WebhookGet(ctx, tool)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return w, nil, fmt.Errorf("webhook of %s: %w", tool, err)
	default:
		w.Configured, w.CreatedAt = true, stored.CreatedAt
	}
	ds, err := h.st.WebhookDeliveryList(ctx, tool, DeliveryLogLength)
	if err != nil {
		return w, nil, fmt.Errorf("webhook of %s: %w", tool, err)
	}
	return w, ds, nil
}

// Rotate makes the tool's webhook a new secret, replacing any old one at
// once, and returns it: the only time it is shown.
func (h *Hooks) Rotate(ctx context.Context, tool string) (slipway.Webhook, string, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.Webhook{}, "", err
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	secret := hex.EncodeToString(b)
	now := h.now()
	if err := h.st.WebhookPut(ctx, store.Webhook{Tool: tool, Sealed: h.sealer.SealWebhookSecret(tool, secret), CreatedAt: now}); err != nil {
		return slipway.Webhook{}, "", fmt.Errorf("webhook of %s: %w", tool, err)
	}
	return slipway.Webhook{Tool: tool, Configured: true, Path: slipway.WebhookPath(tool), CreatedAt: now}, secret, nil
}

// Delete deletes the tool's webhook secret: pushes are refused from then
// on. The delivery log stays.
func (h *Hooks) Delete(ctx context.Context, tool string) error {
	if err := slipway.ValidateToolName(tool); err != nil {
		return err
	}
	if err := h.st.WebhookDelete(ctx, tool); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return slipway.Errorf(slipway.ENotFound, "Tool %s has no push webhook.", tool)
		}
		return fmt.Errorf("delete webhook of %s: %w", tool, err)
	}
	return nil
}

// Receive takes one delivery to the tool's webhook. In order: a delivery
// no forge format fits is EInvalid; a tool without a webhook secret is
// ENotFound; a signature (or GitLab token) that does not hold is
// EUnauthorized, and nothing is recorded. Every signed delivery is then
// recorded in the delivery log; a delivery ID seen before is EConflict (a
// replay); a ping is answered; another event, a push of a ref no component
// follows, or of a deleted branch is EInvalid with the reason; a push
// that a component follows creates a deployment of the tool (trigger
// "push", the pusher as its actor) and the delivery records it.
//
// A push deploys the tool's config as it is, with each ref resolved when
// the deployment runs: a later push that arrives first, or a replay that
// slipped past the log, deploys the branch's newest commit, never an older
// one named in a body.
func (h *Hooks) Receive(ctx context.Context, tool string, hdr http.Header, body []byte) (slipway.WebhookDelivery, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.WebhookDelivery{}, err
	}
	d, err := Detect(hdr)
	if err != nil {
		return slipway.WebhookDelivery{}, err
	}
	stored, err := h.st.WebhookGet(ctx, tool)
	if errors.Is(err, store.ErrNotFound) {
		return slipway.WebhookDelivery{}, slipway.Errorf(slipway.ENotFound,
			"Tool %s has no push webhook: make its secret with `slipway webhook create` and give it to the forge.", tool)
	}
	if err != nil {
		return slipway.WebhookDelivery{}, fmt.Errorf("webhook of %s: %w", tool, err)
	}
	secret, err := h.sealer.OpenWebhookSecret(tool, stored.Sealed)
	if err != nil {
		return slipway.WebhookDelivery{}, fmt.Errorf("webhook of %s: %w", tool, err)
	}
	if err := Verify(d.Provider, secret, hdr, body); err != nil {
		return slipway.WebhookDelivery{}, &slipway.Error{
			Code:    slipway.EUnauthorized,
			Message: fmt.Sprintf("The %s delivery %s is not signed with tool %s's webhook secret: %v.", d.Provider, d.ID, tool, err),
		}
	}
	h.prune(ctx)

	rec := slipway.WebhookDelivery{
		Tool: tool, ID: d.ID, Provider: string(d.Provider), Event: printable(d.Event, 100),
		ReceivedAt: h.now(), Outcome: slipway.WebhookReceived,
	}
	added, err := h.st.WebhookDeliveryAdd(ctx, rec)
	if err != nil {
		return rec, fmt.Errorf("record delivery %s of %s: %w", d.ID, tool, err)
	}
	if !added {
		first, err := h.st.WebhookDeliveryGet(ctx, tool, d.ID)
		if err != nil {
			return rec, fmt.Errorf("delivery %s of %s: %w", d.ID, tool, err)
		}
		return first, slipway.Errorf(slipway.EConflict,
			"Delivery %s was received at %s (%s): a replay is refused. To deploy again, push or run `slipway components deployment create`.",
			d.ID, first.ReceivedAt.UTC().Format(time.RFC3339), first.Outcome)
	}
	rec, err = h.decide(ctx, rec, d, body)
	if uerr := h.st.WebhookDeliveryUpdate(context.WithoutCancel(ctx), rec); uerr != nil {
		h.log.WarnContext(ctx, "record a webhook delivery's outcome", "tool", tool, "delivery", d.ID, "error", uerr.Error())
	}
	h.log.InfoContext(ctx, "webhook delivery", "tool", tool, "provider", d.Provider, "delivery", d.ID,
		"ref", rec.Ref, "commit", rec.Commit, "outcome", string(rec.Outcome), "deployment", rec.DeploymentID)
	return rec, err
}

// decide does what a recorded delivery asks and returns its record with
// the outcome.
func (h *Hooks) decide(ctx context.Context, rec slipway.WebhookDelivery, d Delivery, body []byte) (slipway.WebhookDelivery, error) {
	refuse := func(err *slipway.Error) (slipway.WebhookDelivery, error) {
		rec.Outcome, rec.Message = slipway.WebhookRefused, err.Message
		return rec, err
	}
	switch {
	case IsPing(d.Provider, d.Event):
		rec.Outcome, rec.Message = slipway.WebhookPong, "pong: the webhook's secret holds"
		return rec, nil
	case !IsPush(d.Provider, d.Event):
		return refuse(slipway.Errorf(slipway.EInvalid, "Event %q is not a push: Slipway deploys on push events only.", rec.Event))
	}
	push, err := ParsePush(d.Provider, body)
	if err != nil {
		if se, ok := errors.AsType[*slipway.Error](err); ok {
			return refuse(se)
		}
		return refuse(slipway.Errorf(slipway.EInvalid, "%v", err))
	}
	rec.Ref, rec.Commit, rec.Pusher = printable(push.Ref, 250), push.Commit, push.Pusher
	if push.Deleted {
		return refuse(slipway.Errorf(slipway.EInvalid, "%s was deleted: nothing to deploy.", rec.Ref))
	}
	cfg, err := h.deploy.ConfigGet(ctx, rec.Tool)
	if err != nil {
		if slipway.ErrorCode(err) == slipway.ENotFound {
			return refuse(slipway.Errorf(slipway.EInvalid, "Tool %s has no config: nothing follows %s.", rec.Tool, rec.Ref))
		}
		rec.Outcome, rec.Message = slipway.WebhookFailed, slipway.ErrorMessage(err)
		return rec, fmt.Errorf("config of %s: %w", rec.Tool, err)
	}
	who := cmp.Or(push.Pusher, "unknown")
	if names := h.pushFlows(cfg, push); len(names) > 0 {
		return h.startFlows(ctx, rec, d, push, who, names)
	}
	followers, following := Followers(cfg, push)
	if len(followers) == 0 {
		msg := fmt.Sprintf("No component of %s follows %s of %s", rec.Tool, rec.Ref, push.Repositories[0])
		if len(following) > 0 {
			msg += " (they follow: " + strings.Join(following, "; ") + ")"
		}
		return refuse(slipway.Errorf(slipway.EInvalid, "%s.", msg))
	}
	dep, err := h.deploy.DeploymentCreate(
		slipway.WithActor(ctx, slipway.Actor{Name: "webhook:" + string(d.Provider), Tool: rec.Tool}),
		rec.Tool, slipway.DeployOptions{
			Trigger:     slipway.TriggerPush,
			Actor:       "push:" + who,
			Description: fmt.Sprintf("push to %s by %s (%s): %s", shortRef(push.Ref), who, push.Commit[:min(12, len(push.Commit))], strings.Join(followers, ", ")),
		})
	if err != nil {
		rec.Outcome, rec.Message = slipway.WebhookFailed, slipway.ErrorMessage(err)
		return rec, fmt.Errorf("deploy %s for push %s: %w", rec.Tool, d.ID, err)
	}
	rec.Outcome, rec.DeploymentID = slipway.WebhookDeployed, dep.ID
	rec.Message = "deployment " + dep.ID + " for " + strings.Join(followers, ", ")
	return rec, nil
}

// Followers returns the components of cfg that build from the pushed ref
// of the pushed repository, by name, and, for the error when there is
// none, what each source component follows instead.
func Followers(cfg slipway.ToolConfig, p Push) (followers, following []string) {
	for _, name := range cfg.Names() {
		src := cfg.Components[name].Build.Source
		if src == nil {
			continue
		}
		repoMatch := slices.ContainsFunc(p.Repositories, func(u string) bool { return SameRepository(u, src.Repository) })
		if repoMatch && refMatches(src.Ref, p.Ref) {
			followers = append(followers, name)
			continue
		}
		following = append(following, name+": "+src.Ref+" of "+slipway.RedactURL(src.Repository))
	}
	return followers, following
}

// refMatches reports whether a component's ref (a branch or tag name, or
// a full ref) is the pushed full ref.
func refMatches(ref, pushed string) bool {
	if ref == pushed {
		return true
	}
	for _, prefix := range []string{"refs/heads/", "refs/tags/"} {
		if name, ok := strings.CutPrefix(pushed, prefix); ok && name == ref {
			return true
		}
	}
	return false
}

// shortRef is a ref without refs/heads/ (a tag keeps refs/tags/).
func shortRef(ref string) string { return strings.TrimPrefix(ref, "refs/heads/") }

// prune drops deliveries past the retention, at most once an hour; a
// failure is only logged (the next delivery tries again).
func (h *Hooks) prune(ctx context.Context) {
	now := h.now()
	if !h.pruned.Due(now) {
		return
	}
	if _, err := h.st.WebhookDeliveryPrune(ctx, now.Add(-h.retention)); err != nil {
		h.log.WarnContext(ctx, "prune webhook deliveries", "error", err.Error())
	}
}

// pushFlows returns the flows of cfg that a push p starts: those whose
// on: has push: BRANCH for the pushed branch, when the pushed repository
// is one the tool's components build from.
func (h *Hooks) pushFlows(cfg slipway.ToolConfig, p Push) []string {
	branch, ok := strings.CutPrefix(p.Ref, "refs/heads/")
	if h.flows == nil || !ok || len(cfg.Flows) == 0 {
		return nil
	}
	ours := false
	for _, name := range cfg.Names() {
		if src := cfg.Components[name].Build.Source; src != nil &&
			slices.ContainsFunc(p.Repositories, func(u string) bool { return SameRepository(u, src.Repository) }) {
			ours = true
			break
		}
	}
	if !ours {
		return nil
	}
	var out []string
	for _, f := range cfg.Flows {
		if f.Triggered(slipway.FlowTrigger{Kind: slipway.FlowPush, Branch: branch}) {
			out = append(out, f.Name)
		}
	}
	return out
}

// startFlows starts the runs of the flows names for push p, instead of a
// deployment of the components that follow the branch: the flow says
// what a push does (its deploy step deploys them).
func (h *Hooks) startFlows(ctx context.Context, rec slipway.WebhookDelivery, d Delivery, p Push, who string, names []string) (slipway.WebhookDelivery, error) {
	var runs []string
	for _, name := range names {
		run, err := h.flows.FlowRun(
			slipway.WithActor(ctx, slipway.Actor{Name: "webhook:" + string(d.Provider), Tool: rec.Tool}),
			rec.Tool, name, slipway.DeployOptions{
				Trigger:     slipway.TriggerPush,
				Actor:       "push:" + who,
				Description: fmt.Sprintf("push to %s by %s (%s): flow %s", shortRef(p.Ref), who, p.Commit[:min(12, len(p.Commit))], name),
			})
		if err != nil {
			rec.Outcome, rec.Message = slipway.WebhookFailed, slipway.ErrorMessage(err)
			if len(runs) > 0 {
				rec.Outcome, rec.Message = slipway.WebhookDeployed, "flow runs "+strings.Join(runs, ", ")+"; flow "+name+": "+slipway.ErrorMessage(err)
			}
			return rec, fmt.Errorf("run flow %s of %s for push %s: %w", name, rec.Tool, d.ID, err)
		}
		if rec.DeploymentID == "" {
			rec.DeploymentID = run.ID
		}
		runs = append(runs, run.ID+" ("+name+")")
	}
	rec.Outcome, rec.Message = slipway.WebhookDeployed, "flow runs "+strings.Join(runs, ", ")
	return rec, nil
}
