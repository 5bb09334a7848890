package server_test

import (
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/pgtest"
	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipwaytest/servertest"
	"slipway.dev/slipway/internal/store/storetest"
)

// apiStores are the two stores a real server runs on in the benchmarks.
var apiStores = []struct {
	name string
	edit func(b *testing.B) func(*server.Config)
}{
	{"sqlite", func(*testing.B) func(*server.Config) { return nil }},
	{"postgres", func(b *testing.B) func(*server.Config) {
		url := pgtest.Schema(b)
		return func(c *server.Config) { c.Database = url }
	}},
}

// BenchmarkAPI measures a real server (HTTP, auth, engine, store, queue)
// on each store, one server per database (the local target allows no
// more):
//
//   - create: deployments created per second by 4 clients at once (each
//     queues behind the one running and supersedes the one waiting, so
//     the create transaction's queue rule is under contention);
//   - show: `deployment show` latency at a fixed 100 requests a second
//     (ten deployments, ten a second each), open loop (a request's start does not wait for the one before),
//     while deployments are created beside it; p50 and p99.
func BenchmarkAPI(b *testing.B) {
	for _, st := range apiStores {
		b.Run(st.name, func(b *testing.B) {
			srv := servertest.StartWith(b, st.edit(b))
			ctx := b.Context()
			b.Run("create", func(b *testing.B) {
				const clients = 4
				start := time.Now()
				var (
					wg   sync.WaitGroup
					next = make(chan struct{})
				)
				for range clients {
					wg.Go(func() {
						for range next {
							if _, err := srv.Client.DeploymentCreate(ctx, servertest.Tool, false, false, "bench"); err != nil {
								b.Error(err)
							}
						}
					})
				}
				for b.Loop() {
					next <- struct{}{}
				}
				close(next)
				wg.Wait()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "creates/s")
			})
			b.Run("show", func(b *testing.B) {
				// Ten deployments, each shown ten times a second: the
				// server answers 429 to more polls of one deployment.
				var ids []string
				for range 10 {
					env, err := srv.Client.DeploymentCreate(ctx, servertest.Tool, false, false, "shown")
					if err != nil {
						b.Fatal(err)
					}
					d, err := env.Deployment()
					if err != nil {
						b.Fatal(err)
					}
					ids = append(ids, d.ID)
				}
				// Creates beside the reads, of another tool: the demo's
				// shown deployments must not be pruned.
				if _, err := srv.Client.ConfigCreate(ctx, "load", servertest.Config(srv.Repo.URL)); err != nil {
					b.Fatal(err)
				}
				stop := make(chan struct{})
				var load sync.WaitGroup
				load.Go(func() {
					for {
						select {
						case <-stop:
							return
						case <-time.After(50 * time.Millisecond):
						}
						_, _ = srv.Client.DeploymentCreate(ctx, "load", false, false, "load")
					}
				})
				var (
					mu  sync.Mutex
					ds  []time.Duration
					req sync.WaitGroup
				)
				tick := time.NewTicker(10 * time.Millisecond) // 100 requests a second
				i := 0
				for b.Loop() {
					<-tick.C
					id := ids[i%len(ids)]
					i++
					req.Go(func() {
						t0 := time.Now()
						_, err := srv.Client.DeploymentGet(ctx, servertest.Tool, id)
						el := time.Since(t0)
						if err != nil {
							b.Error(err)
						}
						mu.Lock()
						ds = append(ds, el)
						mu.Unlock()
					})
				}
				tick.Stop()
				req.Wait()
				close(stop)
				load.Wait()
				b.ReportMetric(float64(storetest.Percentile(ds, 50).Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(storetest.Percentile(ds, 99).Microseconds())/1000, "p99-ms")
			})
		})
	}
}
