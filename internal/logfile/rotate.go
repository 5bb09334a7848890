package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
)

// RotatingWriter is a log the server writes itself, rotated by renaming
// when a write would take it past its size limit (see the package doc). It
// is safe for concurrent use.
type RotatingWriter struct {
	path     string
	maxSize  int64
	maxFiles int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// NewRotatingWriter starts a new log at path (mode 0600): path is created
// or truncated and its old rotated files are removed. The log then holds
// at most maxFiles files (path and maxFiles-1 rotated ones) of at most
// maxSize bytes each.
// maxSize and maxFiles are checked by [CheckLimits].
func NewRotatingWriter(path string, maxSize int64, maxFiles int) (*RotatingWriter, error) {
	if err := CheckLimits(maxSize, maxFiles); err != nil {
		return nil, fmt.Errorf("log %s: %w", path, err)
	}
	if err := Remove(path); err != nil {
		return nil, fmt.Errorf("log %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log %s: %w", path, err)
	}
	return &RotatingWriter{path: path, maxSize: maxSize, maxFiles: maxFiles, f: f}, nil
}

// AppendRotatingWriter continues the log at path (mode 0600) where it
// ends, keeping its rotated files: a log that outlives the process writing
// it, such as a tool's access log across server restarts. A last line
// that a crashed writer left unfinished is ended first, so that the next
// line starts on its own. maxSize and maxFiles are as for
// [NewRotatingWriter].
func AppendRotatingWriter(path string, maxSize int64, maxFiles int) (*RotatingWriter, error) {
	if err := CheckLimits(maxSize, maxFiles); err != nil {
		return nil, fmt.Errorf("log %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log %s: %w", path, err)
	}
	info, err := f.Stat()
	if err == nil && !info.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	var ended bool
	if err == nil {
		ended, err = endsLine(f, info.Size())
	}
	size := int64(0)
	if err == nil {
		size = info.Size()
		if !ended {
			_, err = f.Write([]byte("\n"))
			size++
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("log %s: %w", path, err)
	}
	return &RotatingWriter{path: path, maxSize: maxSize, maxFiles: maxFiles, f: f, size: size}, nil
}

// Write appends p, rotating whenever the file would pass its size limit:
// p is split at line ends (or, for a line longer than the limit, at the
// limit), so no file passes it. When a rotation fails, the rest goes to
// the current file (output matters more than the limit) and the rotation's
// error is returned; the next write tries again.
func (w *RotatingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return 0, fmt.Errorf("log %s: %w", w.path, os.ErrClosed)
	}
	written := 0
	var rotErr error
	for len(p) > 0 {
		part := p
		if rotErr == nil {
			if room := w.maxSize - w.size; int64(len(p)) > room {
				cut := 0
				if room > 0 {
					cut = bytes.LastIndexByte(p[:room], '\n') + 1
				}
				if cut == 0 && w.size > 0 {
					// Nothing whole fits: a new file first.
					rotErr = w.rotate()
					continue
				}
				if cut == 0 {
					cut = int(room) // a line longer than a whole file
				}
				part = p[:cut]
			}
		}
		n, err := w.f.Write(part)
		w.size += int64(n)
		written += n
		if err != nil {
			return written, fmt.Errorf("log %s: %w", w.path, err)
		}
		p = p[n:]
	}
	return written, rotErr
}

// rotate shifts the files up and starts a new path; w.mu is held.
func (w *RotatingWriter) rotate() error {
	if err := shift(w.path, w.maxFiles); err != nil {
		return err
	}
	if err := os.Rename(w.path, Rotated(w.path, 1)); err != nil {
		return fmt.Errorf("rotate %s: %w", w.path, err)
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		// Keep writing to the renamed file rather than losing the output.
		return fmt.Errorf("rotate %s: %w", w.path, err)
	}
	_ = w.f.Close() // written with plain writes; nothing buffered to lose
	w.f, w.size = f, 0
	return nil
}

// Close closes the log.
func (w *RotatingWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// CopyTruncate rotates the log at path when it is larger than maxSize: a
// log that other processes append to through descriptors opened with
// O_APPEND (see the package doc for the window in which a line can be
// lost). The content is copied to path.1, the older rotated files shifted
// up (at most maxFiles files in all), what was appended meanwhile copied
// too, and path truncated. A file larger than [BigFactor] × maxSize keeps
// only its last maxSize bytes, from the first line start in them. It
// reports whether it rotated; a missing file is not an error.
func CopyTruncate(path string, maxSize int64, maxFiles int) (bool, error) {
	if err := CheckLimits(maxSize, maxFiles); err != nil {
		return false, fmt.Errorf("rotate %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("rotate %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("rotate %s: %w", path, err)
	}
	size := fi.Size()
	if size <= maxSize {
		return false, nil
	}
	var start int64
	if size > BigFactor*maxSize {
		if start, err = lineStartAfter(f, size-maxSize, size); err != nil {
			return false, fmt.Errorf("rotate %s: %w", path, err)
		}
	}

	tmpPath := tmpName(path)
	tmp, err := os.OpenFile(tmpPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return false, fmt.Errorf("rotate %s: %w", path, err)
	}
	defer tmp.Close()
	fail := func(err error) (bool, error) {
		_ = os.Remove(tmpPath) // best effort: the next rotation truncates it
		return false, fmt.Errorf("rotate %s: %w", path, err)
	}
	if err := copyRange(tmp, f, start, size); err != nil {
		return fail(err)
	}
	// The copy becomes path.1 before path is truncated, so that its lines
	// are always in one of the two files (for a moment in both).
	if err := shift(path, maxFiles); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmpPath, Rotated(path, 1)); err != nil {
		return fail(err)
	}
	// What was appended during the copy: copy it too, until a look finds
	// nothing new (each round copies less; a writer faster than the copy
	// stops it after deltaRounds), then truncate at once. Lines written
	// between that look and the truncation are the ones lost. But the copy
	// must not stop inside a line: that is most likely a write seen half
	// done (the size of a write crossing a page boundary grows in two
	// steps), whose end the truncation would cut. Then the look is made
	// again once the writes in flight are done (see waitWrites).
	end := size
	for round := 0; ; round++ {
		fi, err := f.Stat()
		if err != nil {
			return true, fmt.Errorf("rotate %s: %w", path, err)
		}
		if fi.Size() <= end || round >= deltaRounds {
			done, err := endsLine(f, end)
			if err != nil {
				return true, fmt.Errorf("rotate %s: %w", path, err)
			}
			if done || round >= deltaRounds+halfLineRounds || waitWrites(f) != nil {
				break
			}
			if fi, err = f.Stat(); err != nil {
				return true, fmt.Errorf("rotate %s: %w", path, err)
			}
			if fi.Size() <= end {
				break // a line without its end yet, not a write in flight
			}
		}
		if err := copyRange(tmp, f, end, fi.Size()); err != nil {
			return true, fmt.Errorf("rotate %s: %w", path, err)
		}
		end = fi.Size()
	}
	if err := f.Truncate(0); err != nil {
		return true, fmt.Errorf("rotate %s: truncate: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return true, fmt.Errorf("rotate %s: %w", path, err)
	}
	return true, nil
}

// deltaRounds bounds the looks for what was appended during a rotation's
// copy; halfLineRounds more finish a line the copy stopped inside.
const (
	deltaRounds    = 128
	halfLineRounds = 8
)

// waitWrites returns once the writes to f in flight are done: a write
// holds the file's inode lock from its offset to its last byte, and so
// does fallocate, which here (FALLOC_FL_KEEP_SIZE over the first byte,
// already allocated) changes nothing else. It fails where the filesystem
// has no fallocate.
func waitWrites(f *os.File) error {
	const keepSize = 0x1 // FALLOC_FL_KEEP_SIZE
	return syscall.Fallocate(int(f.Fd()), keepSize, 0, 1)
}

// endsLine reports whether f's byte before off is a newline (or off is 0).
func endsLine(f *os.File, off int64) (bool, error) {
	if off == 0 {
		return true, nil
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], off-1); err != nil {
		return false, err
	}
	return b[0] == '\n', nil
}

// copyRange appends src[from:to) to dst; the kernel copies it
// (copy_file_range) when it can.
func copyRange(dst, src *os.File, from, to int64) error {
	if _, err := src.Seek(from, io.SeekStart); err != nil {
		return err
	}
	_, err := dst.ReadFrom(io.LimitReader(src, to-from))
	return err
}

// lineStartAfter returns the offset just after the first '\n' at or after
// off (and before size), or off when there is none within a chunk: a cut
// in the middle of a very long line.
func lineStartAfter(r io.ReaderAt, off, size int64) (int64, error) {
	b := make([]byte, min(int64(chunk), size-off))
	n, err := r.ReadAt(b, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if i := bytes.IndexByte(b[:n], '\n'); i >= 0 && off+int64(i)+1 < size {
		return off + int64(i) + 1, nil
	}
	return off, nil
}
