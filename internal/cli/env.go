package cli

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/slipway"
)

// env is what every command may use: the process's environment and streams,
// the global flags, and a client built on first use.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	flags  globalFlags
	client *apiclient.Client
	// conf is the config file, read on first use.
	conf *connectionFile
	// hooks are what tests replace; zero values mean the real ones.
	hooks hooks
}

// hooks are the waits and the terminal detection, which tests replace.
type hooks struct {
	// retryMin and retryMax bound the backoff of `slipway ask` between
	// attempts to reach the server (default 1s and 30s); grace is how long
	// it goes on past the question's deadline (default 5m); pollWait is
	// the long poll's wait (default 50s).
	retryMin, retryMax, grace, pollWait time.Duration
	// interactive reports whether a person sits at stdin and stdout (both
	// terminals), so that `deploy --watch` may prompt for answers.
	interactive func() bool
}

// isInteractive reports whether stdin and stdout are a terminal.
func (e *env) isInteractive() bool {
	if e.hooks.interactive != nil {
		return e.hooks.interactive()
	}
	esc, ok := e.stdout.(*escaper)
	return ok && esc.terminal() && isTerminal(e.stdin)
}

// globalFlags are the flags of the root command.
type globalFlags struct {
	url     string
	tool    string
	token   string
	data    string
	json    bool
	raw     bool
	verbose bool
	config  string
	ca      string
	cert    string
	key     string
}

// dataDir returns the data directory: --data, SLIPWAY_DATA,
// $XDG_DATA_HOME/slipway or $HOME/.local/share/slipway.
func (e *env) dataDir() (string, error) {
	if d := cmp.Or(e.flags.data, e.getenv("SLIPWAY_DATA")); d != "" {
		return d, nil
	}
	if x := e.getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "slipway"), nil
	}
	if h := e.getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "slipway"), nil
	}
	return "", errors.New("no data directory: pass --data or set SLIPWAY_DATA (HOME is not set)")
}

// serverInfo is <data>/server.json, written by `slipway server`.
type serverInfo struct {
	URL string `json:"url"`
	PID int    `json:"pid"`
	// CA signed the server's TLS certificate, when the server issued it.
	CA string `json:"ca"`
}

// localServer reads <data>/server.json.
func (e *env) localServer() (serverInfo, error) {
	dir, err := e.dataDir()
	if err != nil {
		return serverInfo{}, err
	}
	path := filepath.Join(dir, "server.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return serverInfo{}, &noServerError{path: path}
	}
	if err != nil {
		return serverInfo{}, fmt.Errorf("read server address: %w", err)
	}
	var info serverInfo
	if err := json.Unmarshal(b, &info); err != nil || info.URL == "" {
		return serverInfo{}, fmt.Errorf("read server address: %s has no url", path)
	}
	return info, nil
}

// serverURL returns --url, SLIPWAY_URL, the config file's url, or the url
// in <data>/server.json; local is that file's content in the last case,
// nil otherwise.
func (e *env) serverURL() (u string, local *serverInfo, err error) {
	cf, err := e.configFile()
	if err != nil {
		return "", nil, err
	}
	if u := cmp.Or(e.flags.url, e.getenv("SLIPWAY_URL"), cf.URL); u != "" {
		return u, nil, nil
	}
	info, err := e.localServer()
	if err != nil {
		return "", nil, err
	}
	return info.URL, &info, nil
}

// token returns --token, SLIPWAY_TOKEN, the config file's token, or, for a
// local server and when no client certificate is configured, the admin
// token in <data>/admin-token; "" when there is none (the server then says
// how to authenticate).
func (e *env) token(local, withCert bool) (string, error) {
	cf, err := e.configFile()
	if err != nil {
		return "", err
	}
	if t := cmp.Or(e.flags.token, e.getenv("SLIPWAY_TOKEN"), cf.Token); t != "" {
		return t, nil
	}
	if !local || withCert {
		return "", nil
	}
	dir, err := e.dataDir()
	if err != nil {
		return "", nil //nolint:nilerr // no data directory: no local admin token
	}
	b, err := os.ReadFile(filepath.Join(dir, "admin-token"))
	if err != nil {
		return "", nil //nolint:nilerr // not readable: no local admin token
	}
	return strings.TrimSpace(string(b)), nil
}

// apiClient returns the client of the selected server, built on first use.
func (e *env) apiClient() (*apiclient.Client, error) {
	if e.client != nil {
		return e.client, nil
	}
	u, local, err := e.serverURL()
	if err != nil {
		return nil, err
	}
	tlsCfg, withCert, err := e.tlsConfig(local)
	if err != nil {
		return nil, err
	}
	token, err := e.token(local != nil, withCert)
	if err != nil {
		return nil, err
	}
	opts := []apiclient.Option{apiclient.WithUserAgent("slipway-cli")}
	if tlsCfg != nil {
		opts = append(opts, apiclient.WithHTTPClient(&http.Client{Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true,
		}}))
	}
	if e.flags.verbose {
		opts = append(opts, apiclient.WithTrace(e.stderr))
	}
	c, err := apiclient.New(u, token, opts...)
	if err != nil {
		return nil, err
	}
	e.client = c
	return c, nil
}

// toolName returns the selected tool: --tool, SLIPWAY_TOOL or the config
// file's tool.
func (e *env) toolName() (string, error) {
	cf, err := e.configFile()
	if err != nil {
		return "", err
	}
	t := cmp.Or(e.flags.tool, e.getenv("SLIPWAY_TOOL"), cf.Tool)
	if t == "" {
		return "", errors.New("no tool selected: pass --tool, set SLIPWAY_TOOL or put tool: in the config file")
	}
	if err := slipway.ValidateToolName(t); err != nil {
		return "", err
	}
	return t, nil
}

// target returns the client and the selected tool.
func (e *env) target() (*apiclient.Client, string, error) {
	tool, err := e.toolName()
	if err != nil {
		return nil, "", err
	}
	c, err := e.apiClient()
	if err != nil {
		return nil, "", err
	}
	return c, tool, nil
}

// isTerminal reports whether f is an interactive terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// noServerError means no server URL was given and no local server wrote
// its address.
type noServerError struct{ path string }

func (e *noServerError) Error() string {
	return fmt.Sprintf("no Slipway server found: %s does not exist; start one with `slipway server`, or pass --url or set SLIPWAY_URL", e.path)
}
