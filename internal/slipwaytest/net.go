package slipwaytest

import (
	"fmt"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Blackhole returns the address (127.0.0.1:port) of a TCP port that never
// completes a connection: a listening socket with a backlog of 0 whose
// queue is already filled by one connection that is never accepted, so the
// kernel drops every further SYN and a client's connect hangs until its own
// timeout, as with a remote behind a firewall that drops packets. It needs
// no privileges and no sleeping. The port is closed when the test ends.
func Blackhole(tb testing.TB) string {
	tb.Helper()
	addr, closeFn, err := ListenBlackhole()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(closeFn)
	return addr
}

// ListenBlackhole is [Blackhole] for callers without a testing.TB: closeFn
// closes the port.
func ListenBlackhole() (addr string, closeFn func(), err error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("blackhole: socket: %w", err)
	}
	fail := func(what string, err error) (string, func(), error) {
		_ = syscall.Close(fd)
		return "", nil, fmt.Errorf("blackhole: %s: %w", what, err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return fail("bind", err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		return fail("listen", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	// A backlog of 0 still queues one connection: take that place.
	filler, err := net.DialTimeout("tcp", addr, 5*time.Second) //nolint:noctx // a local connect with its own timeout
	if err != nil {
		return fail("fill the queue", err)
	}
	return addr, func() { _ = filler.Close(); _ = syscall.Close(fd) }, nil
}

// Silent returns the address (127.0.0.1:port) of a TCP listener that
// accepts every connection and then never sends a byte, until the test
// ends.
func Silent(tb testing.TB) string {
	tb.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(tb.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = ln.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return ln.Addr().String()
}
