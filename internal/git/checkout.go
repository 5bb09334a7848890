package git

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"slipway.dev/slipway/internal/slipway"
)

// Checkout writes the tree of commit (a full SHA) of repository into dst,
// without a .git directory. dst must not exist or be an empty directory.
// The mirror is fetched when it lacks commit; a commit that no branch or tag
// contains cannot be fetched and is [ErrRefNotFound].
//
// Files keep their modes (0644 or 0755) and the commit's time. Symlinks are
// created as they are when their target stays inside the tree; a symlink
// pointing outside it (absolute, or climbing above dst) fails the checkout.
// Submodules are not checked out. On failure dst is left empty (or absent,
// if Checkout created it).
func (c *Client) Checkout(ctx context.Context, repository, commit, dst string) (err error) {
	if err := c.checkRepository(ctx, repository); err != nil {
		return err
	}
	r, err := c.remoteFor(ctx, repository)
	if err != nil {
		return err
	}
	commit = strings.ToLower(commit)
	if !slipway.IsFullCommit(commit) {
		return fmt.Errorf("checkout %q of %s: not a full commit SHA", commit, slipway.RedactURL(repository))
	}
	created, err := prepareDir(dst)
	if err != nil {
		return fmt.Errorf("checkout %s of %s: %w", commit, slipway.RedactURL(repository), err)
	}
	defer func() {
		if err != nil {
			cleanDir(dst, created)
		}
	}()

	dir, err := c.ensureCommit(ctx, r, commit)
	if err != nil {
		return err
	}
	// git archive reads immutable objects: it needs no mirror lock, and gc
	// keeps unreachable objects for weeks.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := extractTar(pr, dst)
		if err != nil {
			_ = pr.CloseWithError(err) // stops git
		} else {
			_, _ = io.Copy(io.Discard, pr) // the padding after the end marker
		}
		done <- err
	}()
	_, runErr := c.run(ctx, runOpts{dir: dir, stdout: pw}, "archive", "--format=tar", commit)
	_ = pw.CloseWithError(runErr)
	extractErr := <-done
	switch {
	case extractErr != nil && ctx.Err() == nil:
		// git was stopped by the failed extraction: its error says nothing.
		return fmt.Errorf("checkout %s of %s: %w", commit, slipway.RedactURL(repository), extractErr)
	case runErr != nil:
		return fmt.Errorf("checkout %s of %s: git archive: %w", commit, slipway.RedactURL(repository), runErr)
	case extractErr != nil:
		return fmt.Errorf("checkout %s of %s: %w", commit, slipway.RedactURL(repository), extractErr)
	}
	return nil
}

// prepareDir makes sure dst is an empty directory and reports whether it
// created it.
func prepareDir(dst string) (created bool, err error) {
	entries, err := os.ReadDir(dst)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return false, err
		}
		return true, nil
	case err != nil:
		return false, err
	case len(entries) > 0:
		return false, fmt.Errorf("destination %s is not empty", dst)
	}
	return false, nil
}

// cleanDir undoes a failed checkout into dst.
func cleanDir(dst string, created bool) {
	if created {
		_ = os.RemoveAll(dst)
		return
	}
	entries, _ := os.ReadDir(dst)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dst, e.Name()))
	}
}

// extractTar writes the tar stream r into dst. All writes go through an
// [os.Root], so no entry (or symlink followed while writing) can land
// outside dst.
func extractTar(r io.Reader, dst string) error {
	root, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue // git's commit ID comment
		}
		name := path.Clean(strings.TrimSuffix(hdr.Name, "/"))
		if name == "." {
			continue
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("archive entry %q: path escapes the checkout", hdr.Name)
		}
		perm := os.FileMode(hdr.Mode).Perm()
		if dir := path.Dir(name); dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeFile(root, name, perm, tr); err != nil {
				return err
			}
			if err := root.Chtimes(name, hdr.ModTime, hdr.ModTime); err != nil {
				return err
			}
		case tar.TypeSymlink:
			target := hdr.Linkname
			if path.IsAbs(target) || !filepath.IsLocal(path.Join(path.Dir(name), target)) { //nolint:gosec // G305: this is the check that the target stays inside; the entry is written through os.Root, which cannot escape either
				return fmt.Errorf("symlink %s -> %s points outside the checkout", name, target)
			}
			if err := root.Symlink(target, name); err != nil {
				return err
			}
		default:
			return fmt.Errorf("archive entry %q: unsupported type %q", hdr.Name, hdr.Typeflag)
		}
	}
}

func writeFile(root *os.Root, name string, perm os.FileMode, r io.Reader) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	// The umask may have narrowed perm.
	return root.Chmod(name, perm)
}
