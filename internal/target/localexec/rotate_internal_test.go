package localexec

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

// BenchmarkRotatePass measures one check of the logs of 10,000 tools with
// a running continuous component each (one stat per log, none past the
// limit): the cost of the rotation pass every LogCheckInterval.
func BenchmarkRotatePass(b *testing.B) {
	const tools = 10000
	dir := b.TempDir()
	d, err := New(Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	defer d.cancel()
	for i := range tools {
		tool := fmt.Sprintf("tool%05d", i)
		c := d.newComp(tool, "web")
		c.spec = target.Spec{Tool: tool, Component: slipway.Component{Name: "web", Type: slipway.Continuous}}
		c.active = true
		c.replicas = []*replica{{index: 0}}
		d.comps[compKey{tool, "web"}] = c
		if err := os.MkdirAll(d.compDir(tool, "web"), 0o700); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d.compDir(tool, "web"), "0.log"), []byte("a line\n"), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if checked, rotated := d.rotatePass(); checked != tools || rotated != 0 {
			b.Fatalf("checked %d, rotated %d", checked, rotated)
		}
	}
}
