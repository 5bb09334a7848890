// Command slipway is Slipway's server and command line; see internal/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"slipway.dev/slipway/internal/cli"
	"syscall"
)

func main() {
	ctx, _ := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM) // released by os.Exit
	os.Exit(cli.Main(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}
