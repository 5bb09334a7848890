package sqlite_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/sqlite"
)

// openBench opens a fresh database for a benchmark.
func openBench(b *testing.B) *sqlite.DB {
	b.Helper()
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "slipway.db"), sqlite.Options{})
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}

// BenchmarkDeploymentGet reads one deployment by ID from a table of 10,000.
func BenchmarkDeploymentGet(b *testing.B) {
	db := openBench(b)
	ctx := b.Context()
	const n = 10_000
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ids := make([]string, n)
	err := db.InTx(ctx, func(tx store.Tx) error {
		for i := range n {
			created := start.Add(time.Duration(i) * time.Second)
			ids[i] = fmt.Sprintf("%s-%010d", created.Format(slipway.CreationTimeFormat), i)
			err := tx.DeploymentCreate(ctx, slipway.Deployment{
				ID: ids[i], Tool: fmt.Sprintf("tool-%d", i%50), CreatedAt: created, ConfigVersion: 1,
				ToolConfig: []byte(`{"components":{"web":{}}}`), Status: slipway.DeploymentSuccessful,
				UpdatedAt: created, FinishedAt: created,
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("fill: %v", err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i = (i + 7919) % n
		if _, err := db.DeploymentGet(ctx, fmt.Sprintf("tool-%d", i%50), ids[i]); err != nil {
			b.Fatalf("DeploymentGet: %v", err)
		}
	}
}

// BenchmarkStepUpdateTx updates one step in its own write transaction, as
// the runner does when it records a step's result.
func BenchmarkStepUpdateTx(b *testing.B) {
	db := openBench(b)
	ctx := b.Context()
	const id = "20250101-000000-aaaaaaaaaa"
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := db.DeploymentCreate(ctx, slipway.Deployment{
		ID: id, Tool: "tool", CreatedAt: start,
		Status: slipway.DeploymentRunning,
	}); err != nil {
		b.Fatalf("DeploymentCreate: %v", err)
	}
	var steps []slipway.Step
	for i := range 20 {
		steps = append(steps, slipway.Step{
			DeploymentID: id, Key: fmt.Sprintf("run:c%d", i), Kind: slipway.StepRun,
			Component: fmt.Sprintf("c%d", i), Action: slipway.ActionApply, State: slipway.StepPending,
		})
	}
	if err := db.StepsCreate(ctx, steps); err != nil {
		b.Fatalf("StepsCreate: %v", err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		err := db.InTx(ctx, func(tx store.Tx) error {
			_, err := tx.StepUpdate(ctx, store.StepUpdate{
				DeploymentID: id, Key: steps[i%len(steps)].Key, State: slipway.StepRunning,
				Detail: "attempt", Attempt: i, StartedAt: start.Add(time.Duration(i)),
			})
			return err
		})
		if err != nil {
			b.Fatalf("StepUpdate: %v", err)
		}
	}
}
