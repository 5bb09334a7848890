// Package metrics defines Slipway's Prometheus metrics, served at GET
// /metrics in the text exposition format, as Toolforge serves its own.
//
// [New] makes a [Metrics] with its own registry (never the global one):
// the Go runtime and process collectors plus Slipway's metrics. httpapi and
// deploy receive it through their Config and record what happens; a nil
// *Metrics records nothing, so tests and tools that do not care pass nil.
//
// Labels are bounded: the front door's requests are labelled by tool
// only (never host, path or instance) and status class, so a tool adds 5
// series and one histogram (13 buckets) whatever its traffic; HTTP requests are labelled by the route pattern of
// the API (never the raw path, which holds tool names and deployment IDs),
// the method (unknown methods are "other") and the status code; deployments
// by trigger and final status; steps by kind and outcome.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// UnmatchedRoute is the route label of requests that match no route.
const UnmatchedRoute = "unmatched"

// Metrics holds Slipway's metrics and the registry that serves them. Its
// methods are safe for concurrent use and do nothing on a nil *Metrics.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	rateLimited  *prometheus.CounterVec

	deploymentsCreated  *prometheus.CounterVec
	deploymentsFinished *prometheus.CounterVec
	stepDuration        *prometheus.HistogramVec
	builds              *prometheus.CounterVec
	retained            *prometheus.CounterVec
	polls               *prometheus.CounterVec

	proxyRequests *prometheus.CounterVec
	proxyDuration *prometheus.HistogramVec

	inProgressDesc *prometheus.Desc
	mu             sync.Mutex
	countFunc      func(context.Context) (int, error)
}

// New returns metrics registered in a registry of their own, with the Go
// runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slipway_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "slipway_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and method (event streams last as long as they are watched).",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slipway_http_rate_limited_total",
			Help: "HTTP requests refused with 429 Too Many Requests, by route pattern.",
		}, []string{"route"}),
		deploymentsCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slipway_deployments_created_total",
			Help: "Deployments created, by trigger (cli, api, token).",
		}, []string{"trigger"}),
		deploymentsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slipway_deployments_finished_total",
			Help: "Deployments that reached a final status, by status (successful, failed, timed_out, cancelled).",
		}, []string{"status"}),
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "slipway_step_duration_seconds",
			Help: "Time a deployment step ran, from start to its final state, by kind (build, run, prune: remove) and outcome (done, failed, timed_out, cancelled).",
			// Steps take from milliseconds (a process start) to the
			// 30 minute build timeout.
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
		}, []string{"kind", "outcome"}),
		builds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slipway_builds_total",
			Help: "Component builds a deployment needed, by result: cached (an artifact with the same build key existed) or built.",
		}, []string{"result"}),
		retained: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slipway_retention_removed_total",
			Help: "What retention removed, by what: releases (records older than --release-retention), artifacts (builds nothing needed), artifact_bytes (their size).",
		}, []string{"what"}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slipway_poll_requests_total",
			Help: "Repositories asked by polling (one ref listing each, for every tool and ref that follows it), by result: ok or error.",
		}, []string{"result"}),
		proxyRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slipway_proxy_requests_total",
			Help: "Requests the front door answered for a tool's published component (its environments together), by tool and status class (1xx…5xx; 499 when the client left first counts as 4xx).",
		}, []string{"tool", "class"}),
		proxyDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "slipway_proxy_request_duration_seconds",
			Help: "Time the front door took to answer a tool's request, headers to the end of the body (a stream or WebSocket lasts as long as it is open), by tool.",
			// From a loopback app's sub-millisecond answer to the
			// response header timeout.
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60},
		}, []string{"tool"}),
		inProgressDesc: prometheus.NewDesc("slipway_deployments_in_progress",
			"Deployments not final yet (pending, running or cancelling), as the store has them.", nil, nil),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.rateLimited,
		m.deploymentsCreated, m.deploymentsFinished, m.stepDuration, m.builds, m.retained, m.polls,
		m.proxyRequests, m.proxyDuration,
		inProgress{m},
	)
	return m
}

// Handler serves the metrics in the Prometheus text format. A metric that
// cannot be gathered (the store is down) is left out rather than failing
// the whole answer. On a nil *Metrics it serves an empty page.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		})
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ObserveHTTP records an answered request: route is the route pattern
// without its method ("/components/v1/tool/{tool}/config"), or
// [UnmatchedRoute].
func (m *Metrics) ObserveHTTP(route, method string, code int, took time.Duration) {
	if m == nil {
		return
	}
	method = knownMethod(method)
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(took.Seconds())
	if code == http.StatusTooManyRequests {
		m.rateLimited.WithLabelValues(route).Inc()
	}
}

func knownMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// DeploymentCreated records a new deployment.
func (m *Metrics) DeploymentCreated(trigger string) {
	if m == nil {
		return
	}
	m.deploymentsCreated.WithLabelValues(trigger).Inc()
}

// DeploymentFinished records a deployment that reached a final status.
func (m *Metrics) DeploymentFinished(status string) {
	if m == nil {
		return
	}
	m.deploymentsFinished.WithLabelValues(status).Inc()
}

// StepFinished records a step that ran and reached a final state.
func (m *Metrics) StepFinished(kind, outcome string, took time.Duration) {
	if m == nil {
		return
	}
	m.stepDuration.WithLabelValues(kind, outcome).Observe(took.Seconds())
}

// BuildCached records a build that a deployment found already made.
func (m *Metrics) BuildCached() {
	if m == nil {
		return
	}
	m.builds.WithLabelValues("cached").Inc()
}

// BuildBuilt records a build that a deployment made.
func (m *Metrics) BuildBuilt() {
	if m == nil {
		return
	}
	m.builds.WithLabelValues("built").Inc()
}

// Retained records what a retention pass removed: releases deleted,
// artifacts removed and their bytes.
func (m *Metrics) Retained(releases, artifacts int, bytes int64) {
	if m == nil {
		return
	}
	m.retained.WithLabelValues("releases").Add(float64(releases))
	m.retained.WithLabelValues("artifacts").Add(float64(artifacts))
	m.retained.WithLabelValues("artifact_bytes").Add(float64(bytes))
}

// Polled records a repository asked by polling.
func (m *Metrics) Polled(ok bool) {
	if m == nil {
		return
	}
	result := "ok"
	if !ok {
		result = "error"
	}
	m.polls.WithLabelValues(result).Inc()
}

// CountInProgress sets how slipway_deployments_in_progress is counted each
// time the metrics are gathered (from the store, so that it never drifts,
// and is right after a restart). Until it is set, the gauge is absent.
func (m *Metrics) CountInProgress(f func(context.Context) (int, error)) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.countFunc = f
}

// inProgress collects the in-progress gauge by calling the count function.
type inProgress struct{ m *Metrics }

// Describe sends the gauge's description.
func (c inProgress) Describe(ch chan<- *prometheus.Desc) { ch <- c.m.inProgressDesc }

// Collect counts the deployments in progress; an error becomes an invalid
// metric, which the handler leaves out.
func (c inProgress) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	f := c.m.countFunc
	c.m.mu.Unlock()
	if f == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := f(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.m.inProgressDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.m.inProgressDesc, prometheus.GaugeValue, float64(n))
}

// ObserveProxy records a request the front door answered for tool's
// published component: its status code (by class) and how long it took.
func (m *Metrics) ObserveProxy(tool string, code int, took time.Duration) {
	if m == nil {
		return
	}
	class := "5xx"
	if code >= 100 && code < 600 {
		class = strconv.Itoa(code/100) + "xx"
	}
	m.proxyRequests.WithLabelValues(tool, class).Inc()
	m.proxyDuration.WithLabelValues(tool).Observe(took.Seconds())
}
