package server_test

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"slipway.dev/slipway/internal/kubetest"
	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

// startKube starts a server whose target is the shared test cluster, its
// namespaces prefix-{tool} (deleted when the test ends), its API requests
// counted in reqs; edit, when not nil, changes the config further. It
// returns a client of the cluster too.
func startKube(t *testing.T, reqs *kubetest.Requests, edit func(*server.Config)) (*servertest.Server, kubernetes.Interface, string) {
	t.Helper()
	cluster := kubetest.Shared(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "s" + hex.EncodeToString(b)
	s := servertest.StartEmpty(t, func(c *server.Config) {
		c.Target = server.TargetKubernetes
		c.Kube = server.KubeTarget{
			Kubeconfig: cluster.Kubeconfig, NamespaceTemplate: prefix + "-{tool}",
			IngressHostTemplate: "{tool}.apps.example.org", IngressClass: "nginx",
			WrapTransport: reqs.Wrap,
		}
		if edit != nil {
			edit(c)
		}
	})
	rc, err := clientcmd.BuildConfigFromFlags("", cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		list, err := cs.CoreV1().Namespaces().List(t.Context(), metav1.ListOptions{})
		if err != nil {
			return
		}
		for _, ns := range list.Items {
			if strings.HasPrefix(ns.Name, prefix+"-") {
				_ = cs.CoreV1().Namespaces().Delete(t.Context(), ns.Name, metav1.DeleteOptions{})
			}
		}
	})
	return s, cs, prefix
}

// TestServer_KubernetesNoOpRedeploy deploys a tool to a real
// kube-apiserver and deploys it again unchanged: every run step is
// unchanged, and the cluster sees no write, only reads.
func TestServer_KubernetesNoOpRedeploy(t *testing.T) {
	t.Parallel()
	var reqs kubetest.Requests
	s, _, _ := startKube(t, &reqs, nil)
	ctx := t.Context()
	cfg := `{"components": {
	  "web": {"component_type": "continuous", "build": {"image": "registry.example/shop@sha256:0a1b"},
	    "run": {"command": "serve", "port": 8000, "publish": "/", "replicas": 2, "health_check_http": "/healthz", "cpu": "250m", "memory": "128Mi"}},
	  "worker": {"component_type": "continuous", "build": {"image": "registry.example/shop@sha256:0a1b"},
	    "run": {"command": "work"}, "wait_for": ["web"]},
	  "nightly": {"component_type": "scheduled", "build": {"image": "registry.example/shop@sha256:0a1b"},
	    "run": {"command": "report", "schedule": "@daily", "timeout": 600}, "wait_for": ["web"]}}}`
	if _, err := s.Client.ConfigCreate(ctx, "shop", []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.EnvVarCreate(ctx, "shop", "DB_PASSWORD", "hunter2"); err != nil {
		t.Fatal(err)
	}
	s.DeployTool(t, "shop")

	reqs.Reset()
	d := s.DeployTool(t, "shop")
	runs := 0
	for _, st := range d.Steps {
		if st.Kind != slipway.StepRun {
			continue
		}
		runs++
		if st.State != slipway.StepUnchanged {
			t.Errorf("step %s of an unchanged redeploy: %s (%s) %s, want unchanged", st.Key, st.State, st.Action, st.Detail)
		}
	}
	if runs != 3 {
		t.Errorf("%d run steps, want 3: %+v", runs, d.Steps)
	}
	if n := reqs.Writes(); n != 0 {
		t.Errorf("an unchanged redeploy wrote to the cluster %d times (%s), want reads only", n, &reqs)
	}
	t.Logf("unchanged redeploy of 3 components: %s", &reqs)

	// One component changed: only its Deployment is written; the
	// namespace and the envvars Secret, applied again, are unchanged.
	cfg2 := strings.Replace(cfg, `"command": "work"`, `"command": "work --hard"`, 1)
	if _, err := s.Client.ConfigCreate(ctx, "shop", []byte(cfg2)); err != nil {
		t.Fatal(err)
	}
	reqs.Reset()
	d = s.DeployTool(t, "shop")
	for _, st := range d.Steps {
		if st.Kind == slipway.StepRun && (st.State == slipway.StepUnchanged) != (st.Component != "worker") {
			t.Errorf("step %s after worker changed: %s (%s)", st.Key, st.State, st.Detail)
		}
	}
	if n := reqs.Writes(); n != 1 {
		t.Errorf("a redeploy of one changed component wrote to the cluster %d times (%s), want 1 (its Deployment)", n, &reqs)
	}
	t.Logf("redeploy with one component changed: %s", &reqs)
}

// TestServer_KubernetesNeverReady deploys a component whose pods are
// never scheduled (they ask for more CPU than the kwok node has): the
// deployment fails (timed out) within the health timeout, the component's
// step says why, and its dependant is skipped.
func TestServer_KubernetesNeverReady(t *testing.T) {
	t.Parallel()
	var reqs kubetest.Requests
	s, _, _ := startKube(t, &reqs, func(c *server.Config) {
		c.HealthTimeout = 5 * time.Second
		// More than the kwok node has, for the test's sake.
		c.Limits.Max.MilliCPU, c.Limits.Quota.MilliCPU = 64000, 128000
	})
	ctx := t.Context()
	cfg := `{"components": {
	  "web": {"component_type": "continuous", "build": {"image": "registry.example/big@sha256:0a1b"},
	    "run": {"command": "serve", "port": 8000, "cpu": "64"}},
	  "worker": {"component_type": "continuous", "build": {"image": "registry.example/big@sha256:0a1b"},
	    "run": {"command": "work"}, "wait_for": ["web"]}}}`
	if _, err := s.Client.ConfigCreate(ctx, "big", []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	final := s.DeployFinal(t, "big")
	// A run step not healthy within the health timeout times out, which
	// fails the deployment as timed_out.
	if final.Status != slipway.DeploymentTimedOut || !strings.Contains(final.LongStatus, "not scheduled") {
		t.Fatalf("deployment of a component that never becomes ready: %s (%s), want timed_out, naming the unscheduled pod", final.Status, final.LongStatus)
	}
	for _, st := range final.Steps {
		switch st.Key {
		case slipway.StepKey(slipway.StepRun, "web"):
			if st.State != slipway.StepFailed && st.State != slipway.StepTimedOut || !strings.Contains(st.Detail, "not scheduled") {
				t.Errorf("step %s: %s: %q, want failed, naming the unscheduled pod", st.Key, st.State, st.Detail)
			}
			t.Logf("step %s: %s: %s", st.Key, st.State, st.Detail)
		case slipway.StepKey(slipway.StepRun, "worker"):
			if st.State != slipway.StepSkipped {
				t.Errorf("step %s: %s: %q, want skipped: it waits for web", st.Key, st.State, st.Detail)
			}
		}
	}
}
