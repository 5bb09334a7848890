package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
)

// Follower writes what is appended to a log, across rotations. Create it
// with [Follow], call [Follower.Next] whenever the log may have grown (on
// a timer), and [Follower.Close] at the end. It is not safe for concurrent
// use.
type Follower struct {
	path string
	f    *os.File // the file being read, nil until path exists
	id   fileID   // its identity (or, before f is open, the one to expect)
	off  int64
	// rot1 is the identity of path.1 when last looked at: a new path.1
	// while f keeps its identity means f was copied and truncated.
	rot1 fileID
	// last holds the bytes just before off (up to [fingerprint] of them):
	// what tells a copy in progress from a truncated and regrown file, and
	// where to go on in path.1.
	last []byte
	buf  []byte
}

// fingerprint is how many bytes before its offset a Follower remembers.
const fingerprint = 64

// Follow returns a Follower of the log at path starting at from: a [Pos]
// returned by [LastLines], or the zero Pos for the whole log.
func Follow(path string, from Pos) *Follower {
	fw := &Follower{path: path, id: from.id, off: from.off, last: slices.Clone(from.last), buf: make([]byte, chunk)}
	fw.rememberRot1()
	return fw
}

// Next writes what was appended since the last call (or since the
// starting position) to w. A log that does not exist (yet) writes nothing.
func (fw *Follower) Next(w io.Writer) error {
	// A rotation found in the middle of a read is dealt with at once,
	// before another one can come.
	for range 3 {
		again, err := fw.next(w)
		if err != nil || !again {
			return err
		}
	}
	return nil
}

// next is one look at the log; again is set when the file changed under
// a read, which the next look sorts out.
func (fw *Follower) next(w io.Writer) (again bool, err error) {
	st, err := os.Stat(fw.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("follow %s: %w", fw.path, err)
	}
	exists := err == nil
	if fw.f == nil {
		if !exists {
			return false, nil
		}
		if err := fw.open(w); err != nil {
			return false, err
		}
	} else if exists && idOf(st) != fw.id {
		// Renamed away and replaced: drain the old file, then the new one.
		if err := fw.copyFrom(w, fw.f, fw.off, -1); err != nil {
			return false, err
		}
		_ = fw.f.Close() // read-only, and read to its end
		fw.f, fw.off, fw.id, fw.last = nil, 0, fileID{}, fw.last[:0]
		fw.rememberRot1()
		if err := fw.open(w); err != nil {
			return false, err
		}
	}
	if fw.f == nil {
		return false, nil // gone between the stat and the open
	}

	// path.1 first, then the file: a file not truncated since is at
	// least as long as the copy was then, so a shorter one was truncated.
	// And path.1 again: a rotation in between (its rename) makes the look
	// start over.
	rot1 := Rotated(fw.path, 1)
	st1 := statOrNil(rot1)
	fi, err := fw.f.Stat()
	if err != nil {
		return false, fmt.Errorf("follow %s: %w", fw.path, err)
	}
	if after := statOrNil(rot1); idOrZero(after) != idOrZero(st1) {
		return true, nil
	}
	size := fi.Size()
	newRot1 := st1 != nil && idOf(st1) != fw.rot1
	truncated := size < fw.off
	if !truncated && newRot1 {
		// A new path.1, and the file still reaches where we are: either
		// its copy is in progress (not truncated yet), or it was truncated
		// and grew again. The bytes just before our offset tell, or at
		// offset 0 the first bytes of both files (a copy is never longer
		// than the file before its truncation).
		var same bool
		if fw.off > 0 {
			same, err = fw.endsWith(fw.f)
		} else if size >= st1.Size() {
			same, err = sameHead(fw.f, rot1)
		}
		if err != nil {
			return false, fmt.Errorf("follow %s: %w", fw.path, err)
		}
		truncated = !same
	}
	if truncated {
		// Copied to a new path.1 and truncated: the rest of what we were
		// reading is in the rotated files (looked at afresh: the rotation
		// may have ended after the look above).
		seen, err := fw.drainRotated(w)
		if err != nil {
			return false, err
		}
		fw.off, fw.last, fw.rot1 = 0, fw.last[:0], seen
	}
	if size > fw.off {
		return fw.readFollowed(w, size)
	}
	return false, nil
}

// open opens path. When the Follower was positioned
// in another file (path was rotated since the position was taken), that
// file is drained first when it can be found as path.1.
func (fw *Follower) open(w io.Writer) error {
	of, err := openStat(fw.path)
	if err != nil {
		return fmt.Errorf("follow %s: %w", fw.path, err)
	}
	if of == nil {
		return nil
	}
	if fw.id != (fileID{}) && of.id != fw.id {
		if fi1, err := os.Stat(Rotated(fw.path, 1)); err == nil && idOf(fi1) == fw.id {
			if err := fw.copyFile(w, Rotated(fw.path, 1), fw.off); err != nil {
				_ = of.f.Close() // the copy error is the one to report
				return err
			}
		}
		fw.off, fw.last = 0, fw.last[:0]
		fw.rememberRot1()
	}
	fw.f, fw.id = of.f, of.id
	return nil
}

// statOrNil returns the file's information, or nil when it cannot be had.
func statOrNil(name string) fs.FileInfo {
	fi, err := os.Stat(name)
	if err != nil {
		return nil
	}
	return fi
}

// idOrZero returns fi's identity, the zero one for nil.
func idOrZero(fi fs.FileInfo) fileID {
	if fi == nil {
		return fileID{}
	}
	return idOf(fi)
}

// rememberRot1 records the current path.1.
func (fw *Follower) rememberRot1() {
	fw.rot1 = fileID{}
	if fi, err := os.Stat(Rotated(fw.path, 1)); err == nil {
		fw.rot1 = idOf(fi)
	}
}

// copyFile writes the file name from offset off to its end.
func (fw *Follower) copyFile(w io.Writer, name string, off int64) error {
	of, err := openStat(name)
	if err != nil {
		return fmt.Errorf("follow %s: %w", fw.path, err)
	}
	if of == nil {
		return nil
	}
	defer of.f.Close()
	return fw.copyFrom(w, of.f, off, -1)
}

// copyFrom writes f (not the followed file) from off to end (-1: to its
// end now).
func (fw *Follower) copyFrom(w io.Writer, f *os.File, off, end int64) error {
	if end < 0 {
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("follow %s: %w", fw.path, err)
		}
		end = fi.Size()
	}
	if end <= off {
		return nil
	}
	if _, err := io.CopyBuffer(w, io.NewSectionReader(f, off, end-off), fw.buf); err != nil {
		return fmt.Errorf("follow %s: %w", fw.path, err)
	}
	return nil
}

// readFollowed writes the followed file from fw.off to end, a chunk at a
// time. Each chunk is written only once the file is seen to still hold its
// last bytes: a chunk read while the file was being truncated (and perhaps
// written again) would be a mix of old and new lines. Such a chunk is
// dropped and changed reported: the next look finds the rotation and
// reads the rest from path.1.
func (fw *Follower) readFollowed(w io.Writer, end int64) (changed bool, err error) {
	check := make([]byte, fingerprint)
	for fw.off < end {
		b := fw.buf[:min(int64(len(fw.buf)), end-fw.off)]
		n, err := fw.f.ReadAt(b, fw.off)
		if err != nil && !errors.Is(err, io.EOF) {
			return false, fmt.Errorf("follow %s: %w", fw.path, err)
		}
		if n == 0 {
			return true, nil // shorter than it was: truncated
		}
		b = b[:n]
		tail := b[max(n-fingerprint, 0):]
		m, err := fw.f.ReadAt(check[:len(tail)], fw.off+int64(n-len(tail)))
		if err != nil && !errors.Is(err, io.EOF) {
			return false, fmt.Errorf("follow %s: %w", fw.path, err)
		}
		if m != len(tail) || !bytes.Equal(check[:m], tail) {
			return true, nil // changed under us: truncated
		}
		// And what comes before, which a truncation before the read
		// (and writes after it) changed.
		if same, err := fw.endsWith(fw.f); err != nil {
			return false, fmt.Errorf("follow %s: %w", fw.path, err)
		} else if !same {
			return true, nil
		}
		if _, err := w.Write(b); err != nil {
			return false, fmt.Errorf("follow %s: %w", fw.path, err)
		}
		fw.off += int64(n)
		fw.last = append(fw.last, b[max(n-fingerprint, 0):]...)
		if extra := len(fw.last) - fingerprint; extra > 0 {
			fw.last = append(fw.last[:0], fw.last[extra:]...)
		}
	}
	return false, nil
}

// endsWith reports whether f has fw.last just before fw.off.
func (fw *Follower) endsWith(f *os.File) (bool, error) {
	if int64(len(fw.last)) > fw.off {
		return false, nil
	}
	b := make([]byte, len(fw.last))
	n, err := f.ReadAt(b, fw.off-int64(len(b)))
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	return n == len(b) && bytes.Equal(b, fw.last), nil
}

// sameHead reports whether f and the file name start with the same bytes
// (their first [fingerprint], or as many as the shorter has).
func sameHead(f *os.File, name string) (bool, error) {
	g, err := os.Open(name)
	if err != nil {
		return false, err
	}
	defer g.Close()
	a, b := make([]byte, fingerprint), make([]byte, fingerprint)
	na, err := f.ReadAt(a, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	nb, err := g.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	n := min(na, nb)
	return bytes.Equal(a[:n], b[:n]), nil
}

// drainRotated writes what the log held after fw.off before it was copied
// and truncated, and returns the identity of path.1 as it used it. That is
// path.1 from fw.off when path.1 lines up with what was read (it holds
// fw.last just before fw.off); after several rotations it is an older
// path.k that lines up, followed by the newer ones whole. When none does
// (only the end of a huge file was kept, or the copies went further than
// the files kept), nothing is written. At offset 0 nothing was read yet:
// a path.1 that is new is written whole.
func (fw *Follower) drainRotated(w io.Writer) (fileID, error) {
	wrap := func(err error) error { return fmt.Errorf("follow %s: %w", fw.path, err) }
	of1, err := openStat(Rotated(fw.path, 1))
	if err != nil || of1 == nil {
		return fileID{}, err
	}
	first, id1 := of1.f, of1.id
	defer first.Close()
	// A path.1 whose copy is still in progress (the file not truncated
	// yet) is left for a later look: the file still has its lines.
	inProgress := func() (bool, error) {
		fi, err := first.Stat()
		if err != nil {
			return false, wrap(err)
		}
		cur, err := fw.f.Stat()
		if err != nil {
			return false, wrap(err)
		}
		if cur.Size() < fi.Size() {
			return false, nil
		}
		same, err := sameHead(fw.f, first.Name())
		if err != nil {
			return false, wrap(err)
		}
		return same, nil
	}
	if fw.off == 0 {
		if id1 == fw.rot1 {
			return id1, nil
		}
		if busy, err := inProgress(); err != nil || busy {
			return fw.rot1, err
		}
		return id1, fw.copyFrom(w, first, 0, -1)
	}
	for k := 1; k <= maxFollowRotations; k++ {
		f := first
		if k > 1 {
			of, err := openStat(Rotated(fw.path, k))
			if err != nil || of == nil {
				return id1, err
			}
			f = of.f
			defer f.Close()
		}
		ok, err := fw.endsWith(f)
		if err != nil {
			return id1, wrap(err)
		}
		if !ok {
			continue
		}
		if err := fw.copyFrom(w, f, fw.off, -1); err != nil {
			return id1, err
		}
		for j := k - 1; j >= 2; j-- {
			if err := fw.copyFile(w, Rotated(fw.path, j), 0); err != nil {
				return id1, err
			}
		}
		if k > 1 {
			if busy, err := inProgress(); err != nil || busy {
				return fileID{}, err // path.1 is new to the next look
			}
			if err := fw.copyFrom(w, first, 0, -1); err != nil {
				return id1, err
			}
		}
		return id1, nil
	}
	return id1, nil
}

// maxFollowRotations bounds the rotated files looked through for where a
// Follower was.
const maxFollowRotations = 4

// Close releases the file.
func (fw *Follower) Close() error {
	if fw.f == nil {
		return nil
	}
	err := fw.f.Close()
	fw.f = nil
	return err
}
