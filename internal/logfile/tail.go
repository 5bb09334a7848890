package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
)

// Pos is where a read of a log stopped: the file that path was then (its
// device and inode) and the offset in it. The zero Pos is the start of
// whatever path will be.
type Pos struct {
	id  fileID
	off int64
	// last are the bytes just before off (see Follower.last).
	last []byte
}

// Offset returns the offset in the file.
func (p Pos) Offset() int64 { return p.off }

// LastLines writes the last n lines of the log at path to w, oldest first:
// from path, and from its rotated files (path.1, path.2, …) when path has
// fewer than n. With n <= 0 it writes every file whole, the oldest rotated
// one first. A line longer than maxLine bytes (<= 0: [DefaultMaxLine]) is
// cut to its first maxLine bytes and a note "… [N bytes cut]"; only when
// n > 0. A missing log writes nothing and is not an error.
//
// Each file is read backwards in chunks to find where the wanted lines
// start, then forward from there: memory stays a few chunk buffers whatever
// the size of the files, n, or the length of the lines.
//
// It returns the position in path where it stopped (path's size when it
// opened it), for [Follow].
func LastLines(w io.Writer, path string, n int, maxLine int) (Pos, error) {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	cur, err := openLog(path)
	if err != nil {
		return Pos{}, err
	}
	var pos Pos
	if cur != nil {
		defer cur.f.Close()
		pos = Pos{id: cur.id, off: cur.size}
		pos.last = make([]byte, min(cur.size, fingerprint))
		if _, err := cur.f.ReadAt(pos.last, cur.size-int64(len(pos.last))); err != nil && !errors.Is(err, io.EOF) {
			return Pos{}, fmt.Errorf("read %s: %w", path, err)
		}
	}
	buf := make([]byte, chunk)

	if n <= 0 {
		for i := rotatedCount(path); i >= 1; i-- {
			if err := copyWhole(w, Rotated(path, i), buf); err != nil {
				return pos, err
			}
		}
		if cur != nil {
			if _, err := io.CopyBuffer(w, io.NewSectionReader(cur.f, 0, cur.size), buf); err != nil {
				return pos, fmt.Errorf("read %s: %w", path, err)
			}
		}
		return pos, nil
	}

	// From the newest file back: where the wanted lines start in each.
	type part struct {
		f     *openFile
		start int64
		name  string
	}
	var parts []part
	need := n
	if cur != nil {
		start, found, err := linesStart(cur.f, cur.size, need, buf)
		if err != nil {
			return pos, fmt.Errorf("read %s: %w", path, err)
		}
		parts = append(parts, part{f: cur, start: start, name: path})
		need -= found
	}
	for i := 1; need > 0 && i <= maxRotated; i++ {
		name := Rotated(path, i)
		of, err := openLog(name)
		if err != nil {
			return pos, err
		}
		if of == nil {
			break
		}
		defer of.f.Close()
		start, found, err := linesStart(of.f, of.size, need, buf)
		if err != nil {
			return pos, fmt.Errorf("read %s: %w", name, err)
		}
		parts = append(parts, part{f: of, start: start, name: name})
		need -= found
	}
	cw := &cutWriter{w: w, max: maxLine}
	for _, p := range slices.Backward(parts) {
		if _, err := io.CopyBuffer(cw, io.NewSectionReader(p.f.f, p.start, p.f.size-p.start), buf); err != nil {
			return pos, fmt.Errorf("read %s: %w", p.name, err)
		}
		if err := cw.endFile(); err != nil {
			return pos, err
		}
	}
	return pos, nil
}

// openFile is an open log with the size it had when opened.
type openFile struct {
	f    *os.File
	id   fileID
	size int64
}

// openLog opens a log file; a missing one is nil, not an error.
func openLog(name string) (*openFile, error) {
	of, err := openStat(name)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return of, nil
}

// openStat opens a file and stats it; a missing one is nil, not an error.
// Its errors are os.Open's and Stat's, unwrapped.
func openStat(name string) (*openFile, error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close() // the stat error is the one to report
		return nil, err
	}
	return &openFile{f: f, id: idOf(fi), size: fi.Size()}, nil
}

// copyWhole writes the file name to w; a missing file is skipped.
func copyWhole(w io.Writer, name string, buf []byte) error {
	of, err := openLog(name)
	if err != nil || of == nil {
		return err
	}
	defer of.f.Close()
	if _, err := io.CopyBuffer(w, io.NewSectionReader(of.f, 0, of.size), buf); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

// linesStart returns the offset where the last n lines of the first size
// bytes of r start, and how many lines that is (fewer than n when the file
// has fewer). A line ends with '\n' or at the end of the file; the last
// '\n' of the file ends the last line rather than starting an empty one.
// It reads backwards, len(buf) bytes at a time.
func linesStart(r io.ReaderAt, size int64, n int, buf []byte) (start int64, found int, err error) {
	pos := size
	for pos > 0 {
		from := max(pos-int64(len(buf)), 0)
		b := buf[:pos-from]
		if _, err := r.ReadAt(b, from); err != nil && !errors.Is(err, io.EOF) {
			return 0, 0, err
		}
		for j := len(b) - 1; j >= 0; j-- {
			j = bytes.LastIndexByte(b[:j+1], '\n')
			if j < 0 {
				break
			}
			if from+int64(j) == size-1 {
				continue // the end of the last line
			}
			found++
			if found == n {
				return from + int64(j) + 1, found, nil
			}
		}
		pos = from
	}
	if size > 0 {
		found++ // the first line of the file
	}
	return 0, found, nil
}

// cutWriter passes lines through, cutting each to its first max bytes and
// a note saying how many more there were.
type cutWriter struct {
	w   io.Writer
	max int
	// n is the length of the current line so far; cut how much of it was
	// left out.
	n, cut int64
}

func (c *cutWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		seg := p
		if i >= 0 {
			seg = p[:i]
		}
		if room := int64(c.max) - c.n; room > 0 {
			keep := seg[:min(int64(len(seg)), room)]
			if _, err := c.w.Write(keep); err != nil {
				return 0, err
			}
		}
		c.n += int64(len(seg))
		if over := c.n - int64(c.max); over > 0 {
			c.cut = over
		}
		if i < 0 {
			break
		}
		if err := c.endLine(true); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	return total, nil
}

// endLine ends the current line: the cut note when some was left out, and
// the newline when the line had one.
func (c *cutWriter) endLine(newline bool) error {
	cut := c.cut
	c.n, c.cut = 0, 0
	if cut == 0 {
		if !newline {
			return nil
		}
		_, err := c.w.Write(newlineBytes)
		return err
	}
	note := "… [" + strconv.FormatInt(cut, 10) + " bytes cut]"
	if newline {
		note += "\n"
	}
	_, err := io.WriteString(c.w, note)
	return err
}

var newlineBytes = []byte{'\n'}

// endFile ends a file: a last line without a newline gets its cut note
// (the next file goes on where it stopped, as the bytes did).
func (c *cutWriter) endFile() error {
	if c.cut == 0 {
		c.n = 0
		return nil
	}
	return c.endLine(false)
}
