package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/toolconfig"
)

// liveStore is a store that only knows the live components of one tool.
type liveStore struct {
	store.Store
	runs []slipway.LiveRun
	err  error
}

func (l liveStore) LiveRunList(context.Context, string) ([]slipway.LiveRun, error) {
	return l.runs, l.err
}

// generateInput is a config using every kind of field: it is "deployed" by
// turning each component into a LiveRun, in an order other than the names'.
const generateInput = `config_version: v1beta1
components:
  web:
    component_type: continuous
    build:
      repository: https://example.org/app.git
      ref: main
      use_latest_versions: true
    run:
      command: web --serve
      cpu: 500m
      memory: 1Gi
      port: 8000
      port_protocol: tcp
      publish: /
      health_check_http: /healthz
      replicas: 2
      filelog: false
      retry: 0
  worker:
    component_type: continuous
    build:
      reuse_from: web
    run:
      command: worker
      health_check_script: ./check
      emails: onfailure
    wait_for: [migrate]
  cron:
    component_type: scheduled
    build:
      reuse_from: web
    run:
      command: cleanup --all
      schedule: '@daily'
      timeout: 300
      retry: 2
      mount: all
  migrate:
    component_type: one-off
    build:
      repository: /srv/repos/app
      ref: v1.2.3
    run:
      command: migrate
      timeout: 60
`

func liveFrom(t *testing.T, yaml string, names ...string) []slipway.LiveRun {
	t.Helper()
	res, err := toolconfig.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	var runs []slipway.LiveRun
	for _, n := range names {
		c := res.Config.Components[n]
		runs = append(runs, slipway.LiveRun{Tool: "tool", Component: n, Type: c.Type, SpecHash: c.SpecHash(), Spec: c})
	}
	return runs
}

func TestConfigGenerate_RoundTrip(t *testing.T) {
	t.Parallel()
	live := liveFrom(t, generateInput, "worker", "web", "migrate", "cron")
	s := NewDeployments(NewEngine(liveStore{runs: live}, nil, nil, nil, Config{}))
	cfg, warnings, err := s.ConfigGenerate(t.Context(), "tool")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{generatedNote}, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	want := `{"config_version":"v1beta1","components":{` +
		`"cron":{"component_type":"scheduled","build":{"reuse_from":"web"},"run":{"command":"cleanup --all","mount":"all","schedule":"@daily","retry":2,"timeout":300}},` +
		`"migrate":{"component_type":"one-off","build":{"repository":"/srv/repos/app","ref":"v1.2.3"},"run":{"command":"migrate","timeout":60}},` +
		`"web":{"component_type":"continuous","build":{"repository":"https://example.org/app.git","ref":"main","use_latest_versions":true},"run":{"command":"web --serve","cpu":"500m","memory":"1Gi","filelog":false,"port":8000,"port_protocol":"tcp","publish":"/","replicas":2,"health_check_http":"/healthz"}},` +
		`"worker":{"component_type":"continuous","build":{"reuse_from":"web"},"run":{"command":"worker","emails":"onfailure","health_check_script":"./check"},"wait_for":["migrate"]}}}`
	if diff := cmp.Diff(want, string(cfg.Raw)); diff != "" {
		t.Errorf("Raw (-want +got):\n%s", diff)
	}
	if cfg.ConfigVersion != "v1beta1" {
		t.Errorf("ConfigVersion = %q", cfg.ConfigVersion)
	}
	// What is generated is what is live: the same components, so the same
	// spec hashes and build settings, and a plan of it changes nothing.
	for _, r := range live {
		got, ok := cfg.Components[r.Component]
		if !ok {
			t.Errorf("component %s missing", r.Component)
			continue
		}
		if diff := cmp.Diff(r.Spec, got); diff != "" {
			t.Errorf("component %s (-live +generated):\n%s", r.Component, diff)
		}
		if got.SpecHash() != r.SpecHash {
			t.Errorf("component %s: SpecHash %s, live %s", r.Component, got.SpecHash(), r.SpecHash)
		}
	}
}

func TestConfigGenerate_Fallback(t *testing.T) {
	t.Parallel()
	s := NewDeployments(NewEngine(liveStore{runs: []slipway.LiveRun{}}, nil, nil, nil, Config{}))
	cfg, warnings, err := s.ConfigGenerate(t.Context(), "tool")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{generatedNote, generatedEmpty}, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(sampleConfig, string(cfg.Raw)); diff != "" {
		t.Errorf("Raw (-want +got):\n%s", diff)
	}
	if cfg.ConfigVersion != "" {
		t.Errorf("ConfigVersion = %q, want none", cfg.ConfigVersion)
	}
	if diff := cmp.Diff([]string{"my-backend-service-1", "my-backend-service-2", "my-cronjob1"}, cfg.Names()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}

func TestConfigGenerate_Unreproducible(t *testing.T) {
	t.Parallel()
	// migrate (one-off) never succeeded, so it is not live; worker reuses
	// its build and waits for it, cron waits for it.
	const cfgYAML = `components:
  migrate:
    component_type: one-off
    build: {repository: https://example.org/app.git, ref: main}
    run: {command: migrate}
  worker:
    component_type: continuous
    build: {reuse_from: migrate}
    run: {command: worker}
  cron:
    component_type: scheduled
    build: {repository: https://example.org/app.git, ref: main}
    run: {command: cron, schedule: '@hourly'}
    wait_for: [migrate]
`
	live := liveFrom(t, cfgYAML, "worker", "cron")
	live = append(live, slipway.LiveRun{Tool: "tool", Component: "legacy"})
	s := NewDeployments(NewEngine(liveStore{runs: live}, nil, nil, nil, Config{}))
	cfg, warnings, err := s.ConfigGenerate(t.Context(), "tool")
	if err != nil {
		t.Fatal(err)
	}
	wantWarnings := []string{
		generatedNote,
		"Component legacy has no recorded run settings, skipping",
		"Component worker reuses the build of migrate, which is not live, skipping",
		"Component cron waits for migrate, which is not live, dropping it from wait_for",
	}
	if diff := cmp.Diff(wantWarnings, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	want := `{"config_version":"v1beta1","components":{"cron":{"component_type":"scheduled","build":{"repository":"https://example.org/app.git","ref":"main"},"run":{"command":"cron","schedule":"@hourly"}}}}`
	if diff := cmp.Diff(want, string(cfg.Raw)); diff != "" {
		t.Errorf("Raw (-want +got):\n%s", diff)
	}
}

func TestConfigGenerate_Errors(t *testing.T) {
	t.Parallel()
	s := NewDeployments(NewEngine(liveStore{err: errors.New("disk on fire")}, nil, nil, nil, Config{}))
	if _, _, err := s.ConfigGenerate(t.Context(), "tool"); err == nil || slipway.ErrorCode(err) != slipway.EInternal {
		t.Errorf("store failure: err = %v, want an internal error", err)
	}
	bad := liveFrom(t, generateInput, "web")
	bad[0].Spec.Run.Port = 70000
	s = NewDeployments(NewEngine(liveStore{runs: bad}, nil, nil, nil, Config{}))
	if _, _, err := s.ConfigGenerate(t.Context(), "tool"); slipway.ErrorCode(err) != slipway.EInternal || !strings.Contains(err.Error(), "port") {
		t.Errorf("invalid live spec: err = %v, want an internal error about the port", err)
	}
	if _, _, err := s.ConfigGenerate(t.Context(), "Bad_Tool"); slipway.ErrorCode(err) != slipway.EInvalid {
		t.Errorf("bad tool name: err = %v, want EInvalid", err)
	}
}
