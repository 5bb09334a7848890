package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The end-to-end scripts and the crash matrix run `slipway` as real child
// processes: servers that are killed with SIGKILL, CLIs that print. They
// run the binary users run, built once per test process without the race
// detector: under -race every one of those processes (a few hundred CLI
// calls and some sixty servers) would be instrumented, which cost make
// test minutes of CPU on two cores while the race detector already checks
// the same code in-process in internal/server, internal/deploy and the
// store suites. SLIPWAY_SCRIPT_BINARY=test runs the race-instrumented test
// binary instead (make test/scripts-race).

var (
	slipwayBinOnce sync.Once
	slipwayBinDir  string
	errSlipwayBin  error
)

// slipwayBinary returns a directory holding an executable "slipway": a
// fresh build of this package, or the test binary itself (which runs
// cli.Main when called "slipway", see TestMain).
func slipwayBinary(t *testing.T) string {
	t.Helper()
	slipwayBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "slipway-bin-") //nolint:usetesting // shared by every test of the process; removed by removeBinary
		if err != nil {
			errSlipwayBin = err
			return
		}
		slipwayBinDir = dir
		bin := filepath.Join(dir, "slipway")
		if os.Getenv("SLIPWAY_SCRIPT_BINARY") == "test" {
			self, err := os.Executable()
			if err == nil {
				err = os.Symlink(self, bin)
			}
			errSlipwayBin = err
			return
		}
		cmd := exec.Command("go", "build", "-o", bin, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			errSlipwayBin = &buildError{err: err, out: out}
		}
	})
	if errSlipwayBin != nil {
		t.Fatalf("slipway binary for the scripts: %v", errSlipwayBin)
	}
	return slipwayBinDir
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string {
	return "go build ./cmd/slipway: " + e.err.Error() + "\n" + string(e.out)
}

func (e *buildError) Unwrap() error { return e.err }

// removeBinary removes the built binary's directory once the tests ran.
type removeBinary struct{ m interface{ Run() int } }

func (r removeBinary) Run() int {
	code := r.m.Run()
	if slipwayBinDir != "" {
		_ = os.RemoveAll(slipwayBinDir)
	}
	return code
}
