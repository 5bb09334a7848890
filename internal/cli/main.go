package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strings"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/slipway"
)

// Main runs the slipway command line with args (without the program name)
// and returns the exit status. getenv, stdin, stdout and stderr stand for
// the process's; Main uses nothing else of the process.
//
// Everything it prints goes through an [escaper], which makes the control
// characters of server-provided text visible unless --raw is given.
func Main(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	return mainEnv(ctx, args, &env{getenv: getenv, stdin: stdin}, stdout, stderr)
}

// mainEnv is Main with e made by the caller: tests set its hooks.
func mainEnv(ctx context.Context, args []string, e *env, stdout, stderr io.Writer) int {
	out := &escaper{w: stdout, raw: &e.flags.raw, json: func() bool { return e.flags.json }}
	errOut := &escaper{w: stderr, raw: &e.flags.raw}
	e.stdout, e.stderr = out, errOut
	defer func() {
		_ = out.flush()    // nothing to do about a failed last write to the terminal
		_ = errOut.flush() // likewise
	}()
	root := newRootCmd(e) //nolint:contextcheck // the commands get ctx through cmd.Context(), which ExecuteContext sets below
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		fmt.Fprintln(e.stderr, "Interrupted.")
		return 130
	}
	return e.report(err)
}

// exitError ends the command with a status; its message, if any, was
// printed already.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError is a mistake on the command line.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// report prints err for people and returns the exit status.
func (e *env) report(err error) int {
	if err == nil {
		return 0
	}
	var (
		exit    *exitError
		usage   *usageError
		unreach *apiclient.UnreachableError
		server  *apiclient.ServerError
		app     *slipway.Error
		none    *noServerError
		unknown *unknownCommandError
	)
	switch {
	case errors.As(err, &exit):
		return exit.code
	case errors.As(err, &unknown):
		fmt.Fprintf(e.stderr, "Error: %v\nRun '%s --help' for usage.\n", err, unknown.parent)
		return 2
	case errors.As(err, &usage) || strings.HasPrefix(err.Error(), "unknown command "):
		fmt.Fprintf(e.stderr, "Error: %v\nRun 'slipway --help' for usage.\n", err)
		return 2
	case errors.As(err, &unreach) && isCertificateError(unreach.Err):
		fmt.Fprintf(e.stderr, "Cannot trust the TLS certificate of the Slipway server at %s: %v\n", unreach.URL, unreach.Err)
		fmt.Fprintln(e.stderr, "Pass the CA that signed it with --ca (or SLIPWAY_CA, or ca: in the config file).")
		return 2
	case errors.As(err, &unreach):
		fmt.Fprintf(e.stderr, "Cannot reach the Slipway server at %s: is it running? (slipway server)\n", unreach.URL)
		if e.flags.verbose {
			fmt.Fprintf(e.stderr, "Cause: %v\n", unreach.Err)
		}
		return 2
	case errors.As(err, &none):
		fmt.Fprintf(e.stderr, "Error: %v\n", none)
		return 2
	case errors.As(err, &server):
		fmt.Fprintf(e.stderr, "Error: %s\n", server.Message)
		fmt.Fprintf(e.stderr, "This looks like a server problem; check the server log (request id %s).\n", server.RequestID)
		return 1
	case errors.As(err, &app):
		fmt.Fprintf(e.stderr, "Error: %s\n", app.Message)
		return 1
	}
	fmt.Fprintf(e.stderr, "Error: %v\n", err)
	return 1
}

// isCertificateError reports whether err is a failed verification of the
// server's TLS certificate.
func isCertificateError(err error) bool {
	_, ok := errors.AsType[*tls.CertificateVerificationError](err)
	return ok
}
