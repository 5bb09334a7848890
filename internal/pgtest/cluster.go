package pgtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// binGlob is where Debian's postgresql packages put each version's programs.
const binGlob = "/usr/lib/postgresql/*/bin"

const (
	readyTimeout = 30 * time.Second // from postgres's start to its first answer
	stopTimeout  = 30 * time.Second // for a fast shutdown before SIGKILL
	startTries   = 3                // ports taken by someone else between our pick and postgres's bind
)

// settings tune the server for tests: nothing survives a crash, so nothing
// is synced.
var settings = []string{
	"listen_addresses=127.0.0.1",
	"unix_socket_directories=", // TCP on loopback only
	"fsync=off",
	"synchronous_commit=off",
	"full_page_writes=off",
	"max_connections=500",
	"shared_buffers=64MB",
}

// Cluster is a throwaway PostgreSQL server: a fresh initdb in a directory
// of its own, serving on a free 127.0.0.1 port, with the superuser
// postgres trusted without a password. It is made by [Start] and removed,
// directory and all, by [Cluster.Stop].
type Cluster struct {
	dir  string
	port int
	cmd  *exec.Cmd
	log  *os.File

	done    chan struct{} // closed when postgres has exited
	waitErr error         // postgres's exit, once done is closed

	stopOnce sync.Once
	stopErr  error
}

// Start creates dir (or takes it when it exists and is empty), runs initdb
// in it and starts postgres, and returns once the server answers a
// connection. ctx bounds the start only, not the server's life.
//
// When the process runs as root, the server runs as the postgres system
// user (PostgreSQL refuses root): dir is handed to that user, who must be
// able to reach it, so dir's parents must be searchable by others, as
// os.TempDir() is and testing's t.TempDir() is not.
func Start(ctx context.Context, dir string) (*Cluster, error) {
	if entries, err := os.ReadDir(dir); len(entries) > 0 {
		return nil, fmt.Errorf("start postgres: %s is not empty", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	c, err := start(ctx, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	return c, nil
}

func start(ctx context.Context, dir string) (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.Env = env()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	initdb.Cancel = func() error { return syscall.Kill(-initdb.Process.Pid, syscall.SIGKILL) }
	if out, err := initdb.CombinedOutput(); err != nil {
		if cred != nil && errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("initdb: %w: the postgres user must reach %s: its parents must be searchable by others", err, dir)
		}
		return nil, fmt.Errorf("initdb: %w: %s", err, tail(out))
	}
	for try := 1; ; try++ {
		c, portTaken, err := serve(ctx, dir, filepath.Join(bin, "postgres"), cred)
		if err == nil || !portTaken || try == startTries {
			return c, err
		}
	}
}

// serve starts postgres on a free port and waits for it to answer.
// portTaken tells that it failed because another process took the port
// first.
func serve(ctx context.Context, dir, postgres string, cred *syscall.Credential) (c *Cluster, portTaken bool, err error) {
	port, err := freePort(ctx)
	if err != nil {
		return nil, false, err
	}
	log, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, false, err
	}
	args := []string{"-D", filepath.Join(dir, "data"), "-p", strconv.Itoa(port)}
	for _, s := range settings {
		args = append(args, "-c", s)
	}
	cmd := exec.Command(postgres, args...) //nolint:noctx // ctx bounds the start only; Stop ends the server
	cmd.Dir = dir
	cmd.Env = env()
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, away from the terminal's ^C, so that Stop
	// shuts it down in order; SIGQUIT (immediate shutdown) should this
	// process die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGQUIT}
	c = &Cluster{dir: dir, port: port, cmd: cmd, log: log, done: make(chan struct{})}

	// Pdeathsig fires when the thread that started the child ends, not the
	// process: keep that thread for as long as the server runs.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	if err := <-started; err != nil {
		_ = log.Close()
		return nil, false, fmt.Errorf("postgres: %w", err)
	}
	if err := c.waitReady(ctx); err != nil {
		_ = c.kill()
		_ = log.Close()
		out, _ := os.ReadFile(log.Name())
		portTaken = bytes.Contains(out, []byte("Address already in use"))
		return nil, portTaken, fmt.Errorf("postgres: %w: %s", err, tail(out))
	}
	return c, false, nil
}

// waitReady polls a connection until postgres answers it, exits, or the
// deadline passes.
func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	db, err := sql.Open("pgx", c.URL())
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		pingCtx, cancelPing := context.WithTimeout(ctx, time.Second)
		err := db.PingContext(pingCtx)
		cancelPing()
		if err == nil {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("exited before it was ready: %w", c.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last: %w)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// URL returns the server's URL, for the superuser postgres and the
// database postgres.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Addr returns the server's address, 127.0.0.1:port.
func (c *Cluster) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port))
}

// Stop shuts the server down (a fast shutdown: SIGINT, which ends the
// sessions still open), waits for it, and removes its directory. It may be
// called more than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		var errs []error
		if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, fmt.Errorf("signal: %w", err))
		}
		select {
		case <-c.done:
			if c.waitErr != nil {
				errs = append(errs, fmt.Errorf("postgres: %w", c.waitErr))
			}
		case <-time.After(stopTimeout):
			errs = append(errs, fmt.Errorf("postgres: no shutdown in %s: killed", stopTimeout))
			_ = c.kill()
		}
		_ = c.log.Close()
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			c.stopErr = fmt.Errorf("stop postgres: %w", err)
		}
	})
	return c.stopErr
}

// kill ends postgres's process group at once and waits for the postmaster.
func (c *Cluster) kill() error {
	select {
	case <-c.done:
		return nil
	default:
	}
	err := syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	<-c.done
	return err
}

// binDir returns the bin directory of the newest PostgreSQL installed.
func binDir() (string, error) {
	dirs, _ := filepath.Glob(binGlob)
	best, bestVersion := "", -1.0
	for _, d := range dirs {
		v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
		if err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil && v > bestVersion {
			best, bestVersion = d, v
		}
	}
	if best == "" {
		return "", fmt.Errorf("no PostgreSQL in %s/postgres: install Debian's postgresql package", binGlob)
	}
	return best, nil
}

// credential returns the postgres system user's when this process is root
// (PostgreSQL will not run as root), and nil otherwise.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, postgres runs as the postgres user: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// env is this process's environment without the PG* variables that libpq
// programs would read.
func env() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			out = append(out, kv)
		}
	}
	return out
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(ctx context.Context) (int, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	return port, ln.Close()
}

// tail returns the last lines of a program's output, for an error.
func tail(out []byte) string {
	const maxLines, maxBytes = 15, 2000
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
