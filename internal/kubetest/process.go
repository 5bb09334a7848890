package kubetest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one running program of the control plane, in a process group
// of its own.
type process struct {
	name string
	cmd  *exec.Cmd
	log  *os.File

	done    chan struct{} // closed when the program has exited
	waitErr error         // its exit, once done is closed
}

// startProcess starts path with args in dir, its output to
// dir/<name>.log, with this process's environment plus env.
func startProcess(dir, name, path string, env, args []string) (*process, error) {
	log, err := os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cmd := exec.Command(path, args...) //nolint:noctx // Stop ends it, not a context: it outlives the start
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	// A process group of its own, away from the terminal's ^C, so that
	// Stop ends the programs in order; SIGKILL should this process die
	// first, so that none outlives the tests.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &process{name: name, cmd: cmd, log: log, done: make(chan struct{})}

	// Pdeathsig fires when the thread that started the child ends, not the
	// process: keep that thread for as long as the program runs.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// stop sends SIGTERM to the program's process group, waits for the
// program, and kills the group when it has not exited within timeout. A
// program that exits on SIGTERM, whatever its code, stopped well.
func (p *process) stop(timeout time.Duration) error {
	defer func() { _ = p.log.Close() }()
	select {
	case <-p.done:
		return p.exitErr()
	default:
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return nil
	case <-timer.C:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s: no exit %s after SIGTERM: killed", p.name, timeout)
	}
}

// exitErr tells why a program that exited before it was asked to did.
func (p *process) exitErr() error {
	return fmt.Errorf("%s exited on its own: %w: %s", p.name, p.waitErr, p.tail())
}

// portTaken tells whether the program failed because its port was taken.
func (p *process) portTaken() bool {
	out, _ := os.ReadFile(p.log.Name())
	return bytes.Contains(out, []byte("address already in use"))
}

// tail returns the last lines of the program's log, for an error.
func (p *process) tail() string {
	const maxLines, maxBytes = 15, 3000
	out, _ := os.ReadFile(p.log.Name())
	s := strings.TrimSpace(string(out))
	if lines := strings.Split(s, "\n"); len(lines) > maxLines {
		s = strings.Join(lines[len(lines)-maxLines:], "\n")
	}
	if len(s) > maxBytes {
		s = s[len(s)-maxBytes:]
	}
	if s == "" {
		return "(no output)"
	}
	return s
}

// rss returns a process's resident set size in bytes, from
// /proc/PID/status.
func rss(pid int) (int64, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmRSS %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no VmRSS")
}
