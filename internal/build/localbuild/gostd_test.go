package localbuild_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/build/localbuild"
	"slipway.dev/slipway/internal/slipwaytest"
)

// TestGoStdCold checks the cold-cache check the demo makes before its
// first build: a missing or empty cache is cold, the one a Go build just
// used is not. The build's log shows the go stack's command of the table.
func TestGoStdCold(t *testing.T) {
	t.Parallel()
	requireTool(t, "go")
	if !localbuild.GoStdCold(t.Context(), filepath.Join(t.TempDir(), "none")) {
		t.Error("a missing cache is not cold")
	}
	if !localbuild.GoStdCold(t.Context(), t.TempDir()) {
		t.Error("an empty cache is not cold")
	}
	if localbuild.GoStdCold(t.Context(), "") {
		t.Error("no shared cache is cold")
	}

	tb := setup(t)
	repo := slipwaytest.GitRepo(t, map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() {}\n",
	})
	req := request(repo, repo.Head(t))
	var log bytes.Buffer
	req.Log = &log
	if _, err := tb.builder.Build(t.Context(), req); err != nil {
		t.Fatalf("Build: %v\n%s", err, log.String())
	}
	if localbuild.GoStdCold(t.Context(), goStdCache()) {
		t.Errorf("the cache a Go build just used (%s) is cold", goStdCache())
	}
	goStack := localbuild.Stacks()[0]
	if want := "$ " + strings.Join(goStack.Steps[0].Command, " ") + "\n"; goStack.Name != "go" || !strings.Contains(log.String(), want) {
		t.Errorf("the build log lacks %q, the go stack's command in Stacks:\n%s", want, log.String())
	}
}
