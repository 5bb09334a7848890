package logfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"slipway.dev/slipway/internal/logfile"
)

// readAll returns the whole log (rotated files first) and the number of
// rotated files.
func readAll(t *testing.T, path string) (string, int) {
	t.Helper()
	var b bytes.Buffer
	if _, err := logfile.LastLines(&b, path, 0, 0); err != nil {
		t.Fatal(err)
	}
	n := 0
	for ; ; n++ {
		if _, err := os.Stat(logfile.Rotated(path, n+1)); err != nil {
			break
		}
	}
	return b.String(), n
}

func size(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// appendFile opens path as a child's stdout is opened.
func appendFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func numbered(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "line %05d\n", i) // 11 bytes
	}
	return b.String()
}

func TestRotatingWriter(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "b.log")
	// Leftovers of an earlier build of the key go.
	for _, p := range []string{path, logfile.Rotated(path, 1), logfile.Rotated(path, 2)} {
		if err := os.WriteFile(p, []byte("old\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w, err := logfile.NewRotatingWriter(path, 4096, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got, n := readAll(t, path); got != "" || n != 0 {
		t.Fatalf("a new log has %q and %d rotated files", got, n)
	}
	for i := range 2000 {
		if _, err := fmt.Fprintf(w, "line %05d\n", i); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, n := readAll(t, path)
	if n != 2 {
		t.Errorf("%d rotated files, want 2", n)
	}
	for _, p := range []string{path, logfile.Rotated(path, 1), logfile.Rotated(path, 2)} {
		if s := size(t, p); s > 4096 {
			t.Errorf("%s has %d bytes, more than the limit", p, s)
		}
	}
	// The files hold the newest lines, whole and in order.
	all := numbered(0, 2000)
	if !strings.HasSuffix(all, got) || !strings.HasPrefix(got, "line ") || len(got) < 2*4096-11 {
		t.Errorf("the log (%d bytes) is not the end of what was written: %.40q…", len(got), got)
	}
	if _, err := w.Write([]byte("late\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
}

// Ensure one write larger than the limit is split at line ends, and a
// line longer than a whole file at the limit: no file passes it.
func TestRotatingWriter_BigWrite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "b.log")
	w, err := logfile.NewRotatingWriter(path, 4096, 20)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	big := numbered(0, 1500) + strings.Repeat("x", 9000) + "\n" + numbered(1500, 1600)
	if n, err := w.Write([]byte(big)); err != nil || n != len(big) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	got, n := readAll(t, path)
	if got != big {
		t.Errorf("the log is not what was written (%d bytes, want %d)", len(got), len(big))
	}
	for i := range n + 1 {
		p := path
		if i > 0 {
			p = logfile.Rotated(path, i)
		}
		if s := size(t, p); s > 4096 {
			t.Errorf("%s has %d bytes", p, s)
		}
	}
}

func TestNewRotatingWriter_BadLimits(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "b.log")
	for _, tt := range []struct {
		size  int64
		files int
		want  string
	}{
		{size: 100, files: 2, want: "below the minimum of 4096"},
		{size: 1 << 20, files: 1, want: "below the minimum of 2"},
	} {
		if _, err := logfile.NewRotatingWriter(path, tt.size, tt.files); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewRotatingWriter(%d, %d) = %v, want %q", tt.size, tt.files, err, tt.want)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused writer made the file: %v", err)
	}
}

func TestCopyTruncate(t *testing.T) {
	t.Parallel()
	t.Run("UnderLimit", func(t *testing.T) {
		t.Parallel()
		path := writeLog(t, "small\n")
		if rotated, err := logfile.CopyTruncate(path, 4096, 5); err != nil || rotated {
			t.Fatalf("CopyTruncate = %v, %v", rotated, err)
		}
		if got, n := readAll(t, path); got != "small\n" || n != 0 {
			t.Errorf("log %q, %d rotated", got, n)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "none.log")
		if rotated, err := logfile.CopyTruncate(path, 4096, 5); err != nil || rotated {
			t.Fatalf("CopyTruncate = %v, %v", rotated, err)
		}
	})
	t.Run("AppendingWriter", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "0.log")
		w := appendFile(t, path)
		var all strings.Builder
		for round := range 6 {
			chunk := numbered(round*500, round*500+500) // 5500 bytes
			all.WriteString(chunk)
			if _, err := w.WriteString(chunk); err != nil {
				t.Fatal(err)
			}
			rotated, err := logfile.CopyTruncate(path, 4096, 3)
			if err != nil || !rotated {
				t.Fatalf("round %d: CopyTruncate = %v, %v", round, rotated, err)
			}
			if s := size(t, path); s != 0 {
				t.Fatalf("round %d: %d bytes left after the truncation", round, s)
			}
		}
		// O_APPEND: the writer goes on at offset 0.
		if _, err := w.WriteString("after\n"); err != nil {
			t.Fatal(err)
		}
		if s := size(t, path); s != 6 {
			t.Errorf("after the rotation the file has %d bytes, want 6", s)
		}
		got, n := readAll(t, path)
		if n != 2 {
			t.Errorf("%d rotated files, want 2 (3 files in all)", n)
		}
		want := numbered(2000, 3000) + "after\n"
		if got != want {
			t.Errorf("log is %d bytes %.30q…, want the last two rounds and the new line", len(got), got)
		}
		if _, err := os.Stat(path + ".rotating"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("temporary file left: %v", err)
		}
	})
	t.Run("Big", func(t *testing.T) {
		t.Parallel()
		// 20 × the limit: only the last 4096 bytes are kept, from a line start.
		content := numbered(0, 20*4096/11)
		path := writeLog(t, content)
		if rotated, err := logfile.CopyTruncate(path, 4096, 2); err != nil || !rotated {
			t.Fatalf("CopyTruncate = %v, %v", rotated, err)
		}
		b, err := os.ReadFile(logfile.Rotated(path, 1))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 4096 || len(b) < 4096-11 || !strings.HasSuffix(content, string(b)) || !bytes.HasPrefix(b, []byte("line ")) {
			t.Errorf("path.1 has %d bytes: %.30q…", len(b), b)
		}
	})
	t.Run("Mode", func(t *testing.T) {
		t.Parallel()
		path := writeLog(t, numbered(0, 1000))
		if rotated, err := logfile.CopyTruncate(path, 4096, 2); err != nil || !rotated {
			t.Fatalf("CopyTruncate = %v, %v", rotated, err)
		}
		fi, err := os.Stat(logfile.Rotated(path, 1))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("path.1 has mode %v, want the log's 0600", fi.Mode().Perm())
		}
	})
}

// Ensure rotations racing a writer keep every surviving line whole and in
// order, each once, and lose at most the lines of the tiny window between
// the last copy and the truncation (counted, and logged).
func TestCopyTruncate_ConcurrentWriter(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "0.log")
	w := appendFile(t, path)
	const lines = 20000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range lines {
			// Kept under BigFactor × the limit, whose excess is dropped on
			// purpose: the test is about the truncation window.
			for fileSize(w) > 2*4096 {
				runtime.Gosched()
			}
			// One write per line, as a line-buffered process does.
			if _, err := fmt.Fprintf(w, "line %05d\n", i); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	rotations := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		rotated, err := logfile.CopyTruncate(path, 4096, 500)
		if err != nil {
			t.Fatal(err)
		}
		if rotated {
			rotations++
		}
	}
	got, n := readAll(t, path)
	if n >= 499 {
		t.Fatalf("%d rotated files: the test needs them all", n)
	}
	prev := -1
	for l := range strings.SplitSeq(strings.TrimSuffix(got, "\n"), "\n") {
		i, err := strconv.Atoi(strings.TrimPrefix(l, "line "))
		if err != nil || !strings.HasPrefix(l, "line ") || len(l) != 10 {
			t.Fatalf("damaged line %q", l)
		}
		if i <= prev {
			t.Fatalf("line %d after line %d", i, prev)
		}
		prev = i
	}
	lost := lines - strings.Count(got, "\n")
	t.Logf("%d rotations, %d of %d lines lost in the truncation window", rotations, lost, lines)

	if rotations < 10 {
		t.Errorf("only %d rotations", rotations)
	}
	// The window is microseconds, but the rotating goroutine can be
	// preempted in it while this writer goes flat out: a loss bound, not
	// zero (3% at most seen here). Losing every rotation's lines would be
	// most of them.
	if lost > lines/5 {
		t.Errorf("%d lines lost in %d rotations: more than the window allows", lost, rotations)
	}
}

// fileSize is f's size, or 0 when it cannot be read.
func fileSize(f *os.File) int64 {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}

func TestRemove(t *testing.T) {
	t.Parallel()
	path := writeLog(t, "a", "b", "c")
	other := path + "x"
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := logfile.Remove(path); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, logfile.Rotated(path, 1), logfile.Rotated(path, 2)} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another file went: %v", err)
	}
	if err := logfile.Remove(path); err != nil {
		t.Errorf("removing a missing log: %v", err)
	}
}

func TestFollower(t *testing.T) {
	t.Parallel()
	t.Run("FromLastLines", func(t *testing.T) {
		t.Parallel()
		path := writeLog(t, "a\nb\n")
		var out bytes.Buffer
		pos, err := logfile.LastLines(&out, path, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		w := appendFile(t, path)
		fw := logfile.Follow(path, pos)
		defer fw.Close()
		next(t, fw, &out)
		_, _ = w.WriteString("c\n")
		next(t, fw, &out)
		_, _ = w.WriteString("d")
		next(t, fw, &out)
		_, _ = w.WriteString("e\n")
		next(t, fw, &out)
		if got, want := out.String(), "b\nc\nde\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("NotYetThere", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "later.log")
		var out bytes.Buffer
		pos, err := logfile.LastLines(&out, path, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		fw := logfile.Follow(path, pos)
		defer fw.Close()
		next(t, fw, &out)
		w := appendFile(t, path)
		_, _ = w.WriteString("first\n")
		next(t, fw, &out)
		if got, want := out.String(), "first\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("CopyTruncate", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "0.log")
		w := appendFile(t, path)
		var out, all bytes.Buffer
		fw := logfile.Follow(path, logfile.Pos{})
		defer fw.Close()
		for round := range 5 {
			// Read half, then more is written, the file is rotated and
			// written to again before the follower looks.
			a, b, c := numbered(round*900, round*900+300), numbered(round*900+300, round*900+600), numbered(round*900+600, round*900+900)
			_, _ = w.WriteString(a)
			next(t, fw, &out)
			_, _ = w.WriteString(b)
			if rotated, err := logfile.CopyTruncate(path, 4096, 3); err != nil || !rotated {
				t.Fatalf("CopyTruncate = %v, %v", rotated, err)
			}
			_, _ = w.WriteString(c)
			next(t, fw, &out)
			all.WriteString(a + b + c)
		}
		if out.String() != all.String() {
			t.Errorf("followed %d bytes, want %d: the rotation lost or repeated lines", out.Len(), all.Len())
		}
	})
	t.Run("CopyTruncateRegrown", func(t *testing.T) {
		t.Parallel()
		// The file grows past the old offset again before the follower
		// looks: the new path.1 tells.
		path := filepath.Join(t.TempDir(), "0.log")
		w := appendFile(t, path)
		var out bytes.Buffer
		fw := logfile.Follow(path, logfile.Pos{})
		defer fw.Close()
		a, b, c := numbered(0, 400), numbered(400, 500), numbered(500, 1000)
		_, _ = w.WriteString(a)
		next(t, fw, &out)
		_, _ = w.WriteString(b)
		if _, err := logfile.CopyTruncate(path, 4096, 3); err != nil {
			t.Fatal(err)
		}
		_, _ = w.WriteString(c)
		next(t, fw, &out)
		if want := a + b + c; out.String() != want {
			t.Errorf("followed %d bytes, want %d", out.Len(), len(want))
		}
	})
	t.Run("Rename", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "b.log")
		w, err := logfile.NewRotatingWriter(path, 4096, 4)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		var out, all bytes.Buffer
		fw := logfile.Follow(path, logfile.Pos{})
		defer fw.Close()
		for i := range 3000 {
			l := fmt.Sprintf("line %05d\n", i)
			all.WriteString(l)
			if _, err := w.Write([]byte(l)); err != nil {
				t.Fatal(err)
			}
			if i%250 == 0 { // a rotation (every 372 lines) between most looks
				next(t, fw, &out)
			}
		}
		next(t, fw, &out)
		if out.String() != all.String() {
			t.Errorf("followed %d bytes, want %d: the rotation lost or repeated lines", out.Len(), all.Len())
		}
	})
	t.Run("RotatedBeforeFollow", func(t *testing.T) {
		t.Parallel()
		// LastLines, then a rename rotation before the follower opens the
		// file: the rest of the old file comes from path.1.
		path := filepath.Join(t.TempDir(), "b.log")
		w, err := logfile.NewRotatingWriter(path, 4096, 4)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		_, _ = w.Write([]byte(numbered(0, 300)))
		var out bytes.Buffer
		pos, err := logfile.LastLines(&out, path, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(numbered(300, 350))) // 550 bytes: 3850 in all
		_, _ = w.Write([]byte(numbered(350, 400))) // over 4096: rotates
		fw := logfile.Follow(path, pos)
		defer fw.Close()
		next(t, fw, &out)
		if want := numbered(299, 400); out.String() != want {
			t.Errorf("got %d bytes, want %d", out.Len(), len(want))
		}
	})
}

func next(t *testing.T, fw *logfile.Follower, w *bytes.Buffer) {
	t.Helper()
	if err := fw.Next(w); err != nil {
		t.Fatal(err)
	}
}

// Ensure a follower racing a writer and rotations (each rotation seen
// whole by two looks before the next, as the driver's few seconds between
// rotations and 200ms between looks give; a look may run during one) sees
// lines in order, never repeated, up to the last one written after the
// rotations, losing only what the truncation window loses.
func TestFollower_ConcurrentRotation(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "0.log")
	w := appendFile(t, path)
	const lines = 20000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		defer close(stop)
		for i := range lines {
			for fileSize(w) > 2*4096 {
				runtime.Gosched()
			}
			if _, err := fmt.Fprintf(w, "line %05d\n", i); err != nil {
				t.Error(err)
				return
			}
		}
	})
	rotations := 0
	var looks atomic.Int64 // complete looks since the last rotation
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for looks.Load() < 2 {
				select {
				case <-stop:
					return
				default:
					runtime.Gosched()
				}
			}
			if rotated, err := logfile.CopyTruncate(path, 4096, 3); err != nil {
				t.Error(err)
				return
			} else if rotated {
				rotations++
				looks.Store(0)
			}
		}
	})
	var out bytes.Buffer
	fw := logfile.Follow(path, logfile.Pos{})
	defer fw.Close()
	for running := true; running; {
		select {
		case <-stop:
			running = false
		default:
		}
		next(t, fw, &out)
		looks.Add(1)
	}

	wg.Wait()
	// The writer may finish inside the last rotation's truncation window,
	// which loses what it wrote there: one more line, written once every
	// rotation is over, must reach the follower.
	if _, err := fmt.Fprintf(w, "line %05d\n", lines); err != nil {
		t.Fatal(err)
	}
	next(t, fw, &out)
	prev, seen := -1, 0
	for l := range strings.SplitSeq(strings.TrimSuffix(out.String(), "\n"), "\n") {
		i, err := strconv.Atoi(strings.TrimPrefix(l, "line "))
		if err != nil || len(l) != 10 {
			t.Fatalf("damaged line %q", l)
		}
		if i <= prev {
			t.Errorf("line %d after line %d", i, prev)
			return
		}
		prev = i
		seen++
	}
	t.Logf("%d rotations; the follower saw %d of %d lines", rotations, seen, lines+1)
	if prev != lines {
		t.Errorf("last line seen %d, want %d", prev, lines)
	}
	if lost := lines + 1 - seen; lost > lines/5 {
		t.Errorf("%d lines lost in %d rotations", lost, rotations)
	}
}

// Ensure AppendRotatingWriter continues a log: what was there and its
// rotated files stay, a line a crash cut off is ended, rotation goes on
// with the size already there, and a symlink at the path is refused.
func TestAppendRotatingWriter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	if err := os.WriteFile(logfile.Rotated(path, 1), []byte("older\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("before the restart\ncut off"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := logfile.AppendRotatingWriter(path, 4096, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("after\n")); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "before the restart\ncut off\nafter\n"; string(data) != want {
		t.Errorf("log = %q, want %q", data, want)
	}
	// 33 bytes are there: the next 4,080 go to a new file, the current
	// one rotated to .1 and the old .1 to .2.
	if _, err := w.Write([]byte(strings.Repeat("x", 4079) + "\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		logfile.Rotated(path, 2): "older\n",
		logfile.Rotated(path, 1): "before the restart\ncut off\nafter\n",
		path:                     strings.Repeat("x", 4079) + "\n",
	} {
		if got, err := os.ReadFile(p); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", filepath.Base(p), got, err, want)
		}
	}
	// An empty log starts empty; a symlink is not followed.
	if w, err := logfile.AppendRotatingWriter(filepath.Join(dir, "new.log"), 4096, 3); err != nil {
		t.Fatal(err)
	} else {
		_ = w.Close()
	}
	link := filepath.Join(dir, "link.log")
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), link); err != nil {
		t.Fatal(err)
	}
	if _, err := logfile.AppendRotatingWriter(link, 4096, 3); err == nil {
		t.Error("a symlink was followed")
	}
	if _, err := logfile.AppendRotatingWriter(path, 0, 3); err == nil {
		t.Error("bad limits accepted")
	}
}
