package localexec

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"slipway.dev/slipway/internal/logfile"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

const followPoll = 200 * time.Millisecond

// Logs writes the component's logs to w: the replica logs one after the
// other (lines prefixed "[replica N] " when there is more than one), the
// runs of a scheduled component (they share 0.log), or the latest run of a
// one-off component, each log with its rotated files (see
// internal/logfile). Lines keeps the last N lines of each log, read from
// its end: the memory used does not grow with the size of the logs. With
// Follow it then polls the files every 200ms and writes what is appended,
// across rotations, until ctx is done (returning nil). An unknown
// component is a [slipway.ENotFound] error.
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
		runLog = d.runLog(tool, name, c.lastRun.ID)
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
	followers := make([]*logfile.Follower, len(files))
	defer func() {
		for _, fw := range followers {
			if fw != nil {
				_ = fw.Close() // read-only
			}
		}
	}()
	for i, f := range files {
		pos, err := logfile.LastLines(f.out(w), f.path, opts.Lines, logfile.DefaultMaxLine)
		if err != nil {
			return fmt.Errorf("logs %s/%s: %w", tool, name, err)
		}
		if !opts.Follow {
			if err := f.flush(w); err != nil {
				return fmt.Errorf("logs %s/%s: %w", tool, name, err)
			}
			continue
		}
		followers[i] = logfile.Follow(f.path, pos)
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
		for i, f := range files {
			if err := followers[i].Next(f.out(w)); err != nil {
				return fmt.Errorf("logs %s/%s: %w", tool, name, err)
			}
		}
	}
}

// runLog returns the log of the one-off run id of a component:
// runs/<id>.log in its directory.
func (d *Driver) runLog(tool, name, id string) string {
	return filepath.Join(d.compDir(tool, name), "runs", id+".log")
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

// logFile is one log being written out, its lines prefixed when there
// are several.
type logFile struct {
	path   string
	prefix []byte
	// partial is an unfinished last line held back so that the lines of
	// several logs do not mix; mid is set once a too long one was written
	// out unfinished (the rest of the line then goes without prefix).
	partial []byte
	mid     bool
}

// maxPartial bounds an unfinished line held back for its prefix.
const maxPartial = logfile.DefaultMaxLine

// out returns the writer of f's lines into w.
func (f *logFile) out(w io.Writer) io.Writer {
	if len(f.prefix) == 0 {
		return w
	}
	return prefixWriter{f: f, w: w}
}

// flush writes out an unfinished last line, ended with a newline, once
// nothing more is read.
func (f *logFile) flush(w io.Writer) error {
	if len(f.prefix) == 0 || len(f.partial) == 0 && !f.mid {
		return nil
	}
	var out []byte
	if !f.mid {
		out = append(out, f.prefix...)
	}
	out = append(append(out, f.partial...), '\n')
	f.partial, f.mid = nil, false
	_, err := w.Write(out)
	return err
}

// prefixWriter writes whole lines of f with its prefix.
type prefixWriter struct {
	f *logFile
	w io.Writer
}

func (p prefixWriter) Write(b []byte) (int, error) {
	f, n := p.f, len(b)
	var out []byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			f.partial = append(f.partial, b...)
			if len(f.partial) >= maxPartial {
				if !f.mid {
					out = append(out, f.prefix...)
				}
				out = append(out, f.partial...)
				f.partial, f.mid = f.partial[:0], true
			}
			break
		}
		if !f.mid {
			out = append(out, f.prefix...)
		}
		out = append(append(out, f.partial...), b[:i+1]...)
		f.partial, f.mid = f.partial[:0], false
		b = b[i+1:]
	}
	if len(out) == 0 {
		return n, nil
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return n, nil
}

// tailMaxLine caps each line of a log tail put in a status message.
const tailMaxLine = 4 << 10

// tailLines returns the last n lines of the log at path (its rotated files
// included when it has fewer), each cut to 4 KiB, without a final newline.
func tailLines(path string, n int) string {
	var b bytes.Buffer
	if _, err := logfile.LastLines(&b, path, n, tailMaxLine); err != nil {
		return ""
	}
	return strings.TrimRight(b.String(), "\n")
}

// genTailScan is how many lines at the end of a log genTail looks through
// for those of one generation.
const genTailScan = 500

// genTail returns the last n lines that generation gen wrote to the log at
// path: those after one of its "--- started pid N (generation G)" markers
// and before the next marker of another generation. Replicas of two
// generations share a log during a surge, so a line the old generation
// wrote after the new one started may still be among them.
func genTail(path string, gen, n int) string {
	mark := fmt.Sprintf(" (generation %d) at ", gen)
	var keep []string
	in := false
	for line := range strings.SplitSeq(tailLines(path, genTailScan), "\n") {
		if strings.HasPrefix(line, "--- started pid ") {
			in = strings.Contains(line, mark)
		}
		if in {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep[max(len(keep)-n, 0):], "\n")
}
