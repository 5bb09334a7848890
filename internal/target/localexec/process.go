package localexec

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"slipway.dev/slipway/internal/sandbox"
	"slipway.dev/slipway/internal/target"
)

// proc is one running (or finished) process tree: either our child, reaped
// with Wait, or an adopted process watched through a pidfd. The process is
// the tree's leader: the sandbox's monitor (or, unsandboxed, the command's
// shell), a session and process group leader.
type proc struct {
	pid, pgid int
	// start is field 22 of /proc/<pid>/stat, to tell the process from a
	// later one with the same pid.
	start     uint64
	startedAt time.Time
	adopted   bool
	// logPath and logOffset locate the launcher's start marker of a
	// process spawned with one: the app itself runs once the marker is
	// written (the sandbox's setup can take seconds on a loaded host).
	// appAt is when the driver first saw the marker (Unix nanoseconds, 0
	// until then).
	logPath   string
	logOffset int64
	marker    string
	appAt     atomic.Int64
	// cg is the tree's cgroup (zero without cgroups).
	cg sandbox.Cgroup

	exited chan struct{} // closed once the process has exited
	// exitCode is valid after exited is closed: the exit status, 128+signal
	// when killed, -1 when unknown (adopted processes).
	exitCode int
	// oom is valid after exited is closed: the tree was killed for
	// reaching its memory limit.
	oom bool
}

// ended records how p's tree ended and lets go of its cgroup: what is left
// of the tree is killed first. Called once the leader has exited.
func (p *proc) ended() {
	sandbox.Kill(p.pgid, p.cg)
	p.oom = p.cg.OOMKilled()
	p.cg.Remove()
	close(p.exited)
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
	self := os.Getpid()
	found := map[string]procInfo{}
	// A process caught in an execve (the sandbox's launcher execs right
	// after the spawn) shows an empty environment for a moment: look again.
	var blank []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if ok := matchInstance(pid, ids, found); !ok && !kernelThread(pid) {
			blank = append(blank, pid)
		}
	}
	for i := 0; i < 20 && len(blank) > 0; i++ {
		time.Sleep(5 * time.Millisecond)
		again := blank[:0]
		for _, pid := range blank {
			if !matchInstance(pid, ids, found) {
				again = append(again, pid)
			}
		}
		blank = again
	}
	return found
}

// matchInstance adds pid to found when its environment names one of ids
// and it is a better pick than the one found before (see findInstances).
// It reports false when the environment was empty (worth another look).
func matchInstance(pid int, ids map[string]bool, found map[string]procInfo) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return true // gone, or another user's: nothing to look at again
	}
	if len(b) == 0 {
		return false
	}
	prefix := []byte(instanceEnv + "=")
	if !bytes.Contains(b, prefix) {
		return true
	}
	var id string
	for kv := range bytes.SplitSeq(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, prefix); ok {
			id = string(v) // the last one wins, as with getenv
		}
	}
	if !ids[id] {
		return true
	}
	start, state, pgid, err := procStatFull(pid)
	if err != nil || state == 'Z' || state == 'X' {
		return true
	}
	p := procInfo{pid: pid, pgid: pgid, start: start}
	if cur, ok := found[id]; ok {
		curLeader, leader := cur.pid == cur.pgid, p.pid == p.pgid
		if curLeader && !leader || curLeader == leader && cur.start <= p.start {
			return true
		}
	}
	found[id] = p
	return true
}

// kernelThread reports whether pid is a kernel thread (PF_KTHREAD in the
// flags of /proc/<pid>/stat), whose environment is always empty.
func kernelThread(pid int) bool {
	f, err := statFields(pid)
	if err != nil || len(f) < 7 {
		return true // gone: nothing to look at again
	}
	flags, err := strconv.ParseUint(string(f[6]), 10, 64)
	return err != nil || flags&0x00200000 != 0
}

// spawn starts one process tree of spec in the tool's sandbox: its command
// with instance ID instance (the tree's cgroup is named after it) and the
// environment env, its output appended to logPath by the process itself.
// Unless marker is empty, the launcher first logs "--- started pid <pid> "
// and marker: the process writes it, so that it is in the log whenever the
// process ran, even when the server died right after the spawn. A non-nil
// status file receives the command's exit status when it ends.
//
// The process deliberately outlives ctx (and the server: a later one adopts
// it): ctx only carries values, and the process is ended by [stopProc]
// (SIGTERM to the app, then SIGKILL to the tree), never by a cancellation.
func (d *Driver) spawn(ctx context.Context, spec target.Spec, env map[string]string, instance, logPath, marker string, status *os.File) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	env = maps.Clone(env)
	env[instanceEnv] = instance
	sp := d.process(spec, env, instance, f, f, status)
	sp.Marker, sp.Outlive = marker, true
	cmd, err := d.sb.Command(context.WithoutCancel(ctx), sp)
	if err != nil {
		return nil, err
	}
	var offset int64
	if fi, err := f.Stat(); err == nil {
		offset = fi.Size()
	} else {
		marker = "" // nowhere to look for it: up counts from the spawn
	}
	now := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	p := &proc{
		pid: cmd.Process.Pid, pgid: cmd.Process.Pid, startedAt: now, cg: cmd.Cgroup, exited: make(chan struct{}),
		logPath: logPath, logOffset: offset, marker: marker,
	}
	if st, _, err := procStat(p.pid); err == nil {
		p.start = st
	}
	go func() {
		err := cmd.Wait()
		p.exitCode = exitCode(cmd.ProcessState, err)
		p.ended()
	}()
	return p, nil
}

// process returns the sandboxed process of spec: its command in the
// artifact (read-only at /app), with the tool's home, within the
// component's limits; unit names its cgroup (empty: none).
func (d *Driver) process(spec target.Spec, env map[string]string, unit string, stdout, stderr io.Writer, status *os.File) sandbox.Process {
	art := sandbox.Mount{Source: spec.Artifact.Dir, Target: sandbox.AppDir}
	return sandbox.Process{
		Tool:       spec.Tool,
		Unit:       unit,
		Command:    command(spec),
		Env:        env,
		Dir:        d.sb.Inside(art),
		Mounts:     []sandbox.Mount{art},
		Home:       d.cfg.HomeDir(spec.Tool),
		Limits:     d.limits(spec),
		Stdout:     stdout,
		Stderr:     stderr,
		StatusFile: status,
		Ask:        len(spec.AskEnv) > 0,
	}
}

// limits returns the limits of spec's processes.
func (d *Driver) limits(spec target.Spec) sandbox.Limits {
	if d.cfg.Limits == nil {
		return sandbox.Limits{}
	}
	return d.cfg.Limits(spec)
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
func adopt(pid, pgid int, start uint64, startedAt time.Time, cg sandbox.Cgroup) (*proc, error) {
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
	p := &proc{pid: pid, pgid: pgid, start: start, startedAt: startedAt, adopted: true, cg: cg, exited: make(chan struct{}), exitCode: -1}
	go func() {
		defer p.ended()
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
	fields, err := statFields(pid)
	if err != nil {
		return 0, 0, 0, err
	}
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

// statFields returns the fields of /proc/<pid>/stat after the command
// name (which may hold spaces and parentheses): fields[0] is field 3.
func statFields(pid int) ([][]byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return bytes.Fields(b[i+1:]), nil
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
		f, err := statFields(pid)
		if err != nil || len(f) < 3 || f[0][0] == 'Z' || f[0][0] == 'X' {
			continue
		}
		if g, _ := strconv.Atoi(string(f[2])); g == pgid && pid > 0 {
			return true
		}
	}
	return false
}

// stopProc ends p's process tree: SIGTERM to the app, then SIGKILL to
// the whole tree once grace has passed while anything of it still runs. It
// returns when the leader has exited (or, in the worst case, some seconds
// after SIGKILL).
func stopProc(p *proc, grace time.Duration) {
	sandbox.Terminate(p.pgid, p.cg)
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	select {
	case <-p.exited:
		killGroupAfter(p.pgid, deadline)
	case <-deadline.C:
		sandbox.Kill(p.pgid, p.cg)
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
	for len(ports) < n {
		l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick port: %w", err)
		}
		ls = append(ls, l)
		if port := l.Addr().(*net.TCPAddr).Port; recentPorts.take(port) {
			ports = append(ports, port)
		}
	}
	return ports, nil
}

// recentPorts are the ports freePorts handed out lately. Between the
// probe's close and the replica's bind the kernel may hand the same port
// to another probe; two replicas started at once (two tools' rollouts)
// would then both get it and one would crash on "address in use". A port
// handed out within portQuarantine is not handed out again.
var recentPorts = portSet{at: map[int]time.Time{}}

// portQuarantine is how long a handed-out port is not handed out again:
// well above the time a replica takes to bind it.
const portQuarantine = 2 * time.Minute

type portSet struct {
	mu sync.Mutex
	at map[int]time.Time
}

// take records port as handed out now, and reports false when it was
// handed out within portQuarantine.
func (s *portSet) take(port int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for p, t := range s.at {
		if now.Sub(t) > portQuarantine {
			delete(s.at, p)
		}
	}
	if _, ok := s.at[port]; ok {
		return false
	}
	s.at[port] = now
	return true
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
