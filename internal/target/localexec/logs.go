package localexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

const followPoll = 200 * time.Millisecond

// Logs writes the component's logs to w: the replica logs one after the
// other (lines prefixed "[replica N] " when there is more than one), the
// runs of a scheduled component (they share 0.log), or the latest run of a
// one-off component. Lines keeps the last N lines of each file. With Follow
// it then polls the files every 200ms and writes what is appended until ctx
// is done (returning nil). An unknown component is a [slipway.ENotFound]
// error.
func (d *Driver) Logs(ctx context.Context, tool, name string, opts target.LogOptions, w io.Writer) error {
	c := d.lookup(tool, name)
	if c == nil {
		return fmt.Errorf("logs %s/%s: %w", tool, name, slipway.Errorf(slipway.ENotFound, "Component %s of tool %s does not exist.", name, tool))
	}
	c.mu.Lock()
	typ := c.spec.Component.Type
	n := max(len(c.replicas), c.spec.Component.Run.ReplicaCount())
	var runLog string
	if c.lastRun != nil {
		runLog = filepath.Join(d.compDir(tool, name), "runs", c.lastRun.ID+".log")
	}
	c.mu.Unlock()

	var files []*logFile
	switch typ {
	case slipway.Continuous:
		for i := range n {
			lf := &logFile{path: d.replicaLog(tool, name, i)}
			if n > 1 {
				lf.prefix = []byte("[replica " + strconv.Itoa(i) + "] ")
			}
			files = append(files, lf)
		}
	case slipway.OneOff:
		if runLog == "" {
			runLog = latestRunLog(filepath.Join(d.compDir(tool, name), "runs"))
		}
		if runLog != "" {
			files = append(files, &logFile{path: runLog})
		}
	default:
		files = append(files, &logFile{path: d.replicaLog(tool, name, 0)})
	}
	for _, f := range files {
		if err := f.first(opts.Lines, w); err != nil {
			return fmt.Errorf("logs %s/%s: %w", tool, name, err)
		}
	}
	if !opts.Follow {
		return nil
	}
	t := time.NewTicker(followPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for _, f := range files {
			if err := f.more(w); err != nil {
				return fmt.Errorf("logs %s/%s: %w", tool, name, err)
			}
		}
	}
}

func latestRunLog(dir string) string {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	var best string
	var bestT time.Time
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.ModTime().After(bestT) {
			best, bestT = p, fi.ModTime()
		}
	}
	return best
}

// logFile is one log being written out, possibly followed.
type logFile struct {
	path    string
	prefix  []byte
	off     int64
	partial []byte // an unfinished last line, held back for the prefix
}

// first writes the last lines (all when 0) and remembers where it stopped.
func (f *logFile) first(lines int, w io.Writer) error {
	b, err := os.ReadFile(f.path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	f.off = int64(len(b))
	if lines > 0 {
		b = lastLines(b, lines)
	}
	return f.write(b, w)
}

// more writes what was appended since the last call.
func (f *logFile) more(w io.Writer) error {
	fh, err := os.Open(f.path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return err
	}
	if fi.Size() < f.off { // truncated or replaced
		f.off = 0
	}
	if fi.Size() == f.off {
		return nil
	}
	b := make([]byte, fi.Size()-f.off)
	n, err := fh.ReadAt(b, f.off)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	f.off += int64(n)
	return f.write(b[:n], w)
}

func (f *logFile) write(b []byte, w io.Writer) error {
	if len(f.prefix) == 0 {
		_, err := w.Write(b)
		return err
	}
	b = append(f.partial, b...)
	f.partial = nil
	var out []byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			f.partial = slices.Clone(b)
			break
		}
		out = append(out, f.prefix...)
		out = append(out, b[:i+1]...)
		b = b[i+1:]
	}
	if len(out) == 0 {
		return nil
	}
	_, err := w.Write(out)
	return err
}

// lastLines returns the last n lines of b.
func lastLines(b []byte, n int) []byte {
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	i := end
	for range n {
		j := bytes.LastIndexByte(b[:i], '\n')
		if j < 0 {
			return b
		}
		i = j
	}
	return b[i+1:]
}

// tailLines returns the last n lines of the file at path (reading at most
// its last 64 KiB), without a final newline.
func tailLines(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	const window = 64 << 10
	off := max(fi.Size()-window, 0)
	b := make([]byte, fi.Size()-off)
	n2, _ := f.ReadAt(b, off)
	return string(bytes.TrimRight(lastLines(b[:n2], n), "\n"))
}
