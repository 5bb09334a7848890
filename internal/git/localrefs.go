package git

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// localRefs lists the refs of a local repository by reading its files, as
// `git ls-remote` would list them: loose refs, then packed-refs (a loose
// ref wins), symbolic refs and HEAD resolved, and refs to annotated tags
// peeled ("name^{}"), only the refs under prefixes (nil: all). It returns
// errNotNative for anything it does not read itself, which git then asks:
// a path that is not a plain repository (missing, a .git file, a linked
// worktree), a repository owned by another user (git's safe.directory
// decides), a config with hidden refs or repository extensions (reftable,
// sha256), a symlinked ref, and a tag object that is in a pack.
func localRefs(path string, prefixes []string) (map[string]string, error) {
	dir, ok := localGitDir(path)
	if !ok {
		return nil, errNotNative
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, errNotNative
	} else if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Geteuid() {
		return nil, errNotNative
	}
	if _, err := os.Stat(filepath.Join(dir, "commondir")); err == nil {
		return nil, errNotNative
	}
	if _, err := os.Stat(filepath.Join(dir, "reftable")); err == nil {
		return nil, errNotNative
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "config"))
	if err != nil {
		return nil, errNotNative
	}
	if low := strings.ToLower(string(cfg)); strings.Contains(low, "hiderefs") || strings.Contains(low, "extensions") || strings.Contains(low, "include") {
		return nil, errNotNative
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, errNotNative
	}
	defer root.Close()
	l := &localRepo{dir: dir, root: root, loose: map[string]string{}, packed: map[string]packedRef{}}
	// Loose refs first: a ref being packed meanwhile is in packed-refs
	// before its loose file goes.
	if err := l.readLoose(); err != nil {
		return nil, errNotNative // git says what is wrong
	}
	if err := l.readPacked(); err != nil {
		return nil, errNotNative
	}
	wanted := func(name string) bool {
		if prefixes == nil {
			return true
		}
		for _, p := range prefixes {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
		return false
	}
	out := map[string]string{}
	names := []string{"HEAD"}
	for n := range l.loose {
		names = append(names, n)
	}
	for n := range l.packed {
		if _, ok := l.loose[n]; !ok {
			names = append(names, n)
		}
	}
	for _, name := range names {
		if !wanted(name) {
			continue
		}
		oid, ok := l.resolve(name, 0)
		if !ok {
			continue // dangling, unborn or broken: git leaves it out too
		}
		out[name] = oid
		peeled, err := l.peel(name, oid)
		if err != nil {
			return nil, errNotNative // a packed or unreadable object: git reads it
		}
		if peeled != "" {
			out[name+"^{}"] = peeled
		}
	}
	return out, nil
}

// localGitDir finds the git directory of path the way git's enter_repo
// does: path/.git, path, path.git/.git, path.git; only plain directories.
func localGitDir(path string) (string, bool) {
	path = strings.TrimRight(filepath.Clean(path), "/")
	for _, cand := range []string{path + "/.git", path, path + ".git/.git", path + ".git"} {
		fi, err := os.Stat(cand)
		if err != nil {
			continue
		}
		if !fi.IsDir() {
			return "", false // a .git file: git follows it
		}
		if isGitDir(cand) {
			return cand, true
		}
	}
	return "", false
}

func isGitDir(d string) bool {
	for _, name := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(d, name)); err != nil {
			return false
		}
	}
	return true
}

// packedRef is a line of packed-refs.
type packedRef struct {
	oid, peeled string
	// known: whether peeled says all there is (the file is fully peeled,
	// or peeled and this is a tag).
	known bool
}

// localRepo holds what localRefs read.
type localRepo struct {
	dir string
	// root is dir: what is read never leaves it, whatever a symlink says.
	root   *os.Root
	loose  map[string]string // name → oid or "ref: target"
	packed map[string]packedRef
}

// readLoose reads every loose ref under refs/ (files whose content is an
// object id or "ref: <target>"; broken ones and lock files are skipped).
func (l *localRepo) readLoose() error {
	err := fs.WalkDir(l.root.FS(), "refs", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return errNotNative // a symlinked ref, an old form of symbolic ref
		}
		if d.IsDir() || strings.HasSuffix(d.Name(), ".lock") {
			return nil
		}
		b, err := l.root.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		if v, ok := refValue(b); ok {
			l.loose[p] = v
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNotNative) {
		return fmt.Errorf("read refs of %s: %w", l.dir, err)
	}
	return err
}

// refValue returns what a loose ref file holds: a lowercase object id or
// "ref: <target>".
func refValue(b []byte) (string, bool) {
	s := strings.TrimSpace(string(b))
	if t, ok := strings.CutPrefix(s, "ref:"); ok {
		t = strings.TrimSpace(t)
		return "ref: " + t, strings.HasPrefix(t, "refs/") || t == "HEAD"
	}
	if (len(s) == 40 || len(s) == 64) && isHex(s) {
		return strings.ToLower(s), true
	}
	return "", false
}

// readPacked reads packed-refs, if any.
func (l *localRepo) readPacked() error {
	f, err := l.root.Open("packed-refs")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("read packed refs of %s: %w", l.dir, err)
	}
	defer f.Close()
	peeledTags, fully := false, false
	var last string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		s := sc.Text()
		switch {
		case strings.HasPrefix(s, "# pack-refs with:"):
			traits := strings.Fields(strings.TrimPrefix(s, "# pack-refs with:"))
			for _, t := range traits {
				peeledTags = peeledTags || t == "peeled"
				fully = fully || t == "fully-peeled"
			}
		case strings.HasPrefix(s, "#"):
		case strings.HasPrefix(s, "^"):
			if pr, ok := l.packed[last]; ok && isHex(s[1:]) {
				pr.peeled, pr.known = strings.ToLower(s[1:]), true
				l.packed[last] = pr
			}
		default:
			oid, name, ok := strings.Cut(s, " ")
			if !ok || !isHex(oid) || !strings.HasPrefix(name, "refs/") {
				last = ""
				continue
			}
			l.packed[name] = packedRef{oid: strings.ToLower(oid), known: fully || (peeledTags && strings.HasPrefix(name, "refs/tags/"))}
			last = name
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read packed refs of %s: %w", l.dir, err)
	}
	return nil
}

// resolve returns the object id name leads to, through symbolic refs.
func (l *localRepo) resolve(name string, depth int) (string, bool) {
	if depth > 5 {
		return "", false
	}
	var v string
	if name == "HEAD" {
		b, err := l.root.ReadFile("HEAD")
		if err != nil {
			return "", false
		}
		var ok bool
		if v, ok = refValue(b); !ok {
			return "", false
		}
	} else if lv, ok := l.loose[name]; ok {
		v = lv
	} else if pr, ok := l.packed[name]; ok {
		v = pr.oid
	} else {
		return "", false
	}
	if t, ok := strings.CutPrefix(v, "ref: "); ok {
		return l.resolve(t, depth+1)
	}
	return v, true
}

// peel returns the commit (or other object) an annotated tag that oid
// names points to, or "" when oid is not a tag. What packed-refs says is
// taken; else the object is read, which must be loose.
func (l *localRepo) peel(name, oid string) (string, error) {
	if _, loose := l.loose[name]; !loose && name != "HEAD" {
		if pr, ok := l.packed[name]; ok && pr.oid == oid && pr.known {
			return pr.peeled, nil
		}
	}
	peeled := ""
	for range 10 {
		typ, target, err := l.looseObject(oid)
		if err != nil {
			return "", err
		}
		if typ != "tag" {
			return peeled, nil
		}
		peeled, oid = target, target
	}
	return "", fmt.Errorf("%w: tag chain too long at %s", errBadAdvertisement, name)
}

// looseObject reads the type of a loose object and, for a tag, the object
// it tags. An object that is not loose (packed) is errNotNative.
func (l *localRepo) looseObject(oid string) (typ, target string, err error) {
	f, err := l.root.Open("objects/" + oid[:2] + "/" + oid[2:])
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", errNotNative
	} else if err != nil {
		return "", "", fmt.Errorf("read object %s: %w", oid, err)
	}
	defer f.Close()
	z, err := zlib.NewReader(f)
	if err != nil {
		return "", "", fmt.Errorf("read object %s: %w", oid, err)
	}
	defer z.Close()
	var head [512]byte
	n, err := io.ReadFull(z, head[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return "", "", fmt.Errorf("read object %s: %w", oid, err)
	}
	b := head[:n]
	hdr, body, ok := bytes.Cut(b, []byte{0})
	if !ok {
		return "", "", fmt.Errorf("read object %s: no header", oid)
	}
	typ, _, _ = strings.Cut(string(hdr), " ")
	if typ != "tag" {
		return typ, "", nil
	}
	first, _, _ := bytes.Cut(body, []byte{'\n'})
	t, ok := strings.CutPrefix(string(first), "object ")
	if !ok || !isHex(t) || (len(t) != 40 && len(t) != 64) {
		return "", "", fmt.Errorf("read tag %s: no object line", oid)
	}
	return typ, strings.ToLower(t), nil
}
