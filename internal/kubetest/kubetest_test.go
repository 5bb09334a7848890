package kubetest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"slipway.dev/slipway/internal/kubetest"
)

func TestMain(m *testing.M) {
	kubetest.Main(m)
}

// TestStart starts and stops a control plane of its own, and times both:
// the start with a Ready node, and the stop with no process left.
func TestStart(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a Kubernetes control plane")
	}
	bin, err := kubetest.BinDir()
	if err != nil {
		t.Fatalf("BinDir: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "cluster")
	t0 := time.Now()
	c, err := kubetest.Start(t.Context(), dir, bin)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	t.Logf("started in %.2fs at %s", time.Since(t0).Seconds(), c.Host)

	var version struct {
		GitVersion string `json:"gitVersion"`
	}
	if err := c.Do(t.Context(), http.MethodGet, "/version", nil, &version); err != nil {
		t.Fatalf("GET /version: %v", err)
	}
	t.Logf("server version %s", version.GitVersion)
	if version.GitVersion == "" || version.GitVersion[0] != 'v' || version.GitVersion == "v0.0.0-master+$Format:%H$" {
		t.Errorf("gitVersion = %q, want the release's (built with the version ldflags)", version.GitVersion)
	}

	// Anonymous requests are authenticated as system:anonymous, whom RBAC
	// grants nothing here; the CA is the client's only trust.
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: c.TLSConfig()}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, c.Host+"/api/v1/namespaces", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := anon.Do(req)
	if err != nil {
		t.Fatalf("anonymous GET: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous GET /api/v1/namespaces = %d, want 403", resp.StatusCode)
	}

	if _, err := os.Stat(c.Kubeconfig); err != nil {
		t.Errorf("kubeconfig: %v", err)
	}
	logRSS(t, c)

	pids := c.PIDs()
	t0 = time.Now()
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("stopped in %.2fs", time.Since(t0).Seconds())
	for name, pid := range pids {
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s's process group %d after Stop: kill 0 = %v, want ESRCH", name, pid, err)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory after Stop: %v, want it removed", err)
	}
}

// TestShared_DeploymentAndJob runs a Deployment of 2 replicas and a Job
// to completion in a namespace of the shared control plane, through the
// REST API, awaiting both with watches.
func TestShared_DeploymentAndJob(t *testing.T) {
	c := kubetest.Shared(t)
	ns := c.Namespace(t)
	// Seconds are enough; a minute fails a stuck wait long before go
	// test's timeout.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	labels := map[string]string{"app": "web"}
	container := func(name string) []map[string]any {
		// kwok pulls no image and runs no container: any name does.
		return []map[string]any{{"name": name, "image": "registry.invalid/" + name + ":1"}}
	}
	deployment := map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   map[string]any{"name": "web"},
		"spec": map[string]any{
			"replicas": 2,
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec":     map[string]any{"containers": container("web")},
			},
		},
	}
	job := map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata":   map[string]any{"name": "once"},
		"spec": map[string]any{
			"template": map[string]any{
				"spec": map[string]any{"containers": container("once"), "restartPolicy": "Never"},
			},
		},
	}

	t0 := time.Now()
	if err := c.Do(ctx, http.MethodPost, "/apis/apps/v1/namespaces/"+ns+"/deployments", deployment, nil); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	if err := c.Do(ctx, http.MethodPost, "/apis/batch/v1/namespaces/"+ns+"/jobs", job, nil); err != nil {
		t.Fatalf("create job: %v", err)
	}

	byName := func(name string) string { return "?fieldSelector=" + url.QueryEscape("metadata.name="+name) }
	err := c.Watch(ctx, "/apis/apps/v1/namespaces/"+ns+"/deployments"+byName("web"), func(ev kubetest.Event) (bool, error) {
		var d struct {
			Status struct {
				AvailableReplicas int `json:"availableReplicas"`
			} `json:"status"`
		}
		if err := json.Unmarshal(ev.Object, &d); err != nil {
			return false, err
		}
		return d.Status.AvailableReplicas == 2, nil
	})
	if err != nil {
		t.Fatalf("await deployment available: %v", err)
	}
	t.Logf("deployment 2/2 available %.2fs after create", time.Since(t0).Seconds())
	err = c.Watch(ctx, "/apis/batch/v1/namespaces/"+ns+"/jobs"+byName("once"), func(ev kubetest.Event) (bool, error) {
		if kubetest.Condition(ev.Object, "Failed") {
			return false, fmt.Errorf("job failed: %s", ev.Object)
		}
		return kubetest.Condition(ev.Object, "Complete"), nil
	})
	if err != nil {
		t.Fatalf("await job complete: %v", err)
	}
	t.Logf("deployment available and job complete %.2fs after create", time.Since(t0).Seconds())

	var pods struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec struct {
				NodeName string `json:"nodeName"`
			} `json:"spec"`
			Status struct {
				Phase string `json:"phase"`
				PodIP string `json:"podIP"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := c.Do(ctx, http.MethodGet, "/api/v1/namespaces/"+ns+"/pods", nil, &pods); err != nil {
		t.Fatalf("list pods: %v", err)
	}
	phases := map[string]int{}
	for _, p := range pods.Items {
		phases[p.Status.Phase]++
		if p.Spec.NodeName != kubetest.NodeName {
			t.Errorf("pod %s on node %q, want %s", p.Metadata.Name, p.Spec.NodeName, kubetest.NodeName)
		}
	}
	if phases["Running"] != 2 || phases["Succeeded"] != 1 {
		t.Errorf("pod phases = %v, want 2 Running (the deployment's) and 1 Succeeded (the job's)", phases)
	}
	logRSS(t, c)
}

// TestShared_Namespace checks that each test's namespace is its own and
// is deleted at its end.
func TestShared_Namespace(t *testing.T) {
	c := kubetest.Shared(t)
	var first string
	t.Run("First", func(t *testing.T) { first = c.Namespace(t) })
	second := c.Namespace(t)
	if first == second {
		t.Fatalf("two tests got namespace %s", first)
	}
	var ns struct {
		Status struct {
			Phase string `json:"phase"`
		} `json:"status"`
	}
	err := c.Do(t.Context(), http.MethodGet, "/api/v1/namespaces/"+first, nil, &ns)
	if err == nil && ns.Status.Phase != "Terminating" {
		t.Errorf("namespace %s after its test: phase %q, want Terminating or gone", first, ns.Status.Phase)
	} else if err != nil && !kubetest.IsNotFound(err) {
		t.Fatalf("get namespace: %v", err)
	}
}

// logRSS logs each program's resident memory and their sum.
func logRSS(t *testing.T, c *kubetest.Cluster) {
	t.Helper()
	rss, err := c.RSS()
	if err != nil {
		t.Fatalf("RSS: %v", err)
	}
	names := make([]string, 0, len(rss))
	var sum int64
	for name, n := range rss {
		names = append(names, name)
		sum += n
	}
	sort.Strings(names)
	msg := ""
	for _, name := range names {
		msg += fmt.Sprintf(" %s=%dMB", name, rss[name]>>20)
	}
	t.Logf("RSS:%s total=%dMB", msg, sum>>20)
}
