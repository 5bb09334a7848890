package localbuild_test

import (
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"slipway.dev/slipway/internal/build/localbuild"
	"slipway.dev/slipway/internal/git"
	"slipway.dev/slipway/internal/sandbox"
	"slipway.dev/slipway/internal/slipwaytest"
)

// BenchmarkBuild measures one build of a new commit of a stdlib-only Go web
// app (checkout, go build with a warm cache, seal), unconfined and in the
// sandbox with the server's default build limits, in the same run: the
// sandbox's share of a deploy's build step.
func BenchmarkBuild(b *testing.B) {
	for _, bin := range []string{"go", "bwrap"} {
		if _, err := exec.LookPath(bin); err != nil {
			b.Skipf("%s is not installed", bin)
		}
	}
	for _, mode := range []sandbox.Mode{sandbox.Off, sandbox.Bubblewrap} {
		b.Run(string(mode), func(b *testing.B) {
			g, err := git.New(git.Config{CacheDir: b.TempDir(), AllowLocal: true})
			if err != nil {
				b.Fatal(err)
			}
			dir := b.TempDir()
			sb, err := sandbox.New(b.Context(), sandbox.Config{
				Mode: mode, Dir: filepath.Join(dir, "sandbox"), Name: "bench-build-" + string(mode),
				Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				b.Fatal(err)
			}
			defer sb.Close()
			builder, err := localbuild.New(localbuild.Config{
				Dir: dir, GoStdCache: goStdCache(), Sandbox: sb,
				Limits: sandbox.Limits{MemoryBytes: 4 << 30, Pids: 4096},
			}, g)
			if err != nil {
				b.Fatal(err)
			}
			app := func(version string) map[string]string {
				return map[string]string{
					"go.mod": "module example.com/bench\n\ngo 1.22\n",
					"main.go": "package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n\t\"os\"\n)\n\nvar version = \"" + version + "\"\n\n" +
						"func main() {\n\thttp.HandleFunc(\"/healthz\", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, \"ok\", version) })\n" +
						"\tfmt.Println(http.ListenAndServe(\"127.0.0.1:\"+os.Getenv(\"PORT\"), nil))\n}\n",
					"Procfile": "web: .bin/app\n",
				}
			}
			repo := slipwaytest.GitRepo(b, app("warm-up"))
			// Warm the tool's build cache, as a deploy before the measured
			// one would.
			if _, err := builder.Build(b.Context(), request(repo, repo.Head(b))); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				commit := repo.Commit(b, app(strconv.Itoa(i)), "v"+strconv.Itoa(i))
				b.StartTimer()
				if _, err := builder.Build(b.Context(), request(repo, commit)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
