package logfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// Defaults. The process log defaults are the kubelet's
// (containerLogMaxSize 10Mi, containerLogMaxFiles 5), so a tool sees as
// much of a replica's output as `kubectl logs` shows it on Toolforge: at
// most 50 MiB per replica. A build log keeps 2 files (at most 20 MiB): a
// build's output is read once, mostly its end.
const (
	DefaultMaxSize       = 10 << 20
	DefaultMaxFiles      = 5
	DefaultBuildMaxFiles = 2
	// DefaultMaxLine caps each line [LastLines] writes.
	DefaultMaxLine = 64 << 10
	// MinMaxSize is the smallest MaxSize accepted: below it a log would
	// rotate at every few lines.
	MinMaxSize = 4 << 10
	// BigFactor: a file larger than BigFactor × MaxSize when [CopyTruncate]
	// finds it keeps only its last MaxSize bytes.
	BigFactor = 4
)

// chunk is the size of the buffers reads use.
const chunk = 32 << 10

// maxRotated bounds the rotated files looked for, in case of a directory
// full of path.N files that no rotation of ours made.
const maxRotated = 1000

// Rotated returns the name of the i-th rotated file of path: path.i.
func Rotated(path string, i int) string {
	return path + "." + strconv.Itoa(i)
}

// CheckLimits returns an error unless maxSize and maxFiles are usable
// rotation settings (maxSize at least [MinMaxSize], maxFiles at least 2:
// the current file and one rotated).
func CheckLimits(maxSize int64, maxFiles int) error {
	if maxSize < MinMaxSize {
		return fmt.Errorf("log size limit %d bytes is below the minimum of %d", maxSize, MinMaxSize)
	}
	if maxFiles < 2 {
		return fmt.Errorf("log file count %d is below the minimum of 2 (the current file and one rotated)", maxFiles)
	}
	return nil
}

// Remove deletes the log at path and its rotated files. Missing files are
// not an error.
func Remove(path string) error {
	var errs []error
	for i := range maxRotated + 1 {
		p := path
		if i > 0 {
			p = Rotated(path, i)
		}
		err := os.Remove(p)
		if errors.Is(err, fs.ErrNotExist) {
			if i > 0 {
				break
			}
			continue
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(tmpName(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// rotatedCount returns how many rotated files path has: the n such that
// path.1 … path.n exist and path.n+1 does not.
func rotatedCount(path string) int {
	n := 0
	for n < maxRotated {
		if _, err := os.Lstat(Rotated(path, n+1)); err != nil {
			break
		}
		n++
	}
	return n
}

// fileID identifies a file: its device and inode.
type fileID struct{ dev, ino uint64 }

func idOf(fi fs.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: uint64(st.Dev), ino: st.Ino} //nolint:unconvert // Dev is not uint64 on every platform
	}
	return fileID{}
}

// shift makes room for a new path.1: path.(maxFiles-1) and anything older
// go, and path.i becomes path.i+1 for the others.
func shift(path string, maxFiles int) error {
	n := rotatedCount(path)
	for i := n; i >= maxFiles-1 && i >= 1; i-- {
		if err := os.Remove(Rotated(path, i)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate %s: %w", path, err)
		}
	}
	for i := min(n, maxFiles-2); i >= 1; i-- {
		if err := os.Rename(Rotated(path, i), Rotated(path, i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate %s: %w", path, err)
		}
	}
	return nil
}

// tmpName is where [CopyTruncate] writes the next path.1.
func tmpName(path string) string { return path + ".rotating" }
