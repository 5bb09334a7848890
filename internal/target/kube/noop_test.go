package kube_test

import (
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"slipway.dev/slipway/internal/kubetest"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
	"slipway.dev/slipway/internal/target/targettest"
)

// countingClient returns a client of the shared test cluster whose
// requests reqs counts.
func countingClient(t testing.TB, reqs *kubetest.Requests) kubernetes.Interface {
	t.Helper()
	c := kubetest.Shared(t)
	cs, err := kubernetes.NewForConfig(&rest.Config{
		Host: c.Host, BearerToken: c.Token, TLSClientConfig: rest.TLSClientConfig{CAData: c.CAData},
		WrapTransport: reqs.Wrap, QPS: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestApply_NoOpWritesNothing checks that applying a component again
// unchanged only reads, and that what did change still converges: a
// changed envvar reaches the Secret, a removed port takes the Service and
// Ingress away, a changed schedule reaches the CronJob.
func TestApply_NoOpWritesNothing(t *testing.T) {
	t.Parallel()
	var reqs kubetest.Requests
	cs := countingClient(t, &reqs)
	d, cfg := newDriver(t, cs)
	ctx := t.Context()
	ns := cfg.Namespace("noop")
	web := spec("noop", "web", slipway.RunSpec{
		Command: "serve", Port: 8000, Publish: "/", Replicas: 2, CPU: "0.5", Memory: "256Mi", HealthCheckHTTP: "/healthz",
	})
	web.Env = map[string]string{"MODE": "staging"}
	web.SecretEnv = map[string]string{"DB_PASSWORD": "hunter2"}
	cron := targettest.Spec("noop", "nightly", slipway.Scheduled, slipway.RunSpec{Command: "report", Schedule: "@daily", Timeout: 600},
		artifact(t, map[string]string{"app": "nightly"}))
	cron.SecretEnv = web.SecretEnv
	plain := spec("noop", "worker", slipway.RunSpec{Command: "work"})
	plain.SecretEnv = web.SecretEnv
	specs := []target.Spec{web, cron, plain}

	applyAll := func(what string, wantChanged bool) {
		t.Helper()
		for _, sp := range specs {
			res, err := d.Apply(ctx, sp)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if res.Changed != wantChanged {
				t.Errorf("%s: Apply %s = %+v, want changed %v", what, sp.Component.Name, res, wantChanged)
			}
		}
	}
	applyAll("first apply", true)
	targettest.MustWaitHealthy(t, d, "noop", "web")

	reqs.Reset()
	applyAll("unchanged apply", false)
	if n := reqs.Writes(); n != 0 {
		t.Errorf("an unchanged apply of %d components wrote %d times (%s), want reads only", len(specs), n, &reqs)
	}
	t.Logf("unchanged apply of %d components: %s", len(specs), &reqs)

	// A changed envvar is applied, though the components are not.
	for i := range specs {
		specs[i].SecretEnv = map[string]string{"DB_PASSWORD": "correct horse"}
	}
	reqs.Reset()
	applyAll("apply with a changed envvar", false)
	if n := reqs.Counts()["patch"]; n != 1 {
		t.Errorf("a changed envvar applied %d objects (%s), want the Secret only", n, &reqs)
	}
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, "slipway-env", metav1.GetOptions{})
	if err != nil || string(sec.Data["DB_PASSWORD"]) != "correct horse" {
		t.Errorf("secret after the envvar changed: %v, %q", err, sec.Data["DB_PASSWORD"])
	}

	// No port: the Service and Ingress go.
	specs[0] = spec("noop", "web", slipway.RunSpec{Command: "serve", Replicas: 2})
	specs[0].SecretEnv = specs[1].SecretEnv
	if _, err := d.Apply(ctx, specs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("service after the port went: %v", err)
	}
	if _, err := cs.NetworkingV1().Ingresses(ns).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ingress after the port went: %v", err)
	}

	// Someone else's edit of a field slipway sets is put back.
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "worker", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	three := int32(3)
	dep.Spec.Replicas = &three
	if _, err := cs.AppsV1().Deployments(ns).Update(ctx, dep, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Apply(ctx, specs[2]); err != nil {
		t.Fatal(err)
	}
	if dep, err = cs.AppsV1().Deployments(ns).Get(ctx, "worker", metav1.GetOptions{}); err != nil || *dep.Spec.Replicas != 1 {
		t.Errorf("replicas after an edit and an apply: %v, %d, want 1 back", err, *dep.Spec.Replicas)
	}

	reqs.Reset()
	applyAll("unchanged apply after the changes", false)
	if n := reqs.Writes(); n != 0 {
		t.Errorf("an unchanged apply wrote %d times (%s), want reads only", n, &reqs)
	}
}
