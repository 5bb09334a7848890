// Package benchserver starts a slipway server for the benchmark drivers
// under bench/: its own data directory, loopback ports, the admin token.
package benchserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Server is a started server.
type Server struct {
	// API is the API's base URL; ProxyHost the proxy's host:port.
	API, ProxyHost string
	// Token is the admin token.
	Token string
	// PID is the server's process id.
	PID    int
	Data   string
	cmd    *exec.Cmd
	logf   *os.File
	exited chan struct{}
}

// Start starts bin's server with data as its data directory and logs in
// log, plus flags, and waits until it has written server.json.
func Start(ctx context.Context, bin, data, logPath string, flags ...string) (*Server, error) {
	args := append([]string{"server", "--listen", "127.0.0.1:0", "--proxy-listen", "127.0.0.1:0"}, flags...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "SLIPWAY_DATA="+data)
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, err
	}
	exited := make(chan struct{})
	s := &Server{Data: data, PID: cmd.Process.Pid, cmd: cmd, logf: logf, exited: exited}
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var info struct {
			URL      string `json:"url"`
			ProxyURL string `json:"proxy_url"`
		}
		raw, err := os.ReadFile(filepath.Join(data, "server.json"))
		if err == nil && json.Unmarshal(raw, &info) == nil && info.URL != "" {
			tok, err := os.ReadFile(filepath.Join(data, "admin-token"))
			if err != nil {
				s.Stop()
				return nil, err
			}
			s.API, s.Token = info.URL, strings.TrimSpace(string(tok))
			_, port, err := net.SplitHostPort(strings.TrimPrefix(strings.TrimRight(info.ProxyURL, "/"), "http://"))
			if err != nil {
				s.Stop()
				return nil, fmt.Errorf("proxy_url %q: %w", info.ProxyURL, err)
			}
			s.ProxyHost = "127.0.0.1:" + port
			return s, nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("the server exited:\n%s", log)
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.Stop()
	log, _ := os.ReadFile(logPath)
	return nil, fmt.Errorf("server did not start within 60 s:\n%s", log)
}

// Stop interrupts the server and waits for it (a minute, then kills it).
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	_ = s.logf.Close()
}

// Do sends an admin request with body (JSON when not nil) and decodes a
// 2xx answer's JSON into out (when not nil).
func (s *Server) Do(ctx context.Context, c *http.Client, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, s.API+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}
