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
