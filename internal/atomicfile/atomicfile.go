// Package atomicfile writes files so that a reader, and a machine that
// crashed, sees the old content or the new, never part of it.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write writes data to path: into a temporary file of the same directory,
// given perm and synced, then renamed over path. On error path is
// unchanged and the temporary file is gone.
func Write(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp) // best effort: the write error is what matters
	}
	return err
}
