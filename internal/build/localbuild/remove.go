package localbuild

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"slipway.dev/slipway/internal/flock"
	"slipway.dev/slipway/internal/logfile"
)

// Remove deletes the artifact builds/<key>/ and the log builds/<key>.log
// (with its rotated files), holding the key's lock, so that it never races a build of the key in
// this process or another. The artifact is first renamed out of builds/,
// so that [Builder.Lookup] never sees half of it. A key with neither is
// not an error.
func (b *Builder) Remove(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	unlock, err := flock.Lock(ctx, filepath.Join(b.cfg.Dir, ".locks", key+".lock"))
	if err != nil {
		return fmt.Errorf("remove build %s: lock: %w", key, err)
	}
	defer unlock()
	trash := filepath.Join(b.cfg.Dir, ".tmp", key+".removed")
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove build %s: %w", key, err)
	}
	if err := os.Rename(b.artifactDir(key), trash); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove build %s: %w", key, err)
	}
	if err := logfile.Remove(b.LogPath(key)); err != nil {
		return fmt.Errorf("remove build %s: log: %w", key, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove build %s: %w", key, err)
	}
	return nil
}
