package sandbox

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// The v2 backend weighs the tree of tool processes as the host's CPUs, on
// a file layout like the kernel's (this host kind has no v2 cpu
// controller to try it on).
func TestV2_WeighsTheTree(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte("cpuset cpu io memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := newV2At(dir, "abc")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(l.base, "cpu.weight"))
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(min(runtime.NumCPU()*100, 10000)); string(got) != want {
		t.Errorf("cpu.weight = %q, want %s (100 a CPU)", got, want)
	}
	// The tool and unit levels keep the default weight: tools weigh the same
	// against each other.
	cg, err := l.create("a", "build-1", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(l.base, "a"), cg.Dirs[0]} {
		if _, err := os.Stat(filepath.Join(d, "cpu.weight")); !os.IsNotExist(err) {
			t.Errorf("%s has a cpu.weight of its own (%v): want the default", d, err)
		}
	}
}

// On this host kind (cgroup v1), the server's tree of tool processes
// weighs a CPU's 1024 shares for each CPU, not one process's.
func TestV1_WeighsTheTree(t *testing.T) {
	mounts, own, err := readCgroupSetup()
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	if m, ok := mounts["cpu"]; !ok || m.v2 {
		t.Skip("no cgroup v1 cpu hierarchy here")
	}
	if os.Geteuid() != 0 {
		t.Skip("making cgroups needs root")
	}
	name := "weigh-" + strconv.Itoa(os.Getpid())
	l, err := newV1(mounts, own, name)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	got, err := os.ReadFile(filepath.Join(l.bases["cpu"], "cpu.shares"))
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(min(runtime.NumCPU()*1024, 262144)); strings.TrimSpace(string(got)) != want {
		t.Errorf("cpu.shares = %q, want %s (1024 a CPU)", got, want)
	}
}
