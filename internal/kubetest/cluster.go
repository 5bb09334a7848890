package kubetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Programs are the control plane's programs, in start order, as
// scripts/kube-bin.sh names them in its directory.
var Programs = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// StagesFile is kwok's stages (node and pod lifecycles) in the programs'
// directory.
const StagesFile = "kwok-stages.yaml"

// NodeName is the fake node that [Start] registers and kwok keeps Ready:
// pods are scheduled to it and kwok plays their lifecycle (Running, and
// Succeeded for a Job's), with no container run.
const NodeName = "kwok-node-0"

// Cluster network ranges: fake addresses kwok hands out, and the Services'
// range; nothing routes them.
const (
	ServiceCIDR = "10.96.0.0/16"
	PodCIDR     = "10.244.0.0/24"
)

const (
	startTimeout = 2 * time.Minute  // from the first program's start to the node Ready
	stopTimeout  = 20 * time.Second // for each program's graceful exit before SIGKILL
	startTries   = 3                // ports taken by someone else between our pick and the bind
)

// Cluster is a throwaway Kubernetes control plane on loopback: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok (a
// fake kubelet) as child processes, with a fake node [NodeName] Ready.
// Its state (etcd's data, keys, certificates, logs) is in a directory of
// its own. It is made by [Start] and removed, directory and all, by
// [Cluster.Stop].
//
// The apiserver serves HTTPS on 127.0.0.1 with a certificate of its own
// CA, authenticates bearer tokens from a file and authorizes with RBAC;
// [Cluster.Token] is in the group system:masters.
type Cluster struct {
	// Host is the apiserver's URL, https://127.0.0.1:PORT.
	Host string
	// Token is a bearer token of the user kubetest-admin, in the group
	// system:masters.
	Token string
	// CAData is the PEM certificate of the CA that signed the apiserver's
	// serving certificate (for 127.0.0.1, localhost and
	// kubernetes.default.svc).
	CAData []byte
	// CAFile is the file of CAData.
	CAFile string
	// Kubeconfig is a kubeconfig file for Host, CAData and Token, for
	// kubectl and client-go.
	Kubeconfig string

	dir    string
	bin    string
	procs  []*process // started, in start order
	client *http.Client

	stopOnce sync.Once
	stopErr  error
}

// Start creates dir (or takes it when it exists and is empty), starts a
// control plane in it from the programs in bin (scripts/kube-bin.sh's
// directory, see [BinDir]), registers the node [NodeName] and returns once
// the node is Ready and the default namespace has its ServiceAccount: a
// Deployment created then is scheduled and runs. ctx bounds the start
// only, not the cluster's life.
func Start(ctx context.Context, dir, bin string) (*Cluster, error) {
	if entries, err := os.ReadDir(dir); len(entries) > 0 {
		return nil, fmt.Errorf("start kubernetes: %s is not empty", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("start kubernetes: %w", err)
	}
	if err := checkBin(bin); err != nil {
		return nil, fmt.Errorf("start kubernetes: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("start kubernetes: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	c := &Cluster{dir: dir, bin: bin}
	if err := c.start(ctx); err != nil {
		_ = c.Stop()
		return nil, fmt.Errorf("start kubernetes: %w", err)
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	p, err := writePKI(c.dir)
	if err != nil {
		return fmt.Errorf("keys and certificates: %w", err)
	}
	c.Token, c.CAData, c.CAFile = p.token, p.caPEM, p.caFile
	c.client = newHTTPClient(p.caPEM, p.token)

	etcdURL, err := retryPorts(func() (string, bool, error) { return c.startEtcd(ctx) })
	if err != nil {
		return err
	}
	if _, err := retryPorts(func() (string, bool, error) {
		taken, err := c.startAPIServer(ctx, p, etcdURL)
		return "", taken, err
	}); err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(c.dir, "kubeconfig")
	if err := writeKubeconfig(c.Kubeconfig, c.Host, c.CAData, c.Token); err != nil {
		return err
	}

	kc := "--kubeconfig=" + c.Kubeconfig
	// Without a serving port (--secure-port=0) the controller-manager and
	// the scheduler need no port, certificate or delegated
	// authentication; tests watch what they do instead of their health.
	if _, err := c.run("kube-controller-manager", nil, kc,
		"--leader-elect=false",
		"--secure-port=0",
		"--controllers=*",
		"--use-service-account-credentials=false",
		"--service-account-private-key-file="+p.saKey,
		"--root-ca-file="+p.caFile,
		"--service-cluster-ip-range="+ServiceCIDR,
	); err != nil {
		return err
	}
	if _, err := c.run("kube-scheduler", nil, kc, "--leader-elect=false", "--secure-port=0"); err != nil {
		return err
	}
	// kwok reads its default configuration from $HOME/.kwok: a home of
	// its own keeps the user's out.
	home := filepath.Join(c.dir, "kwok-home")
	if err := os.Mkdir(home, 0o700); err != nil {
		return err
	}
	if _, err := c.run("kwok", []string{"HOME=" + home}, kc,
		"--config="+filepath.Join(c.bin, StagesFile),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+fakeNodeAnnotation+"=fake",
		"--cidr="+PodCIDR,
		"--node-ip=127.0.0.2",
		"--node-lease-duration-seconds=40",
	); err != nil {
		return err
	}

	ffCtx, stop := c.failFast(ctx)
	defer stop()
	err = c.Do(ffCtx, http.MethodPost, "/api/v1/nodes", fakeNode(), nil)
	if err != nil {
		err = fmt.Errorf("create node %s: %w", NodeName, err)
	} else {
		err = c.awaitReady(ffCtx)
	}
	if cause := context.Cause(ffCtx); err != nil && ffCtx.Err() != nil && !errors.Is(cause, ffCtx.Err()) {
		return cause // a program exited: say which, and why
	}
	return err
}

// failFast returns ctx canceled, with the exit as its cause, when one of
// the programs started so far exits; stop ends the watch.
func (c *Cluster) failFast(ctx context.Context) (_ context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stopped := make(chan struct{})
	for _, p := range c.procs {
		go func() {
			select {
			case <-p.done:
				cancel(p.exitErr())
			case <-stopped:
			}
		}()
	}
	return ctx, func() {
		close(stopped)
		cancel(nil)
	}
}

// retryPorts runs start, which picks free ports, again when another
// process took one of them before start's program bound it.
func retryPorts(start func() (string, bool, error)) (string, error) {
	for try := 1; ; try++ {
		v, portTaken, err := start()
		if err == nil || !portTaken || try == startTries {
			return v, err
		}
	}
}

// startEtcd starts etcd on two free ports and waits for its health, and
// returns its client URL.
func (c *Cluster) startEtcd(ctx context.Context) (clientURL string, portTaken bool, err error) {
	ports, err := freePorts(ctx, 2)
	if err != nil {
		return "", false, err
	}
	clientURL = "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	data := filepath.Join(c.dir, "etcd")
	if err := os.RemoveAll(data); err != nil { // a failed try's
		return "", false, err
	}
	p, err := c.run("etcd", nil,
		"--name=kubetest",
		"--data-dir="+data,
		"--listen-client-urls="+clientURL,
		"--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=kubetest="+peerURL,
		"--unsafe-no-fsync", // nothing outlives the test
		"--log-level=warn",
	)
	if err != nil {
		return "", false, err
	}
	health := func(ctx context.Context) error {
		return get(ctx, http.DefaultClient, clientURL+"/health")
	}
	if err := c.awaitProcess(ctx, p, health); err != nil {
		return "", c.dropTaken(p), err
	}
	return clientURL, false, nil
}

// startAPIServer starts kube-apiserver on a free port and waits for its
// /readyz, and sets c.Host.
func (c *Cluster) startAPIServer(ctx context.Context, p *pki, etcdURL string) (portTaken bool, err error) {
	ports, err := freePorts(ctx, 1)
	if err != nil {
		return false, err
	}
	c.Host = "https://127.0.0.1:" + strconv.Itoa(ports[0])
	proc, err := c.run("kube-apiserver", nil,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports[0]),
		"--cert-dir="+filepath.Join(c.dir, "certs"), // unused: the files below are given
		"--tls-cert-file="+p.serverCert,
		"--tls-private-key-file="+p.serverKey,
		"--client-ca-file="+p.caFile,
		"--token-auth-file="+p.tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+p.saPub,
		"--service-account-signing-key-file="+p.saKey,
		"--service-cluster-ip-range="+ServiceCIDR,
		// No Endpoints for the kubernetes Service: 127.0.0.1 is no
		// address a pod could reach, and a reconciler would keep
		// rewriting it.
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--profiling=false",
	)
	if err != nil {
		return false, err
	}
	ready := func(ctx context.Context) error { return get(ctx, c.client, c.Host+"/readyz") }
	if err := c.awaitProcess(ctx, proc, ready); err != nil {
		return c.dropTaken(proc), err
	}
	return false, nil
}

// awaitProcess calls ready until it succeeds, p exits or ctx ends. A
// program's readiness has no event to wait on: it is polled, every 20 ms.
func (c *Cluster) awaitProcess(ctx context.Context, p *process, ready func(context.Context) error) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		tryCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := ready(tryCtx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %w: %s", p.name, p.waitErr, p.tail())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last: %w): %s", p.name, ctx.Err(), err, p.tail())
		case <-tick.C:
		}
	}
}

// dropTaken stops p, which failed to get ready, takes it off c's
// processes, and tells whether it failed because its port was taken.
func (c *Cluster) dropTaken(p *process) bool {
	_ = p.stop(stopTimeout)
	c.procs = c.procs[:len(c.procs)-1]
	return p.portTaken()
}

// run starts one of the control plane's programs, logging to
// <dir>/<name>.log, and adds it to c's processes.
func (c *Cluster) run(name string, env []string, args ...string) (*process, error) {
	p, err := startProcess(c.dir, name, filepath.Join(c.bin, name), env, args)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	return p, nil
}

// Dir returns the cluster's directory, where each program logs to
// <program>.log.
func (c *Cluster) Dir() string { return c.dir }

// PIDs returns the process IDs of the control plane's programs, by name.
func (c *Cluster) PIDs() map[string]int {
	out := make(map[string]int, len(c.procs))
	for _, p := range c.procs {
		out[p.name] = p.cmd.Process.Pid
	}
	return out
}

// RSS returns the resident memory of each program, in bytes, by name,
// from /proc.
func (c *Cluster) RSS() (map[string]int64, error) {
	out := make(map[string]int64, len(c.procs))
	for _, p := range c.procs {
		n, err := rss(p.cmd.Process.Pid)
		if err != nil {
			return nil, fmt.Errorf("rss of %s: %w", p.name, err)
		}
		out[p.name] = n
	}
	return out, nil
}

// Stop stops the programs in the reverse of their start order, each with
// SIGTERM and then, after a while, SIGKILL to its process group, and
// removes the cluster's directory. etcd goes last: an apiserver without
// it hangs in its graceful shutdown. It may be called more than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		var errs []error
		for _, p := range slices.Backward(c.procs) {
			errs = append(errs, p.stop(stopTimeout))
		}
		if c.client != nil {
			c.client.CloseIdleConnections()
		}
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			c.stopErr = fmt.Errorf("stop kubernetes: %w", err)
		}
	})
	return c.stopErr
}

// checkBin tells whether bin has every program and the stages file.
func checkBin(bin string) error {
	for _, name := range append(slices.Clip(Programs), StagesFile) {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil { //nolint:gosec // G703: bin is the test environment's own directory of programs
			return fmt.Errorf("the control plane's programs (scripts/kube-bin.sh builds them): %w", err)
		}
	}
	return nil
}

// freePorts returns n distinct TCP ports of 127.0.0.1 that were free a
// moment ago.
func freePorts(ctx context.Context, n int) ([]int, error) {
	var lc net.ListenConfig
	ports := make([]int, 0, n)
	for range n {
		ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		defer func() { _ = ln.Close() }() // all held until all are picked, so they differ
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
