package localexec_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target/localexec"
	"slipway.dev/slipway/internal/target/targettest"
)

// Ensure each scheduled run gets the ask environment of its own run (a
// scheduled run belongs to no deployment step, so the target asks for
// it), and that the token is written nowhere in the driver's files.
func TestDriver_ScheduledRunMayAsk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var (
		mu   sync.Mutex
		runs []string
	)
	const secret = "slask_secret-of-the-run"
	d, err := localexec.New(localexec.Config{
		Dir: dir, Logger: slog.New(slog.DiscardHandler), StopTimeout: 3 * time.Second,
		AskEnv: func(tool, component, run string) map[string]string {
			mu.Lock()
			defer mu.Unlock()
			runs = append(runs, tool+"/"+component+"/"+run)
			return map[string]string{slipway.EnvAskURL: "http://127.0.0.1:1", slipway.EnvAskToken: secret + "-" + run}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
	spec := targettest.Spec("tool1", "nightly", slipway.Scheduled, slipway.RunSpec{
		Command: `echo "url=$SLIPWAY_URL token=${SLIPWAY_ASK_TOKEN:+given}"`, Schedule: "@daily",
	}, makeArtifact(t, nil))
	targettest.MustApply(t, d, spec)
	d.TriggerScheduled("tool1", "nightly")
	targettest.WaitLogs(t, d, "tool1", "nightly", "url=http://127.0.0.1:1 token=given")
	mu.Lock()
	got := append([]string(nil), runs...)
	mu.Unlock()
	if len(got) != 1 || !strings.HasPrefix(got[0], "tool1/nightly/") {
		t.Fatalf("AskEnv calls = %q, want one for tool1/nightly/<run>", got)
	}
	err = filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(b), secret) {
			t.Errorf("%s holds the ask token", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
