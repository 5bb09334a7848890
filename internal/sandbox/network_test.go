package sandbox_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/sandbox"
)

// Ensure that with an isolated network a tool reaches the allowed ports
// and its own, and neither another tool's nor any other port of this
// host, on loopback (IPv4 and IPv6) or the host's addresses; and that a
// port taken back from a tool is refused to it again.
func TestSandbox_Network(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("network isolation needs root")
	}
	for _, bin := range []string{"bwrap", "nft", "curl"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (make deps installs it)", bin)
		}
	}
	// A uid range of its own (the table is the host's), always the same
	// one (each range adds its rules to the host's table for good).
	base := 1_900_000_000
	sb, err := sandbox.New(t.Context(), sandbox.Config{
		Mode: sandbox.Bubblewrap, Dir: filepath.Join(t.TempDir(), "sandbox"), Name: testName(t),
		UIDBase: base, UIDCount: 1000, Limits: "none", Network: sandbox.NetworkIsolated,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	if !strings.Contains(sb.Describe(), "tools reach no port of this host") {
		t.Fatalf("describe: %s", sb.Describe())
	}

	// Servers run by root (as the proxy and other tools' processes would
	// be, from the firewall's point of view).
	listen := func(network, addr string) int {
		ln, err := net.Listen(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, "reached")
		})}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		return ln.Addr().(*net.TCPAddr).Port
	}
	api := listen("tcp", ":0")
	own := listen("tcp", ":0")
	other := listen("tcp", ":0")
	// A port a dead server left in the allow-list, now nobody's: the next
	// server start takes it out.
	dead, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := dead.Addr().(*net.TCPAddr).Port
	if err := sb.IsolateNetwork(t.Context(), deadPort); err != nil {
		t.Fatal(err)
	}
	_ = dead.Close()
	if err := sb.IsolateNetwork(t.Context(), api); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("nft", "list", "set", "inet", "slipway", "allowed_ports").CombinedOutput(); err != nil ||
		strings.Contains(string(out), strconv.Itoa(deadPort)) || !strings.Contains(string(out), strconv.Itoa(api)) {
		t.Errorf("allowed ports: want %d and not the dead %d: %v\n%s", api, deadPort, err, out)
	}
	if err := sb.HoldPorts(t.Context(), "alpha", "web", []int{own}); err != nil {
		t.Fatal(err)
	}
	if err := sb.HoldPorts(t.Context(), "beta", "web", []int{other}); err != nil {
		t.Fatal(err)
	}
	// Ports a unit holds already cost no nft run (a rollout's old replicas
	// stopping leaves the new ones' ports as they are).
	before := sb.NftChanges()
	if err := sb.HoldPorts(t.Context(), "alpha", "web", []int{own}); err != nil {
		t.Fatal(err)
	}
	if got := sb.NftChanges() - before; got != 0 {
		t.Errorf("holding a held port again listed or changed the table %d times, want 0", got)
	}

	reach := func(tool string, port int, host string) bool {
		app, home := toolDirs(t, sb, tool)
		out, err := run(t, sb, sandbox.Process{
			Tool: tool, Home: home, Dir: sandbox.AppDir,
			Mounts:  []sandbox.Mount{{Source: app, Target: sandbox.AppDir}},
			Command: "curl -sS --max-time 5 http://" + host + ":" + strconv.Itoa(port) + "/",
		})
		if err == nil && strings.TrimSpace(out) != "reached" {
			t.Fatalf("%s to %s:%d: %q", tool, host, port, out)
		}
		return err == nil
	}
	hosts := []string{"127.0.0.1", "[::1]", "127.0.0.2"}
	for _, h := range hosts {
		if !reach("alpha", api, h) {
			t.Errorf("alpha cannot reach the allowed port on %s", h)
		}
		if !reach("alpha", own, h) {
			t.Errorf("alpha cannot reach its own port on %s", h)
		}
		if reach("alpha", other, h) {
			t.Errorf("alpha reached beta's port on %s", h)
		}
		if !reach("beta", other, h) {
			t.Errorf("beta cannot reach its own port on %s", h)
		}
	}
	// beta's port goes to alpha (beta's process died while no server
	// watched): beta loses it. alpha's component stops: alpha loses it.
	if err := sb.HoldPorts(t.Context(), "alpha", "api", []int{other}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sb.HoldPorts(context.Background(), "alpha", "api", nil)
		sb.FlushNetwork(context.Background())
	})
	if reach("beta", other, "127.0.0.1") || !reach("alpha", other, "127.0.0.1") {
		t.Errorf("a port given to alpha: beta or not alpha reaches it")
	}
	if err := sb.HoldPorts(t.Context(), "alpha", "web", nil); err != nil {
		t.Fatal(err)
	}
	before, runs := sb.NftChanges(), sb.NftRuns()
	sb.FlushNetwork(t.Context()) // deleted a little later otherwise
	if got := sb.NftChanges() - before; got != 1 {
		t.Errorf("deleting the released ports changed the table %d times, want 1", got)
	}
	if got := sb.NftRuns() - runs; got != 0 {
		t.Errorf("deleting the released ports ran nft %d times, want 0 (a netlink batch)", got)
	}
	if reach("alpha", own, "127.0.0.1") {
		t.Errorf("alpha reaches the port of its stopped component")
	}
}
