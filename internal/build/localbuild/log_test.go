package localbuild_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/build/localbuild"
	"slipway.dev/slipway/internal/logfile"
	"slipway.dev/slipway/internal/slipwaytest"
)

// Ensure a build log is rotated by size (at most LogMaxFiles files, the
// end of the output kept whole) and that Remove deletes the rotated files
// too.
func TestBuilder_LogRotated(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b, err := localbuild.New(localbuild.Config{Dir: tb.dir, GoStdCache: goStdCache(), LogMaxSize: 4096, LogMaxFiles: 2}, tb.git)
	if err != nil {
		t.Fatal(err)
	}
	repo := slipwaytest.GitRepo(t, map[string]string{
		"index.html":     "hi\n",
		".slipway/build": "#!/bin/sh\ni=0\nwhile [ $i -lt 2000 ]; do echo \"build line $i\"; i=$((i+1)); done\n",
	})
	req := request(repo, repo.Head(t))
	if _, err := b.Build(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(tb.dir, "builds", req.Tool, req.Key+".log") // the package doc's layout
	for _, p := range []string{log, logfile.Rotated(log, 1)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if fi.Size() > 4096 {
			t.Errorf("%s has %d bytes, past the 4096-byte limit", p, fi.Size())
		}
	}
	if _, err := os.Stat(logfile.Rotated(log, 2)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a third file is kept with LogMaxFiles 2: %v", err)
	}
	all := string(readLog(t, b, req.Tool, req.Key))
	if !strings.Contains(all, "build line 1999\n") || !strings.Contains(all, "==> built ") {
		t.Errorf("the rotated log lacks the end of the build:\n%s", all)
	}
	if err := b.Remove(t.Context(), req.Tool, req.Key); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{log, logfile.Rotated(log, 1)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after Remove: %v, want it gone", p, err)
		}
	}
}
