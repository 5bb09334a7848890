package sandbox_test

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/sandbox"
)

// Ensure a process that may ask finds the slipway binary first on its
// PATH and the API's CA at $SLIPWAY_CA_FILE, bound read-only from where
// they lie on the host (a 0700 temporary directory, as `go run` leaves
// its binary; a file only root may read, copied for the tool's uid), and
// that a process that may not ask gets neither.
func TestSandbox_AskFiles(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed (make deps installs it)")
	}
	host := t.TempDir() // 0700, like go run's build directory
	bin := filepath.Join(host, "exe", "slipway")
	if err := os.MkdirAll(filepath.Dir(bin), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho \"slipway here: $*\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(host, "ca.crt")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sb, err := sandbox.New(t.Context(), sandbox.Config{
		Dir: filepath.Join(dir, "sandbox"), Name: testName(t), Logger: slog.New(slog.DiscardHandler),
		Ask: sandbox.AskFiles{Binary: bin, CA: ca},
	})
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	t.Cleanup(sb.Close)
	app, home := toolDirs(t, sb, "asker")
	script := `command -v slipway; slipway ask now; echo "ca=$SLIPWAY_CA_FILE"; head -c 27 "$SLIPWAY_CA_FILE"; echo; touch /run/slipway/bin/slipway 2>/dev/null && echo WRITABLE; true`
	out, err := run(t, sb, sandbox.Process{
		Tool: "asker", Command: script, Dir: sandbox.AppDir, Home: home, Ask: true,
		Env:    map[string]string{"PATH": sb.Path(os.Getenv("PATH"))},
		Mounts: []sandbox.Mount{{Source: app, Target: sandbox.AppDir}},
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{sandbox.AskBinDir + "/slipway\n", "slipway here: ask now\n", "ca=" + sandbox.AskCAFile + "\n", "-----BEGIN CERTIFICATE-----\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "WRITABLE") {
		t.Errorf("the slipway binary is writable inside:\n%s", out)
	}

	out, err = run(t, sb, sandbox.Process{
		Tool: "asker", Command: `command -v slipway || echo none; echo "ca=$SLIPWAY_CA_FILE"; ls /run/slipway 2>&1 || true`, Dir: sandbox.AppDir, Home: home,
		Env:    map[string]string{"PATH": sb.Path(os.Getenv("PATH"))},
		Mounts: []sandbox.Mount{{Source: app, Target: sandbox.AppDir}},
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "none\nca=\n") || strings.Contains(out, "slipway\n") {
		t.Errorf("a process that may not ask sees the ask files:\n%s", out)
	}
}
