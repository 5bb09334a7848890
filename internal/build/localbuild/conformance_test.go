package localbuild_test

import (
	"log/slog"
	"os/exec"
	"path/filepath"
	"testing"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/build/buildtest"
	"slipway.dev/slipway/internal/build/localbuild"
	"slipway.dev/slipway/internal/git"
	"slipway.dev/slipway/internal/sandbox"
)

// opener returns the suite's Opener for local builders on one directory,
// their commands in sb when it returns one (nil: unconfined).
func opener(sb func(t *testing.T, dir string) *sandbox.Sandbox) buildtest.Opener {
	return func(t *testing.T) func() build.Builder {
		t.Helper()
		g, err := git.New(git.Config{CacheDir: t.TempDir(), AllowLocal: true})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		cfg := localbuild.Config{Dir: dir, GoStdCache: goStdCache()}
		if sb != nil {
			cfg.Sandbox = sb(t, dir)
		}
		return func() build.Builder {
			b, err := localbuild.New(cfg, g)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func TestBuilder_Conformance(t *testing.T) {
	t.Parallel()
	buildtest.Run(t, opener(nil))
}

// The same suite with every build command in a real sandbox.
func TestBuilder_Conformance_Sandboxed(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed (make deps installs it)")
	}
	buildtest.Run(t, opener(func(t *testing.T, dir string) *sandbox.Sandbox {
		t.Helper()
		sb, err := sandbox.New(t.Context(), sandbox.Config{
			Dir: filepath.Join(dir, "sandbox"), Name: "buildtest-" + filepath.Base(filepath.Dir(dir)) + "-" + filepath.Base(dir),
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sb.Close)
		return sb
	}))
}
