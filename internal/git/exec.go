package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// runOpts are the options of one git command.
type runOpts struct {
	dir    string    // working directory; "" for the current one
	stdin  string    // standard input
	in     io.Reader // standard input, when stdin is ""
	stdout io.Writer // where stdout goes; nil to return it
	remote *remote   // the remote of a network command (whose failures are classified): its credential and limits
}

// maxStderr is how much of git's stderr an error keeps (the end of it).
const maxStderr = 2000

// run runs git with args and returns its standard output. The command runs
// in its own process group, killed with all its children when ctx is done.
func (c *Client) run(ctx context.Context, o runOpts, args ...string) ([]byte, error) {
	full := []string{"-c", "core.hooksPath=/dev/null", "-c", "tar.umask=022"}
	if c.cfg.AllowLocal {
		full = append(full, "-c", "protocol.file.allow=always")
	} else {
		full = append(full, "-c", "protocol.file.allow=never")
	}
	if o.remote != nil {
		full = append(full, c.networkArgs()...)
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Dir = o.dir
	cmd.Env = append(c.environ(), credentialEnv(o.remote)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	if o.stdin != "" {
		cmd.Stdin = strings.NewReader(o.stdin)
	} else if o.in != nil {
		cmd.Stdin = o.in
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	if o.stdout != nil {
		cmd.Stdout = o.stdout
	}
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	msg := oneLine(stderr.String())
	if len(msg) > maxStderr {
		msg = "…" + msg[len(msg)-maxStderr:]
	}
	if o.remote != nil {
		msg = o.remote.redactIn(msg)
	}
	ge := &gitError{err: err, stderr: msg}
	timeout := c.timeoutFromStderr(o.remote, msg) // nil without a remote
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		// Killed because the caller gave up or the operation timed out:
		// a timeout of ours says which one, and is not retried.
		ge.err = contextError(ctx)
		_, timedOut := errors.AsType[*TimeoutError](ge.err)
		ge.transient = !timedOut
	case timeout != nil:
		ge.err = timeout
	case errors.As(err, &exitErr) && exitErr.ExitCode() == -1:
		ge.transient = true // killed by a signal
	case o.remote != nil:
		ge.transient = transientStderr(msg)
	}
	return nil, ge
}

// environ returns the environment git runs with: this process's, without
// git's own variables and without the user's config.
func (c *Client) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GIT_") || k == "HOME" || k == "XDG_CONFIG_HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+c.home,
		"XDG_CONFIG_HOME="+c.home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		fmt.Sprintf("GIT_SSH_COMMAND=ssh -o BatchMode=yes -o ConnectTimeout=%d -o ServerAliveInterval=%d -o ServerAliveCountMax=1",
			seconds(c.cfg.ConnectTimeout), seconds(c.cfg.LowSpeedTime)),
		"LC_ALL=C", // stderr is classified by its English text
	)
}

// gitError is a failed git command: its exit status (or the context's
// error, when it was killed) and its standard error.
type gitError struct {
	err       error
	stderr    string
	transient bool
}

func (e *gitError) Error() string {
	if _, ok := e.err.(*TimeoutError); ok || e.stderr == "" { //nolint:errorlint // the error of a timeout is set here, never wrapped
		return e.err.Error() // a timeout says it all; git's text is the limit again
	}
	return e.err.Error() + ": " + e.stderr
}

func (e *gitError) Unwrap() error { return e.err }

// Stderr substrings (lowercase) that make a network failure permanent or
// transient. Permanent ones are checked first: an auth failure over ssh also
// says "could not read from remote repository".
var (
	permanentMarkers = []string{
		"authentication failed", "could not read username", "could not read password",
		"terminal prompts disabled", "permission denied", "repository not found",
		"does not appear to be a git repository", "not a git repository",
		"returned error: 401", "returned error: 403", "returned error: 404",
		"host key verification failed", "unsupported protocol", "transport '",
	}
	transientMarkers = []string{
		"could not resolve host", "temporary failure in name resolution", "failed to connect",
		"connection refused", "connection timed out", "connection reset", "timed out",
		"network is unreachable", "no route to host", "early eof", "hung up unexpectedly",
		"rpc failed", "returned error: 5", "returned error: 429", "unexpected disconnect",
		"gnutls", "ssl", "tls",
	}
)

func transientStderr(msg string) bool {
	msg = strings.ToLower(msg)
	for _, s := range permanentMarkers {
		if strings.Contains(msg, s) {
			return false
		}
	}
	for _, s := range transientMarkers {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// IsTransient reports whether err is worth retrying: git could not reach
// the repository (refused or reset connections, DNS failures, server errors),
// timed out, or was killed. It reports false for nil and for permanent
// failures: [ErrRefNotFound], [ErrAmbiguousRef], [ErrLocalNotAllowed],
// [ErrInvalidRepository], a repository that does not exist, authentication
// failures, and anything it does not recognise. An error joining several
// failures is transient only if none of them is permanent.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	for _, p := range []error{ErrRefNotFound, ErrAmbiguousRef, ErrLocalNotAllowed, ErrInvalidRepository, ErrNoCredential} {
		if errors.Is(err, p) {
			return false
		}
	}
	if _, ok := errors.AsType[*TimeoutError](err); ok {
		return false
	}
	if ge, ok := errors.AsType[*gitError](err); ok {
		return ge.transient
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// redactIn hides r's credential wherever it appears in s (git is never
// given it, but a remote may echo what it got), and any user info r.shown
// still has: [slipway.RedactURL] leaves a local path like
// //user:pass@host/… as it is, where url.Parse finds user info.
func (r *remote) redactIn(s string) string {
	if u, err := url.Parse(r.shown); err == nil && u.User != nil {
		p, _ := u.User.Password()
		s = hideCredential(s, p, u.User.Username())
	}
	if r.hasCred {
		s = hideCredential(s, r.cred.Password, r.cred.Username)
	}
	return s
}

// hideCredential replaces password, and a user name of 8 bytes or more,
// by *** in s.
func hideCredential(s, password, username string) string {
	if password != "" {
		s = strings.ReplaceAll(s, password, "***")
	}
	if len(username) >= 8 {
		s = strings.ReplaceAll(s, username, "***")
	}
	return s
}

// oneLine joins the non-empty lines of git's stderr with "; ".
func oneLine(s string) string {
	var lines []string
	for line := range strings.SplitSeq(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "; ")
}
