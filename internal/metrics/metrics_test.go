package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"slipway.dev/slipway/internal/metrics"
	"slipway.dev/slipway/internal/metrics/metricstest"
)

// Ensure a nil *Metrics records nothing and serves an empty page.
func TestMetrics_Nil(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	m.ObserveHTTP("/x", "GET", 200, time.Second)
	m.DeploymentCreated("cli")
	m.DeploymentFinished("successful")
	m.StepFinished("build", "done", time.Second)
	m.BuildCached()
	m.BuildBuilt()
	m.Retained(1, 2, 3)
	m.CountInProgress(func(context.Context) (int, error) { return 1, nil })
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("nil Handler answered %d %q, want 200 and nothing", w.Code, w.Body)
	}
}

func TestMetrics_Record(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	if f := metricstest.Scrape(t, m.Handler()); !f.Has("go_goroutines") || !f.Has("process_start_time_seconds") || f.Has("slipway_deployments_in_progress") {
		t.Errorf("a new registry should have the Go and process metrics and no in-progress gauge yet: %v", f)
	}
	m.ObserveHTTP("/components/v1/tool/{tool}/config", "GET", 200, 10*time.Millisecond)
	m.ObserveHTTP("/components/v1/tool/{tool}/config", "GET", 200, 10*time.Millisecond)
	m.ObserveHTTP("/components/v1/tool/{tool}/deployment", "POST", 429, time.Millisecond)
	m.ObserveHTTP(metrics.UnmatchedRoute, "BREW", 404, time.Millisecond)
	m.DeploymentCreated("cli")
	m.DeploymentFinished("failed")
	m.StepFinished("build", "done", 3*time.Second)
	m.BuildCached()
	m.BuildBuilt()
	m.BuildBuilt()
	m.Retained(4, 2, 4096)
	m.Retained(0, 1, 100)
	m.CountInProgress(func(context.Context) (int, error) { return 3, nil })

	f := metricstest.Scrape(t, m.Handler())
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"slipway_http_requests_total", []string{"route", "/components/v1/tool/{tool}/config", "method", "GET", "code", "200"}, 2},
		{"slipway_http_request_duration_seconds", []string{"route", "/components/v1/tool/{tool}/config", "method", "GET"}, 2},
		{"slipway_http_rate_limited_total", []string{"route", "/components/v1/tool/{tool}/deployment"}, 1},
		{"slipway_http_requests_total", []string{"route", "unmatched", "method", "other", "code", "404"}, 1},
		{"slipway_deployments_created_total", []string{"trigger", "cli"}, 1},
		{"slipway_deployments_finished_total", []string{"status", "failed"}, 1},
		{"slipway_step_duration_seconds", []string{"kind", "build", "outcome", "done"}, 1},
		{"slipway_builds_total", []string{"result", "cached"}, 1},
		{"slipway_builds_total", []string{"result", "built"}, 2},
		{"slipway_retention_removed_total", []string{"what", "releases"}, 4},
		{"slipway_retention_removed_total", []string{"what", "artifacts"}, 3},
		{"slipway_retention_removed_total", []string{"what", "artifact_bytes"}, 4196},
		{"slipway_deployments_in_progress", nil, 3},
	} {
		if got := f.Value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	// Ensure a count that fails leaves the gauge out, not the page.
	m.CountInProgress(func(context.Context) (int, error) { return 0, errors.New("store closed") })
	f = metricstest.Scrape(t, m.Handler())
	if f.Has("slipway_deployments_in_progress") || f.Value("slipway_builds_total", "result", "built") != 2 {
		t.Errorf("with a failing count: in progress present = %v, builds built = %v; want absent and 2",
			f.Has("slipway_deployments_in_progress"), f.Value("slipway_builds_total", "result", "built"))
	}
}
