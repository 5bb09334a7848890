package trigger_test

import (
	"context"
	"encoding/hex"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store/sqlite"
	"slipway.dev/slipway/internal/trigger"
)

// recordingDeployer stands in for the deploy service (whose deployments
// the end-to-end script webhooks.txtar covers): it serves a fixed config
// and records the deployments asked of it.
type recordingDeployer struct {
	cfg slipway.ToolConfig
	mu  sync.Mutex
	got []slipway.DeployOptions
	act []slipway.Actor
}

func (r *recordingDeployer) ConfigGet(_ context.Context, tool string) (slipway.ToolConfig, error) {
	if r.cfg.Components == nil {
		return slipway.ToolConfig{}, slipway.Errorf(slipway.ENotFound, "Tool %s has no config.", tool)
	}
	return r.cfg, nil
}

func (r *recordingDeployer) DeploymentCreate(ctx context.Context, tool string, opts slipway.DeployOptions) (slipway.Deployment, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, opts)
	r.act = append(r.act, slipway.ActorFrom(ctx))
	return slipway.Deployment{ID: "20261207-120000-deploy000" + string(rune('0'+len(r.got))), Tool: tool}, nil
}

func (r *recordingDeployer) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// openStore opens a store in a temporary directory, closed at the end.
func openStore(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func newHooks(t *testing.T) (*trigger.Hooks, *recordingDeployer, *sqlite.DB) {
	t.Helper()
	db := openStore(t)
	sealer, err := auth.NewSealer([]byte(strings.Repeat("k", auth.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	dep := &recordingDeployer{cfg: slipway.ToolConfig{Components: map[string]slipway.Component{
		"web": {Name: "web", Type: slipway.Continuous, Build: slipway.BuildSpec{Source: &slipway.SourceBuild{Repository: "https://github.com/acme/app.git", Ref: "main"}}},
		"api": {Name: "api", Type: slipway.Continuous, Build: slipway.BuildSpec{Source: &slipway.SourceBuild{Repository: "git@github.com:acme/app.git", Ref: "refs/heads/main"}}},
		"doc": {Name: "doc", Type: slipway.Continuous, Build: slipway.BuildSpec{Source: &slipway.SourceBuild{Repository: "https://github.com/acme/docs", Ref: "main"}}},
	}}}
	return trigger.New(db, sealer, dep, trigger.Config{}), dep, db
}

func githubPush(id, secret, ref string) (map[string][]string, []byte) {
	body := []byte(`{"ref":"` + ref + `","after":"` + sha1 + `","repository":{"clone_url":"https://github.com/acme/app.git"},"pusher":{"name":"alice"}}`)
	return headers("X-GitHub-Event", "push", "X-GitHub-Delivery", id, "X-Hub-Signature-256", "sha256="+hexSig(secret, body)), body
}

func TestReceive(t *testing.T) {
	t.Parallel()
	h, dep, db := newHooks(t)
	ctx := t.Context()

	// No webhook yet: not found, nothing recorded.
	hdr, body := githubPush("d-0", "whatever", "refs/heads/main")
	if _, err := h.Receive(ctx, "acme", hdr, body); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Fatalf("Receive without a webhook: err = %v, want ENotFound", err)
	}
	w, secret, err := h.Rotate(ctx, "acme")
	if err != nil || !w.Configured || len(secret) != 64 || w.Path != "/triggers/v1/tool/acme/webhook" {
		t.Fatalf("Rotate = %+v, %q, %v", w, secret, err)
	}

	// A push to main deploys once, with the components that follow it.
	hdr, body = githubPush("d-1", secret, "refs/heads/main")
	rec, err := h.Receive(ctx, "acme", hdr, body)
	if err != nil || rec.Outcome != slipway.WebhookDeployed || rec.DeploymentID == "" {
		t.Fatalf("Receive of a push to main = %+v, %v; want deployed", rec, err)
	}
	if dep.count() != 1 || dep.got[0].Trigger != "push" || dep.got[0].Actor != "push:alice" ||
		!strings.Contains(dep.got[0].Description, "api, web") || dep.act[0].Tool != "acme" || dep.act[0].Admin {
		t.Errorf("deployment asked: %+v as %+v; want trigger push, actor push:alice, components api and web, as the tool", dep.got, dep.act)
	}

	// Its replay is refused, and deploys nothing.
	if _, err := h.Receive(ctx, "acme", hdr, body); slipway.ErrorCode(err) != slipway.EConflict || !strings.Contains(err.Error(), "replay") {
		t.Errorf("replayed delivery: err = %v, want EConflict naming a replay", err)
	}
	// A bad signature is refused and not recorded.
	bad, _ := githubPush("d-2", "not-the-secret", "refs/heads/main")
	if _, err := h.Receive(ctx, "acme", bad, body); slipway.ErrorCode(err) != slipway.EUnauthorized {
		t.Errorf("bad signature: err = %v, want EUnauthorized", err)
	}
	// Another tool's webhook secret does not sign for this tool.
	_, otherSecret, err := h.Rotate(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	cross, crossBody := githubPush("d-3", otherSecret, "refs/heads/main")
	if _, err := h.Receive(ctx, "acme", cross, crossBody); slipway.ErrorCode(err) != slipway.EUnauthorized {
		t.Errorf("another tool's secret: err = %v, want EUnauthorized", err)
	}
	// A branch nothing follows: refused with what they follow.
	hdr, body = githubPush("d-4", secret, "refs/heads/dev")
	rec, err = h.Receive(ctx, "acme", hdr, body)
	if slipway.ErrorCode(err) != slipway.EInvalid || rec.Outcome != slipway.WebhookRefused || !strings.Contains(err.Error(), "web: main of https://github.com/acme/app.git") {
		t.Errorf("push to dev = %+v, %v; want refused, saying what follows what", rec, err)
	}
	// A deleted branch: refused.
	delBody := []byte(`{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000","deleted":true,"repository":{"clone_url":"https://github.com/acme/app.git"}}`)
	del := headers("X-GitHub-Event", "push", "X-GitHub-Delivery", "d-5", "X-Hub-Signature-256", "sha256="+hexSig(secret, delBody))
	if rec, err := h.Receive(ctx, "acme", del, delBody); slipway.ErrorCode(err) != slipway.EInvalid || !strings.Contains(rec.Message, "deleted") {
		t.Errorf("deleted branch = %+v, %v; want refused", rec, err)
	}
	// A ping is answered; an issue event refused.
	ping := headers("X-GitHub-Event", "ping", "X-GitHub-Delivery", "d-6", "X-Hub-Signature-256", "sha256="+hexSig(secret, []byte(`{}`)))
	if rec, err := h.Receive(ctx, "acme", ping, []byte(`{}`)); err != nil || rec.Outcome != slipway.WebhookPong {
		t.Errorf("ping = %+v, %v; want pong", rec, err)
	}
	issue := headers("X-GitHub-Event", "issues", "X-GitHub-Delivery", "d-7", "X-Hub-Signature-256", "sha256="+hexSig(secret, []byte(`{}`)))
	if _, err := h.Receive(ctx, "acme", issue, []byte(`{}`)); slipway.ErrorCode(err) != slipway.EInvalid {
		t.Errorf("issues event: err = %v, want EInvalid", err)
	}
	if n := dep.count(); n != 1 {
		t.Errorf("%d deployments asked, want exactly 1 (the one push to main)", n)
	}

	// The log: newest first, the signed deliveries only, with outcomes.
	_, log, err := h.Get(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range log {
		got = append(got, d.ID+"="+string(d.Outcome))
	}
	if want := "d-7=refused d-6=pong d-5=refused d-4=refused d-1=deployed"; strings.Join(got, " ") != want {
		t.Errorf("delivery log = %s, want %s", strings.Join(got, " "), want)
	}

	// A rotated secret: the old one no longer signs. Deleted: not found.
	if _, _, err := h.Rotate(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	hdr, body = githubPush("d-8", secret, "refs/heads/main")
	if _, err := h.Receive(ctx, "acme", hdr, body); slipway.ErrorCode(err) != slipway.EUnauthorized {
		t.Errorf("old secret after rotation: err = %v, want EUnauthorized", err)
	}
	if err := h.Delete(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if err := h.Delete(ctx, "acme"); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("second Delete: err = %v, want ENotFound", err)
	}
	if w, _, err := h.Get(ctx, "acme"); err != nil || w.Configured {
		t.Errorf("Get after Delete = %+v, %v; want not configured", w, err)
	}
	// The secret is stored sealed: the database never holds it.
	raw, err := db.WebhookGet(ctx, "other")
	if err != nil || strings.Contains(raw.Sealed, otherSecret) {
		t.Errorf("stored webhook = %+v, %v; the secret must not be in it", raw, err)
	}
	if _, _, err := h.Get(ctx, "../etc"); slipway.ErrorCode(err) != slipway.EInvalid {
		t.Errorf("Get of a bad tool name: err = %v, want EInvalid", err)
	}
}

// Deliveries past the retention are pruned, after which their ID is new.
func TestReceive_Retention(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	sealer, _ := auth.NewSealer([]byte(strings.Repeat("k", auth.KeySize)))
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	dep := &recordingDeployer{cfg: slipway.ToolConfig{Components: map[string]slipway.Component{
		"web": {Name: "web", Type: slipway.Continuous, Build: slipway.BuildSpec{Source: &slipway.SourceBuild{Repository: "https://github.com/acme/app", Ref: "main"}}},
	}}}
	h := trigger.New(db, sealer, dep, trigger.Config{Retention: 24 * time.Hour, Now: func() time.Time { return now }})
	_, secret, err := h.Rotate(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	hdr, body := githubPush("d-1", secret, "refs/heads/main")
	if _, err := h.Receive(t.Context(), "acme", hdr, body); err != nil {
		t.Fatal(err)
	}
	now = now.Add(25 * time.Hour)
	if _, err := h.Receive(t.Context(), "acme", hdr, body); err != nil {
		t.Errorf("the same delivery ID past the retention: %v, want accepted", err)
	}
	if dep.count() != 2 {
		t.Errorf("%d deployments, want 2", dep.count())
	}
}

func hexSig(secret string, body []byte) string { return hex.EncodeToString(trigger.Sign(secret, body)) }

// recordingFlows is the flows service of the push tests: it records the
// runs asked of it.
type recordingFlows struct {
	mu  sync.Mutex
	got []string
	opt []slipway.DeployOptions
}

func (r *recordingFlows) FlowRun(_ context.Context, tool, name string, opts slipway.DeployOptions) (slipway.Deployment, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got, r.opt = append(r.got, name), append(r.opt, opts)
	return slipway.Deployment{ID: "20261207-120000-flowrun00" + string(rune('0'+len(r.got))), Tool: tool, Flow: name}, nil
}

// Ensure a push to a branch a flow's on: names starts that flow (trigger
// push, the pusher recorded) instead of deploying the components that
// follow it; a replay starts nothing; a push of a repository no component
// builds from starts no flow; a push to a branch no flow names deploys as
// before.
func TestReceive_PushStartsFlows(t *testing.T) {
	t.Parallel()
	h, dep, _ := newHooks(t)
	flows := &recordingFlows{}
	h.SetFlows(flows)
	dep.cfg.Flows = []slipway.Flow{
		{Name: "release", On: []slipway.FlowTrigger{{Kind: slipway.FlowManual}, {Kind: slipway.FlowPush, Branch: "main"}}},
		{Name: "nightly", On: []slipway.FlowTrigger{{Kind: slipway.FlowSchedule, Schedule: "@daily"}}},
	}
	ctx := t.Context()
	_, secret, err := h.Rotate(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	hdr, body := githubPush("f-1", secret, "refs/heads/main")
	rec, err := h.Receive(ctx, "acme", hdr, body)
	if err != nil || rec.Outcome != slipway.WebhookDeployed || rec.DeploymentID != "20261207-120000-flowrun001" || !strings.Contains(rec.Message, "(release)") {
		t.Fatalf("push to main = %+v, %v; want the release flow started", rec, err)
	}
	if len(flows.got) != 1 || flows.got[0] != "release" || flows.opt[0].Trigger != "push" || flows.opt[0].Actor != "push:alice" || dep.count() != 0 {
		t.Errorf("flows started %v %+v, deployments %d; want release only, by push:alice, no deployment", flows.got, flows.opt, dep.count())
	}
	if _, err := h.Receive(ctx, "acme", hdr, body); slipway.ErrorCode(err) != slipway.EConflict || len(flows.got) != 1 {
		t.Errorf("replay: %v, %d runs; want refused, still one run", err, len(flows.got))
	}
	// A repository no component builds from starts nothing.
	other := []byte(`{"ref":"refs/heads/main","after":"` + sha1 + `","repository":{"clone_url":"https://github.com/acme/elsewhere"},"pusher":{"name":"bob"}}`)
	ohdr := headers("X-GitHub-Event", "push", "X-GitHub-Delivery", "f-2", "X-Hub-Signature-256", "sha256="+hexSig(secret, other))
	if _, err := h.Receive(ctx, "acme", ohdr, other); slipway.ErrorCode(err) != slipway.EInvalid || len(flows.got) != 1 || dep.count() != 0 {
		t.Errorf("push of another repository: %v; runs %d, deployments %d; want refused, nothing started", err, len(flows.got), dep.count())
	}
	// A branch no flow names deploys the components that follow it.
	dep.cfg.Components["doc"] = slipway.Component{Name: "doc", Type: slipway.Continuous, Build: slipway.BuildSpec{Source: &slipway.SourceBuild{Repository: "https://github.com/acme/app.git", Ref: "dev"}}}
	dhdr, dbody := githubPush("f-3", secret, "refs/heads/dev")
	if rec, err := h.Receive(ctx, "acme", dhdr, dbody); err != nil || rec.Outcome != slipway.WebhookDeployed || len(flows.got) != 1 || dep.count() != 1 {
		t.Errorf("push to dev = %+v, %v; runs %d, deployments %d; want one deployment", rec, err, len(flows.got), dep.count())
	}
}
