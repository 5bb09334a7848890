// Package kubetest gives tests a real Kubernetes control plane: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok (a
// fake kubelet that plays pods' lifecycles without running containers),
// built from the Go module proxy by scripts/kube-bin.sh and run on
// loopback ([Start]); a test process starts one once ([Shared]), and each
// test gets a namespace of its own ([Cluster.Namespace]), deleted when the
// test ends.
//
// A package whose tests use it calls [Main] from its TestMain. The
// programs come from $SLIPWAY_KUBE_BIN, which `make test` sets after
// building them (or finding them in the cache); when it is unset, the
// first [Shared] runs scripts/kube-bin.sh itself, found above the working
// directory (a warm cache answers at once, a cold build takes minutes).
// Programs missing are a failure, never a skip; only -short skips.
//
// A driver's client needs [Cluster.Host], [Cluster.Token] and
// [Cluster.CAData] (or [Cluster.Kubeconfig], which holds them):
// client-go's rest.Config{Host: c.Host, BearerToken: c.Token,
// TLSClientConfig: rest.TLSClientConfig{CAData: c.CAData}}.
//
// It imports testing: import it only from tests.
package kubetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// EnvBin names the environment variable of the directory that holds the
// control plane's programs (what scripts/kube-bin.sh prints).
const EnvBin = "SLIPWAY_KUBE_BIN"

// cleanupTimeout bounds a namespace's delete at a test's end.
const cleanupTimeout = 30 * time.Second

var (
	mainCalled atomic.Bool

	shared struct {
		once    sync.Once
		cluster *Cluster
		took    time.Duration
		err     error
	}
)

// Main runs the tests of a package that uses [Shared]; call it from
// TestMain. It stops the cluster that this process started, if any, and
// exits with the tests' code.
func Main(m *testing.M) {
	os.Exit(Wrap(m).Run())
}

// Wrap returns m whose Run also stops the cluster this process started,
// for a TestMain that hands m on to a runner of its own (or to another
// package's Wrap, such as pgtest's).
func Wrap(m interface{ Run() int }) interface{ Run() int } {
	mainCalled.Store(true)
	return wrapped{m}
}

type wrapped struct{ m interface{ Run() int } }

func (w wrapped) Run() int {
	code := w.m.Run()
	if c := shared.cluster; c != nil {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "kubetest:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Shared returns the control plane of this test process, which the first
// call starts (in a temporary directory) and [Main] stops. It fails the
// test, loudly, when the control plane cannot be started.
func Shared(tb testing.TB) *Cluster {
	tb.Helper()
	if testing.Short() {
		tb.Skip("kubetest: -short skips the tests that need a Kubernetes control plane")
	}
	if !mainCalled.Load() {
		tb.Fatal("kubetest: call kubetest.Main(m) from this package's TestMain, so that the cluster it starts is stopped")
	}
	shared.once.Do(func() {
		bin, err := BinDir()
		if err != nil {
			shared.err = err
			return
		}
		dir, err := os.MkdirTemp("", "slipway-kubetest-") //nolint:usetesting // it outlives this test
		if err != nil {
			shared.err = err
			return
		}
		t0 := time.Now()
		shared.cluster, shared.err = Start(context.Background(), dir, bin)
		shared.took = time.Since(t0)
	})
	if shared.err != nil {
		tb.Fatalf(`
**********************************************************************
kubetest: this test needs a Kubernetes control plane, and it could not
be started:
  %v
Build its programs with ./scripts/kube-bin.sh (make kube-bin), which
prints their directory, and set %s to it; make test does both.
**********************************************************************`, shared.err, EnvBin)
	}
	tb.Logf("kubetest: control plane at %s (started in %.1fs)", shared.cluster.Host, shared.took.Seconds())
	return shared.cluster
}

// BinDir returns the directory of the control plane's programs:
// $SLIPWAY_KUBE_BIN when it is set, else the one scripts/kube-bin.sh
// builds or finds in its cache, the script found in the working directory
// or above it. Its progress goes to stderr.
func BinDir() (string, error) {
	if dir := os.Getenv(EnvBin); dir != "" {
		if err := checkBin(dir); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvBin, dir, err)
		}
		return dir, nil
	}
	script, err := findScript()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("bash", script) //nolint:noctx // a cold build takes minutes and has nothing to end it early
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w", script, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	dir := lines[len(lines)-1]
	if err := checkBin(dir); err != nil {
		return "", fmt.Errorf("%s printed %s: %w", script, dir, err)
	}
	return dir, nil
}

// findScript looks for scripts/kube-bin.sh in the working directory and
// its parents.
func findScript() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		p := filepath.Join(dir, "scripts", "kube-bin.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("%s is unset, and no scripts/kube-bin.sh in %s or above to build the programs", EnvBin, wd)
		}
	}
}

// Namespace creates a namespace of a random name (t-<hex>) and returns
// its name once its ServiceAccount default exists, so that pods are
// admitted in it at once. The namespace is deleted when the test ends
// (the namespace controller then deletes what it holds).
func (c *Cluster) Namespace(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "t-" + hex.EncodeToString(b)
	ctx := tb.Context()
	ns := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}
	if err := c.Do(ctx, http.MethodPost, "/api/v1/namespaces", ns, nil); err != nil {
		tb.Fatalf("kubetest: create namespace: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := c.Do(ctx, http.MethodDelete, "/api/v1/namespaces/"+name, nil, nil); err != nil && !IsNotFound(err) {
			tb.Errorf("kubetest: delete namespace: %v", err)
		}
	})
	if err := c.awaitServiceAccount(ctx, name); err != nil {
		tb.Fatalf("kubetest: namespace %s: %v", name, err)
	}
	return name
}
