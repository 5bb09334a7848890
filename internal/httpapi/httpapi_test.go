package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/slipway"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const testToken = "s3cret-admin-token"

// fakeService is a small in-memory Service for testing the HTTP layer: it
// checks what the handlers send and lets tests choose what they get back.
// The real engine (internal/deploy) is covered by the end-to-end tests.
type fakeService struct {
	mu          sync.Mutex
	configs     map[string]slipway.ToolConfig
	deployments map[string][]slipway.Deployment // by tool, oldest first
	events      map[string][]slipway.Event      // by deployment id
	notify      chan struct{}                   // closed and replaced when an event is added
	lastOpts    slipway.DeployOptions
	creates     int                  // DeploymentCreate calls
	plans       int                  // DeploymentPlan calls
	planConfigs []slipway.ToolConfig // DeploymentPlanConfig's configs
}

func newFakeService() *fakeService {
	return &fakeService{
		configs:     map[string]slipway.ToolConfig{},
		deployments: map[string][]slipway.Deployment{},
		events:      map[string][]slipway.Event{},
		notify:      make(chan struct{}),
	}
}

var baseTime = time.Date(2026, 11, 22, 13, 0, 49, 0, time.UTC)

// special tools make the fake fail in chosen ways.
func (f *fakeService) special(tool string) error {
	switch tool {
	case "boom":
		return errors.New("database is on fire")
	case "panic":
		panic("fake panic")
	case "busy":
		return slipway.Errorf(slipway.EConflict, "There's already 1 running, the limit is 1. Wait for it to finish for now.")
	case "down":
		return slipway.Errorf(slipway.EUnavailable, "The builder is unavailable, retry later.")
	case "nope":
		return slipway.Errorf(slipway.EForbidden, "Not yours.")
	}
	return nil
}

func (f *fakeService) ConfigPut(_ context.Context, tool string, cfg slipway.ToolConfig) (slipway.ToolConfig, error) {
	if err := f.special(tool); err != nil {
		return slipway.ToolConfig{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.configs[tool] = cfg
	return cfg, nil
}

func (f *fakeService) ConfigGet(_ context.Context, tool string) (slipway.ToolConfig, error) {
	if err := f.special(tool); err != nil {
		return slipway.ToolConfig{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cfg, ok := f.configs[tool]
	if !ok {
		return slipway.ToolConfig{}, slipway.Errorf(slipway.ENotFound, "No configuration found for tool: %s", tool)
	}
	return cfg, nil
}

func (f *fakeService) ConfigDelete(ctx context.Context, tool string) (slipway.ToolConfig, error) {
	cfg, err := f.ConfigGet(ctx, tool)
	if err == nil {
		f.mu.Lock()
		delete(f.configs, tool)
		f.mu.Unlock()
	}
	return cfg, err
}

func (f *fakeService) DeploymentCreate(ctx context.Context, tool string, opts slipway.DeployOptions) (slipway.Deployment, error) {
	cfg, err := f.ConfigGet(ctx, tool)
	if err != nil {
		return slipway.Deployment{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastOpts = opts
	f.creates++
	n := len(f.deployments[tool])
	d := slipway.Deployment{
		ID:          baseTime.Add(time.Duration(n)*time.Second).Format(slipway.CreationTimeFormat) + "-x5ucaa3ign",
		Tool:        tool,
		CreatedAt:   baseTime.Add(time.Duration(n) * time.Second),
		Description: opts.Description,
		ToolConfig:  cfg.Raw,
		ForceBuild:  opts.ForceBuild,
		ForceRun:    opts.ForceRun,
		Builds:      map[string]slipway.DeploymentBuild{},
		Runs:        map[string]slipway.DeploymentRun{},
	}
	for _, c := range cfg.Names() {
		d.Builds[c] = slipway.DeploymentBuild{BuildID: slipway.BuildIDNotYet, BuildStatus: slipway.BuildPending, BuildImage: slipway.BuildImageNotYet}
		d.Runs[c] = slipway.DeploymentRun{RunStatus: slipway.RunPending}
	}
	f.deployments[tool] = append(f.deployments[tool], d)
	return d, nil
}

func (f *fakeService) DeploymentPlan(ctx context.Context, tool string, opts slipway.DeployOptions) (slipway.Deployment, error) {
	cfg, err := f.ConfigGet(ctx, tool)
	if err != nil {
		return slipway.Deployment{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastOpts = opts
	f.plans++
	return fakePlan(tool, cfg, opts), nil
}

func (f *fakeService) DeploymentPlanConfig(_ context.Context, tool string, cfg slipway.ToolConfig, opts slipway.DeployOptions) (slipway.Deployment, error) {
	if err := f.special(tool); err != nil {
		return slipway.Deployment{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastOpts = opts
	f.planConfigs = append(f.planConfigs, cfg)
	return fakePlan(tool, cfg, opts), nil
}

// fakePlan is a plan of cfg: each component built from a new commit and its
// run unchanged, and a component "old-cron" removed.
func fakePlan(tool string, cfg slipway.ToolConfig, opts slipway.DeployOptions) slipway.Deployment {
	d := slipway.Deployment{
		Tool:        tool,
		CreatedAt:   baseTime.Add(time.Hour),
		Description: opts.Description,
		ToolConfig:  cfg.Raw,
		ForceBuild:  opts.ForceBuild,
		ForceRun:    opts.ForceRun,
		Status:      slipway.DeploymentPending,
		LongStatus:  fmt.Sprintf("Plan only, nothing was changed: %d to build, 0 to run, 1 to remove, %d unchanged", len(cfg.Names()), len(cfg.Names())),
		Builds:      map[string]slipway.DeploymentBuild{},
		Runs:        map[string]slipway.DeploymentRun{},
	}
	for _, c := range cfg.Names() {
		d.Builds[c] = slipway.DeploymentBuild{BuildID: slipway.BuildIDNotYet, BuildStatus: slipway.BuildPending, BuildImage: slipway.BuildImageNotYet}
		d.Runs[c] = slipway.DeploymentRun{RunStatus: slipway.RunPending}
		d.Steps = append(d.Steps,
			slipway.Step{Key: "build:" + c, Kind: slipway.StepBuild, Component: c, Action: slipway.ActionBuild, Reason: "commit 3f2a1c7→9b0d44e", State: slipway.StepPending},
			slipway.Step{Key: "run:" + c, Kind: slipway.StepRun, Component: c, Action: slipway.ActionNone, Needs: []string{"build:" + c}, Reason: "unchanged", State: slipway.StepUnchanged})
	}
	d.Steps = append(d.Steps, slipway.Step{Key: "prune:old-cron", Kind: slipway.StepPrune, Component: "old-cron", Action: slipway.ActionRemove, Reason: "not in config", State: slipway.StepPending})
	return d
}

func (f *fakeService) DeploymentList(_ context.Context, tool string) ([]slipway.Deployment, error) {
	if err := f.special(tool); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deployments[tool]), nil
}

func (f *fakeService) DeploymentGet(_ context.Context, tool, id string) (slipway.Deployment, error) {
	if err := f.special(tool); err != nil {
		return slipway.Deployment{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ds := f.deployments[tool]
	if id == slipway.DeploymentIDLatest {
		if len(ds) == 0 {
			return slipway.Deployment{}, slipway.Errorf(slipway.ENotFound, "No deployments found for tool: %s", tool)
		}
		return ds[len(ds)-1], nil
	}
	for _, d := range ds {
		if d.ID == id {
			return d, nil
		}
	}
	return slipway.Deployment{}, slipway.Errorf(slipway.ENotFound, "Deployment %s not found for tool %s", id, tool)
}

// DeploymentCancel flags a pending or running deployment cancelling, as the
// engine does before its running steps have stopped.
func (f *fakeService) DeploymentCancel(ctx context.Context, tool, id string) (slipway.Deployment, error) {
	d, err := f.DeploymentGet(ctx, tool, id)
	if err != nil {
		return slipway.Deployment{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch d.Status {
	case "", slipway.DeploymentPending, slipway.DeploymentRunning:
	default:
		return slipway.Deployment{}, slipway.Errorf(slipway.EConflict, "Deployment can't be cancelled, its status is %s", d.Status)
	}
	d.Status, d.LongStatus = slipway.DeploymentCancelling, "Cancelling: stopping the running steps"
	ds := f.deployments[tool]
	for i := range ds {
		if ds[i].ID == d.ID {
			ds[i] = d
		}
	}
	return d, nil
}

// addEvent appends an event for deployment id and wakes the streams.
func (f *fakeService) addEvent(id string, ev slipway.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev.DeploymentID = id
	ev.Seq = int64(len(f.events[id]) + 1)
	ev.Time = baseTime.Add(time.Duration(ev.Seq) * time.Second)
	f.events[id] = append(f.events[id], ev)
	close(f.notify)
	f.notify = make(chan struct{})
}

func (f *fakeService) DeploymentEvents(ctx context.Context, tool, id string, after int64, fn func(slipway.Event) error) error {
	for {
		f.mu.Lock()
		var pending []slipway.Event
		for _, ev := range f.events[id] {
			if ev.Seq > after {
				pending = append(pending, ev)
			}
		}
		final := false
		for _, ev := range f.events[id] {
			final = final || ev.Kind == "deployment" && slipway.DeploymentStatus(ev.State).Final()
		}
		notify := f.notify
		f.mu.Unlock()
		for _, ev := range pending {
			if err := fn(ev); err != nil {
				return err
			}
			after = ev.Seq
			if ev.Kind == "deployment" && slipway.DeploymentStatus(ev.State).Final() {
				return nil
			}
		}
		if final {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-notify:
		}
	}
}

// testBundle is one handler over a fresh fakeService.
type testBundle struct {
	svc     *fakeService
	handler http.Handler
	logs    *bytes.Buffer
	logMu   *sync.Mutex
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	svc := newFakeService()
	logs, mu := &bytes.Buffer{}, &sync.Mutex{}
	logger := slog.New(slog.NewJSONHandler(lockedWriter{mu, logs}, nil))
	h := NewHandler(svc, Config{AdminToken: testToken, Logger: logger, MaxBodyBytes: 4096})
	return &testBundle{svc: svc, handler: h, logs: logs, logMu: mu}
}

func (b *testBundle) logText() string {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	return b.logs.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// request is one HTTP request of a table test.
type request struct {
	method, path string
	body         string
	header       map[string]string // set after the default Authorization
	noAuth       bool
}

func (b *testBundle) do(t *testing.T, req request) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if req.body != "" {
		body = strings.NewReader(req.body)
	}
	r := httptest.NewRequest(req.method, req.path, body)
	if !req.noAuth {
		r.Header.Set("Authorization", "Bearer "+testToken)
	}
	for k, v := range req.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	b.handler.ServeHTTP(w, r)
	return w
}

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

const webConfigJSON = `{"config_version": "v1beta1", "components": {"web": {"component_type": "continuous", "build": {"repository": "https://example.org/app.git", "ref": "main"}, "run": {"command": "web", "port": 8000, "colour": "red"}}}}`

const webConfigYAML = `config_version: v1beta1
components:
  web:
    component_type: continuous
    build:
      repository: https://example.org/app.git
      ref: main
    run:
      command: web
      port: 8000
`

const badPortYAML = `components:
  web:
    component_type: continuous
    build:
      repository: https://example.org/app.git
      ref: main
    run:
      command: web
      port: 70000
`

// TestHandler runs one request per case against a handler whose fake holds
// a config for tool "mytool" and one deployment, and compares the status and
// the exact body with a golden file.
func TestHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		req        request
		wantStatus int
	}{
		{"HealthOK", request{method: "GET", path: "/components/v1/healthz", noAuth: true}, 200},
		{"NoToken", request{method: "GET", path: "/components/v1/tool/mytool/config", noAuth: true}, 401},
		{"WrongToken", request{method: "GET", path: "/components/v1/tool/mytool/config", header: map[string]string{"Authorization": "Bearer nope"}}, 401},
		{"BasicAuthIsNotBearer", request{method: "GET", path: "/components/v1/tool/mytool/config", header: map[string]string{"Authorization": "Basic " + testToken}}, 401},
		{"UnknownRoute", request{method: "GET", path: "/components/v1/nothing"}, 404},
		{"MethodNotAllowed", request{method: "PUT", path: "/components/v1/tool/mytool/config"}, 405},
		{"InvalidToolName", request{method: "GET", path: "/components/v1/tool/My_Tool/config"}, 422},

		{"ConfigGet", request{method: "GET", path: "/components/v1/tool/mytool/config"}, 200},
		{"ConfigGetUnprefixed", request{method: "GET", path: "/v1/tool/mytool/config"}, 200},
		{"ConfigGetNotFound", request{method: "GET", path: "/components/v1/tool/other/config"}, 404},
		{"ConfigCreateJSON", request{method: "POST", path: "/components/v1/tool/other/config", body: webConfigJSON, header: map[string]string{"Content-Type": "application/json"}}, 200},
		{"ConfigCreateNoContentType", request{method: "POST", path: "/components/v1/tool/other/config", body: webConfigJSON}, 200},
		{"ConfigCreateYAML", request{method: "POST", path: "/components/v1/tool/other/config", body: webConfigYAML, header: map[string]string{"Content-Type": "application/yaml"}}, 200},
		{"ConfigCreateTextYAML", request{method: "POST", path: "/components/v1/tool/other/config", body: webConfigYAML, header: map[string]string{"Content-Type": "text/yaml; charset=utf-8"}}, 200},
		{"ConfigCreateYAMLProblem", request{method: "POST", path: "/components/v1/tool/other/config", body: badPortYAML, header: map[string]string{"Content-Type": "application/yaml"}}, 422},
		{"ConfigCreateBadJSON", request{method: "POST", path: "/components/v1/tool/other/config", body: "{\"components\":\n  {\"web\": }", header: map[string]string{"Content-Type": "application/json"}}, 400},
		{"ConfigCreateEmpty", request{method: "POST", path: "/components/v1/tool/other/config", header: map[string]string{"Content-Type": "application/json"}}, 422},
		{"ConfigCreateUnsupportedType", request{method: "POST", path: "/components/v1/tool/other/config", body: "<xml/>", header: map[string]string{"Content-Type": "application/xml"}}, 415},
		{"ConfigCreateTooLarge", request{method: "POST", path: "/components/v1/tool/other/config", body: `{"components": {}, "x": "` + strings.Repeat("a", 5000) + `"}`}, 413},
		{"ConfigDelete", request{method: "DELETE", path: "/components/v1/tool/mytool/config"}, 200},
		{"ConfigDeleteNotFound", request{method: "DELETE", path: "/components/v1/tool/other/config"}, 404},

		{"DeploymentCreate", request{method: "POST", path: "/components/v1/tool/mytool/deployment"}, 200},
		{"DeploymentCreateDescription", request{method: "POST", path: "/components/v1/tool/mytool/deployment?force-build=true", body: `{"description": "Deploy v1.2 \u003cnow\u003e"}`, header: map[string]string{"Content-Type": "application/json"}}, 200},
		{"DeploymentCreateBadJSON", request{method: "POST", path: "/components/v1/tool/mytool/deployment", body: `{"description": `, header: map[string]string{"Content-Type": "application/json"}}, 400},
		{"DeploymentCreateWrongType", request{method: "POST", path: "/components/v1/tool/mytool/deployment", body: `{"description": 5}`}, 422},
		{"DeploymentCreateBadFlag", request{method: "POST", path: "/components/v1/tool/mytool/deployment?force-run=maybe"}, 422},
		{"DeploymentCreateNoConfig", request{method: "POST", path: "/components/v1/tool/other/deployment"}, 404},
		{"DeploymentPlan", request{method: "POST", path: "/components/v1/tool/mytool/deployment?dry_run=true&force-build=1", body: `{"description": "try"}`}, 200},
		{"DeploymentPlanConfig", request{method: "POST", path: "/components/v1/tool/other/deployment?only-plan", body: `{"tool_config": ` + webConfigJSON + `}`, header: map[string]string{"Content-Type": "application/json"}}, 200},
		{"DeploymentPlanConfigProblem", request{method: "POST", path: "/v1/tool/other/deployment?dry-run=yes", body: "{\"description\": \"x\",\n \"tool_config\": {\"components\": {\"web\": {\"component_type\": \"continuous\",\n   \"build\": {\"repository\": \"https://example.org/app.git\", \"ref\": \"main\"},\n   \"run\": {\"command\": \"web\", \"port\": 70000}}}}}"}, 422},
		{"DeploymentPlanNoConfig", request{method: "POST", path: "/components/v1/tool/other/deployment?dry_run=true"}, 404},
		{"DeploymentPlanBadFlag", request{method: "POST", path: "/components/v1/tool/mytool/deployment?dry_run=perhaps"}, 422},
		{"DeploymentCreateConflict", request{method: "POST", path: "/components/v1/tool/busy/deployment"}, 409},
		{"DeploymentCreateUnavailable", request{method: "POST", path: "/components/v1/tool/down/deployment"}, 503},
		{"Forbidden", request{method: "GET", path: "/components/v1/tool/nope/deployment"}, 403},
		{"InternalError", request{method: "GET", path: "/components/v1/tool/boom/deployment"}, 500},
		{"Panic", request{method: "GET", path: "/components/v1/tool/panic/deployment"}, 500},
		{"DeploymentList", request{method: "GET", path: "/components/v1/tool/mytool/deployment"}, 200},
		{"DeploymentListEmpty", request{method: "GET", path: "/components/v1/tool/other/deployment"}, 200},
		{"DeploymentLatest", request{method: "GET", path: "/components/v1/tool/mytool/deployment/latest"}, 200},
		{"DeploymentLatestNone", request{method: "GET", path: "/components/v1/tool/other/deployment/latest"}, 404},
		{"DeploymentGet", request{method: "GET", path: "/components/v1/tool/mytool/deployment/20261122-130049-x5ucaa3ign?token=whatever"}, 200},
		{"DeploymentGetNotFound", request{method: "GET", path: "/components/v1/tool/mytool/deployment/20990101-000000-aaaaaaaaaa"}, 404},
		{"DeploymentCancel", request{method: "PUT", path: "/components/v1/tool/mytool/deployment/20261122-130049-x5ucaa3ign/cancel"}, 200},
		{"DeploymentCancelLatest", request{method: "PUT", path: "/v1/tool/mytool/deployment/latest/cancel"}, 200},
		{"DeploymentCancelNotFound", request{method: "PUT", path: "/components/v1/tool/mytool/deployment/20990101-000000-aaaaaaaaaa/cancel"}, 404},
		{"DeploymentCancelLatestNone", request{method: "PUT", path: "/components/v1/tool/other/deployment/latest/cancel"}, 404},
		{"DeploymentCancelWrongMethod", request{method: "POST", path: "/components/v1/tool/mytool/deployment/latest/cancel"}, 405},
		{"EventsNotFound", request{method: "GET", path: "/components/v1/tool/mytool/deployment/20990101-000000-aaaaaaaaaa/events"}, 404},
		{"EventsBadAfter", request{method: "GET", path: "/components/v1/tool/mytool/deployment/latest/events?after=x"}, 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.seed(t)
			w := b.do(t, tt.req)
			if w.Code != tt.wantStatus {
				t.Errorf("%s %s: status %d, want %d; body %s", tt.req.method, tt.req.path, w.Code, tt.wantStatus, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if w.Header().Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
			var env map[string]json.RawMessage
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if _, hasData := env["data"]; hasData != (w.Code < 400) {
				t.Errorf("data key present = %v for status %d", hasData, w.Code)
			}
			golden(t, tt.name, fmt.Appendf(nil, "HTTP %d\n%s", w.Code, w.Body.Bytes()))
		})
	}
}

// seed stores a config for "mytool" and creates one deployment.
func (b *testBundle) seed(t *testing.T) {
	t.Helper()
	if w := b.do(t, request{method: "POST", path: "/components/v1/tool/mytool/config", body: webConfigYAML, header: map[string]string{"Content-Type": "application/yaml"}}); w.Code != 200 {
		t.Fatalf("seed config: %d %s", w.Code, w.Body)
	}
	if w := b.do(t, request{method: "POST", path: "/components/v1/tool/mytool/deployment"}); w.Code != 200 {
		t.Fatalf("seed deployment: %d %s", w.Code, w.Body)
	}
}

func TestHandler_HealthError(t *testing.T) {
	t.Parallel()
	h := NewHandler(newFakeService(), Config{AdminToken: testToken, Health: func(context.Context) map[string]error {
		return map[string]error{"store": nil, "runner": errors.New("not started")}
	}})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/healthz", nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", w.Code)
	}
	want := `{"data":{"checks":{"runner":"not started","store":"ok"},"status":"ERROR"},"messages":{"error":[],"info":[],"warning":[]}}` + "\n"
	if diff := cmp.Diff(want, w.Body.String()); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestHandler_OpenAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.do(t, request{method: "GET", path: "/openapi.json", noAuth: true})
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.0.3" || len(doc.Paths) == 0 {
		t.Errorf("openapi = %q with %d paths", doc.OpenAPI, len(doc.Paths))
	}
}

// TestHandler_DeploymentCreateOptions checks every spelling of the force
// flags, the description body forms, and that unknown query keys are ignored.
func TestHandler_DeploymentCreateOptions(t *testing.T) {
	t.Parallel()
	type opts struct{ build, run bool }
	tests := []struct {
		query string
		body  string
		ctype string
		want  opts
		desc  string
	}{
		{query: "", want: opts{}},
		{query: "force-build=true", want: opts{build: true}},
		{query: "force-build=True", want: opts{build: true}},
		{query: "force-build=TRUE", want: opts{build: true}},
		{query: "force-build=1", want: opts{build: true}},
		{query: "force-build=yes", want: opts{build: true}},
		{query: "force-build=on", want: opts{build: true}},
		{query: "force-build", want: opts{build: true}},
		{query: "force-build=false", want: opts{}},
		{query: "force-build=False", want: opts{}},
		{query: "force-build=0", want: opts{}},
		{query: "force-build=no", want: opts{}},
		{query: "force-build=off", want: opts{}},
		{query: "force-run=true", want: opts{run: true}},
		{query: "force-run=1&force-build=1", want: opts{build: true, run: true}},
		{query: "force_build=True", want: opts{build: true}},
		{query: "force_run=True", want: opts{run: true}},
		{query: "force_run=False&force_build=True", want: opts{build: true}},
		{query: "force-build=false&force_build=true", want: opts{}},
		{query: "force_build=true&force-build=false", want: opts{}},
		{query: "force-run=true&force_run=false", want: opts{run: true}},
		{query: "token=3fae991e&force-build=true&rebuild_storage=true&whatever=x", want: opts{build: true}},
		{query: "force_deploy=maybe", want: opts{}},
		{body: "null", want: opts{}},
		{body: "  ", want: opts{}},
		{body: "{}", ctype: "application/json", want: opts{}},
		{body: `{"description": "from CI", "extra": 1}`, ctype: "application/json", want: opts{}, desc: "from CI"},
		{body: `{"description": "form-typed"}`, ctype: "application/x-www-form-urlencoded", want: opts{}, desc: "form-typed"},
	}
	for _, tt := range tests {
		t.Run(tt.query+"|"+tt.body, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.seed(t)
			req := request{method: "POST", path: "/components/v1/tool/mytool/deployment?" + tt.query, body: tt.body}
			if tt.ctype != "" {
				req.header = map[string]string{"Content-Type": tt.ctype}
			}
			w := b.do(t, req)
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			b.svc.mu.Lock()
			got := b.svc.lastOpts
			b.svc.mu.Unlock()
			if got.ForceBuild != tt.want.build || got.ForceRun != tt.want.run || got.Description != tt.desc {
				t.Errorf("opts = build %v run %v description %q, want %v %v %q", got.ForceBuild, got.ForceRun, got.Description, tt.want.build, tt.want.run, tt.desc)
			}
			var env struct {
				Data struct {
					Status     *string `json:"status"`
					LongStatus *string `json:"long_status"`
					ForceBuild bool    `json:"force_build"`
				} `json:"data"`
				Messages struct{ Info []string } `json:"messages"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
				t.Fatal(err)
			}
			if env.Data.Status == nil || *env.Data.Status != "pending" || env.Data.LongStatus == nil {
				t.Errorf("status/long_status missing: %s", w.Body)
			}
			if len(env.Messages.Info) != 1 || env.Messages.Info[0] != "Deployment for mytool created successfully." {
				t.Errorf("info = %q", env.Messages.Info)
			}
		})
	}
}

// TestHandler_EmptyBodyWithContentLength sends a POST with Content-Length: 0,
// as requests and node fetch do.
func TestHandler_EmptyBodyWithContentLength(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	r := httptest.NewRequest("POST", "/components/v1/tool/mytool/deployment", http.NoBody)
	r.ContentLength = 0
	r.Header.Set("Authorization", "Bearer "+testToken)
	r.Header.Set("Accept", "*/*")
	w := httptest.NewRecorder()
	b.handler.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Errorf("status %d: %s", w.Code, w.Body)
	}
}

func TestHandler_Logs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.do(t, request{method: "GET", path: "/components/v1/tool/mytool/config?token=secret-query-token", header: map[string]string{"X-Request-Id": "req-42"}})
	b.do(t, request{method: "GET", path: "/components/v1/tool/boom/deployment", header: map[string]string{"X-Request-Id": "req-43"}})
	logs := b.logText()
	for _, secret := range []string{testToken, "secret-query-token", "?"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
	for _, want := range []string{`"path":"/components/v1/tool/mytool/config"`, `"status":404`, `"request_id":"req-42"`, `"msg":"internal error"`, `"err":"database is on fire"`, `"request_id":"req-43"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

// eventsDeploymentID is the seeded deployment that seedEvents gives events.
const eventsDeploymentID = "20261122-130049-x5ucaa3ign"

// seedEvents seeds b and gives its deployment four events, the last final.
func (b *testBundle) seedEvents(t *testing.T) {
	t.Helper()
	b.seed(t)
	const id = eventsDeploymentID
	b.svc.addEvent(id, slipway.Event{Kind: "deployment", State: "running", Message: "Deploying"})
	b.svc.addEvent(id, slipway.Event{Kind: "step", Step: "build:web", State: "done", Message: "built 3f2a1c in 12.4s"})
	b.svc.addEvent(id, slipway.Event{Kind: "step", Step: "run:web", State: "done", Message: "healthy after 1.2s\nsecond line"})
	b.svc.addEvent(id, slipway.Event{Kind: "deployment", State: "successful", Message: "All components deployed"})
}

// TestHandler_Events checks the SSE framing, resuming with after and
// Last-Event-ID, "latest", and that the stream waits for new events and ends
// after the final one. The subtests that only read share one bundle; Waits
// creates a deployment, so it has its own.
func TestHandler_Events(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seedEvents(t)
	const id = eventsDeploymentID

	t.Run("All", func(t *testing.T) {
		t.Parallel()
		w := b.do(t, request{method: "GET", path: "/components/v1/tool/mytool/deployment/" + id + "/events"})
		if w.Code != 200 || w.Header().Get("Content-Type") != "text/event-stream" {
			t.Fatalf("status %d, Content-Type %q", w.Code, w.Header().Get("Content-Type"))
		}
		golden(t, "Events", w.Body.Bytes())
	})
	t.Run("After", func(t *testing.T) {
		t.Parallel()
		w := b.do(t, request{method: "GET", path: "/components/v1/tool/mytool/deployment/latest/events?after=2"})
		if got := eventIDs(w.Body.String()); !slices.Equal(got, []string{"3", "4"}) {
			t.Errorf("ids = %v, want [3 4]", got)
		}
	})
	t.Run("LastEventIDWins", func(t *testing.T) {
		t.Parallel()
		w := b.do(t, request{method: "GET", path: "/v1/tool/mytool/deployment/" + id + "/events?after=1", header: map[string]string{"Last-Event-ID": "3"}})
		if got := eventIDs(w.Body.String()); !slices.Equal(got, []string{"4"}) {
			t.Errorf("ids = %v, want [4]", got)
		}
	})
	t.Run("AllDelivered", func(t *testing.T) {
		t.Parallel()
		w := b.do(t, request{method: "GET", path: "/components/v1/tool/mytool/deployment/" + id + "/events?after=4"})
		if w.Code != 200 || w.Body.Len() != 0 {
			t.Errorf("status %d, body %q", w.Code, w.Body)
		}
	})
	t.Run("Waits", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.seedEvents(t)
		b.do(t, request{method: "POST", path: "/components/v1/tool/mytool/deployment"})
		const id2 = "20261122-130050-x5ucaa3ign"
		srv := httptest.NewServer(b.handler)
		defer srv.Close()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/components/v1/tool/mytool/deployment/latest/events", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b.svc.addEvent(id2, slipway.Event{Kind: "step", Step: "build:web", State: "running"})
		b.svc.addEvent(id2, slipway.Event{Kind: "deployment", State: "failed", Message: "build:web failed"})
		body, err := io.ReadAll(resp.Body) // ends: the stream closes after the final event
		if err != nil {
			t.Fatal(err)
		}
		if got := eventIDs(string(body)); !slices.Equal(got, []string{"1", "2"}) {
			t.Errorf("ids = %v, want [1 2]; body %q", got, body)
		}
	})
}

func eventIDs(body string) []string {
	var ids []string
	for line := range strings.SplitSeq(body, "\n") {
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// TestHandler_DeploymentPlanOptions checks every spelling of the plan-only
// flag and which one wins, that a plan never creates a deployment, that
// tool_config is planned instead of the stored config with dry_run and
// ignored without it.
func TestHandler_DeploymentPlanOptions(t *testing.T) {
	t.Parallel()
	const otherConfig = `{"components": {"api": {"build": {"repository": "https://example.org/api.git", "ref": "main"}, "run": {"command": "api"}}}}`
	tests := []struct {
		query string
		body  string
		// want: "plan" (DeploymentPlan), "config" (DeploymentPlanConfig of
		// otherConfig) or "create" (DeploymentCreate).
		want string
	}{
		{query: "dry_run=true", want: "plan"},
		{query: "dry_run=True", want: "plan"},
		{query: "dry_run=1", want: "plan"},
		{query: "dry_run=yes", want: "plan"},
		{query: "dry_run=ON", want: "plan"},
		{query: "dry_run", want: "plan"},
		{query: "dry_run=", want: "plan"},
		{query: "dry-run=true", want: "plan"},
		{query: "only-plan=t", want: "plan"},
		{query: "only_plan=y", want: "plan"},
		{query: "only-plan", want: "plan"},
		{query: "dry_run=false", want: "create"},
		{query: "dry_run=0", want: "create"},
		{query: "dry-run=no", want: "create"},
		{query: "only-plan=off", want: "create"},
		{query: "only_plan=False", want: "create"},
		{query: "dry-run=false&dry_run=true", want: "create"},
		{query: "dry_run=true&dry-run=false", want: "create"},
		{query: "only-plan=false&only_plan=true", want: "create"},
		{query: "only-plan=true&dry_run=false", want: "plan"},
		{query: "dry-run=true&only-plan=false", want: "plan"},
		{query: "dryrun=true&plan=1&token=x", want: "create"},
		{query: "dry_run=true&force_build=true&force-run=1", want: "plan"},
		{query: "dry_run=true", body: "null", want: "plan"},
		{query: "dry_run=true", body: `{"description": "d", "tool_config": null}`, want: "plan"},
		{query: "dry_run=true", body: `{"description": "d", "tool_config": ` + otherConfig + `}`, want: "config"},
		{query: "only_plan=1", body: `{"tool_config": {"components": {}}, "tool_config": ` + otherConfig + `}`, want: "config"},
		{query: "", body: `{"description": "d", "tool_config": ` + otherConfig + `}`, want: "create"},
		{query: "dry_run=false", body: `{"tool_config": ` + otherConfig + `}`, want: "create"},
	}
	for _, tt := range tests {
		t.Run(tt.query+"|"+tt.body, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.seed(t)
			w := b.do(t, request{method: "POST", path: "/components/v1/tool/mytool/deployment?" + tt.query, body: tt.body})
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			b.svc.mu.Lock()
			creates, plans, planConfigs, nDeployments := b.svc.creates, b.svc.plans, b.svc.planConfigs, len(b.svc.deployments["mytool"])
			opts := b.svc.lastOpts
			b.svc.mu.Unlock()
			got := "none"
			switch {
			case creates == 2 && plans == 0 && len(planConfigs) == 0 && nDeployments == 2:
				got = "create"
			case creates == 1 && plans == 1 && len(planConfigs) == 0 && nDeployments == 1:
				got = "plan"
			case creates == 1 && plans == 0 && len(planConfigs) == 1 && nDeployments == 1:
				got = "config"
				if names := planConfigs[0].Names(); !slices.Equal(names, []string{"api"}) {
					t.Errorf("planned config has components %q, want [api]", names)
				}
			}
			if got != tt.want {
				t.Fatalf("called %s (creates %d, plans %d, plan configs %d, deployments %d), want %s", got, creates, plans, len(planConfigs), nDeployments, tt.want)
			}
			if strings.Contains(tt.query, "force") && (!opts.ForceBuild || !opts.ForceRun) {
				t.Errorf("opts = %+v, want both forced", opts)
			}
			if strings.Contains(tt.body, `"description": "d"`) && opts.Description != "d" {
				t.Errorf("description = %q, want d", opts.Description)
			}
			var env struct {
				Data struct {
					DeployID *string `json:"deploy_id"`
					Status   string  `json:"status"`
				} `json:"data"`
				Messages struct{ Info []string } `json:"messages"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
				t.Fatal(err)
			}
			wantInfo, wantEmptyID := "Deployment for mytool created successfully.", false
			if tt.want != "create" {
				wantInfo, wantEmptyID = "Plan for mytool: nothing was changed.", true
			}
			if len(env.Messages.Info) != 1 || env.Messages.Info[0] != wantInfo {
				t.Errorf("info = %q, want %q", env.Messages.Info, wantInfo)
			}
			if env.Data.DeployID == nil || (*env.Data.DeployID == "") != wantEmptyID || env.Data.Status != "pending" {
				t.Errorf("data = %s", w.Body)
			}
		})
	}
}

// TestHandler_DeploymentPlanConfigProblems checks that the problems of a
// tool_config are 422 with their positions in the request body, that a
// malformed one is 400, and that nothing is planned or created.
func TestHandler_DeploymentPlanConfigProblems(t *testing.T) {
	t.Parallel()
	const cfg = `{"components": {"web": {"build": {"repository": "https://example.org/app.git", "ref": "main"}, "run": {"command": "web", "port": 70000}}}}`
	// pos is the line and column of 70000 in body.
	pos := func(body string) string {
		i := strings.Index(body, "70000")
		line := strings.Count(body[:i], "\n") + 1
		col := utf8.RuneCountInString(body[strings.LastIndex(body[:i], "\n")+1:i]) + 1
		return fmt.Sprintf("components.web.run.port (line %d, column %d): port must be between 1 and 65535, got 70000", line, col)
	}
	tests := []struct {
		name, body string
		wantStatus int
		wantError  string
	}{
		{name: "OneLine", body: `{"description": "é", "tool_config": ` + cfg + `}`, wantStatus: 422},
		{name: "Indented", body: "{\n  \"description\": \"x\",\n  \"tool_config\":\n    " + cfg + "\n}\n", wantStatus: 422},
		{name: "YAMLish", body: "{\"tool_config\": {\"components\": {\"web\": {\"build\": {\"repository\": \"https://example.org/app.git\", \"ref\": \"main\"},\n\"run\": {\"command\": \"web\", \"port\": 70000}}}}}", wantStatus: 422},
		{name: "NotAnObject", body: `{"tool_config": "components"}`, wantStatus: 422, wantError: "line 1, column 17: a tool config must be a mapping"},
		{name: "Empty", body: `{"tool_config": {}}`, wantStatus: 422, wantError: "components"},
		{name: "Malformed", body: `{"tool_config": {"components": }`, wantStatus: 400, wantError: "Invalid JSON at line 1, column 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.seed(t)
			w := b.do(t, request{method: "POST", path: "/components/v1/tool/mytool/deployment?dry_run=true", body: tt.body})
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.wantStatus, w.Body)
			}
			var env struct {
				Messages struct{ Error []string } `json:"messages"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
				t.Fatal(err)
			}
			want := tt.wantError
			if want == "" {
				want = pos(tt.body)
			}
			if len(env.Messages.Error) == 0 || !strings.Contains(env.Messages.Error[0], want) {
				t.Errorf("errors = %q, want one with %q", env.Messages.Error, want)
			}
			b.svc.mu.Lock()
			defer b.svc.mu.Unlock()
			if b.svc.creates != 1 || b.svc.plans != 0 || len(b.svc.planConfigs) != 0 {
				t.Errorf("creates %d, plans %d, plan configs %d after the seed's 1, 0, 0", b.svc.creates, b.svc.plans, len(b.svc.planConfigs))
			}
		})
	}
}

// TestHandler_DeploymentCancelTwice cancels the seeded deployment, then
// again: the second request is a 409, as the deployment is no longer
// pending or running.
func TestHandler_DeploymentCancelTwice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	w := b.do(t, request{method: "PUT", path: "/components/v1/tool/mytool/deployment/latest/cancel"})
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"status":"cancelling"`) {
		t.Fatalf("first cancel: %d %s", w.Code, w.Body)
	}
	w = b.do(t, request{method: "PUT", path: "/components/v1/tool/mytool/deployment/" + eventsDeploymentID + "/cancel"})
	if w.Code != http.StatusConflict {
		t.Errorf("second cancel: status %d, want 409", w.Code)
	}
	golden(t, "DeploymentCancelConflict", fmt.Appendf(nil, "HTTP %d\n%s", w.Code, w.Body.Bytes()))
}
