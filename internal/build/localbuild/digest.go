package localbuild

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"slipway.dev/slipway/internal/atomicfile"
)

// seal is what the builder records about a finished artifact, outside it
// (builds/<tool>/<key>.seal, 0600): the digest of its content, and a
// fingerprint of its files' metadata that tells, cheaply, that nothing was
// touched since.
type seal struct {
	// Digest is "sha256:<hex>" over every entry's path, type, mode, and
	// content (a symlink's target): see [digestEntry].
	Digest string `json:"digest"`
	// Stat is a hash of every entry's path, inode, size, mode, mtime and
	// ctime. A change of content changes ctime, which only the clock's
	// owner can set back, so an equal Stat means the content is unchanged.
	Stat string `json:"stat"`
}

// digestEntry adds the entry at rel of the tree at dir, with Lstat
// information info, to the digest h: its path, type, permission bits and
// content hash (regular files) or target (symlinks). The digest is sha256
// over the tree's entries in lexical order.
func digestEntry(h hash.Hash, dir, rel string, info fs.FileInfo) error {
	writeField(h, rel)
	writeField(h, info.Mode().Type().String()+" "+info.Mode().Perm().String())
	switch {
	case info.Mode().IsRegular():
		sum, err := fileSum(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		writeField(h, sum)
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		writeField(h, target)
	}
	return nil
}

// statEntry adds the entry at rel, with Lstat information info, to the
// metadata fingerprint h.
func statEntry(h hash.Hash, rel string, info fs.FileInfo) error {
	writeField(h, rel)
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return errors.New("no inode metadata")
	}
	var buf [8]byte
	for _, v := range []int64{int64(st.Ino), st.Size, int64(st.Mode), st.Mtim.Nano(), st.Ctim.Nano()} { //nolint:unconvert // Ino is uint64
		binary.BigEndian.PutUint64(buf[:], uint64(v))
		h.Write(buf[:])
	}
	return nil
}

// statPrint returns the metadata fingerprint of the tree at dir.
func statPrint(dir string) (string, error) {
	h := sha256.New()
	err := walkTree(dir, func(rel string, _ fs.DirEntry, info fs.FileInfo) error {
		return statEntry(h, rel, info)
	})
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sealOf returns the seal of the tree at dir, its digest and fingerprint
// from one walk. err is a failure to digest it; a failure to fingerprint it
// leaves Stat empty and is statErr.
func sealOf(dir string) (s seal, statErr, err error) {
	dh, sh := sha256.New(), sha256.New()
	err = walkTree(dir, func(rel string, _ fs.DirEntry, info fs.FileInfo) error {
		if statErr == nil {
			statErr = statEntry(sh, rel, info)
		}
		return digestEntry(dh, dir, rel, info)
	})
	if err != nil {
		return seal{}, nil, fmt.Errorf("digest: %w", err)
	}
	s.Digest = "sha256:" + hex.EncodeToString(dh.Sum(nil))
	if statErr != nil {
		return s, fmt.Errorf("fingerprint: %w", statErr), nil
	}
	s.Stat = hex.EncodeToString(sh.Sum(nil))
	return s, nil, nil
}

// walkTree calls fn for every entry under dir (not dir itself), in lexical
// order, with its slash-separated relative path and Lstat information.
// Symlinks are not followed.
func walkTree(dir string, fn func(rel string, d fs.DirEntry, info fs.FileInfo) error) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return fn(filepath.ToSlash(rel), d, info)
	})
}

func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// fileSum returns the hex sha256 of a regular file, opened without
// following a symlink.
func fileSum(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sealTree records the digest and fingerprint of the artifact at dir in
// path.
func sealTree(dir, path string) (seal, error) {
	s, statErr, err := sealOf(dir)
	if err == nil {
		err = statErr
	}
	if err != nil {
		return s, err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return s, err
	}
	return s, atomicfile.Write(path, append(b, '\n'), 0o600)
}

// checkSeal verifies the artifact at dir against its seal at path: a
// matching fingerprint is enough; otherwise its content is hashed again,
// and the seal's fingerprint renewed when the content still matches (the
// files were only touched). A missing seal or a different digest is an
// error saying so.
func checkSeal(dir, path string) (seal, error) {
	var s seal
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, errors.New("it has no recorded digest")
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil || s.Digest == "" {
		return s, fmt.Errorf("its recorded digest is unreadable: %w", err)
	}
	if stat, err := statPrint(dir); err == nil && stat == s.Stat {
		return s, nil
	}
	cur, statErr, err := sealOf(dir)
	if err != nil {
		return s, err
	}
	if cur.Digest != s.Digest {
		return s, fmt.Errorf("its content is %s, but %s was recorded when it was built", short(cur.Digest), short(s.Digest))
	}
	if statErr == nil {
		s.Stat = cur.Stat
		if b, err := json.Marshal(s); err == nil {
			_ = atomicfile.Write(path, append(b, '\n'), 0o600) // only saves a re-hash next time
		}
	}
	return s, nil
}

func short(digest string) string {
	if len(digest) > len("sha256:")+12 {
		return digest[:len("sha256:")+12]
	}
	return digest
}
