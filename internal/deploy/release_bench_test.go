package deploy

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/store"
)

// releaseDroppingStore is a store whose release writes do nothing: the
// benchmarks' way to run a deployment without its release records. It is
// no fake of a store (everything else is the real one), and nothing but
// BenchmarkReleaseWrites uses it.
type releaseDroppingStore struct{ store.Store }

func (s releaseDroppingStore) ReleaseAppend(context.Context, slipway.Release) (int64, error) {
	return 0, nil
}

func (s releaseDroppingStore) InTx(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.InTx(ctx, func(tx store.Tx) error { return fn(releaseDroppingTx{tx}) })
}

// releaseDroppingTx is a transaction of releaseDroppingStore.
type releaseDroppingTx struct{ store.Tx }

func (releaseDroppingTx) ReleaseAppend(context.Context, slipway.Release) (int64, error) {
	return 0, nil
}

// BenchmarkReleaseWrites measures what writing release records adds to a
// deployment: the same deployment (a new commit of a real repository:
// fetch, build, run) on two engines side by side in one run, one with the
// release write and one whose store drops it, alternating which goes first.
// It reports each side's median (with-ms/deploy, without-ms/deploy), the
// time the release write adds (added-ms/deploy) and that as a share of a
// deployment (overhead-%). The deployment is the cheapest the engine runs
// (nothing to build, a one-off that exits at once), so the share is an
// upper bound of what release records add to bench/deploy-overhead.sh's
// deployment (a Go build and a health-checked restart), whose goal is
// under 5%. On both stores.
func BenchmarkReleaseWrites(b *testing.B) {
	for _, es := range engineStores {
		b.Run(es.name, func(b *testing.B) {
			with := newHarnessWith(b, Config{}, true, harnessOptions{store: &es})
			without := newHarnessWith(b, Config{}, true, harnessOptions{store: &es, wrap: func(s store.Store) store.Store {
				return releaseDroppingStore{s}
			}})
			repo := slipwaytest.GitRepo(b, map[string]string{"Procfile": "job: true\n"})
			cfg := mustParse(b, "components:\n  job:\n    component_type: one-off\n    build: {repository: "+repo.Dir+", ref: main}\n    run: {command: job}\n")
			ctx := b.Context()
			deploy := func(h *harness) time.Duration {
				start := time.Now()
				d, err := h.deploys.DeploymentCreate(ctx, "bench", slipway.DeployOptions{Trigger: "cli"})
				if err != nil {
					b.Fatal(err)
				}
				if d = h.waitFinal(b, "bench", d.ID); d.Status != slipway.DeploymentSuccessful {
					b.Fatalf("deployment = %s (%s)", d.Status, d.LongStatus)
				}
				return time.Since(start)
			}
			for _, h := range []*harness{with, without} {
				if _, _, err := h.deploys.ConfigPut(ctx, "bench", cfg); err != nil {
					b.Fatal(err)
				}
				deploy(h) // warm: the first fetch is the whole history
			}
			var tWith, tWithout []time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				repo.Commit(b, map[string]string{"n": fmt.Sprint(i)}, "next")
				b.StartTimer()
				if i%2 == 0 {
					tWith = append(tWith, deploy(with))
					tWithout = append(tWithout, deploy(without))
				} else {
					tWithout = append(tWithout, deploy(without))
					tWith = append(tWith, deploy(with))
				}
			}
			b.StopTimer()
			rs, err := with.db.ReleaseList(ctx, store.ReleaseFilter{Tool: "bench"})
			if err != nil || len(rs) != len(tWith)+1 {
				b.Fatalf("the engine with release writes has %d releases, %v; want %d", len(rs), err, len(tWith)+1)
			}
			if rs, err := without.db.ReleaseList(ctx, store.ReleaseFilter{Tool: "bench"}); err != nil || len(rs) != 0 {
				b.Fatalf("the engine without release writes has %d releases, %v; want none", len(rs), err)
			}
			mw, mo := median(tWith), median(tWithout)
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			b.ReportMetric(ms(mw), "with-ms/deploy")
			b.ReportMetric(ms(mo), "without-ms/deploy")
			b.ReportMetric(ms(mw-mo), "added-ms/deploy")
			b.ReportMetric(100*(float64(mw)/float64(mo)-1), "overhead-%")
		})
	}
}

// median returns the median of ds (0 for none).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkReleaseAppend measures the release write itself, as a step
// does it: the transaction that records a component live, without
// (live-only) and with (live+release) its release record. The difference
// is what BenchmarkReleaseWrites looks for in a whole deployment, too
// small there to stand out of its noise.
func BenchmarkReleaseAppend(b *testing.B) {
	for _, es := range engineStores {
		b.Run(es.name, func(b *testing.B) {
			db, _ := es.open(b)
			ctx := b.Context()
			live := slipway.LiveRun{Tool: "bench", Component: "web", Type: slipway.Continuous, BuildKey: "k", Commit: "c", SpecHash: "s"}
			for _, withRelease := range []bool{false, true} {
				name := map[bool]string{false: "live-only", true: "live+release"}[withRelease]
				b.Run(name, func(b *testing.B) {
					for b.Loop() {
						err := db.InTx(ctx, func(tx store.Tx) error {
							live.AppliedAt = time.Now()
							if err := tx.LiveRunPut(ctx, live); err != nil || !withRelease {
								return err
							}
							_, err := tx.ReleaseAppend(ctx, slipway.Release{
								Tool: "bench", Environment: slipway.DefaultEnvironment, Component: "web", DeploymentID: "d",
								BuildKey: "k", Commit: "c", SpecHash: "s", AppliedAt: live.AppliedAt, Outcome: slipway.ReleaseApplied,
							})
							return err
						})
						if err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
