package localbuild

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"slipway.dev/slipway/internal/logfile"
)

// Remove deletes the tool's artifact builds/<tool>/<key>/, its seal and its
// log (with its rotated files), holding the key's lock, so that it never races a build of the key in
// this process or another. The artifact is first renamed out of builds/, so
// that [Builder.Lookup] never sees half of it. A key with none of them is
// not an error.
func (b *Builder) Remove(ctx context.Context, tool, key string) error {
	if err := checkKey(tool, key); err != nil {
		return err
	}
	unlock, err := b.lock(ctx, tool, key)
	if err != nil {
		return fmt.Errorf("remove build %s: lock: %w", key, err)
	}
	defer unlock()
	if err := b.removeLocked(tool, key); err != nil {
		return err
	}
	if err := logfile.Remove(b.logPath(tool, key)); err != nil {
		return fmt.Errorf("remove build %s: log: %w", key, err)
	}
	return nil
}

// removeLocked deletes the artifact and its seal; the caller holds the
// key's lock.
func (b *Builder) removeLocked(tool, key string) error {
	trash := b.workDir(tool, key) + ".removed"
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove build %s: %w", key, err)
	}
	if err := os.MkdirAll(b.workDir(tool, ""), 0o700); err != nil {
		return fmt.Errorf("remove build %s: %w", key, err)
	}
	if err := os.Rename(b.artifactDir(tool, key), trash); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove build %s: %w", key, err)
	}
	if err := os.Remove(b.sealPath(tool, key)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove build %s: seal: %w", key, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove build %s: %w", key, err)
	}
	return nil
}

// ArtifactSize returns the size in bytes of the files of the tool's
// artifact of key (what removing it frees, its seal aside); 0 when there
// is none.
func (b *Builder) ArtifactSize(tool, key string) (int64, error) {
	if err := checkKey(tool, key); err != nil {
		return 0, err
	}
	var n int64
	err := filepath.WalkDir(b.artifactDir(tool, key), func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("size of build %s: %w", key, err)
	}
	return n, nil
}
