package edge_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"slipway.dev/slipway/internal/edge"
	"slipway.dev/slipway/internal/metrics"
)

// BenchmarkProxyLoad is the load goal, bounded and on loopback:
// 2,000 requests a second spread over 50 published tools for 10 seconds
// (SLIPWAY_BENCH_PROXY_SECONDS and _RATE change them), sent open loop (each
// at its planned time, whatever the earlier ones took) first to the apps
// directly and then through the proxy (with its access logs and metrics
// on), and reports p50 and p99 of each, what the proxy adds, and the
// errors. Goal: the proxy adds < 1 ms at p99, and no error. Run with
// -benchtime 1x (make bench/proxy).
func BenchmarkProxyLoad(b *testing.B) {
	const tools = 50
	rate, seconds := 2000, 10
	if s, err := strconv.Atoi(os.Getenv("SLIPWAY_BENCH_PROXY_SECONDS")); err == nil && s > 0 {
		seconds = s
	}
	if r, err := strconv.Atoi(os.Getenv("SLIPWAY_BENCH_PROXY_RATE")); err == nil && r > 0 {
		rate = r
	}
	logs, err := edge.NewAccessLogs(b.TempDir(), 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer logs.Close()
	a := newApps()
	direct := make([]string, tools)
	body := []byte("hello from a published app\n")
	for i := range tools {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
		defer srv.Close()
		name := fmt.Sprintf("tool%02d", i)
		a.addrs[name] = srv.Listener.Addr().String()
		direct[i] = srv.URL
	}
	p, err := edge.New(edge.Config{Backends: a, AccessLogs: logs, Metrics: metrics.New()})
	if err != nil {
		b.Fatal(err)
	}
	proxy := httptest.NewUnstartedServer(p)
	proxy.Config = edge.Limits{}.Server(p)
	proxy.Start()
	defer proxy.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 1024}, Timeout: 10 * time.Second}

	run := func(url func(i int) (string, string)) (lat []time.Duration, errs int64) {
		n := rate * seconds
		lat = make([]time.Duration, n)
		var failed atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for i := range n {
			at := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
			time.Sleep(time.Until(at))
			wg.Go(func() {
				u, host := url(i)
				req, _ := http.NewRequest(http.MethodGet, u, nil)
				req.Host = host
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				lat[i] = time.Since(t0)
				if err != nil {
					failed.Add(1)
				}
			})
		}
		wg.Wait()
		slices.Sort(lat)
		return lat, failed.Load()
	}
	pct := func(lat []time.Duration, p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)] }
	b.ResetTimer()
	for range b.N {
		dLat, dErr := run(func(i int) (string, string) { return direct[i%tools], "" })
		pLat, pErr := run(func(i int) (string, string) {
			return proxy.URL, fmt.Sprintf("tool%02d.localhost", i%tools)
		})
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		b.ReportMetric(ms(pct(dLat, .5)), "direct-p50-ms")
		b.ReportMetric(ms(pct(dLat, .99)), "direct-p99-ms")
		b.ReportMetric(ms(pct(pLat, .5)), "proxy-p50-ms")
		b.ReportMetric(ms(pct(pLat, .99)), "proxy-p99-ms")
		b.ReportMetric(ms(pct(pLat, .99)-pct(dLat, .99)), "added-p99-ms")
		b.ReportMetric(float64(dErr+pErr), "errors")
		b.Logf("%d requests/s over %d tools for %ds: direct p50 %s p99 %s (%d errors); through the proxy p50 %s p99 %s (%d errors); the proxy adds %s at p99",
			rate, tools, seconds, pct(dLat, .5), pct(dLat, .99), dErr, pct(pLat, .5), pct(pLat, .99), pErr, pct(pLat, .99)-pct(dLat, .99))
	}
}
