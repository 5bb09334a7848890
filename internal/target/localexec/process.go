package localexec

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// proc is one running (or finished) process: either our child, reaped with
// Wait, or an adopted process watched through a pidfd.
type proc struct {
	pid, pgid int
	// start is field 22 of /proc/<pid>/stat, to tell the process from a
	// later one with the same pid.
	start     uint64
	startedAt time.Time
	adopted   bool

	exited chan struct{} // closed once the process has exited
	// exitCode is valid after exited is closed: the exit status, 128+signal
	// when killed, -1 when unknown (adopted processes).
	exitCode int
}

// instanceEnv is the environment variable holding a process's instance ID:
// a fresh random ID recorded in the state before every spawn, so that a
// server crashing between the spawn and the write of the pid leaves a
// process that the next server can still find (see [findInstances]). The
// wrapper shell's children inherit it.
const instanceEnv = "SLIPWAY_INSTANCE"

// newInstanceID returns 16 random hex characters.
func newInstanceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// withInstance returns env with instanceEnv set to id.
func withInstance(env []string, id string) []string {
	return append(slices.Clone(env), instanceEnv+"="+id)
}

// spawnedFunc, when set (by tests), is called right after d spawned a
// process and before its pid is recorded: the window a crash must survive.
var spawnedFunc func(d *Driver, pid int)

// procInfo identifies a running process.
type procInfo struct {
	pid, pgid int
	start     uint64
}

// findInstances scans /proc once for processes whose environment holds
// instanceEnv=<id> for one of ids, and returns, per id found, its group
// leader (pgid == pid) or else its oldest process. Processes that vanish or
// cannot be read (other users') are skipped, and so are zombies.
func findInstances(ids map[string]bool) map[string]procInfo {
	if len(ids) == 0 {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	prefix := []byte(instanceEnv + "=")
	self := os.Getpid()
	found := map[string]procInfo{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(b, prefix) {
			continue
		}
		var id string
		for kv := range bytes.SplitSeq(b, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, prefix); ok {
				id = string(v) // the last one wins, as with getenv
			}
		}
		if !ids[id] {
			continue
		}
		start, state, pgid, err := procStatFull(pid)
		if err != nil || state == 'Z' || state == 'X' {
			continue
		}
		p := procInfo{pid: pid, pgid: pgid, start: start}
		if cur, ok := found[id]; ok {
			curLeader, leader := cur.pid == cur.pgid, p.pid == p.pgid
			if curLeader && !leader || curLeader == leader && cur.start <= p.start {
				continue
			}
		}
		found[id] = p
	}
	return found
}

// spawn starts argv, a /bin/sh -c command line, in dir with env, in its
// own process group, its output appended to logPath by the child itself.
// Unless marker is empty, the shell first logs "--- started pid <pid> "
// and marker: the child writes it, so that it is in the log whenever the
// process ran, even when the server died right after the spawn.
//
// The process deliberately outlives ctx (and the server: a later one adopts
// it): ctx only carries values, and the process is ended by [stopProc]
// (SIGTERM to its group, then SIGKILL), never by a cancellation.
func spawn(ctx context.Context, argv []string, dir string, env []string, logPath string, marker string) (*proc, error) {
	if len(argv) < 3 || argv[0] != "/bin/sh" || argv[1] != "-c" {
		return nil, fmt.Errorf("spawn %q: not a /bin/sh -c command", argv)
	}
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	if marker != "" {
		argv = slices.Clone(argv)
		argv[2] = `printf '%s\n' "--- started pid $$ "` + shellQuote(marker) + "\n" + argv[2]
	}
	cmd := exec.CommandContext(context.WithoutCancel(ctx), argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	now := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	p := &proc{pid: cmd.Process.Pid, pgid: cmd.Process.Pid, startedAt: now, exited: make(chan struct{})}
	if st, _, err := procStat(p.pid); err == nil {
		p.start = st
	}
	go func() {
		err := cmd.Wait()
		p.exitCode = exitCode(cmd.ProcessState, err)
		close(p.exited)
	}()
	return p, nil
}

// shellQuote quotes s as one sh word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if c := ps.ExitCode(); c >= 0 {
		return c
	}
	if err != nil {
		return -1
	}
	return 0
}

// adopt watches a process that is not our child (left by a previous server)
// through a pidfd. It fails when the process is gone or its start time does
// not match (the pid was reused).
func adopt(pid, pgid int, start uint64, startedAt time.Time) (*proc, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd open %d: %w", pid, err)
	}
	// Check after opening the pidfd: from here on the pid cannot be reused
	// under us.
	if !alive(pid, start) {
		_ = unix.Close(fd) // nothing to do about a failed close of a pidfd we no longer use
		return nil, fmt.Errorf("adopt %d: %w", pid, os.ErrProcessDone)
	}
	p := &proc{pid: pid, pgid: pgid, start: start, startedAt: startedAt, adopted: true, exited: make(chan struct{}), exitCode: -1}
	go func() {
		defer close(p.exited)
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, -1)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil || n > 0 {
				return
			}
		}
	}()
	return p, nil
}

// procStat returns the start time (field 22) and state (field 3) of pid.
func procStat(pid int) (start uint64, state byte, err error) {
	start, state, _, err = procStatFull(pid)
	return start, state, err
}

// procStatFull returns the start time (field 22), state (field 3) and
// process group (field 5) of pid.
func procStatFull(pid int) (start uint64, state byte, pgid int, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state), fields[2] field 5 (pgrp); field 22 is
	// fields[19].
	if len(fields) < 20 {
		return 0, 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(string(fields[19]), 10, 64)
	if err == nil {
		pgid, err = strconv.Atoi(string(fields[2]))
	}
	if err != nil {
		return 0, 0, 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return start, fields[0][0], pgid, nil
}

// alive reports whether pid runs and is the process that started at start.
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, state, err := procStat(pid)
	return err == nil && st == start && state != 'Z' && state != 'X'
}

// groupAlive reports whether any process of group pgid runs (zombies do not
// count: they may wait forever for a parent that never reaps them).
func groupAlive(pgid int) bool {
	if pgid <= 0 {
		return false
	}
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 3 || f[0][0] == 'Z' || f[0][0] == 'X' {
			continue
		}
		if g, _ := strconv.Atoi(string(f[2])); g == pgid && pid > 0 {
			return true
		}
	}
	return false
}

// stopProc ends p's process group: SIGTERM, then SIGKILL once grace has
// passed while anything of the group still runs. It returns when the leader
// has exited (or, in the worst case, some seconds after SIGKILL).
func stopProc(p *proc, grace time.Duration) {
	_ = syscall.Kill(-p.pgid, syscall.SIGTERM)
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	select {
	case <-p.exited:
		killGroupAfter(p.pgid, deadline)
	case <-deadline.C:
		_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
	}
}

// killGroupAfter waits for group pgid to be gone, and SIGKILLs what is left
// when deadline fires first.
func killGroupAfter(pgid int, deadline *time.Timer) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for groupAlive(pgid) {
		select {
		case <-deadline.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			return
		case <-tick.C:
		}
	}
}

// freePorts returns n distinct free loopback TCP ports.
func freePorts(ctx context.Context, n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close() // the port was only probed; a failed close leaves nothing to undo
		}
	}()
	var lc net.ListenConfig
	for range n {
		l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// portFree reports whether port can be bound on loopback right now.
func portFree(ctx context.Context, port int) bool {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	_ = l.Close() // the port was only probed; a failed close leaves nothing to undo
	return true
}
