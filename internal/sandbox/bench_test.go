package sandbox_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"slipway.dev/slipway/internal/sandbox"
)

// BenchmarkStart measures what starting a process costs, until it has
// exited: unconfined (the sandbox off, the baseline) and in the sandbox
// (launcher, cgroup made and removed, bubblewrap, setpriv). The issue's
// goal is ≤ 50 ms a sandboxed start.
func BenchmarkStart(b *testing.B) {
	if _, err := exec.LookPath("bwrap"); err != nil {
		b.Skip("bubblewrap is not installed")
	}
	dir := b.TempDir()
	app := filepath.Join(dir, "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []sandbox.Mode{sandbox.Off, sandbox.Bubblewrap} {
		b.Run(string(mode), func(b *testing.B) {
			sb, err := sandbox.New(b.Context(), sandbox.Config{
				Mode: mode, Dir: filepath.Join(dir, string(mode)), Name: "bench-" + strconv.Itoa(os.Getpid()),
				Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				b.Fatal(err)
			}
			defer sb.Close()
			home := filepath.Join(dir, string(mode)+"-home")
			if err := sb.PrepareDir("bench", home); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				cmd, err := sb.Command(b.Context(), sandbox.Process{
					Tool: "bench", Unit: "start-" + strconv.Itoa(i), Command: "exit 0", Dir: sb.Inside(sandbox.Mount{Source: app, Target: sandbox.AppDir}),
					Mounts: []sandbox.Mount{{Source: app, Target: sandbox.AppDir}}, Home: home,
					Limits: sandbox.Limits{MemoryBytes: 64 << 20, MilliCPU: 500},
				})
				if err != nil {
					b.Fatal(err)
				}
				if err := cmd.Run(); err != nil {
					b.Fatal(err)
				}
				cmd.Cgroup.Remove()
			}
		})
	}
}

// BenchmarkHoldPorts measures what the network's bookkeeping adds to a
// component's start: the tool's replicas move to a new port (the old one
// is released, deleted later in a batch). It reports the nft processes a
// call costs (none: the change is a netlink batch, and the table is listed
// with nft only when someone else changed the host's ruleset since) and
// the netlink batches (one, and the delayed deletions).
func BenchmarkHoldPorts(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("network isolation needs root")
	}
	for _, bin := range []string{"bwrap", "nft"} {
		if _, err := exec.LookPath(bin); err != nil {
			b.Skipf("%s is not installed", bin)
		}
	}
	sb, err := sandbox.New(b.Context(), sandbox.Config{
		Mode: sandbox.Bubblewrap, Dir: filepath.Join(b.TempDir(), "sandbox"), Name: "bench-" + strconv.Itoa(os.Getpid()),
		UIDBase: 1_900_000_000, UIDCount: 1000, Limits: "none", Network: sandbox.NetworkIsolated,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close()
	defer func() { _ = sb.HoldPorts(context.Background(), "bench", "web", nil) }()
	b.ResetTimer()
	runs, changes := sb.NftRuns(), sb.NftChanges()
	for i := range b.N {
		if err := sb.HoldPorts(b.Context(), "bench", "web", []int{20000 + i%2}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(sb.NftRuns()-runs)/float64(b.N), "nft-runs/op")
	b.ReportMetric(float64(sb.NftChanges()-changes-(sb.NftRuns()-runs))/float64(b.N), "netlink-batches/op")
}
