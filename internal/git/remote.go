package git

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"slipway.dev/slipway/internal/localrepo"
	"slipway.dev/slipway/internal/slipway"
)

// Defaults of the network limits of [Config].
const (
	// DefaultConnectTimeout bounds connecting to a remote.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultLowSpeedTime is how long an http(s) transfer may stay under
	// DefaultLowSpeedLimit bytes a second before it is aborted: a remote
	// that accepted the connection and then says nothing.
	DefaultLowSpeedTime = 30 * time.Second
	// DefaultLowSpeedLimit is 1 byte a second: silence, but not a slow
	// link, nor a forge that computes a large pack and sends keepalives.
	DefaultLowSpeedLimit = 1
)

// ErrNoCredential means a repository URL names a stored credential
// (https://***@host/…) that cannot be found for the tool the operation
// runs for. It is permanent.
var ErrNoCredential = errors.New("no stored credential")

// Timeout kinds of a [TimeoutError].
const (
	TimeoutConnect  = "connect timeout"
	TimeoutLowSpeed = "low-speed timeout"
	TimeoutOverall  = "overall timeout"
)

// TimeoutError is a git network operation that a remote did not answer in
// time: it names the host, the limit and which limit it was. It is
// permanent ([IsTransient] is false: the attempt already waited the whole
// limit, and the next one would wait as long), and it matches
// context.DeadlineExceeded with errors.Is.
type TimeoutError struct {
	Host    string
	Timeout time.Duration
	Kind    string
	// LowSpeedLimit is the limit in bytes a second, for TimeoutLowSpeed.
	LowSpeedLimit int
}

func (e *TimeoutError) Error() string {
	switch e.Kind {
	case TimeoutLowSpeed:
		return fmt.Sprintf("no answer from %s within %s (%s: less than %d bytes/s)", e.Host, e.Timeout, e.Kind, e.LowSpeedLimit)
	case TimeoutOverall:
		return fmt.Sprintf("%s did not complete the transfer within %s (%s)", e.Host, e.Timeout, e.Kind)
	}
	return fmt.Sprintf("no answer from %s within %s (%s)", e.Host, e.Timeout, e.Kind)
}

// Unwrap makes a TimeoutError a context.DeadlineExceeded.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// remote is a repository as git is given it for one network operation.
type remote struct {
	// url is what git is given: never with user info.
	url string
	// shown is what messages show: user info redacted.
	shown string
	// host is host[:port], named in timeout errors; "" for a local path.
	host string
	// dial is the address to check with a plain TCP connect before git
	// runs ("" when there is none to check).
	dial string
	// ssh is true for ssh remotes, whose connect timeout ssh enforces.
	ssh bool
	// cred is the credential git gets through its credential helper, when
	// hasCred.
	cred    slipway.Credential
	hasCred bool
	// credURL is scheme://host[:port], the URL the helper is scoped to.
	credURL string
	// mirror names the mirror that holds what was fetched: with a
	// credential, the tool's own.
	mirror string
}

// remoteFor returns how git reaches repository for the operation of ctx's
// source scope: the URL without user info, the credential (the one in the
// URL, a pending one of the scope, or the tool's stored one for a
// https://***@ URL), and the mirror. A repository already checked by
// checkRepository is expected.
func (c *Client) remoteFor(ctx context.Context, repository string) (*remote, error) {
	r := &remote{url: repository, shown: slipway.RedactURL(repository), mirror: mirrorName(repository)}
	if _, local := localrepo.Path(repository); local {
		return r, nil
	}
	u, err := url.Parse(repository)
	if err != nil || u.Host == "" {
		return r, nil //nolint:nilerr // scp-like ssh syntax (checkRepository let it through): no URL to work on
	}
	r.host = u.Host
	if d := dialAddress(u); d != "" && !proxied(u.Scheme) {
		r.dial = d
	}
	r.ssh = strings.Contains(strings.ToLower(u.Scheme), "ssh")
	split, err := slipway.SplitURLCredential(repository)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w: %w", r.shown, ErrInvalidRepository, err)
	}
	scope, scoped := slipway.SourceScopeFrom(ctx)
	switch {
	case split.HasCredential:
		r.cred, r.hasCred = split.Credential, true
	case split.Stored:
		if !scoped || scope.Tool == "" {
			return nil, fmt.Errorf("repository %s: %w: the operation runs for no tool", r.shown, ErrNoCredential)
		}
		if cred, ok := scope.Pending[repository]; ok {
			r.cred, r.hasCred = cred, true
			break
		}
		if c.cfg.Credentials == nil {
			return nil, fmt.Errorf("repository %s: %w: this server keeps no credentials", r.shown, ErrNoCredential)
		}
		cred, err := c.cfg.Credentials(ctx, scope.Tool, repository)
		if slipway.ErrorCode(err) == slipway.ENotFound {
			return nil, fmt.Errorf("repository %s: %w for tool %s: post the config again with the credential in the URL (https://user:password@host/…)", r.shown, ErrNoCredential, scope.Tool)
		} else if err != nil {
			return nil, fmt.Errorf("repository %s: credential: %w", r.shown, err)
		}
		r.cred, r.hasCred = cred, true
	default:
		return r, nil
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return nil, fmt.Errorf("repository %s: %w: only http and https URLs may carry a credential", r.shown, ErrInvalidRepository)
	}
	r.url = slipway.StripUserInfo(repository)
	r.credURL = strings.ToLower(u.Scheme) + "://" + u.Host
	// A credential's fetches go into the tool's own mirror: another tool
	// naming the same repository (with another credential, or none) never
	// finds there what this credential fetched.
	r.mirror = scopedMirrorName(scope.Tool, split.Redacted)
	return r, nil
}

// scopedMirrorName names the mirror of a tool's repository with a
// credential.
func scopedMirrorName(tool, redacted string) string {
	sum := sha256.Sum256([]byte("tool\x00" + tool + "\x00" + strings.TrimSpace(redacted)))
	return "t-" + hex.EncodeToString(sum[:])[:24]
}

// dialAddress returns the host:port git will connect to for u, or "" when
// it is not a URL connected to directly.
func dialAddress(u *url.URL) string {
	port := map[string]string{"http": "80", "https": "443", "git": "9418"}[strings.ToLower(u.Scheme)]
	if port == "" {
		return "" // ssh: host aliases and ProxyCommand are ssh's; ConnectTimeout applies
	}
	if p := u.Port(); p != "" {
		port = p
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// proxied reports whether git would connect through a proxy from the
// environment for scheme (curl reads these): then the remote itself is not
// what git connects to.
func proxied(scheme string) bool {
	names := []string{"all_proxy", "ALL_PROXY"}
	switch strings.ToLower(scheme) {
	case "https":
		names = append(names, "https_proxy", "HTTPS_PROXY")
	case "http":
		names = append(names, "http_proxy")
	}
	for _, n := range names {
		if os.Getenv(n) != "" {
			return true
		}
	}
	return false
}

// checkConnect connects to the remote (and closes the connection) before
// git does, so that a remote that never answers fails after the connect
// timeout with an error that says so; git itself has no connect timeout for
// http. Other failures are left for git to report in its own words.
func (c *Client) checkConnect(ctx context.Context, r *remote) error {
	if r.dial == "" {
		return nil
	}
	d := net.Dialer{Timeout: c.cfg.ConnectTimeout}
	conn, err := d.DialContext(ctx, "tcp", r.dial)
	if err == nil {
		_ = conn.Close()
		return nil
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() && ctx.Err() == nil {
		return &TimeoutError{Host: hostOnly(r.host), Timeout: c.cfg.ConnectTimeout, Kind: TimeoutConnect}
	}
	if ctx.Err() != nil {
		return contextError(ctx)
	}
	return nil
}

// hostOnly drops the port of host:port.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// contextError is why ctx ended: its cause when one was given (a
// [*TimeoutError] for the overall timeout), else its error.
func contextError(ctx context.Context) error {
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	return ctx.Err()
}

// networkArgs returns the -c options of a network operation: the low-speed
// limits of http(s) transfers.
func (c *Client) networkArgs() []string {
	return []string{
		"-c", "http.lowSpeedLimit=" + strconv.Itoa(c.cfg.LowSpeedLimit),
		"-c", "http.lowSpeedTime=" + strconv.Itoa(seconds(c.cfg.LowSpeedTime)),
	}
}

// seconds rounds d up to whole seconds, at least 1.
func seconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// credentialHelper is the credential helper git runs (with sh) when it
// needs the credential of r: it prints what the environment of git holds,
// and nothing for the store and erase requests. The credential is never in
// git's arguments (which any user of the machine can read in /proc), nor in
// a file: only in the environment of git and its children, which only this
// server's user can read.
//
//nolint:gosec // G101: no credential here, the helper prints the environment's
const credentialHelper = `!f() { if [ "$1" = get ]; then printf 'username=%s\npassword=%s\n' "$SLIPWAY_GIT_USERNAME" "$SLIPWAY_GIT_PASSWORD"; fi; }; f`

// credentialEnv returns the environment that gives git r's credential,
// through a helper scoped to r's scheme, host and port: a redirect to
// another host gets nothing.
func credentialEnv(r *remote) []string {
	if r == nil || !r.hasCred {
		return nil
	}
	return []string{
		"GIT_CONFIG_COUNT=1",
		"GIT_CONFIG_KEY_0=credential." + r.credURL + ".helper",
		"GIT_CONFIG_VALUE_0=" + credentialHelper,
		"SLIPWAY_GIT_USERNAME=" + r.cred.Username,
		"SLIPWAY_GIT_PASSWORD=" + r.cred.Password,
	}
}

// timeoutFromStderr recognises git's report of a limit it enforced itself.
func (c *Client) timeoutFromStderr(r *remote, stderr string) error {
	if r == nil {
		return nil
	}
	msg := strings.ToLower(stderr)
	switch {
	case strings.Contains(msg, "operation too slow"):
		return &TimeoutError{Host: hostOnly(r.host), Timeout: time.Duration(seconds(c.cfg.LowSpeedTime)) * time.Second, Kind: TimeoutLowSpeed, LowSpeedLimit: c.cfg.LowSpeedLimit}
	case r.ssh && (strings.Contains(msg, "connection timed out") || strings.Contains(msg, "operation timed out")):
		// ssh's ConnectTimeout (GIT_SSH_COMMAND). An http connect that timed
		// out after the connect check passed is the kernel's, not ours: it
		// stays a transient network failure.
		return &TimeoutError{Host: hostOnly(r.host), Timeout: c.cfg.ConnectTimeout, Kind: TimeoutConnect}
	}
	return nil
}

// checkLocal holds a local repository to the directories tools may build
// from, unless ctx's scope is the admin's (or there is no scope: a caller
// inside the server).
func (c *Client) checkLocal(ctx context.Context, repository string) error {
	scope, ok := slipway.SourceScopeFrom(ctx)
	if !ok || scope.Admin {
		return nil
	}
	if err := localrepo.Check(repository, c.cfg.LocalDirs); err != nil {
		return fmt.Errorf("%w: a tool's config may name local repositories only inside the directories of the server's --local-repo-dirs, and %w", ErrLocalNotAllowed, err)
	}
	return nil
}
