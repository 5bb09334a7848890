package localexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// A continuous component with a port has a service address: a loopback
// port of its own, stable across replacements, on which the server
// forwards each TCP connection to one of the serving replicas (as a
// Kubernetes Service does for Toolforge's components). The tool's other
// processes find it in $SLIPWAY_<COMPONENT>_URL ("http://127.0.0.1:<port>")
// and, with the network isolated, only the tool may connect to it.

// serviceEnv returns the name of the variable holding the service URL of
// component name: SLIPWAY_<NAME>_URL, upper case, dashes as underscores.
func serviceEnv(name string) string {
	return "SLIPWAY_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_URL"
}

// service is a component's service listener.
type service struct {
	port int
	ln   net.Listener
	done chan struct{} // closed when the accept loop and its connections have returned

	mu    sync.Mutex
	conns map[net.Conn]bool // open client connections, closed by stop
}

// track adds (or, with add false, removes) an open connection; false when
// the service is stopped (the connection is to be closed).
func (s *service) track(conn net.Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, conn)
		return true
	}
	if s.conns == nil {
		return false
	}
	s.conns[conn] = true
	return true
}

// ensureService makes sure c, continuous with a port, has its service
// listening: on the port it had (recorded in state.json), else a new one.
// c.op is held.
func (d *Driver) ensureService(ctx context.Context, c *comp) error {
	c.mu.Lock()
	want := c.svcPort
	running := c.svc != nil
	c.mu.Unlock()
	if running {
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(want))
	if err != nil && want != 0 {
		// Taken while no server listened: processes that kept the old URL
		// lose their peer until they restart; new ones get the new one.
		d.logger.WarnContext(ctx, "the service port was taken, moving", "tool", c.tool, "name", c.name, "port", want, "err", err)
		ln, err = lc.Listen(ctx, "tcp", "127.0.0.1:0")
	}
	if err != nil {
		return fmt.Errorf("service address: %w", err)
	}
	s := &service{port: ln.Addr().(*net.TCPAddr).Port, ln: ln, done: make(chan struct{}), conns: map[net.Conn]bool{}}
	c.mu.Lock()
	c.svc, c.svcPort = s, s.port
	c.mu.Unlock()
	d.wg.Add(1)
	go d.serve(c, s) //nolint:contextcheck // the listener outlives the Apply that opened it: its connections live in the driver's lifetime (d.ctx)
	return nil
}

// serve forwards the connections of s to c's serving replicas until s's
// listener is closed.
func (d *Driver) serve(c *comp, s *service) {
	defer d.wg.Done()
	defer close(s.done)
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				d.logger.Warn("service accept failed", "tool", c.tool, "name", c.name, "err", err)
			}
			return
		}
		if !s.track(conn, true) {
			_ = conn.Close()
			continue
		}
		conns.Go(func() {
			defer s.track(conn, false)
			d.forward(c, conn)
		})
	}
}

// forward joins conn to a serving replica of c, counted in flight (a
// replaced generation is stopped once its connections are done).
func (d *Driver) forward(c *comp, conn net.Conn) {
	defer conn.Close()
	r, port := d.pick(c)
	if r == nil {
		return
	}
	defer r.inflight.Add(-1)
	var dialer net.Dialer
	ctx, cancel := context.WithTimeout(d.ctx, 5*time.Second)
	up, err := dialer.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
	cancel()
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(up, conn)
		if tc, ok := up.(*net.TCPConn); ok {
			_ = tc.CloseWrite() // half-close: the replica sees the end of the request
		}
		close(done)
	}()
	_, _ = io.Copy(conn, up)
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	<-done
}

// pick returns a serving replica of c that is up, round robin, with a
// request (or connection) counted in flight to it, and its port; nil when
// none is up. The proxy and the service address both pick here.
func (d *Driver) pick(c *comp) (*replica, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var up []*replica
	for _, r := range c.replicas {
		if r.proc != nil && r.port > 0 {
			up = append(up, r)
		}
	}
	if len(up) == 0 {
		return nil, 0
	}
	r := up[int(d.rr.Add(1)%uint64(len(up)))]
	r.inflight.Add(1)
	return r, r.port
}

// stopService closes c's service listener and waits for its connections.
func (c *comp) stopService() {
	c.mu.Lock()
	s := c.svc
	c.svc = nil
	c.mu.Unlock()
	if s == nil {
		return
	}
	_ = s.ln.Close() // ends the accept loop; nothing else to undo
	s.mu.Lock()
	for conn := range s.conns {
		_ = conn.Close() // ends its forwarding
	}
	s.conns = nil
	s.mu.Unlock()
	<-s.done
}

// serviceURLs returns the service URLs of tool's continuous components
// that have one, by variable name.
func (d *Driver) serviceURLs(tool string) map[string]string {
	out := map[string]string{}
	for _, c := range d.toolComps(tool) {
		c.mu.Lock()
		if c.svc != nil && c.spec.Component.Type == slipway.Continuous {
			out[serviceEnv(c.name)] = "http://127.0.0.1:" + strconv.Itoa(c.svcPort)
		}
		c.mu.Unlock()
	}
	return out
}
