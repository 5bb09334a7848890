package localexec

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
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

// spawn starts argv in dir with env, in its own process group, its output
// appended to logPath by the child itself. marker returns the line written
// to the log once the pid is known.
func spawn(argv []string, dir string, env []string, logPath string, marker func(pid int) string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
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
	if marker != nil {
		_, _ = f.WriteString(marker(p.pid) + "\n")
	}
	go func() {
		err := cmd.Wait()
		p.exitCode = exitCode(cmd.ProcessState, err)
		close(p.exited)
	}()
	return p, nil
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
		unix.Close(fd)
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
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state); field 22 is fields[19].
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return start, fields[0][0], nil
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
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// portFree reports whether port can be bound on loopback right now.
func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
