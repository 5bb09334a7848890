package logfile_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/logfile"
)

// writeLog writes the files of a log: files[0] is path, files[i] path.i.
func writeLog(t *testing.T, files ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "0.log")
	for i, content := range files {
		p := path
		if i > 0 {
			p = logfile.Rotated(path, i)
		}
		if content == "<missing>" {
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func lastLines(t *testing.T, path string, n, maxLine int) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := logfile.LastLines(&b, path, n, maxLine); err != nil {
		t.Fatalf("LastLines(%d): %v", n, err)
	}
	return b.String()
}

func TestLastLines(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 100)
	tests := []struct {
		name    string
		files   []string
		n       int
		maxLine int
		want    string
	}{
		{name: "Missing", files: []string{"<missing>"}, n: 5, want: ""},
		{name: "Empty", files: []string{""}, n: 5, want: ""},
		{name: "FewerThanN", files: []string{"a\nb\n"}, n: 5, want: "a\nb\n"},
		{name: "Exact", files: []string{"a\nb\nc\n"}, n: 3, want: "a\nb\nc\n"},
		{name: "Last2", files: []string{"a\nb\nc\n"}, n: 2, want: "b\nc\n"},
		{name: "NoFinalNewline", files: []string{"a\nb\nc"}, n: 2, want: "b\nc"},
		{name: "BlankLines", files: []string{"a\n\n\nb\n"}, n: 3, want: "\n\nb\n"},
		{name: "OnlyNewline", files: []string{"\n"}, n: 1, want: "\n"},
		{name: "All", files: []string{"a\nb\n"}, n: 0, want: "a\nb\n"},
		{name: "FromRotated", files: []string{"c\nd\n", "a\nb\n"}, n: 3, want: "b\nc\nd\n"},
		{name: "FromTwoRotated", files: []string{"e\n", "c\nd\n", "a\nb\n"}, n: 4, want: "b\nc\nd\ne\n"},
		{name: "RotatedNotNeeded", files: []string{"c\nd\n", "a\nb\n"}, n: 2, want: "c\nd\n"},
		{name: "CurrentMissing", files: []string{"<missing>", "a\nb\n"}, n: 1, want: "b\n"},
		{name: "CurrentEmpty", files: []string{"", "a\nb\n"}, n: 1, want: "b\n"},
		{name: "AllWithRotated", files: []string{"e\n", "c\nd\n", "a\nb\n"}, n: 0, want: "a\nb\nc\nd\ne\n"},
		// A line split by a copy-and-truncate rotation counts twice.
		{name: "SplitLine", files: []string{"ne\nz\n", "a\nli"}, n: 3, want: "line\nz\n"},
		{name: "Gap", files: []string{"c\n", "b\n", "<missing>", "a\n"}, n: 5, want: "b\nc\n"},
		{name: "Cut", files: []string{"short\n" + long + "\nend"}, n: 3, maxLine: 10, want: "short\nxxxxxxxxxx… [90 bytes cut]\nend"},
		{name: "CutLastWithoutNewline", files: []string{"a\n" + long}, n: 1, maxLine: 10, want: "xxxxxxxxxx… [90 bytes cut]"},
		{name: "NoCutWhenAll", files: []string{long + "\n"}, n: 0, maxLine: 10, want: long + "\n"},
		{name: "CutAtExactLength", files: []string{"0123456789\n"}, n: 1, maxLine: 10, want: "0123456789\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeLog(t, tt.files...)
			if got := lastLines(t, path, tt.n, tt.maxLine); got != tt.want {
				t.Errorf("LastLines(%d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
}

// Ensure the backward scan finds lines across chunk boundaries: every n of
// a file of many lines of varied length, against a plain split.
func TestLastLines_Chunks(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	var lines []string
	for i := range 5000 {
		l := fmt.Sprintf("line %d %s\n", i, strings.Repeat("·", i%97))
		lines = append(lines, l)
		b.WriteString(l)
	}
	path := writeLog(t, b.String())
	for _, n := range []int{1, 2, 100, 1234, 4999, 5000, 6000} {
		want := strings.Join(lines[max(len(lines)-n, 0):], "")
		if got := lastLines(t, path, n, 0); got != want {
			t.Errorf("n=%d: got %d bytes, want %d", n, len(got), len(want))
		}
	}
}

// Ensure the last lines of a 2 GiB log cost a few buffers, not the file:
// the bytes allocated stay under 1 MiB. The file is sparse, so the test
// writes almost nothing.
//
// Not parallel: the allocation count is the process's, and parallel tests
// wait until the others are done.
func TestLastLines_HugeFileSmallMemory(t *testing.T) { //nolint:paralleltest // measures the process's allocations
	path := filepath.Join(t.TempDir(), "0.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(2 << 30); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("\nfirst\nsecond\nthird\n"), 2<<30); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var out bytes.Buffer
	pos, err := logfile.LastLines(&out, path, 2, 0)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "second\nthird\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := pos.Offset(), int64(2<<30)+20; got != want {
		t.Errorf("Offset() = %d, want %d", got, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("allocated %d bytes for 2 lines of a 2 GiB file", alloc)
	}
}

// BenchmarkLastLines reads the last 100 lines of a 50 MiB log of 100-byte
// lines, with its rotated files unused, and the last 100 lines when they
// span the current file and path.1.
func BenchmarkLastLines(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "0.log")
	line := strings.Repeat("x", 99) + "\n"
	big := strings.Repeat(line, 50<<20/100)
	if err := os.WriteFile(path, []byte(big), 0o600); err != nil {
		b.Fatal(err)
	}
	split := filepath.Join(dir, "split.log")
	if err := os.WriteFile(split, []byte(strings.Repeat(line, 40)), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(logfile.Rotated(split, 1), []byte(big), 0o600); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, path string }{{"OneFile", path}, {"TwoFiles", split}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var n countWriter
				if _, err := logfile.LastLines(&n, bc.path, 100, 0); err != nil {
					b.Fatal(err)
				}
				if n != 100*100 {
					b.Fatalf("wrote %d bytes", n)
				}
			}
		})
	}
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
