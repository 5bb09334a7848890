package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// Scale is the size of an installation that [Seed] makes.
type Scale struct {
	Tools      int // tools, each with a config and a live run per component
	Components int // components per tool
	// Deployments is the number of deployments in all, spread evenly over
	// the tools, each final.
	Deployments int
	// StepTools is how many tools (the first ones) have their
	// deployments' plans recorded: a build and a run step per component.
	// The others' deployments have no steps, which keeps seeding a
	// million deployments to minutes; the rows a tool's reads touch are
	// the same.
	StepTools int
}

// SeedTool names tool i of a seeded store.
func SeedTool(i int) string { return fmt.Sprintf("tool-%05d", i) }

// Seed fills s (empty) to scale, in transactions of a few thousand rows,
// for the benchmarks that ask how reads hold up in a big installation.
func Seed(tb testing.TB, s store.Store, sc Scale) {
	tb.Helper()
	ctx := tb.Context()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	comps := map[string]any{}
	for c := range sc.Components {
		comps[fmt.Sprintf("c%d", c)] = map[string]any{
			"component_type": "continuous",
			"build":          map[string]any{"repository": "https://example.org/app.git", "ref": "main"},
			"run":            map[string]any{"command": "web", "port": 8000},
		}
	}
	raw, err := json.Marshal(map[string]any{"config_version": "v1beta1", "components": comps})
	if err != nil {
		tb.Fatal(err)
	}
	names := make([]string, 0, len(comps))
	for n := range comps {
		names = append(names, n)
	}
	slices.Sort(names)

	const batch = 2000
	perTool := sc.Deployments / max(sc.Tools, 1)
	for lo := 0; lo < sc.Tools; lo += batch / max(perTool, 1) {
		hi := min(sc.Tools, lo+max(batch/max(perTool, 1), 1))
		err := s.InTx(ctx, func(tx store.Tx) error {
			for i := lo; i < hi; i++ {
				tool := SeedTool(i)
				if err := tx.ToolEnsure(ctx, tool, t0); err != nil {
					return err
				}
				if _, err := tx.ConfigCreate(ctx, tool, raw, t0); err != nil {
					return err
				}
				for _, c := range names {
					r := slipway.LiveRun{
						Tool: tool, Component: c, Type: slipway.Continuous, SpecHash: "spec", BuildKey: "key-" + c,
						Artifact: "/srv/builds/" + c, DeploymentID: "d", AppliedAt: t0,
						Spec: slipway.Component{Name: c, Type: slipway.Continuous, Run: slipway.RunSpec{Command: "web", Port: 8000}},
					}
					if err := tx.LiveRunPut(ctx, r); err != nil {
						return err
					}
				}
				for j := range perTool {
					at := t0.Add(time.Duration(j) * time.Minute)
					d := slipway.Deployment{
						ID: fmt.Sprintf("20250101-%06d-%010d", j, i), Tool: tool, CreatedAt: at,
						ConfigVersion: 1, ToolConfig: raw, Status: slipway.DeploymentSuccessful, LongStatus: "All components deployed",
						Trigger: "api", UpdatedAt: at, FinishedAt: at.Add(time.Minute),
					}
					if err := tx.DeploymentCreate(ctx, d); err != nil {
						return err
					}
					if i >= sc.StepTools {
						continue
					}
					steps := make([]slipway.Step, 0, 2*len(names))
					for _, c := range names {
						steps = append(steps,
							slipway.Step{
								DeploymentID: d.ID, Key: "build:" + c, Kind: slipway.StepBuild, Component: c, Action: slipway.ActionReuse,
								State: slipway.StepUnchanged, BuildKey: "key-" + c, Commit: "9b0d44e",
							},
							slipway.Step{
								DeploymentID: d.ID, Key: "run:" + c, Kind: slipway.StepRun, Component: c, Action: slipway.ActionApply,
								Needs: []string{"build:" + c}, State: slipway.StepDone, Attempt: 1, BuildKey: "key-" + c, StartedAt: at, FinishedAt: at.Add(time.Second),
							})
					}
					if err := tx.StepsCreate(ctx, steps); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("seed tools %d…%d: %v", lo, hi, err)
		}
	}
	// What PostgreSQL's autovacuum has long done in a real installation
	// (and SQLite keeps in sqlite_stat1): the planner's statistics, and on
	// PostgreSQL the visibility map, so that autovacuum does not start on
	// the fresh rows in the middle of the measurements. SQLite has no
	// VACUUM ANALYZE: it answers an error, and ANALYZE alone is its part.
	// A checkpoint then writes the seeding's dirty pages out now rather
	// than during the measurements.
	if _, err := s.WriteDB().ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
		if _, err := s.WriteDB().ExecContext(ctx, "ANALYZE"); err != nil {
			tb.Fatalf("analyze: %v", err)
		}
	} else if _, err := s.WriteDB().ExecContext(ctx, "CHECKPOINT"); err != nil {
		tb.Fatalf("checkpoint: %v", err)
	}
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of ds, which it
// sorts.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(float64(len(ds))*p/100+0.5) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}
