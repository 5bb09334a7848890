package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// limiter is a limits backend.
type limiter interface {
	// name is "cgroup v2", "cgroup v1", "rlimit" or "none".
	name() string
	// describe says what is enforced, for [Sandbox.Describe].
	describe() string
	// create makes the cgroup of one process tree with limits l.
	create(tool, unit string, l Limits) (Cgroup, error)
	// joinFiles are the files the launcher writes its pid to.
	joinFiles(cg Cgroup) []string
	// cloneInto returns the cgroup directory to clone the process into
	// (cgroup v2), or nil.
	cloneInto(cg Cgroup) (*os.File, error)
	// prefix is a command that applies limits l to what it runs (rlimits).
	prefix(l Limits) []string
	// close removes the server's cgroup directories that are empty.
	close()
}

// Cgroup is the cgroup of one process tree: a directory per hierarchy (one
// for cgroup v2, one per controller for v1). The zero Cgroup is no cgroup;
// its methods do nothing. It is plain data, kept in the caller's state, so
// that a later server can act on a tree it did not start.
type Cgroup struct {
	Dirs   []string `json:"dirs,omitempty"`
	Limits Limits   `json:"limits"`
}

// Procs returns the pids in the cgroup.
func (c Cgroup) Procs() []int {
	if len(c.Dirs) == 0 {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(c.Dirs[0], "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for f := range strings.FieldsSeq(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// OOMKilled reports whether the kernel killed a process of the cgroup
// because it reached its memory limit.
func (c Cgroup) OOMKilled() bool {
	for _, d := range c.Dirs {
		for _, f := range []string{"memory.events", "memory.oom_control"} { // v2, v1
			if n, ok := readKeyed(filepath.Join(d, f), "oom_kill"); ok && n > 0 {
				return true
			}
		}
	}
	return false
}

// readKeyed reads the value of key in a "key value" lines file.
func readKeyed(path, key string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// Kill SIGKILLs every process of the cgroup (cgroup.kill where the kernel
// has it), and returns once none is left or after a few seconds.
func (c Cgroup) Kill() {
	if len(c.Dirs) == 0 {
		return
	}
	_ = os.WriteFile(filepath.Join(c.Dirs[0], "cgroup.kill"), []byte("1"), 0) // v2 ≥ 5.14; else one by one below
	wait := newBackoff()
	for wait.more() {
		pids := c.Procs()
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL) // gone already is fine
		}
		wait.sleep()
	}
}

// Remove deletes the cgroup once its processes are gone (it waits a little
// for the kernel to let go of them). The tool's directory stays: another
// tree of the tool may be making its cgroup there right now; the sandbox
// removes empty ones when it starts and stops. Failures are left for then.
func (c Cgroup) Remove() {
	for _, d := range c.Dirs {
		wait := newBackoff()
		for wait.more() {
			// Only a busy cgroup is worth another try.
			if err := syscall.Rmdir(d); !errors.Is(err, syscall.EBUSY) {
				break
			}
			wait.sleep()
		}
	}
}

// backoff paces the waits for the kernel to let go of exited processes:
// usually a fraction of a millisecond, so it starts short and doubles, up
// to 50 ms a wait and about 3 s in all.
type backoff struct {
	next, total time.Duration
}

func newBackoff() *backoff { return &backoff{next: 250 * time.Microsecond} }

func (b *backoff) more() bool { return b.total < 3*time.Second }

func (b *backoff) sleep() {
	time.Sleep(b.next)
	b.total += b.next
	b.next = min(2*b.next, 50*time.Millisecond)
}

// noLimits enforces nothing.
type noLimits struct{ reason string }

func (noLimits) name() string                                  { return "none" }
func (n noLimits) describe() string                            { return "none (" + n.reason + ")" }
func (noLimits) create(string, string, Limits) (Cgroup, error) { return Cgroup{}, nil }
func (noLimits) joinFiles(Cgroup) []string                     { return nil }
func (noLimits) cloneInto(Cgroup) (*os.File, error)            { return nil, nil }
func (noLimits) prefix(Limits) []string                        { return nil }
func (noLimits) close()                                        {}

// rlimits approximates limits per process with prlimit: RLIMIT_DATA for
// memory (private writable memory, not the resident set), RLIMIT_NPROC for
// pids (per uid, so only with a uid per tool); CPU is not limited.
type rlimits struct {
	prlimit string
	nproc   bool
}

func (rlimits) name() string { return "rlimit" }
func (r rlimits) describe() string {
	pids := "pids by RLIMIT_NPROC"
	if !r.nproc {
		pids = "no pids limit (the server is not root, so tools share its uid)"
	}
	return "rlimit, the last resort: memory by RLIMIT_DATA (not the resident set), " + pids + ", no CPU limit, no out-of-memory reports"
}
func (rlimits) create(string, string, Limits) (Cgroup, error) { return Cgroup{}, nil }
func (rlimits) joinFiles(Cgroup) []string                     { return nil }
func (rlimits) cloneInto(Cgroup) (*os.File, error)            { return nil, nil }
func (rlimits) close()                                        {}

func (r rlimits) prefix(l Limits) []string {
	args := []string{r.prlimit}
	if l.MemoryBytes > 0 {
		args = append(args, "--data="+strconv.FormatInt(l.MemoryBytes, 10))
	}
	if r.nproc && l.Pids > 0 {
		args = append(args, "--nproc="+strconv.FormatInt(l.Pids, 10))
	}
	if len(args) == 1 {
		return nil
	}
	return append(args, "--")
}

// chooseLimits picks the backend: want ("" for the best that works here),
// for the cgroups of the server name.
func chooseLimits(want, name string, root bool) (limiter, error) {
	mounts, own, err := readCgroupSetup()
	if err != nil && want != "rlimit" && want != "none" {
		return nil, err
	}
	var errs []error
	try := func(kind string) limiter {
		var l limiter
		var err error
		switch kind {
		case "cgroup2":
			var v *v2
			if v, err = newV2(mounts, own, name); err == nil {
				l = v
			}
		case "cgroup1":
			var v *v1
			if v, err = newV1(mounts, own, name); err == nil {
				l = v
			}
		case "rlimit":
			var p string
			if p, err = exec.LookPath("prlimit"); err == nil {
				l = rlimits{prlimit: p, nproc: root}
			}
		case "none":
			l = noLimits{reason: "turned off by the server's settings"}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", kind, err))
		}
		return l
	}
	switch want {
	case "cgroup2", "cgroup1", "rlimit", "none":
		if l := try(want); l != nil {
			return l, nil
		}
		return nil, fmt.Errorf("limits %s cannot work here: %w", want, errors.Join(errs...))
	case "":
		for _, kind := range []string{"cgroup2", "cgroup1", "rlimit"} {
			if l := try(kind); l != nil {
				return l, nil
			}
		}
		return noLimits{reason: "no cgroup hierarchy is writable and prlimit is missing: " + errors.Join(errs...).Error()}, nil
	default:
		return nil, fmt.Errorf("unknown limits backend %q (want cgroup2, cgroup1, rlimit or none)", want)
	}
}

// cgroupMount is one mounted cgroup hierarchy.
type cgroupMount struct {
	dir  string // mount point
	root string // the cgroup path mounted there
	v2   bool
}

// readCgroupSetup returns the mounted hierarchies by controller ("" for the
// v2 one) and this process's cgroup path in each.
func readCgroupSetup() (map[string]cgroupMount, map[string]string, error) {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, nil, err
	}
	cg, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, nil, err
	}
	return parseMountinfo(mi), parseProcCgroup(cg), nil
}

// parseMountinfo returns the cgroup mounts of a /proc/<pid>/mountinfo by
// controller: each v1 controller, and "" for the v2 hierarchy.
func parseMountinfo(b []byte) map[string]cgroupMount {
	out := map[string]cgroupMount{}
	for line := range strings.SplitSeq(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 {
			continue
		}
		m := cgroupMount{dir: unescapeMount(f[4]), root: unescapeMount(f[3])}
		switch g[0] {
		case "cgroup2":
			m.v2 = true
			if _, seen := out[""]; !seen {
				out[""] = m
			}
		case "cgroup":
			for opt := range strings.SplitSeq(g[2], ",") {
				switch opt {
				case "memory", "cpu", "pids":
					if _, seen := out[opt]; !seen {
						out[opt] = m
					}
				}
			}
		}
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseProcCgroup returns a /proc/<pid>/cgroup's path by controller (""
// for the v2 hierarchy).
func parseProcCgroup(b []byte) map[string]string {
	out := map[string]string{}
	for line := range strings.SplitSeq(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out
}

// ownDir returns the directory of this process's cgroup in the hierarchy
// of controller c.
func ownDir(mounts map[string]cgroupMount, own map[string]string, c string) (string, error) {
	m, ok := mounts[c]
	if !ok {
		return "", fmt.Errorf("no %s cgroup hierarchy is mounted", cmpName(c))
	}
	p, ok := own[c]
	if !ok {
		return "", fmt.Errorf("this process has no %s cgroup", cmpName(c))
	}
	rel := p
	if m.root != "/" {
		r, ok := strings.CutPrefix(p, m.root)
		if !ok {
			return "", fmt.Errorf("the %s cgroup %s is outside its mount %s", cmpName(c), p, m.root)
		}
		rel = r
	}
	return filepath.Join(m.dir, rel), nil
}

func cmpName(c string) string {
	if c == "" {
		return "v2"
	}
	return c
}

// removeEmpty removes the cgroups under base (base/<tool>/<unit>) that no
// process is in any more — left by a server that died, or by a tree whose
// removal failed — then the tool directories left empty, then base itself
// when it is empty. A cgroup with processes cannot be removed: it stays.
func removeEmpty(base string) {
	tools, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, t := range tools {
		if !t.IsDir() {
			continue
		}
		dir := filepath.Join(base, t.Name())
		if units, err := os.ReadDir(dir); err == nil {
			for _, u := range units {
				if u.IsDir() {
					_ = syscall.Rmdir(filepath.Join(dir, u.Name())) // fails while in use, as it should
				}
			}
		}
		_ = syscall.Rmdir(dir) // likewise
	}
	_ = syscall.Rmdir(base) // likewise
}

// writeFile writes one cgroup control file.
func writeFile(dir, name, value string) error {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0); err != nil {
		return fmt.Errorf("set %s: %w", name, err)
	}
	return nil
}
