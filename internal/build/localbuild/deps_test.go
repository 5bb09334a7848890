package localbuild_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/sandbox"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

// Ensure a Python build whose requirements.txt did not change copies the
// .venv of the tool's previous build instead of making it (the venv works
// at the new artifact's path, unconfined and sandboxed), and that a
// changed requirements.txt, a tampered source artifact or a source built
// with a custom step is never reused.
func TestBuilder_ReusesDependencies(t *testing.T) {
	t.Parallel()
	requireTool(t, "python3")
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) *testBundle
	}{
		{"unconfined", setup},
		{"sandboxed", func(t *testing.T) *testBundle { return sandboxed(t, sandbox.Limits{}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := tc.setup(t)
			repo := slipwaytest.GitRepo(t, map[string]string{
				"requirements.txt": "# the standard library is enough\n",
				"app.py":           "print('one')\n",
			})
			buildLog := func(commit string) (slipway.Artifact, string) {
				t.Helper()
				req := request(repo, commit)
				var log bytes.Buffer
				req.Log = &log
				a, err := tb.builder.Build(t.Context(), req)
				if err != nil {
					t.Fatalf("build %s: %v\n%s", commit, err, log.String())
				}
				return a, log.String()
			}
			first, log := buildLog(repo.Head(t))
			if !strings.Contains(log, "$ python3 -m venv") || strings.Contains(log, "reusing") {
				t.Fatalf("first build did not make its venv:\n%s", log)
			}

			second, log := buildLog(repo.Commit(t, map[string]string{"app.py": "print('two')\n"}, "two"))
			if !strings.Contains(log, "==> reusing .venv of build "+first.Key) || strings.Contains(log, "$ python3 -m venv") {
				t.Fatalf("second build did not reuse the first's venv:\n%s", log)
			}
			cfg, err := os.ReadFile(filepath.Join(second.Dir, ".venv", "pyvenv.cfg"))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(cfg, []byte(first.Dir)) {
				t.Errorf("the reused venv still names the first build's directory:\n%s", cfg)
			}
			if tc.name == "unconfined" {
				got := output(t, second.Dir, ".venv/bin/python -c 'import sys; print(sys.prefix)' && .venv/bin/python app.py")
				if want := filepath.Join(second.Dir, ".venv") + "\ntwo"; got != want {
					t.Errorf("the reused venv runs as %q, want %q", got, want)
				}
			}

			// A changed requirements.txt makes its own venv.
			third, log := buildLog(repo.Commit(t, map[string]string{"requirements.txt": "# still nothing\n"}, "three"))
			if strings.Contains(log, "reusing") || !strings.Contains(log, "$ python3 -m venv") {
				t.Fatalf("a changed requirements.txt reused a venv:\n%s", log)
			}
			_ = third

			// Back to the first requirements: the newest source (second) was
			// tampered with, so it is refused and the build makes its own.
			if err := os.WriteFile(filepath.Join(second.Dir, ".venv", "pyvenv.cfg"), append(cfg, "# tampered\n"...), 0o644); err != nil {
				t.Fatal(err)
			}
			_, log = buildLog(repo.Commit(t, map[string]string{"requirements.txt": "# the standard library is enough\n", "app.py": "print('four')\n"}, "four"))
			if !strings.Contains(log, "==> not reusing .venv of build "+second.Key) || !strings.Contains(log, "$ python3 -m venv") {
				t.Fatalf("a tampered source was not refused:\n%s", log)
			}
		})
	}
}

// Ensure a build that ran a custom step is never the source of a reused
// dependency directory: the step may have changed it.
func TestBuilder_ReuseSkipsCustomSteps(t *testing.T) {
	t.Parallel()
	requireTool(t, "python3")
	tb := setup(t)
	repo := slipwaytest.GitRepo(t, map[string]string{
		"requirements.txt": "\n",
		"app.py":           "print(1)\n",
		".slipway/build":   "#!/bin/sh\necho extra > .venv/extra\n",
	})
	first, err := tb.builder.Build(t.Context(), request(repo, repo.Head(t)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(first.Dir, ".venv", "extra")); err != nil {
		t.Fatalf("the custom step did not run: %v", err)
	}
	repo.Git(t, "rm", "-q", ".slipway/build")
	repo.Git(t, "commit", "-q", "-m", "no step")
	req := request(repo, repo.Head(t))
	var log bytes.Buffer
	req.Log = &log
	a, err := tb.builder.Build(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "reusing") {
		t.Errorf("a custom step's venv was reused:\n%s", log.String())
	}
	if _, err := os.Stat(filepath.Join(a.Dir, ".venv", "extra")); err == nil {
		t.Error("the custom step's file reached a later build")
	}
}
