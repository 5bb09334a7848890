package kube_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"slipway.dev/slipway/internal/kubetest"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target/kube"
	"slipway.dev/slipway/internal/target/targettest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or writes it there with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got; go test -run %s -update rewrites it):\n%s", path, t.Name(), diff)
	}
}

// kinded sets the kind and apiVersion that a typed client's Get leaves
// empty.
func kinded(o runtime.Object, apiVersion, kind string) runtime.Object {
	o.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(apiVersion, kind))
	return o
}

// TestApply_GoldenManifests checks the objects a tool's components become,
// read back from the cluster: a published continuous component with a
// port, a health check, cpu and memory; a scheduled one; a one-off run;
// and the namespace with the envvars Secret.
func TestApply_GoldenManifests(t *testing.T) {
	t.Parallel()
	cs := client(t)
	d, cfg := newDriver(t, cs)
	ctx := t.Context()
	ns := cfg.Namespace("gold")
	art := slipway.Artifact{Key: "0123456789abcdef", Image: "registry.example/gold@sha256:0123456789abcdef"}
	web := targettest.Spec("gold", "web", slipway.Continuous, slipway.RunSpec{
		Command: "serve", Port: 8000, Publish: "/", Replicas: 2, CPU: "500m", Memory: "256Mi", HealthCheckHTTP: "/healthz",
	}, art)
	web.Env = map[string]string{"MODE": "staging"}
	web.SecretEnv = map[string]string{"DB_PASSWORD": "hunter2"}
	nightly := targettest.Spec("gold", "nightly", slipway.Scheduled, slipway.RunSpec{
		Command: "report", Schedule: "@daily", Timeout: 600, Retry: 2, Memory: "128Mi",
	}, art)
	nightly.SecretEnv = web.SecretEnv
	migrate := targettest.Spec("gold", "migrate", slipway.OneOff, slipway.RunSpec{Command: "migrate", Timeout: 300}, art)
	migrate.SecretEnv = web.SecretEnv

	targettest.MustApply(t, d, web)
	targettest.MustApply(t, d, nightly)
	res, err := d.RunOnce(ctx, migrate, "deployment-1/run:migrate")
	if err != nil || res.ExitCode != 0 || res.TimedOut {
		t.Fatalf("RunOnce = %+v, %v", res, err)
	}

	get := func(o runtime.Object, err error) runtime.Object {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	nso := get(cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}))
	sec := get(cs.CoreV1().Secrets(ns).Get(ctx, "slipway-env", metav1.GetOptions{}))
	dep := get(cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}))
	svc := get(cs.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{}))
	ing := get(cs.NetworkingV1().Ingresses(ns).Get(ctx, "web", metav1.GetOptions{}))
	cj := get(cs.BatchV1().CronJobs(ns).Get(ctx, "nightly", metav1.GetOptions{}))
	jobs, err := cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: kube.LabelComponent + "=migrate"})
	if err != nil || len(jobs.Items) != 1 {
		t.Fatalf("jobs of migrate: %v, %d", err, len(jobs.Items))
	}
	golden(t, "namespace.yaml", kubetest.Manifest(t, ns, kinded(nso, "v1", "Namespace"), kinded(sec, "v1", "Secret")))
	golden(t, "continuous.yaml", kubetest.Manifest(t, ns, kinded(dep, "apps/v1", "Deployment"), kinded(svc, "v1", "Service"), kinded(ing, "networking.k8s.io/v1", "Ingress")))
	golden(t, "scheduled.yaml", kubetest.Manifest(t, ns, kinded(cj, "batch/v1", "CronJob")))
	golden(t, "oneoff.yaml", kubetest.Manifest(t, ns, kinded(&jobs.Items[0], "batch/v1", "Job")))
}
