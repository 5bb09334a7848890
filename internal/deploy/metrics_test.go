package deploy

import (
	"context"
	"testing"

	"slipway.dev/slipway/internal/metrics"
	"slipway.dev/slipway/internal/metrics/metricstest"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

func TestEngine_Metrics(t *testing.T) {
	t.Parallel()
	const tool = "metered"
	setup := func(t *testing.T, start bool) (*harness, *metrics.Metrics) {
		t.Helper()
		m := metrics.New()
		h := newHarness(t, Config{Metrics: m}, start)
		m.CountInProgress(func(ctx context.Context) (int, error) { // as the server counts
			ds, err := h.db.DeploymentListUnfinished(ctx, "")
			return len(ds), err
		})
		repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: true\n"})
		cfg := mustParse(t, "components:\n  job:\n    component_type: one-off\n"+
			"    build: {repository: "+repo.Dir+", ref: main}\n    run: {command: job}\n")
		if _, _, err := h.deploys.ConfigPut(t.Context(), tool, cfg); err != nil {
			t.Fatal(err)
		}
		return h, m
	}
	type want struct {
		name   string
		labels []string
		value  float64
	}
	check := func(t *testing.T, f metricstest.Families, wants []want) {
		t.Helper()
		for _, w := range wants {
			if got := f.Value(w.name, w.labels...); got != w.value {
				t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.value)
			}
		}
	}

	// Ensure real deployments move the counters: the first builds and
	// runs, the second finds the build made and the one-off unchanged.
	t.Run("Deployments", func(t *testing.T) {
		t.Parallel()
		h, m := setup(t, true)
		d, err := h.deploys.DeploymentCreate(t.Context(), tool, slipway.DeployOptions{Trigger: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
			t.Fatalf("first deployment %s: %s", d.Status, d.LongStatus)
		}
		check(t, metricstest.Scrape(t, m.Handler()), []want{
			{"slipway_deployments_created_total", []string{"trigger", "cli"}, 1},
			{"slipway_deployments_finished_total", []string{"status", "successful"}, 1},
			{"slipway_step_duration_seconds", []string{"kind", "build", "outcome", "done"}, 1},
			{"slipway_step_duration_seconds", []string{"kind", "run", "outcome", "done"}, 1},
			{"slipway_builds_total", []string{"result", "built"}, 1},
			{"slipway_builds_total", []string{"result", "cached"}, 0},
			{"slipway_deployments_in_progress", nil, 0},
		})

		d, err = h.deploys.DeploymentCreate(t.Context(), tool, slipway.DeployOptions{Trigger: "token"})
		if err != nil {
			t.Fatal(err)
		}
		if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
			t.Fatalf("second deployment %s: %s", d.Status, d.LongStatus)
		}
		check(t, metricstest.Scrape(t, m.Handler()), []want{
			{"slipway_deployments_created_total", nil, 2},
			{"slipway_deployments_created_total", []string{"trigger", "token"}, 1},
			{"slipway_deployments_finished_total", []string{"status", "successful"}, 2},
			{"slipway_step_duration_seconds", nil, 2}, // nothing ran again
			{"slipway_builds_total", []string{"result", "built"}, 1},
			{"slipway_builds_total", []string{"result", "cached"}, 1},
		})
	})

	// Ensure a deployment that waits is in progress, and one superseded
	// while waiting is counted as finished, cancelled.
	t.Run("InProgress", func(t *testing.T) {
		t.Parallel()
		h, m := setup(t, false) // nothing runs: deployments stay pending
		for range 3 {
			if _, err := h.deploys.DeploymentCreate(t.Context(), tool, slipway.DeployOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		check(t, metricstest.Scrape(t, m.Handler()), []want{
			{"slipway_deployments_created_total", []string{"trigger", "api"}, 3},
			{"slipway_deployments_finished_total", []string{"status", "cancelled"}, 1},
			{"slipway_deployments_in_progress", nil, 2},
		})
	})
}
