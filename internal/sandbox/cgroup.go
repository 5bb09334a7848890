package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// cfsPeriod is the CPU quota period, in microseconds.
const cfsPeriod = 100_000

// v1 enforces limits with cgroup v1 hierarchies: memory (required), cpu and
// pids (each used when mounted). A tree's cgroup is
// <own>/slipway-<name>/<tool>/<unit> in each of them.
type v1 struct {
	bases map[string]string // controller → base directory
}

func newV1(mounts map[string]cgroupMount, own map[string]string, name string) (*v1, error) {
	l := &v1{bases: map[string]string{}}
	for _, c := range []string{"memory", "cpu", "pids"} {
		if m, ok := mounts[c]; !ok || m.v2 {
			if c == "memory" {
				return nil, errors.New("no cgroup v1 memory hierarchy is mounted")
			}
			continue
		}
		dir, err := ownDir(mounts, own, c)
		if err != nil {
			return nil, err
		}
		base := filepath.Join(dir, "slipway-"+name)
		if err := os.MkdirAll(base, 0o755); err != nil {
			if c == "memory" {
				return nil, fmt.Errorf("cannot make a memory cgroup under %s: %w", dir, err)
			}
			continue
		}
		if c == "cpu" {
			if err := writeFile(base, "cpu.shares", strconv.Itoa(treeShares())); err != nil {
				return nil, fmt.Errorf("cannot weigh the cpu cgroup %s: %w", base, err)
			}
		}
		l.bases[c] = base
	}
	return l, nil
}

// treeShares is the cgroup v1 cpu.shares of the server's whole tree of tool
// processes: a CPU's 1024 for each CPU, as the kubelet weighs its kubepods
// cgroup by the node's allocatable CPUs. With the default 1024 every tool
// together would weigh as much as one of the server's sibling processes,
// and a busy host would starve builds and runs that no limit asked to
// slow; under it, each tool weighs the default 1024 against the other
// tools.
func treeShares() int {
	return min(runtime.NumCPU()*1024, 262144) // the kernel's maximum
}

// treeWeight is treeShares on the cgroup v2 scale (default 100, at most
// 10000).
func treeWeight() int {
	return min(runtime.NumCPU()*100, 10000)
}

func (*v1) name() string { return "cgroup v1" }

func (l *v1) describe() string {
	var have []string
	for _, c := range []string{"memory", "cpu", "pids"} {
		if _, ok := l.bases[c]; ok {
			have = append(have, c)
		}
	}
	return "cgroup v1 (" + strings.Join(have, ", ") + ")"
}

func (l *v1) create(tool, unit string, lim Limits) (cg Cgroup, err error) {
	cg.Limits = lim
	defer func() {
		if err != nil {
			cg.Remove()
		}
	}()
	for _, c := range []string{"memory", "cpu", "pids"} {
		base, ok := l.bases[c]
		if !ok {
			continue
		}
		dir := filepath.Join(base, tool, unit)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return cg, err
		}
		cg.Dirs = append(cg.Dirs, dir)
		switch c {
		case "memory":
			if lim.MemoryBytes > 0 {
				v := strconv.FormatInt(lim.MemoryBytes, 10)
				if err := writeFile(dir, "memory.limit_in_bytes", v); err != nil {
					return cg, err
				}
				// With swap accounting, swap must not extend the limit.
				_ = writeFile(dir, "memory.memsw.limit_in_bytes", v) // absent without swap accounting
			}
		case "cpu":
			if lim.MilliCPU > 0 {
				if err := writeFile(dir, "cpu.cfs_period_us", strconv.Itoa(cfsPeriod)); err != nil {
					return cg, err
				}
				if err := writeFile(dir, "cpu.cfs_quota_us", strconv.FormatInt(lim.MilliCPU*cfsPeriod/1000, 10)); err != nil {
					return cg, err
				}
				if err := writeFile(dir, "cpu.shares", strconv.FormatInt(max(2, lim.MilliCPU*1024/1000), 10)); err != nil {
					return cg, err
				}
			}
		case "pids":
			if lim.Pids > 0 {
				if err := writeFile(dir, "pids.max", strconv.FormatInt(lim.Pids, 10)); err != nil {
					return cg, err
				}
			}
		}
	}
	return cg, nil
}

func (*v1) joinFiles(cg Cgroup) []string {
	files := make([]string, len(cg.Dirs))
	for i, d := range cg.Dirs {
		files[i] = filepath.Join(d, "cgroup.procs")
	}
	return files
}

func (*v1) cloneInto(Cgroup) (*os.File, error) { return nil, nil }

func (l *v1) close() {
	for _, b := range l.bases {
		removeEmpty(b)
	}
}
func (*v1) prefix(Limits) []string { return nil }

// v2 enforces limits with the unified hierarchy, which must offer the
// memory, cpu and pids controllers to this process's cgroup. A tree's
// cgroup is <own>/slipway-<name>/<tool>/<unit>; processes are cloned
// straight into it (clone3 CLONE_INTO_CGROUP).
type v2 struct {
	base string
}

var v2Controllers = []string{"memory", "cpu", "pids"}

func newV2(mounts map[string]cgroupMount, own map[string]string, name string) (*v2, error) {
	if m, ok := mounts[""]; !ok || !m.v2 {
		return nil, errors.New("no cgroup v2 hierarchy is mounted")
	}
	dir, err := ownDir(mounts, own, "")
	if err != nil {
		return nil, err
	}
	return newV2At(dir, name)
}

// newV2At sets up the v2 backend under the cgroup directory dir.
func newV2At(dir, name string) (*v2, error) {
	avail, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil, err
	}
	have := strings.Fields(string(avail))
	for _, c := range v2Controllers {
		if !slices.Contains(have, c) {
			return nil, fmt.Errorf("the %s controller is not available in %s (it offers %q)", c, dir, strings.TrimSpace(string(avail)))
		}
	}
	if err := enableControllers(dir); err != nil {
		return nil, err
	}
	base := filepath.Join(dir, "slipway-"+name)
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	if err := enableControllers(base); err != nil {
		return nil, err
	}
	if err := writeFile(base, "cpu.weight", strconv.Itoa(treeWeight())); err != nil {
		return nil, fmt.Errorf("cannot weigh the cgroup %s: %w", base, err)
	}
	return &v2{base: base}, nil
}

// enableControllers lets the children of dir use the memory, cpu and pids
// controllers. cgroup v2 refuses that while dir itself has processes (the
// "no internal processes" rule); they are then moved to a leaf dir/server
// first, as container runtimes do with a delegated cgroup.
func enableControllers(dir string) error {
	want := "+" + strings.Join(v2Controllers, " +")
	err := writeFile(dir, "cgroup.subtree_control", want)
	if err == nil || !errors.Is(err, syscall.EBUSY) {
		return err
	}
	leaf := filepath.Join(dir, "server")
	if err := os.MkdirAll(leaf, 0o755); err != nil {
		return err
	}
	procs, rerr := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if rerr != nil {
		return rerr
	}
	for pid := range strings.FieldsSeq(string(procs)) {
		_ = writeFile(leaf, "cgroup.procs", pid) // a process that exited meanwhile is fine
	}
	return writeFile(dir, "cgroup.subtree_control", want)
}

func (*v2) name() string     { return "cgroup v2" }
func (*v2) describe() string { return "cgroup v2 (memory, cpu, pids)" }

func (l *v2) create(tool, unit string, lim Limits) (cg Cgroup, err error) {
	cg.Limits = lim
	toolDir := filepath.Join(l.base, tool)
	if err := os.MkdirAll(toolDir, 0o755); err != nil {
		return cg, err
	}
	if err := enableControllers(toolDir); err != nil {
		return cg, err
	}
	dir := filepath.Join(toolDir, unit)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return cg, err
	}
	cg.Dirs = []string{dir}
	defer func() {
		if err != nil {
			cg.Remove()
		}
	}()
	if lim.MemoryBytes > 0 {
		if err := writeFile(dir, "memory.max", strconv.FormatInt(lim.MemoryBytes, 10)); err != nil {
			return cg, err
		}
		_ = writeFile(dir, "memory.swap.max", "0") // absent without swap accounting
	}
	if lim.MilliCPU > 0 {
		if err := writeFile(dir, "cpu.max", fmt.Sprintf("%d %d", lim.MilliCPU*cfsPeriod/1000, cfsPeriod)); err != nil {
			return cg, err
		}
	}
	if lim.Pids > 0 {
		if err := writeFile(dir, "pids.max", strconv.FormatInt(lim.Pids, 10)); err != nil {
			return cg, err
		}
	}
	return cg, nil
}

func (*v2) joinFiles(Cgroup) []string { return nil }

func (*v2) cloneInto(cg Cgroup) (*os.File, error) {
	if len(cg.Dirs) == 0 {
		return nil, nil
	}
	return os.Open(cg.Dirs[0])
}

func (*v2) prefix(Limits) []string { return nil }

func (l *v2) close() { removeEmpty(l.base) }
