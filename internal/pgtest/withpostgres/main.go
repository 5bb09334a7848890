// Command withpostgres runs a command with a throwaway PostgreSQL server:
//
//	go run ./internal/pgtest/withpostgres -- CMD ARGS...
//
// starts a cluster in a temporary directory, runs CMD with
// SLIPWAY_TEST_POSTGRES_URL set to its URL, and stops and removes the
// cluster when CMD ends, whatever its outcome; it exits with CMD's code.
// When SLIPWAY_TEST_POSTGRES_URL is already set it only runs CMD. When
// PostgreSQL cannot be started it fails: tests that need it must not be
// skipped unnoticed.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"slipway.dev/slipway/internal/pgtest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: withpostgres -- CMD ARGS...")
		return 2
	}
	// SIGINT and SIGTERM go to CMD once it runs; before, they cancel the
	// start.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	if os.Getenv(pgtest.EnvURL) != "" {
		return runCmd(args, nil, sigs, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	c, took, err := startCluster(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(stderr, "\n*** withpostgres: PostgreSQL is needed and could not be started:\n***   %v\n"+
			"*** Install it (./scripts/ensure-deps.sh, or apt-get install postgresql) or set %s.\n\n", err, pgtest.EnvURL)
		return 1
	}
	fmt.Fprintf(stderr, "postgres: ready at %s in %.1fs\n", c.Addr(), took.Seconds())
	code := runCmd(args, []string{pgtest.EnvURL + "=" + c.URL()}, sigs, stderr)
	if err := c.Stop(); err != nil {
		fmt.Fprintln(stderr, "withpostgres:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func startCluster(ctx context.Context) (*pgtest.Cluster, time.Duration, error) {
	dir, err := os.MkdirTemp("", "slipway-postgres-")
	if err != nil {
		return nil, 0, err
	}
	t0 := time.Now()
	c, err := pgtest.Start(ctx, dir)
	return c, time.Since(t0), err
}

// runCmd runs args with env added to this process's environment,
// forwarding the signals that arrive on sigs, and returns its exit code
// (128+N when signal N ended it).
func runCmd(args, env []string, sigs <-chan os.Signal, stderr io.Writer) int {
	cmd := exec.Command(args[0], args[1:]...) //nolint:noctx,gosec // running the command it is given is its job; signals are forwarded to it
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "withpostgres:", err)
		return 127
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				_ = cmd.Process.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exit.ExitCode()
	default:
		fmt.Fprintln(stderr, "withpostgres:", err)
		return 1
	}
}
