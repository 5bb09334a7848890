package edge

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"slipway.dev/slipway/internal/logfile"
	"slipway.dev/slipway/internal/slipway"
)

// AccessLine is one line of a tool's access log, as JSON: one request
// the proxy answered (or that its client left before the answer, status
// 499).
type AccessLine struct {
	Time time.Time `json:"time"`
	// Instance is what served it: the tool, or "<tool>--<env>".
	Instance string `json:"instance"`
	Method   string `json:"method"`
	Host     string `json:"host"`
	// URI is the request's path and query, as the client sent it.
	URI    string `json:"uri"`
	Proto  string `json:"proto"`
	Status int    `json:"status"`
	// Bytes is the size of the body written to the client.
	Bytes int64 `json:"bytes"`
	// DurationMS is the time from the request's headers to the end of
	// the answer (for a WebSocket, of the connection).
	DurationMS float64 `json:"duration_ms"`
	// Remote is the client's address (the one X-Forwarded-For gives the
	// app).
	Remote    string `json:"remote"`
	UserAgent string `json:"user_agent,omitempty"`
	Referer   string `json:"referer,omitempty"`
}

// AccessLogs are the tools' access logs: one per tool (its environments
// share it, each line naming its instance), in Dir/<tool>/access.log,
// rotated past MaxSize bytes keeping MaxFiles files (internal/logfile).
// A log goes on across server restarts (its rotated files kept, a line a
// crash cut off ended). Safe for concurrent use.
type AccessLogs struct {
	dir      string
	maxSize  int64
	maxFiles int

	mu      sync.Mutex
	closed  bool
	writers map[string]*logfile.RotatingWriter
}

// NewAccessLogs returns the access logs kept under dir, with maxSize and
// maxFiles as the other logs take them (zero: logfile's defaults).
func NewAccessLogs(dir string, maxSize int64, maxFiles int) (*AccessLogs, error) {
	maxSize = cmp.Or(maxSize, logfile.DefaultMaxSize)
	maxFiles = cmp.Or(maxFiles, logfile.DefaultMaxFiles)
	if err := logfile.CheckLimits(maxSize, maxFiles); err != nil {
		return nil, fmt.Errorf("access logs: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("access logs: %w", err)
	}
	return &AccessLogs{dir: dir, maxSize: maxSize, maxFiles: maxFiles, writers: map[string]*logfile.RotatingWriter{}}, nil
}

func (a *AccessLogs) path(tool string) string { return filepath.Join(a.dir, tool, "access.log") }

// Log appends l to its tool's log.
func (a *AccessLogs) Log(l AccessLine) error {
	tool, _ := slipway.SplitInstance(l.Instance)
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("access log %s: %w", tool, err)
	}
	w, err := a.writer(tool)
	if err != nil {
		return err
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("access log %s: %w", tool, err)
	}
	return nil
}

// writer returns tool's log, opening it on its first request.
func (a *AccessLogs) writer(tool string) (*logfile.RotatingWriter, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, fmt.Errorf("access log %s: %w", tool, os.ErrClosed)
	}
	if w := a.writers[tool]; w != nil {
		return w, nil
	}
	if !slipway.ValidName(tool) {
		return nil, fmt.Errorf("access log %q: not a tool name", tool)
	}
	if err := os.MkdirAll(filepath.Dir(a.path(tool)), 0o700); err != nil {
		return nil, fmt.Errorf("access log %s: %w", tool, err)
	}
	w, err := logfile.AppendRotatingWriter(a.path(tool), a.maxSize, a.maxFiles)
	if err != nil {
		return nil, fmt.Errorf("access log %s: %w", tool, err)
	}
	a.writers[tool] = w
	return w, nil
}

// followPoll is how often a followed log is read again.
const followPoll = 200 * time.Millisecond

// Read writes tool's access log to w, JSON lines: its last lines (0:
// all), then, with follow, what is appended until ctx ends. A tool
// whose app has served nothing since the server started has an empty
// log.
func (a *AccessLogs) Read(ctx context.Context, tool string, lines int, follow bool, w io.Writer) error {
	if !slipway.ValidName(tool) {
		return fmt.Errorf("access log %q: not a tool name", tool)
	}
	path := a.path(tool)
	pos, err := logfile.LastLines(w, path, lines, logfile.DefaultMaxLine)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("access log %s: %w", tool, err)
	}
	if !follow {
		return nil
	}
	fw := logfile.Follow(path, pos)
	defer fw.Close()
	t := time.NewTicker(followPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := fw.Next(w); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("access log %s: %w", tool, err)
		}
	}
}

// Close closes the logs; later lines are dropped.
func (a *AccessLogs) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	var errs []error
	for _, w := range a.writers {
		errs = append(errs, w.Close())
	}
	a.writers = nil
	return errors.Join(errs...)
}
