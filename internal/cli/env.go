package cli

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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
}

// globalFlags are the flags of the root command.
type globalFlags struct {
	url     string
	tool    string
	token   string
	data    string
	json    bool
	verbose bool
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
}

// serverURL returns --url, SLIPWAY_URL, or the url in <data>/server.json.
func (e *env) serverURL() (string, error) {
	if u := cmp.Or(e.flags.url, e.getenv("SLIPWAY_URL")); u != "" {
		return u, nil
	}
	dir, err := e.dataDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "server.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", &noServerError{path: path}
	}
	if err != nil {
		return "", fmt.Errorf("read server address: %w", err)
	}
	var info serverInfo
	if err := json.Unmarshal(b, &info); err != nil || info.URL == "" {
		return "", fmt.Errorf("read server address: %s has no url", path)
	}
	return info.URL, nil
}

// token returns --token, SLIPWAY_TOKEN, or <data>/admin-token; "" when none
// is found (the server then says how to authenticate).
func (e *env) token() string {
	if t := cmp.Or(e.flags.token, e.getenv("SLIPWAY_TOKEN")); t != "" {
		return t
	}
	dir, err := e.dataDir()
	if err != nil {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(dir, "admin-token"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// apiClient returns the client of the selected server, built on first use.
func (e *env) apiClient() (*apiclient.Client, error) {
	if e.client != nil {
		return e.client, nil
	}
	u, err := e.serverURL()
	if err != nil {
		return nil, err
	}
	opts := []apiclient.Option{apiclient.WithUserAgent("slipway-cli")}
	if e.flags.verbose {
		opts = append(opts, apiclient.WithTrace(e.stderr))
	}
	c, err := apiclient.New(u, e.token(), opts...)
	if err != nil {
		return nil, err
	}
	e.client = c
	return c, nil
}

// toolName returns the selected tool: --tool or SLIPWAY_TOOL.
func (e *env) toolName() (string, error) {
	t := cmp.Or(e.flags.tool, e.getenv("SLIPWAY_TOOL"))
	if t == "" {
		return "", errors.New("no tool selected: pass --tool or set SLIPWAY_TOOL")
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
