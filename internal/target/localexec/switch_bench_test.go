package localexec_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target/targettest"
)

// BenchmarkSwitch measures a surge replacement of a published component
// (one replica) as its users see it: from the moment the new replica
// answers its health check (polled directly on its own port, without
// pause) to the moment the proxy sends a request to it (polled through
// the proxy, without pause). The goal is < 50 ms. Reported as
// switch-ms (median over the iterations); ns/op is the whole replacement
// (Apply to the old replica stopped).
func BenchmarkSwitch(b *testing.B) {
	d := newDriver(b, b.TempDir())
	proxy := httptest.NewServer(d.Proxy())
	defer proxy.Close()
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(url, host string) (string, bool) {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
		if host != "" {
			req.Host = host
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(body)), resp.StatusCode == http.StatusOK
	}
	targettest.MustApply(b, d, targettest.Spec("switch", "web", slipway.Continuous, webRun, version(b, "v0")))
	targettest.MustWaitHealthy(b, d, "switch", "web")
	var switches []time.Duration
	b.ResetTimer()
	for i := range b.N {
		v := "v" + strconv.Itoa(i+1)
		art := version(b, v)
		old, _ := d.Procs("switch", "web")
		targettest.MustApply(b, d, targettest.Spec("switch", "web", slipway.Continuous, webRun, art))
		ports := d.NextPorts("switch", "web")
		if len(ports) != 1 {
			b.Fatalf("rollout ports = %v, want 1", ports)
		}
		healthy := make(chan time.Time, 1)
		go func() {
			for {
				if body, ok := get("http://127.0.0.1:"+strconv.Itoa(ports[0])+"/", ""); ok && strings.HasPrefix(body, v+" ") {
					healthy <- time.Now()
					return
				}
			}
		}()
		var switched time.Time
		for switched.IsZero() {
			if body, ok := get(proxy.URL+"/", "switch.localhost"); ok && strings.HasPrefix(body, v+" ") {
				switched = time.Now()
			}
		}
		switches = append(switches, switched.Sub(<-healthy))
		targettest.MustWaitHealthy(b, d, "switch", "web")
		waitFor(b, "the old replica to stop", func() bool { return processGone(old[0]) })
	}
	b.StopTimer()
	slices.Sort(switches)
	b.ReportMetric(float64(switches[len(switches)/2].Microseconds())/1000, "switch-ms")
	b.ReportMetric(float64(switches[len(switches)-1].Microseconds())/1000, "max-switch-ms")
}
