package sandbox

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// Terminate asks the process tree led by leader (a process the sandbox
// started, or one a previous server started) to stop: SIGTERM to each of
// its processes — those of its process group and of its cgroup — except
// bubblewrap's own two (the leader and its init), so that the app can
// finish what it is doing and its exit ends the sandbox. An unconfined tree
// gets SIGTERM as a whole process group.
func Terminate(leader int, cg Cgroup) {
	if leader <= 0 {
		return
	}
	if !Sandboxed(leader) {
		_ = syscall.Kill(-leader, syscall.SIGTERM) // a group already gone is fine
		for _, pid := range cg.Procs() {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
		return
	}
	for _, pid := range treeMembers(leader, cg) {
		if pid == leader || (comm(pid) == "bwrap" && ppid(pid) == leader) {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGTERM) // one that exited meanwhile is fine
	}
}

// Sandboxed reports whether the tree led by pid was started in a sandbox
// (its leader is bubblewrap's monitor).
func Sandboxed(pid int) bool { return comm(pid) == "bwrap" }

// Kill SIGKILLs the whole tree led by leader: its process group and its
// cgroup (which also holds processes that left the group).
func Kill(leader int, cg Cgroup) {
	if leader > 0 {
		_ = syscall.Kill(-leader, syscall.SIGKILL) // a group already gone is fine
	}
	cg.Kill()
}

// treeMembers returns the pids of leader's tree: its cgroup's, which hold
// every process of the tree, or without one those of its process group
// (one pass over /proc).
func treeMembers(leader int, cg Cgroup) []int {
	if len(cg.Dirs) > 0 {
		return cg.Procs()
	}
	var pids []int
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return pids
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, pgrp, ok := stat(pid); ok && pgrp == leader {
			pids = append(pids, pid)
		}
	}
	return pids
}

// comm returns the command name of pid.
func comm(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return string(bytes.TrimSpace(b))
}

func ppid(pid int) int {
	p, _, _ := stat(pid)
	return p
}

// stat returns the parent and process group of pid.
func stat(pid int) (parent, pgrp int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 3 {
		return 0, 0, false
	}
	parent, err1 := strconv.Atoi(string(f[1]))
	pgrp, err2 := strconv.Atoi(string(f[2]))
	return parent, pgrp, err1 == nil && err2 == nil
}

// ReadStatus returns the exit status written to a [Process.StatusFile]:
// ok is false while the command runs (or when it never started).
func ReadStatus(path string) (code int, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	// bubblewrap writes JSON documents, the last one {"exit-code": N}.
	i := bytes.LastIndex(b, []byte(`"exit-code"`))
	if i < 0 {
		return 0, false
	}
	rest := bytes.TrimLeft(b[i+len(`"exit-code"`):], " \t:")
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	n, err := strconv.Atoi(string(rest[:j]))
	return n, err == nil
}
