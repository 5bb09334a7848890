package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/examples"
	"slipway.dev/slipway/internal/sandbox"
	"slipway.dev/slipway/internal/server"
)

// demoTool is the name of the tool the demo deploys.
const demoTool = "demo"

func newDemoCmd(e *env) *cobra.Command {
	var (
		f    serverFlags
		keep string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Deploy a sample tool on an embedded server, end to end",
		Long: `Start an embedded Slipway (SQLite, local builder, local processes) in a fresh
data directory, turn the sample app shipped in the binary into a git
repository, upload its tool config and deploy it with live progress. Then
print where the published web component answers and keep serving until
interrupted; interrupting stops every process the demo started.

With --keep DIR the demo is made in DIR and stays there. Run it again with
the same DIR to go on with it: the app repository DIR/demo-app as you left
it (commit a change there and the demo deploys it) and the server's data
from the last run. Remove DIR to start afresh.

The first build on a host compiles the Go standard library for builds,
which takes about a minute; the demo says so when it does.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			dir := keep
			if dir == "" {
				var err error
				if dir, err = os.MkdirTemp("", "slipway-demo-"); err != nil {
					return fmt.Errorf("demo: %w", err)
				}
				defer os.RemoveAll(dir) // best effort: a temporary directory
			} else if abs, err := filepath.Abs(dir); err == nil {
				dir = abs // the config names the repository by its absolute file:// URL
			}
			if err := ensurePackage(ctx, e, "git", "git"); err != nil {
				return fmt.Errorf("demo: %w; run the demo again once it is installed", err)
			}
			repo := filepath.Join(dir, "demo-app")
			dataDir := filepath.Join(dir, "data")
			reused, err := prepareDemoRepo(ctx, repo)
			if err != nil {
				return err
			}
			if keep != "" {
				printKeptDemo(ctx, e, dir, reused)
			}
			cfg, err := f.config(e, dataDir, "127.0.0.1:0", "127.0.0.1:0")
			if err != nil {
				return err
			}
			cfg.AllowLocalRepos = true
			cfg.Logger = e.serverLogger()
			if !cfg.Unsandboxed {
				// Best effort: without bubblewrap the demo runs unsandboxed,
				// without nftables tools share the network.
				_ = ensurePackage(ctx, e, "bwrap", "bubblewrap")
				_ = ensurePackage(ctx, e, "nft", "nftables")
			}
			srv, err := startDemoServer(ctx, e, cfg)
			if err != nil {
				return err
			}
			defer stopServer(srv) //nolint:errcheck // reported by the explicit stop below
			fmt.Fprintf(e.stdout, "Slipway demo: server at %s, data in %s\nSandbox: %s\n", srv.URL(), dataDir, srv.Sandbox())
			if srv.GoStdCold(ctx) {
				// The sample app is Go: its build compiles the standard
				// library first, once per host, silently for a minute.
				fmt.Fprintln(e.stdout, "Compiling the Go standard library for builds (first run only, ~1 min)…")
			}

			toolYAML, err := fs.ReadFile(examples.Demo, "demo/tool.yaml")
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			configPath := filepath.Join(dir, "tool.yaml")
			toolYAML = bytes.ReplaceAll(toolYAML, []byte("{{REPOSITORY}}"), []byte("file://"+repo))
			if err := os.WriteFile(configPath, toolYAML, 0o644); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			e.flags.url, e.flags.token, e.flags.tool, e.flags.data = srv.URL(), srv.AdminToken(), demoTool, dataDir
			deploy := newComponentsDeployCmd(e)
			deploy.SetArgs([]string{configPath})
			deploy.SetOut(e.stdout)
			deploy.SetErr(e.stderr)
			// Errors are reported here, as Main would, without a usage.
			deploy.SilenceErrors, deploy.SilenceUsage = true, true
			deployErr := deploy.ExecuteContext(ctx)
			switch {
			case ctx.Err() != nil:
				// Interrupted while deploying (a first build can take a
				// minute): stop right away.
			case deployErr == nil:
				fmt.Fprintf(e.stdout, "\nThe web component answers at %s\n", srv.ProxyURL(demoTool))
			default:
				e.report(deployErr)
				fmt.Fprintln(e.stdout, "\nThe demo deployment did not succeed; the server keeps running so you can look.")
			}
			if ctx.Err() == nil {
				fmt.Fprintf(e.stdout, "API: %s (admin token in %s)\n", srv.URL(), filepath.Join(dataDir, server.AdminTokenFile))
				fmt.Fprintf(e.stdout, "Web UI: %s/ui/ (sign in with that token)\n", srv.URL())
				fmt.Fprintf(e.stdout, "Try:  SLIPWAY_DATA=%s go run ./cmd/slipway components deployment list --tool %s\n", dataDir, demoTool)
				fmt.Fprintln(e.stdout, "Press Ctrl-C to stop.")
				<-ctx.Done()
			}
			fmt.Fprintln(e.stdout, "\nStopping the demo…")
			if err := stopServer(srv); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "Stopped; every process the demo started has ended.")
			if deployErr != nil {
				return &exitError{1}
			}
			return nil
		},
	}
	f.register(cmd, "127.0.0.1:0", "127.0.0.1:0")
	cmd.Flags().StringVar(&keep, "keep", "", "use and keep this directory instead of a temporary one; run the demo again with it to reuse the demo kept there")
	setServerHelp(cmd, map[string]globalFlagHelp{
		"verbose": {usage: "log at info level, not only warnings and errors, and print each HTTP request"},
	})
	return cmd
}

// prepareDemoRepo makes repo the sample app's git repository, unless an
// earlier `slipway demo --keep` left one there (with a commit), which is
// then deployed as it is; reused says which.
func prepareDemoRepo(ctx context.Context, repo string) (reused bool, err error) {
	// Its own .git: a directory inside another repository is not one.
	if _, err := os.Stat(filepath.Join(repo, ".git")); err == nil && gitOutput(ctx, repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}") != "" {
		return true, nil
	}
	return false, materializeDemo(ctx, repo)
}

// printKeptDemo says whether the demo in the kept directory dir starts
// afresh or goes on from an earlier run.
func printKeptDemo(ctx context.Context, e *env, dir string, reused bool) {
	if !reused {
		fmt.Fprintf(e.stdout, "New demo in %s: run the same command again to reuse it.\n", dir)
		return
	}
	fmt.Fprintf(e.stdout, "Reusing the demo kept in %s: its app (demo-app, deployed at its last commit) and the server's data from the last run; remove the directory to start afresh.\n", dir)
	if gitOutput(ctx, filepath.Join(dir, "demo-app"), "status", "--porcelain") != "" {
		fmt.Fprintln(e.stdout, "demo-app has uncommitted changes: commit them to deploy them.")
	}
}

// gitOutput returns the trimmed output of git args in dir, or "" when git
// fails.
func gitOutput(ctx context.Context, dir string, args ...string) string {
	c := exec.CommandContext(ctx, "git", args...)
	c.Dir = dir
	out, err := c.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// materializeDemo writes the embedded sample app to dir and makes it a git
// repository with one commit on main.
func materializeDemo(ctx context.Context, dir string) error {
	const root = "demo/app"
	err := fs.WalkDir(examples.Demo, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		dst := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(rel, ".txt")))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := fs.ReadFile(examples.Demo, p)
		if err != nil {
			return err
		}
		if path.Ext(rel) == ".txt" && !strings.HasSuffix(rel, "go.mod.txt") {
			dst += ".txt" // only go.mod.txt is renamed
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		return fmt.Errorf("demo: write sample app: %w", err)
	}
	for _, a := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"-c", "user.name=Slipway demo", "-c", "user.email=demo@slipway.invalid", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "Sample app"},
	} {
		c := exec.CommandContext(ctx, "git", a...)
		c.Dir = dir
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("demo: git %s: %w: %s", a[0], err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// startDemoServer starts the demo's server in its sandbox, or, where the
// sandbox cannot work here, unsandboxed, saying so in one line.
func startDemoServer(ctx context.Context, e *env, cfg server.Config) (*server.Server, error) {
	srv, err := server.New(cfg)
	if err != nil {
		return nil, err
	}
	err = srv.Start(ctx)
	if errors.Is(err, sandbox.ErrUnavailable) && !cfg.Unsandboxed {
		fmt.Fprintf(e.stdout, "Running the demo unsandboxed (its processes can read its data directory): %v\n", errors.Unwrap(err))
		cfg.Unsandboxed = true
		if srv, err = server.New(cfg); err != nil {
			return nil, err
		}
		err = srv.Start(ctx)
	}
	if err != nil {
		return nil, err
	}
	return srv, nil
}

// ensurePackage makes sure command is installed: when it is missing on a
// Debian-like machine and we are root, the Debian package pkg is installed
// with apt-get, as the README promises; otherwise the error says how to
// install it.
func ensurePackage(ctx context.Context, e *env, command, pkg string) error {
	if _, err := exec.LookPath(command); err == nil {
		return nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 {
		return fmt.Errorf("%s is not installed; install it (Debian: sudo apt-get install %s)", command, pkg)
	}
	fmt.Fprintf(e.stderr, "%s is not installed; installing %s with apt-get…\n", command, pkg)
	for _, a := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", pkg}} {
		c := exec.CommandContext(ctx, "apt-get", a...)
		c.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		c.Stdout, c.Stderr = e.stderr, e.stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("apt-get %s %s: %w", a[0], pkg, err)
		}
	}
	return nil
}
