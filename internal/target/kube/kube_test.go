package kube_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"slipway.dev/slipway/internal/kubetest"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
	"slipway.dev/slipway/internal/target/kube"
	"slipway.dev/slipway/internal/target/targettest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// client returns a client of the shared test cluster.
func client(t *testing.T) kubernetes.Interface {
	t.Helper()
	c := kubetest.Shared(t)
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: c.Host, BearerToken: c.Token, TLSClientConfig: rest.TLSClientConfig{CAData: c.CAData}})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// newDriver returns a started driver whose namespaces are this test's
// (prefix-<instance>), deleted when the test ends, and the config it was
// made with, for a second driver on the same namespaces.
func newDriver(t *testing.T, cs kubernetes.Interface) (*kube.Driver, kube.Config) {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "t" + hex.EncodeToString(b) + "-"
	cfg := kube.Config{
		Client:         cs,
		Namespace:      func(instance string) string { return prefix + instance },
		IngressHost:    func(instance string) string { return instance + ".apps.example.org" },
		StartupTimeout: 30 * time.Second,
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		list, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: kube.LabelManagedBy + "=slipway"})
		if err != nil {
			t.Errorf("list namespaces: %v", err)
			return
		}
		for _, ns := range list.Items {
			if strings.HasPrefix(ns.Name, prefix) {
				_ = cs.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{})
			}
		}
	})
	return start(t, cfg), cfg
}

func start(t *testing.T, cfg kube.Config) *kube.Driver {
	t.Helper()
	d, err := kube.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
	return d
}

// artifact is an image named after the files' content: kwok pulls no
// image, so any name does, and another content is another image.
func artifact(_ *testing.T, files map[string]string) slipway.Artifact {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(files)) {
		h.Write([]byte(k + "\x00" + files[k] + "\x00"))
	}
	sum := hex.EncodeToString(h.Sum(nil))
	return slipway.Artifact{Key: sum[:16], Image: "registry.example/app@sha256:" + sum}
}

// TestContract runs the target contract on a real kube-apiserver, with
// kwok as the kubelet: pods become Running and Jobs complete, but no
// container runs, so the execution half does not apply.
func TestContract(t *testing.T) {
	t.Parallel()
	cs := client(t)
	var configs sync.Map // *kube.Driver → kube.Config: subtests run in parallel
	targettest.RunContract(t, targettest.Harness{
		NewDriver: func(t *testing.T) target.Driver {
			d, cfg := newDriver(t, cs)
			configs.Store(d, cfg)
			return d
		},
		MakeArtifact: artifact,
		Restart: func(t *testing.T, d target.Driver) target.Driver {
			cfg, _ := configs.Load(d)
			if err := d.(*kube.Driver).Stop(t.Context()); err != nil {
				t.Fatal(err)
			}
			return start(t, cfg.(kube.Config))
		},
	})
}

// spec is a continuous component of an image.
func spec(tool, name string, run slipway.RunSpec) target.Spec {
	s := targettest.Spec(tool, name, slipway.Continuous, run, artifact(nil, map[string]string{"app": name}))
	return s
}

// TestApply_Objects checks what a published continuous component with a
// port, resources, a health check, config variables and envvars becomes
// in the cluster, and that Remove takes it all away.
func TestApply_Objects(t *testing.T) {
	t.Parallel()
	cs := client(t)
	d, cfg := newDriver(t, cs)
	ctx := t.Context()
	sp := spec("shop", "web", slipway.RunSpec{
		Command: "serve", Port: 8000, Publish: "/", Replicas: 2, CPU: "500m", Memory: "256Mi", HealthCheckHTTP: "/healthz",
	})
	sp.Env = map[string]string{"MODE": "staging"}
	sp.SecretEnv = map[string]string{"TOOL_DEPLOY_TOKEN": "s3cret", "MODE": "from-envvar"}
	targettest.MustApply(t, d, sp)
	h := targettest.MustWaitHealthy(t, d, "shop", "web")
	if h.Message == "" {
		t.Error("WaitHealthy said nothing")
	}
	ns := cfg.Namespace("shop")

	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dep.Labels[kube.LabelManagedBy] != "slipway" || dep.Labels[kube.LabelTool] != "shop" || dep.Labels[kube.LabelComponent] != "web" {
		t.Errorf("deployment labels = %v", dep.Labels)
	}
	if *dep.Spec.Replicas != 2 || dep.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		t.Errorf("replicas %d, strategy %+v: want 2, no unavailable replica during a rollout", *dep.Spec.Replicas, dep.Spec.Strategy.RollingUpdate)
	}
	if a := dep.Spec.Template.Annotations; a[kube.AnnotSpecHash] != sp.SpecHash || a[kube.AnnotBuildKey] != sp.Artifact.Key {
		t.Errorf("template annotations = %v", a)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if c.Image != sp.Artifact.Image || strings.Join(c.Command, " ") != "/bin/sh -c serve" {
		t.Errorf("container image %q command %q", c.Image, c.Command)
	}
	if got := c.Resources.Limits.Memory().String(); got != "256Mi" {
		t.Errorf("memory limit %s, want 256Mi", got)
	}
	if got := c.Resources.Requests.Cpu().String(); got != "500m" {
		t.Errorf("cpu request %s, want 500m", got)
	}
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.IntValue() != 8000 {
			t.Errorf("%s probe = %+v, want GET :8000/healthz", name, p)
		}
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["MODE"] != "staging" || env["PORT"] != "8000" || env["TOOL_NAME"] != "shop" || env["TOOL_DEPLOY_TOKEN"] != "" {
		t.Errorf("container env = %v: want the config's MODE, PORT and TOOL_NAME, and no envvar in clear", env)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "slipway-env" {
		t.Errorf("envFrom = %+v, want the envvars' Secret", c.EnvFrom)
	}
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, "slipway-env", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(sec.Data["TOOL_DEPLOY_TOKEN"]) != "s3cret" {
		t.Errorf("secret data = %v", sec.Data)
	}
	svc, err := cs.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || svc.Spec.Ports[0].Port != 8000 || svc.Spec.Selector[kube.LabelComponent] != "web" {
		t.Errorf("service = %+v, %v", svc.Spec, err)
	}
	ing, err := cs.NetworkingV1().Ingresses(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || ing.Spec.Rules[0].Host != "shop.apps.example.org" || ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != "web" {
		t.Errorf("ingress = %+v, %v", ing.Spec, err)
	}
	st, ok, err := d.Status(ctx, "shop", "web")
	if err != nil || !ok || st.State != target.StateRunning || st.Replicas != 2 || st.URL != "https://shop.apps.example.org/" {
		t.Errorf("status = %+v, %v, %v", st, ok, err)
	}

	// Unpublished and without a port: the Service and Ingress go.
	sp2 := spec("shop", "web", slipway.RunSpec{Command: "serve --quiet", Replicas: 1})
	if res := targettest.MustApply(t, d, sp2); !res.Changed {
		t.Errorf("a changed spec applied unchanged: %+v", res)
	}
	targettest.MustWaitHealthy(t, d, "shop", "web")
	if _, err := cs.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("service after the port went: %v", err)
	}
	if _, err := cs.NetworkingV1().Ingresses(ns).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ingress after publish went: %v", err)
	}

	if err := d.Remove(ctx, "shop", "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deployment after Remove: %v", err)
	}
}

// TestApply_RefusesDirectories checks that a build that is a directory on
// the builder's machine is refused with the reason, and nothing made.
func TestApply_RefusesDirectories(t *testing.T) {
	t.Parallel()
	cs := client(t)
	d, cfg := newDriver(t, cs)
	sp := spec("dirtool", "web", slipway.RunSpec{Command: "serve"})
	sp.Artifact = slipway.Artifact{Key: "0123456789abcdef", Dir: "/var/lib/slipway/builds/dirtool/0123456789abcdef"}
	_, err := d.Apply(t.Context(), sp)
	if err == nil || !strings.Contains(err.Error(), "cannot run") || slipway.ErrorCode(err) != slipway.EInvalid {
		t.Fatalf("Apply of a directory = %v, want EInvalid saying the target cannot run it", err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(t.Context(), cfg.Namespace("dirtool"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace made for a refused spec: %v", err)
	}
}

// TestWaitHealthy_SaysWhy checks that a rollout that cannot finish (its
// pods ask for more CPU than any node has, so none is scheduled) fails
// once the controller's progress deadline passes, saying why, while the
// old version's pods serve on, and that the Deployment is then put back
// to the old version (a KeptError).
func TestWaitHealthy_SaysWhy(t *testing.T) {
	t.Parallel()
	cs := client(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "t" + hex.EncodeToString(b) + "-"
	cfg := kube.Config{Client: cs, Namespace: func(i string) string { return prefix + i }, StartupTimeout: 10 * time.Second}
	d := start(t, cfg)
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), prefix+"big", metav1.DeleteOptions{})
	})
	good := spec("big", "web", slipway.RunSpec{Command: "serve"})
	targettest.MustApply(t, d, good)
	targettest.MustWaitHealthy(t, d, "big", "web")

	huge := spec("big", "web", slipway.RunSpec{Command: "serve", CPU: "64"}) // the kwok node has 32
	targettest.MustApply(t, d, huge)
	_, err := d.WaitHealthy(t.Context(), "big", "web")
	if err == nil || !strings.Contains(err.Error(), "rollout did not finish in time") || !strings.Contains(err.Error(), "not scheduled") {
		t.Fatalf("WaitHealthy = %v, want the deadline and the unscheduled pod", err)
	}
	if _, ok := errors.AsType[*target.KeptError](err); !ok {
		t.Errorf("WaitHealthy's error %T is no KeptError", err)
	}
	// The Deployment is back to the version that serves.
	dep, err := cs.AppsV1().Deployments(prefix+"big").Get(t.Context(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := dep.Spec.Template.Annotations[kube.AnnotSpecHash]; got != good.SpecHash {
		t.Errorf("deployment template's spec hash %s after the failed rollout, want the old %s", got, good.SpecHash)
	}
	targettest.MustWaitHealthy(t, d, "big", "web")
	if st, _, _ := d.Status(t.Context(), "big", "web"); st.SpecHash != good.SpecHash || st.State != target.StateRunning {
		t.Errorf("status after the failed rollout = %s %s, want the old version running", st.SpecHash, st.State)
	}
	pods, err := cs.CoreV1().Pods(prefix+"big").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	serving := 0
	for _, p := range pods.Items {
		if p.Annotations[kube.AnnotSpecHash] == good.SpecHash && p.Status.Phase == corev1.PodRunning {
			serving++
		}
	}
	if serving != 1 {
		t.Errorf("%d pods of the old version run, want 1: a failed rollout must not take the working one down", serving)
	}
}
