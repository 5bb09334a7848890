package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/kubetest"
	"slipway.dev/slipway/internal/pgtest"
	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest/servertest"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/postgres"
	"slipway.dev/slipway/internal/target/kube"
)

// childEnv, set to 1, makes the test binary run cli.Main (TestMain).
const childEnv = "SLIPWAY_SERVER_TEST_CHILD"

// TestServer_Replicas runs three servers as processes on one PostgreSQL
// database, all on the Kubernetes target with one namespace template, and
// deploys tools of prebuilt images (a continuous component and a one-off
// waiting for it) in rounds, each deployment created through another
// server and followed with SSE watchers on the two servers that are not
// killed. In the middle round, once it runs a step, the first server is
// killed with SIGKILL; the others rescue its steps, and it restarts later
// next to them. At the end every deployment is final and successful, its
// steps done; every watcher saw every event of its deployment in order,
// the same as a replay; each one-off ran as exactly one Job per
// deployment; and each component's Deployment went through exactly one
// template per round (its revision counts them, and no ReplicaSet was
// re-applied), the last round's live.
//
// SLIPWAY_REPLICAS_DEPLOYMENTS sets the size: 12 deployments of 4 tools
// by default (`make test`), 50 of 10 tools when 50 or more.
func TestServer_Replicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three servers and a Kubernetes control plane; skipped with -short")
	}
	n := 12
	if v := os.Getenv("SLIPWAY_REPLICAS_DEPLOYMENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 3 {
			t.Fatalf("SLIPWAY_REPLICAS_DEPLOYMENTS=%q: want a number ≥ 3", v)
		}
	}
	tools := 4
	if n >= 50 {
		tools = 10
	}
	tools = min(tools, n)
	rounds := n / tools
	t.Logf("%d deployments: %d rounds of %d tools, 3 servers", rounds*tools, rounds, tools)

	cluster := kubetest.Shared(t)
	servers, prefix, url := startReplicas(t, cluster, 3)
	cs := kubeClient(t, cluster.Kubeconfig)
	t.Cleanup(func() {
		for i := range tools {
			_ = cs.CoreV1().Namespaces().Delete(context.WithoutCancel(t.Context()), fmt.Sprintf("%s-t%d", prefix, i), metav1.DeleteOptions{})
		}
	})
	var wg sync.WaitGroup
	victim, survivors := servers[0], servers[1:]
	db, err := postgres.Open(t.Context(), url, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	killedNode := nodeOf(t, db, victim.cmd.Process.Pid)
	var orphans []int64

	type deployment struct {
		tool, id, via string
		round         int
		events        []slipway.Event
		err           error
	}
	var all []*deployment
	start := time.Now()
	for r := range rounds {
		alive := servers
		if victim.cmd == nil {
			alive = survivors
		}
		var round []*deployment
		for i := range tools {
			tool := fmt.Sprintf("t%d", i)
			via := alive[(i+r)%len(alive)]
			if _, err := via.client.ConfigCreate(t.Context(), tool, replicaConfig(r)); err != nil {
				t.Fatalf("config of %s through %s: %v", tool, via.name(), err)
			}
			env, err := via.client.DeploymentCreate(t.Context(), tool, false, false, "")
			if err != nil {
				t.Fatalf("deployment of %s through %s: %v", tool, via.name(), err)
			}
			d, err := env.Deployment()
			if err != nil {
				t.Fatal(err)
			}
			dep := &deployment{tool: tool, id: d.ID, via: via.name(), round: r}
			round = append(round, dep)
			// Watched from a server that is never killed.
			w := survivors[i%len(survivors)]
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
				defer cancel()
				dep.err = w.client.DeploymentEvents(ctx, dep.tool, dep.id, 0, func(ev slipway.Event) error {
					dep.events = append(dep.events, ev)
					return nil
				})
			})
		}
		all = append(all, round...)
		if r == rounds/2 {
			waitRunningOn(t, db, killedNode)
			victim.kill()
			// What it left running (its last job may have ended between
			// the look and the kill: counted after).
			orphans = runningOn(t, db, killedNode)
			t.Logf("round %d: killed %s (node %s) while it ran jobs %v", r, victim.name(), killedNode, orphans)
		}
		wg.Wait()
		if r == rounds/2 {
			// Back, next to live servers: it joins without restoring (it
			// says so at info level).
			victim.args = append(victim.args, "--verbose")
			victim.start()
			if victim.cmd == nil {
				t.FailNow()
			}
			if !strings.Contains(victim.logs.String(), "other servers work on this database") {
				t.Errorf("server %s restarted next to live ones and did not say it leaves the restore to a server alone:\n%s", victim.name(), victim.logs.String())
			}
		}
	}
	t.Logf("%d deployments final in %s", len(all), time.Since(start).Round(time.Millisecond))

	// Every deployment final, successful, its steps done; its watcher saw
	// 1..N in order, ending with the final status, the same as a replay.
	byTool := map[string][]*deployment{}
	for _, d := range all {
		byTool[d.tool] = append(byTool[d.tool], d)
		if d.err != nil {
			t.Errorf("watching %s of %s (created through %s): %v", d.id, d.tool, d.via, d.err)
			continue
		}
		env, err := survivors[0].client.DeploymentGet(t.Context(), d.tool, d.id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := env.Deployment()
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != slipway.DeploymentSuccessful {
			t.Errorf("deployment %s of %s (round %d, through %s) ended %s: %s %s", d.id, d.tool, d.round, d.via, got.Status, got.LongStatus, stepDetails(got))
		}
		for _, st := range got.Steps {
			if st.State != slipway.StepDone {
				t.Errorf("deployment %s of %s: step %s is %s: %s", d.id, d.tool, st.Key, st.State, st.Detail)
			}
		}
		for i, ev := range d.events {
			if ev.Seq != int64(i+1) {
				t.Errorf("deployment %s of %s: event %d has number %d: a gap or a repeat", d.id, d.tool, i+1, ev.Seq)
				break
			}
		}
		if last := d.events[len(d.events)-1]; last.Kind != "deployment" || last.State != string(slipway.DeploymentSuccessful) {
			t.Errorf("deployment %s of %s: the last event seen is %+v, want the deployment successful", d.id, d.tool, last)
		}
		var replay []slipway.Event
		if err := survivors[1].client.DeploymentEvents(t.Context(), d.tool, d.id, 0, func(ev slipway.Event) error {
			replay = append(replay, ev)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(eventKeys(replay)) != fmt.Sprint(eventKeys(d.events)) {
			t.Errorf("deployment %s of %s: the watcher saw\n%v\nthe replay is\n%v", d.id, d.tool, eventKeys(d.events), eventKeys(replay))
		}
	}

	// The cluster: one Job per deployment's one-off, one template per
	// round for web, none applied again, the last round's running.
	for tool, ds := range byTool {
		ns := prefix + "-" + tool
		jobs, err := cs.BatchV1().Jobs(ns).List(t.Context(), metav1.ListOptions{LabelSelector: kube.LabelComponent + "=migrate"})
		if err != nil {
			t.Fatal(err)
		}
		runs := map[string]int{}
		for _, j := range jobs.Items {
			runs[j.Annotations[kube.AnnotRunID]]++
		}
		for _, d := range ds {
			if runs[d.id] != 1 {
				t.Errorf("%s: deployment %s (round %d) ran its one-off as %d Jobs, want 1", tool, d.id, d.round, runs[d.id])
			}
		}
		if len(jobs.Items) != len(ds) {
			t.Errorf("%s: %d Jobs for %d deployments", tool, len(jobs.Items), len(ds))
		}
		dep, err := cs.AppsV1().Deployments(ns).Get(t.Context(), "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rev := dep.Annotations["deployment.kubernetes.io/revision"]; rev != strconv.Itoa(rounds) {
			t.Errorf("%s: web is at revision %s after %d rounds: a template was applied more than once per round", tool, rev, rounds)
		}
		if cmd := strings.Join(dep.Spec.Template.Spec.Containers[0].Command, " "); !strings.Contains(cmd, fmt.Sprintf("serve r%d", rounds-1)) {
			t.Errorf("%s: web runs %q, want the last round's", tool, cmd)
		}
		rss, err := cs.AppsV1().ReplicaSets(ns).List(t.Context(), metav1.ListOptions{LabelSelector: kube.LabelComponent + "=web"})
		if err != nil {
			t.Fatal(err)
		}
		for _, rs := range rss.Items {
			if h, ok := rs.Annotations["deployment.kubernetes.io/revision-history"]; ok {
				t.Errorf("%s: ReplicaSet %s was the template again after another (revisions %s, %s)", tool, rs.Name, h, rs.Annotations["deployment.kubernetes.io/revision"])
			}
		}
	}

	// The killed server's steps were finished by the others.
	for _, id := range orphans {
		var state, last string
		if err := db.WriteDB().QueryRowContext(t.Context(),
			`SELECT state, attempted_by[array_length(attempted_by, 1)] FROM river_job WHERE id = $1`, id).Scan(&state, &last); err != nil {
			t.Fatal(err)
		}
		if state != "completed" || last == killedNode {
			t.Errorf("job %d, running on the killed server: %s, last attempted by %s; want completed by another", id, state, last)
		}
	}
	if len(orphans) == 0 {
		t.Log("the killed server's jobs all ended between the look and the kill: no rescue was needed this time")
	}
}

// BenchmarkReplicas measures deployments through 1 and then 2 servers on
// one PostgreSQL database and one kubetest cluster, all on the Kubernetes
// target: each loop deploys SLIPWAY_BENCH_REPLICAS_TOOLS tools (default
// 40) of replicaConfig at once, created by 8 clients spread over the
// servers, and reports the API's create rate (creates/s) and the rate of
// deployments to final (deployments/s). make bench/replicas runs it once.
func BenchmarkReplicas(b *testing.B) {
	tools := 40
	if v := os.Getenv("SLIPWAY_BENCH_REPLICAS_TOOLS"); v != "" {
		var err error
		if tools, err = strconv.Atoi(v); err != nil || tools < 1 {
			b.Fatalf("SLIPWAY_BENCH_REPLICAS_TOOLS=%q: want a number ≥ 1", v)
		}
	}
	for _, k := range []int{1, 2} {
		b.Run(fmt.Sprintf("servers=%d", k), func(b *testing.B) {
			cluster := kubetest.Shared(b)
			servers, prefix, _ := startReplicas(b, cluster, k)
			cs := kubeClient(b, cluster.Kubeconfig)
			b.Cleanup(func() {
				for i := range tools {
					_ = cs.CoreV1().Namespaces().Delete(context.WithoutCancel(b.Context()), fmt.Sprintf("%s-t%d", prefix, i), metav1.DeleteOptions{})
				}
			})
			var created, final time.Duration
			r := 0
			for b.Loop() {
				start := time.Now()
				ids := make([]string, tools)
				next := make(chan int)
				var wg sync.WaitGroup
				for w := range 8 {
					c := servers[w%k].client
					wg.Go(func() {
						for i := range next {
							tool := fmt.Sprintf("t%d", i)
							if _, err := c.ConfigCreate(b.Context(), tool, replicaConfig(r)); err != nil {
								b.Error(err)
								continue
							}
							env, err := c.DeploymentCreate(b.Context(), tool, false, false, "")
							if err == nil {
								var d slipway.Deployment
								d, err = env.Deployment()
								ids[i] = d.ID
							}
							if err != nil {
								b.Error(err)
							}
						}
					})
				}
				for i := range tools {
					next <- i
				}
				close(next)
				wg.Wait()
				created += time.Since(start)
				if b.Failed() {
					b.FailNow()
				}
				for i, id := range ids {
					c := servers[i%k].client
					wg.Go(func() {
						tool := fmt.Sprintf("t%d", i)
						if err := c.DeploymentEvents(b.Context(), tool, id, 0, func(slipway.Event) error { return nil }); err != nil {
							b.Error(err)
							return
						}
						env, err := c.DeploymentGet(b.Context(), tool, id)
						if err != nil {
							b.Error(err)
							return
						}
						if d, err := env.Deployment(); err != nil || d.Status != slipway.DeploymentSuccessful {
							b.Errorf("deployment %s of %s: %v %s %s", id, tool, err, d.Status, d.LongStatus)
						}
					})
				}
				wg.Wait()
				final += time.Since(start)
				r++
			}
			b.ReportMetric(float64(tools*r)/created.Seconds(), "creates/s")
			b.ReportMetric(float64(tools*r)/final.Seconds(), "deployments/s")
		})
	}
}

// startReplicas starts k servers as processes on one new PostgreSQL schema
// (its URL is url) and cluster, all on the Kubernetes
// target with namespaces named prefix-{tool}, and stops them at the end.
func startReplicas(tb testing.TB, cluster *kubetest.Cluster, k int) (servers []*child, prefix, url string) {
	tb.Helper()
	url = pgtest.Schema(tb)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix = "r" + hex.EncodeToString(b)
	// One secret key for all, as servers sharing a database must.
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	servers = make([]*child, k)
	var wg sync.WaitGroup
	for i := range servers {
		dir := tb.TempDir()
		if err := os.WriteFile(filepath.Join(dir, server.SecretKeyFile), key, 0o600); err != nil {
			tb.Fatal(err)
		}
		args := []string{
			"server", "--data", dir, "--database", url, "--listen", "127.0.0.1:0", "--proxy-listen", "127.0.0.1:0",
			"--target", "kubernetes", "--kubeconfig", cluster.Kubeconfig, "--kube-namespace", prefix + "-{tool}",
		}
		servers[i] = &child{t: tb, dir: dir, args: args}
		tb.Cleanup(servers[i].stop)
		// All at once: joining and migrating the queue are serialized by
		// the nodes lock.
		wg.Go(servers[i].start)
	}
	wg.Wait()
	if tb.Failed() {
		tb.FailNow()
	}
	return servers, prefix, url
}

// replicaConfig is a tool's config in round r: each round runs another
// command, so that each deployment applies a new template.
func replicaConfig(r int) []byte {
	return fmt.Appendf(nil, `{"components": {
	  "web": {"component_type": "continuous", "build": {"image": "registry.example/app@sha256:0a1b"},
	    "run": {"command": "serve r%d", "port": 8000}},
	  "migrate": {"component_type": "one-off", "build": {"image": "registry.example/app@sha256:0a1b"},
	    "run": {"command": "migrate r%d"}, "wait_for": ["web"]}}}`, r, r)
}

// eventKeys is what a watcher must see of events: their numbers, kinds,
// steps and states, in order.
func eventKeys(evs []slipway.Event) []string {
	keys := make([]string, len(evs))
	for i, ev := range evs {
		keys[i] = fmt.Sprintf("%d:%s:%s:%s", ev.Seq, ev.Kind, ev.Step, ev.State)
	}
	return keys
}

func kubeClient(t testing.TB, kubeconfig string) *kubernetes.Clientset {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// nodeOf returns the ID of the node the server of process pid registered.
func nodeOf(t *testing.T, db store.Store, pid int) string {
	t.Helper()
	nodes, err := db.NodeList(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.PID == pid {
			return n.ID
		}
	}
	t.Fatalf("no node of pid %d among %+v", pid, nodes)
	return ""
}

// waitRunningOn waits until node runs a job (River's attempted_by names
// the node last). River has no notification of a job starting that a test
// can await, so this polls the table.
func waitRunningOn(t *testing.T, db *postgres.DB, node string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); len(runningOn(t, db, node)) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("node %s ran no job within a minute", node)
		}
	}
}

// runningOn returns the IDs of the jobs node runs.
func runningOn(t *testing.T, db *postgres.DB, node string) []int64 {
	t.Helper()
	rows, err := db.WriteDB().QueryContext(t.Context(),
		`SELECT id FROM river_job WHERE state = 'running' AND attempted_by[array_length(attempted_by, 1)] = $1 ORDER BY id`, node)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// child is a slipway server run as a process of the test binary.
type child struct {
	t      testing.TB
	dir    string
	args   []string
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd is reaped
	logs   *syncBuffer
	client *apiclient.Client
}

func (c *child) name() string { return filepath.Base(c.dir) }

// start starts the server and waits for its server.json; a killed
// server's is removed first.
func (c *child) start() {
	t := c.t
	self, err := os.Executable()
	if err != nil {
		t.Error(err)
		return
	}
	info := filepath.Join(c.dir, server.InfoFile)
	_ = os.Remove(info)
	cmd := exec.Command(self, c.args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	c.logs = &syncBuffer{}
	cmd.Stdout, cmd.Stderr = c.logs, c.logs
	if err := cmd.Start(); err != nil {
		t.Error(err)
		return
	}
	c.cmd, c.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) { _ = cmd.Wait(); close(exited) }(c.exited)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-c.exited:
			t.Errorf("server %s exited at start:\n%s", c.name(), c.logs.String())
			c.cmd = nil
			return
		default:
		}
		b, err := os.ReadFile(info)
		if err != nil {
			continue
		}
		var si server.Info
		if json.Unmarshal(b, &si) != nil || si.URL == "" {
			continue
		}
		token, err := os.ReadFile(filepath.Join(c.dir, server.AdminTokenFile))
		if err != nil {
			t.Error(err)
			return
		}
		if c.client, err = apiclient.New(si.URL, strings.TrimSpace(string(token))); err != nil {
			t.Error(err)
		}
		return
	}
	t.Errorf("server %s did not start within a minute:\n%s", c.name(), c.logs.String())
}

// kill ends the server with SIGKILL and waits until it is reaped.
func (c *child) kill() {
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	<-c.exited
	c.cmd = nil
}

// stop stops the server with SIGINT, as a clean stop.
func (c *child) stop() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		c.t.Errorf("server %s did not stop within 30 s:\n%s", c.name(), c.logs.String())
	}
	c.cmd = nil
}

// syncBuffer collects a process's output while the test may read it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Ensure that a database is shared only by servers that all run the
// Kubernetes target: one on the Kubernetes target is refused while a live
// server runs the local target, and one on the local target while a live
// server runs the Kubernetes target, each saying which runs the local one.
func TestServer_SharedDatabaseNeedsKubernetes(t *testing.T) {
	t.Parallel()
	url := pgtest.Schema(t)
	local := servertest.StartWith(t, func(c *server.Config) { c.Database = url })
	key, err := os.ReadFile(filepath.Join(local.DataDir, server.SecretKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	start := func(edit func(*server.Config)) error {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, server.SecretKeyFile), key, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := server.Config{
			DataDir: dir, Database: url, Listen: "127.0.0.1:0", ProxyListen: "127.0.0.1:0",
			Logger: slog.New(slog.DiscardHandler), StopGrace: time.Second,
		}
		edit(&cfg)
		srv, err := server.New(cfg)
		if err != nil {
			return err
		}
		err = srv.Start(t.Context())
		if stopErr := srv.Stop(context.WithoutCancel(t.Context())); err == nil {
			err = stopErr
		}
		return err
	}
	kubeTarget := func(c *server.Config) {
		c.Target = server.TargetKubernetes
		c.Kube = server.KubeTarget{Kubeconfig: filepath.Join(t.TempDir(), "never-read")}
	}
	err = start(kubeTarget)
	if err == nil || !strings.Contains(err.Error(), "That server's target is local") {
		t.Fatalf("a Kubernetes server next to a live local one: %v; want refused, naming the local one", err)
	}
	if err := local.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}

	// A live server on the Kubernetes target (this process, so alive).
	db, err := postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	now := time.Now()
	if err := db.NodeBeat(t.Context(), store.Node{ID: "kube-1", Host: host, PID: os.Getpid(), Target: server.TargetKubernetes, StartedAt: now, SeenAt: now}); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	err = start(func(*server.Config) {})
	if err == nil || !strings.Contains(err.Error(), "node kube-1") || !strings.Contains(err.Error(), "This server's target is local") {
		t.Fatalf("a local server next to a live Kubernetes one: %v; want refused, naming this server's target", err)
	}
}
