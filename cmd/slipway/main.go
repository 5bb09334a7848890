// Command slipway is Slipway's server, job runner and command line; see
// internal/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"slipway.dev/slipway/internal/cli"
)

func main() {
	os.Exit(cli.Main(signalContext(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// signalContext is cancelled by the first SIGINT or SIGTERM, which starts a
// clean shutdown; a second one kills the process at once.
func signalContext() context.Context {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() { <-ctx.Done(); stop() }()
	return ctx
}
