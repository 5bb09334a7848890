package deploy

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"slipway.dev/slipway/internal/store/storetest"
)

// benchScale is the installation BenchmarkDeploymentList reads:
// SLIPWAY_BENCH_SCALE=full is the 10,000 tools × 5 components and
// 1,000,000 deployments (seeding takes minutes); the default is a tenth.
func benchScale() storetest.Scale {
	if os.Getenv("SLIPWAY_BENCH_SCALE") == "full" {
		return storetest.Scale{Tools: 10_000, Components: 5, Deployments: 1_000_000, StepTools: 200}
	}
	return storetest.Scale{Tools: 1_000, Components: 5, Deployments: 100_000, StepTools: 200}
}

// BenchmarkDeploymentList lists one tool's deployments (100 each, with
// their plans) in a big installation, on both stores, as `slipway
// components deployment list` does: the store's read alone, and the
// service's answer (steps, Toolforge's build and run entries). It reports
// the p50 and p99 latency; the goal is a p99 under 20 ms.
//
// Each measured tool is listed once before the timed calls, as a server
// that has been answering for them would have: the seeding wrote the
// measured tools first and a million rows after them, so their pages
// left the database's cache (and SQLite's page cache) long before, and
// without the warm pass the p99 of 1,000 calls over 200 tools measured
// the first read of each tool as much as the list. That first pass's
// figures are logged too.
func BenchmarkDeploymentList(b *testing.B) {
	sc := benchScale()
	for _, es := range engineStores {
		b.Run(es.name, func(b *testing.B) {
			st, _ := es.open(b)
			start := time.Now()
			storetest.Seed(b, st, sc)
			b.Logf("%s: seeded %d tools × %d components, %d deployments in %s", es.name, sc.Tools, sc.Components, sc.Deployments, time.Since(start).Round(time.Second))
			svc := NewDeployments(NewEngine(st, nil, nil, nil, Config{}))
			measure := func(b *testing.B, list func(tool string) (int, error)) {
				var cold []time.Duration
				for i := range sc.StepTools {
					t0 := time.Now()
					if _, err := list(storetest.SeedTool(i)); err != nil {
						b.Fatal(err)
					}
					cold = append(cold, time.Since(t0))
				}
				b.Logf("%s: first read of each of the %d tools: p50 %s, p99 %s", b.Name(), len(cold),
					storetest.Percentile(cold, 50).Round(10*time.Microsecond), storetest.Percentile(cold, 99).Round(10*time.Microsecond))
				var ds []time.Duration
				for b.Loop() {
					tool := storetest.SeedTool(rand.IntN(sc.StepTools))
					t0 := time.Now()
					n, err := list(tool)
					ds = append(ds, time.Since(t0))
					if err != nil || n != sc.Deployments/sc.Tools {
						b.Fatalf("list %s = %d deployments, %v", tool, n, err)
					}
				}
				b.ReportMetric(float64(storetest.Percentile(ds, 50).Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(storetest.Percentile(ds, 99).Microseconds())/1000, "p99-ms")
			}
			b.Run("store", func(b *testing.B) {
				measure(b, func(tool string) (int, error) {
					ds, err := st.DeploymentList(b.Context(), tool)
					return len(ds), err
				})
			})
			b.Run("service", func(b *testing.B) {
				measure(b, func(tool string) (int, error) {
					ds, err := svc.DeploymentList(b.Context(), tool)
					return len(ds), err
				})
			})
		})
	}
}
