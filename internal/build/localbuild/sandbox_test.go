package localbuild_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/build/localbuild"
	"slipway.dev/slipway/internal/git"
	"slipway.dev/slipway/internal/sandbox"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

// sandboxed returns a builder whose commands run in a real sandbox with
// limits, or skips when bubblewrap is missing.
func sandboxed(t *testing.T, limits sandbox.Limits) *testBundle {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed (make deps installs it)")
	}
	g, err := git.New(git.Config{CacheDir: t.TempDir(), AllowLocal: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sb, err := sandbox.New(t.Context(), sandbox.Config{Dir: filepath.Join(dir, "sandbox"), Name: "localbuild-" + filepath.Base(filepath.Dir(dir)) + "-" + filepath.Base(dir), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	b, err := localbuild.New(localbuild.Config{Dir: dir, GoStdCache: goStdCache(), Sandbox: sb, Limits: limits}, g)
	if err != nil {
		t.Fatal(err)
	}
	return &testBundle{dir: dir, git: g, builder: b}
}

// Ensure sandboxed builds of each stack make artifacts that work at /app,
// where runs see them: the Python venv's paths, the Go binary.
func TestBuilder_Sandboxed(t *testing.T) {
	t.Parallel()
	tb := sandboxed(t, sandbox.Limits{})
	tests := []struct {
		name  string
		files map[string]string
		check func(t *testing.T, a slipway.Artifact)
	}{
		{"Python", map[string]string{"requirements.txt": "# none\n", "app.py": "print('hi')\n"}, func(t *testing.T, a slipway.Artifact) {
			cfg, err := os.ReadFile(filepath.Join(a.Dir, ".venv", "bin", "activate"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(cfg, []byte("/app/.venv")) || bytes.Contains(cfg, []byte(tb.dir)) {
				t.Errorf("the venv does not name /app/.venv:\n%s", cfg)
			}
		}},
		{"Go", map[string]string{"go.mod": "module app\n\ngo 1.22\n", "main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"built in a sandbox\") }\n"}, func(t *testing.T, a slipway.Artifact) {
			if got := output(t, a.Dir, ".bin/app"); got != "built in a sandbox" {
				t.Errorf(".bin/app printed %q", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.name == "Go" {
				requireTool(t, "go")
			}
			repo := slipwaytest.GitRepo(t, tt.files)
			req := request(repo, repo.Head(t))
			var log bytes.Buffer
			req.Log = &log
			a, err := tb.builder.Build(t.Context(), req)
			if err != nil {
				t.Fatalf("Build: %v\n%s", err, log.String())
			}
			tt.check(t, a)
		})
	}
}

// Ensure a build step runs as its tool in the sandbox: it cannot see the
// builder's directory (other tools' caches and artifacts) or write outside
// its build directory and cache.
func TestBuilder_SandboxedStepConfined(t *testing.T) {
	t.Parallel()
	tb := sandboxed(t, sandbox.Limits{})
	victimRepo := slipwaytest.GitRepo(t, map[string]string{"index.html": "other\n"})
	other := request(victimRepo, victimRepo.Head(t))
	other.Tool = "victim"
	victim, err := tb.builder.Build(t.Context(), other)
	if err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\n" +
		"id -un\n" +
		"test -e " + tb.dir + " && echo 'LEAK builder dir' || echo 'denied builder dir'\n" +
		"test -e " + victim.Dir + " && echo 'LEAK victim artifact' || echo 'denied victim artifact'\n" +
		"echo x > /usr/slipway-test 2>/dev/null && echo 'LEAK /usr writable' || echo 'denied /usr'\n" +
		"echo ok > \"$HOME/written\" && echo 'cache writable'\n" +
		"echo ok > built.txt && echo 'app writable'\n"
	repo := slipwaytest.GitRepo(t, map[string]string{"index.html": "hi\n", ".slipway/build": script})
	req := request(repo, repo.Head(t))
	req.Tool = "attacker"
	var log bytes.Buffer
	req.Log = &log
	if _, err := tb.builder.Build(t.Context(), req); err != nil {
		t.Fatalf("Build: %v\n%s", err, log.String())
	}
	for _, want := range []string{"tools.attacker", "denied builder dir", "denied victim artifact", "denied /usr", "cache writable", "app writable"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	if strings.Contains(log.String(), "LEAK") {
		t.Errorf("the build step got out:\n%s", log.String())
	}
}

// Ensure a build over its memory limit fails saying so.
func TestBuilder_SandboxedOutOfMemory(t *testing.T) {
	t.Parallel()
	requireTool(t, "python3")
	tb := sandboxed(t, sandbox.Limits{MemoryBytes: 64 << 20})
	if !hasCgroups(t) {
		t.Skip("no cgroup limits on this host")
	}
	repo := slipwaytest.GitRepo(t, map[string]string{
		"index.html":     "hi\n",
		".slipway/build": "#!/bin/sh\npython3 -c \"b = bytearray(b'x' * (300 << 20))\"\n",
	})
	_, err := tb.builder.Build(t.Context(), request(repo, repo.Head(t)))
	if err == nil || !strings.Contains(err.Error(), "out of memory: limit 64Mi") {
		t.Fatalf("Build = %v, want out of memory: limit 64Mi", err)
	}
}

func hasCgroups(t *testing.T) bool {
	t.Helper()
	sb, err := sandbox.New(t.Context(), sandbox.Config{Dir: t.TempDir(), Name: "probe-" + strings.ReplaceAll(t.Name(), "/", "-"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return false
	}
	defer sb.Close()
	return strings.HasPrefix(sb.LimitsBackend(), "cgroup")
}

// Ensure an artifact changed after its build fails its digest check, is
// not used, and is built again with the reason in the log; one only touched
// (same content) is still used.
func TestBuilder_DigestCheck(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	repo, counter := counterRepo(t)
	req := request(repo, repo.Head(t))
	art, err := tb.builder.Build(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	index := filepath.Join(art.Dir, "index.html")
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(index, later, later); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := tb.builder.Lookup(t.Context(), "tool", req.Key); !ok || err != nil || got.Digest != art.Digest {
		t.Fatalf("Lookup after a touch = %v, %v, %v; want the same artifact", got.Digest, ok, err)
	}

	if err := os.WriteFile(index, []byte("tampered\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, ok, err := tb.builder.Lookup(t.Context(), "tool", req.Key)
	if ok || !errors.Is(err, build.ErrCorrupt) || !strings.Contains(err.Error(), "recorded when it was built") {
		t.Fatalf("Lookup of a tampered artifact = %v, %v; want ErrCorrupt", ok, err)
	}
	var log bytes.Buffer
	req.Log = &log
	again, err := tb.builder.Build(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if builds(t, counter) != 2 || !strings.Contains(log.String(), "rebuilding: ") {
		t.Errorf("tampered artifact not rebuilt (%d builds):\n%s", builds(t, counter), log.String())
	}
	if b, _ := os.ReadFile(filepath.Join(again.Dir, "index.html")); string(b) != "hi\n" {
		t.Errorf("rebuilt artifact: index.html %q", b)
	}
	if _, ok, err := tb.builder.Lookup(t.Context(), "tool", req.Key); !ok || err != nil {
		t.Errorf("Lookup of the rebuilt artifact = %v, %v", ok, err)
	}
}
