package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"slipway.dev/slipway/internal/atomicfile"
)

// hostLayout is what of the host's root a sandbox gets.
type hostLayout struct {
	// links are top-level directories that are symlinks on the host (merged
	// /usr: /bin → usr/bin), recreated as symlinks.
	links map[string]string
	// dirs are top-level system directories bound read-only.
	dirs []string
	// masked are files and directories under /etc that hold secrets: files
	// are hidden behind an empty file, directories behind an empty tmpfs.
	maskedFiles, maskedDirs []string
}

// systemDirs are the host directories a process may need to run programs.
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"}

// secretPaths under /etc are hidden even though most are unreadable to a
// tool's uid anyway: defence in depth, and the server may not be root.
var secretPaths = []string{
	"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-",
	"/etc/ssh", "/etc/ssl/private", "/etc/sudoers", "/etc/sudoers.d",
	"/etc/security/opasswd", "/etc/krb5.keytab", "/etc/machine-id",
}

func readHostLayout() hostLayout {
	l := hostLayout{links: map[string]string{}}
	for _, d := range systemDirs {
		fi, err := os.Lstat(d)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			if t, err := os.Readlink(d); err == nil {
				l.links[d] = t
			}
		case fi.IsDir():
			l.dirs = append(l.dirs, d)
		}
	}
	for _, p := range secretPaths {
		fi, err := os.Lstat(p)
		switch {
		case err != nil:
		case fi.IsDir():
			l.maskedDirs = append(l.maskedDirs, p)
		default:
			l.maskedFiles = append(l.maskedFiles, p)
		}
	}
	return l
}

// bwrapArgs returns bubblewrap's arguments for p, up to the command; the
// seccomp filter is at fd seccompFD (a status file at fd 3).
func (s *Sandbox) bwrapArgs(p Process, uid, seccompFD int) ([]string, error) {
	a := []string{
		"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", p.Tool,
	}
	if !p.Outlive {
		// bubblewrap's parent is the server: the tree dies with it.
		a = append(a, "--die-with-parent")
	}
	if !s.root {
		a = append(a, "--unshare-user", "--disable-userns")
	}
	for _, d := range s.layout.dirs {
		a = append(a, "--ro-bind", d, d)
	}
	for _, d := range sortedKeys(s.layout.links) {
		a = append(a, "--symlink", s.layout.links[d], d)
	}
	for _, f := range s.layout.maskedFiles {
		a = append(a, "--ro-bind", "/dev/null", f)
	}
	for _, d := range s.layout.maskedDirs {
		a = append(a, "--perms", "0755", "--tmpfs", d, "--remount-ro", d)
	}
	if s.root {
		passwd, group, err := s.identityFiles(p.Tool, uid)
		if err != nil {
			return nil, err
		}
		a = append(a, "--ro-bind", passwd, "/etc/passwd", "--ro-bind", group, "/etc/group")
	}
	a = append(a, "--dev", "/dev", "--proc", "/proc")
	size := p.TmpSize
	if size <= 0 {
		size = DefaultTmpSize
	}
	a = append(a, "--perms", "1777", "--size", strconv.FormatInt(size, 10), "--tmpfs", "/tmp",
		"--perms", "0755", "--dir", "/var", "--symlink", "../tmp", "/var/tmp")
	// Read-only paths come after /tmp, which may hold one (a tmpfs there
	// would hide it).
	mounts := make([]Mount, 0, len(s.cfg.ReadOnlyPaths)+len(p.Mounts))
	for _, d := range s.cfg.ReadOnlyPaths {
		if !underAny(d, s.layout.dirs) {
			mounts = append(mounts, Mount{Source: d, Target: d})
		}
	}
	if p.Home != "" {
		mounts = append(mounts, Mount{Source: p.Home, Target: s.HomePath(p.Tool, p.Home), Writable: true})
	}
	if p.Ask {
		mounts = append(mounts, s.askMounts()...)
	}
	for _, m := range append(mounts, p.Mounts...) {
		if !filepath.IsAbs(m.Source) || !filepath.IsAbs(m.Target) {
			return nil, fmt.Errorf("sandbox: mount %s → %s: paths must be absolute", m.Source, m.Target)
		}
		for _, parent := range parents(m.Target) {
			if parent != "/tmp" && parent != "/var" {
				a = append(a, "--perms", "0755", "--dir", parent)
			}
		}
		bind := "--ro-bind"
		if m.Writable {
			bind = "--bind"
		}
		a = append(a, bind, m.Source, m.Target)
	}
	if p.StatusFile != nil {
		a = append(a, "--json-status-fd", "3")
	}
	a = append(a, "--seccomp", strconv.Itoa(seccompFD))
	dir := p.Dir
	if dir == "" {
		dir = "/"
	}
	return append(a, "--chdir", dir, "--"), nil
}

// parents returns the directories above p, outermost first, without "/".
func parents(p string) []string {
	var out []string
	for d := filepath.Dir(p); d != "/" && d != "."; d = filepath.Dir(d) {
		out = append([]string{d}, out...)
	}
	return out
}

func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// identityFiles returns the passwd and group files of a tool's sandbox: the
// host's, plus the tool's user and group tools.<tool>, made once.
func (s *Sandbox) identityFiles(tool string, uid int) (passwd, group string, err error) {
	dir := filepath.Join(s.cfg.Dir, "etc", tool)
	passwd, group = filepath.Join(dir, "passwd"), filepath.Join(dir, "group")
	name := "tools." + tool
	want := fmt.Sprintf("%s:x:%d:%d:%s:%s/%s:/bin/sh\n", name, uid, uid, name, homeParent, tool)
	if b, err := os.ReadFile(passwd); err == nil && strings.HasSuffix(string(b), want) {
		return passwd, group, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	hostPasswd, _ := os.ReadFile("/etc/passwd") // a host without one still gets the tool's line
	hostGroup, _ := os.ReadFile("/etc/group")
	if err := atomicfile.Write(group, append(withNewline(hostGroup), fmt.Sprintf("%s:x:%d:\n", name, uid)...), 0o644); err != nil {
		return "", "", err
	}
	if err := atomicfile.Write(passwd, append(withNewline(hostPasswd), want...), 0o644); err != nil {
		return "", "", err
	}
	return passwd, group, nil
}

func withNewline(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return b
}
