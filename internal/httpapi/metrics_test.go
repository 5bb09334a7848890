package httpapi

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/metrics"
	"slipway.dev/slipway/internal/metrics/metricstest"
)

// Ensure every request is counted by its route pattern, method and status,
// 429s once more as rate limited, and GET /metrics serves it all to the
// admin token and the metrics token, and to nobody else.
func TestMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	now := time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC) // a stopped clock: no bucket refills
	const metricsToken = "scraper-token-0123456789"
	srv := httptest.NewServer(NewHandler(newFakeService(), Config{
		AdminToken: testToken, Metrics: m, ToolRate: 1, ToolBurst: 3, PollRate: -1,
		NowFunc: func() time.Time { return now }, MetricsToken: metricsToken,
	}))
	t.Cleanup(srv.Close)
	getAs := func(path, token string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	get := func(path string, auth bool) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth {
			req.Header.Set("Authorization", "Bearer "+testToken)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	for _, r := range []struct {
		path string
		auth bool
		want int
	}{
		{"/components/v1/tool/mytool/deployment", true, 200},
		{"/components/v1/tool/mytool/deployment", true, 200},
		{"/v1/tool/mytool/deployment", true, 200},
		{"/components/v1/tool/mytool/deployment", true, 429}, // the tool's burst of 3 is spent
		{"/components/v1/tool/mytool/deployment", false, 401},
		{"/components/v1/nothing/here", true, 404},
	} {
		if got := get(r.path, r.auth); got != r.want {
			t.Fatalf("GET %s = %d, want %d", r.path, got, r.want)
		}
	}
	for _, c := range []struct {
		token string
		want  int
	}{{"", 401}, {"wrong-token", 401}, {metricsToken, 200}, {testToken, 200}} {
		if got := getAs("/metrics", c.token); got != c.want {
			t.Fatalf("GET /metrics with %q = %d, want %d", c.token, got, c.want)
		}
	}
	// The metrics token is for /metrics only.
	if got := getAs("/components/v1/tool/other/deployment", metricsToken); got != http.StatusUnauthorized {
		t.Errorf("a tool route with the metrics token = %d, want 401", got)
	}

	h := NewHandler(newFakeService(), Config{Metrics: m, MetricsToken: metricsToken})
	f := metricstest.Scrape(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+metricsToken) // as a Prometheus scrape config's credentials_file
		h.ServeHTTP(w, r)
	}))
	const route = "/components/v1/tool/{tool}/deployment"
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"route", route, "method", "GET", "code", "200"}, 2},
		{[]string{"route", "/v1/tool/{tool}/deployment", "method", "GET", "code", "200"}, 1},
		{[]string{"route", route, "method", "GET", "code", "429"}, 1},
		{[]string{"route", route, "method", "GET", "code", "401"}, 2}, // one with the metrics token
		{[]string{"route", metrics.UnmatchedRoute, "method", "GET", "code", "404"}, 1},
		{[]string{"route", "/metrics", "method", "GET", "code", "200"}, 2},
		{[]string{"route", "/metrics", "method", "GET", "code", "401"}, 2},
	} {
		if got := f.Value("slipway_http_requests_total", c.labels...); got != c.want {
			t.Errorf("slipway_http_requests_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if got := f.Value("slipway_http_rate_limited_total", "route", route); got != 1 {
		t.Errorf("slipway_http_rate_limited_total = %v, want 1", got)
	}
	if got := f.Value("slipway_http_request_duration_seconds", "route", route, "method", "GET"); got != 5 {
		t.Errorf("duration samples of GET %s = %v, want 5", route, got)
	}
	// No raw path (tool names, deployment IDs) ever becomes a label.
	if routes := f.LabelValues("slipway_http_requests_total", "route"); slices.ContainsFunc(routes, func(r string) bool { return strings.Contains(r, "mytool") || strings.Contains(r, "nothing") }) {
		t.Errorf("route labels %q contain raw paths", routes)
	}
}
