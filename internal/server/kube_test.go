package server_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"slipway.dev/slipway/internal/build/kubebuild/kubebuildtest"
	"slipway.dev/slipway/internal/kubetest"
	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

// TestServer_KubernetesTarget deploys a tool of prebuilt images through a
// server whose target is a real kube-apiserver (kwok for kubelet): the
// deployment succeeds once the Deployment's pods are available, the
// objects are there with the server's templates, a component built from a
// repository is refused with the reason, and a component taken out of the
// config is removed from the cluster.
func TestServer_KubernetesTarget(t *testing.T) {
	t.Parallel()
	s, cs, prefix := startKube(t, &kubetest.Requests{}, func(c *server.Config) { c.Kube.IngressNamespace = "ingress-nginx" })
	ctx := t.Context()
	ns := prefix + "-shop"

	cfg := `{"components": {
	  "web": {"component_type": "continuous", "build": {"image": "registry.example/shop@sha256:0a1b"},
	    "run": {"command": "serve", "port": 8000, "publish": "/", "replicas": 2, "health_check_http": "/healthz"}},
	  "nightly": {"component_type": "scheduled", "build": {"image": "registry.example/shop@sha256:0a1b"},
	    "run": {"command": "report", "schedule": "@daily", "timeout": 600}, "wait_for": ["web"]},
	  "migrate": {"component_type": "one-off", "build": {"image": "registry.example/shop@sha256:0a1b"},
	    "run": {"command": "migrate"}, "wait_for": ["web"]}}}`
	if _, err := s.Client.ConfigCreate(ctx, "shop", []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.EnvVarCreate(ctx, "shop", "DB_PASSWORD", "hunter2"); err != nil {
		t.Fatal(err)
	}
	d := s.DeployTool(t, "shop")
	for _, st := range d.Steps {
		if st.Kind == slipway.StepBuild {
			t.Errorf("an image component was built: %+v", st)
		}
	}
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || *dep.Spec.Replicas != 2 || dep.Status.AvailableReplicas != 2 {
		t.Fatalf("deployment web: %v, %+v", err, dep.Status)
	}
	ing, err := cs.NetworkingV1().Ingresses(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || ing.Spec.Rules[0].Host != "shop.apps.example.org" || *ing.Spec.IngressClassName != "nginx" {
		t.Fatalf("ingress web: %v, %+v", err, ing.Spec)
	}
	cj, err := cs.BatchV1().CronJobs(ns).Get(ctx, "nightly", metav1.GetOptions{})
	if err != nil || len(strings.Fields(cj.Spec.Schedule)) != 5 || strings.HasPrefix(cj.Spec.Schedule, "@") {
		t.Fatalf("cronjob nightly: %v, schedule %q", err, cj.Spec.Schedule)
	}
	jobs, err := cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: "slipway.dev/component=migrate"})
	if err != nil || len(jobs.Items) != 1 {
		t.Fatalf("jobs of migrate: %v, %d", err, len(jobs.Items))
	}
	// The namespace's quota and limit range come from the server's limits
	// (Toolforge's by default): the tool quota plus one Max replica, and a
	// container that sets no resources gets Limits.Default.
	rq, err := cs.CoreV1().ResourceQuotas(ns).Get(ctx, "slipway-tool", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rq.Spec.Hard["limits.memory"]; got.String() != "12Gi" {
		t.Errorf("quota limits.memory = %s, want 12Gi (8Gi + one 4Gi replica)", got.String())
	}
	if got := dep.Spec.Template.Spec.Containers[0].Resources.Limits; got != nil {
		t.Errorf("web's template sets limits %v, want them left to the LimitRange", got)
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "slipway.dev/component=web"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods of web: %v, %d", err, len(pods.Items))
	}
	if got := pods.Items[0].Spec.Containers[0].Resources.Limits.Memory().String(); got != "512Mi" {
		t.Errorf("web's pod has a memory limit of %s, want the default 512Mi", got)
	}
	np, err := cs.NetworkingV1().NetworkPolicies(ns).Get(ctx, "slipway-tool", metav1.GetOptions{})
	if err != nil || len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].From) != 2 {
		t.Fatalf("networkpolicy: %v, %+v", err, np.Spec)
	}
	// The tool's envvars reach the pods through the Secret, not in clear.
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, "slipway-env", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(sec.Data["DB_PASSWORD"]) != "hunter2" {
		t.Errorf("the tool's envvars Secret has %d keys and not DB_PASSWORD", len(sec.Data))
	}
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "DB_PASSWORD" || e.Value == "hunter2" {
			t.Error("an envvar is in the pod spec in clear")
		}
	}

	// Without nightly and migrate: they are removed from the cluster.
	cfg2 := `{"components": {"web": {"component_type": "continuous", "build": {"image": "registry.example/shop@sha256:0a1b"},
	    "run": {"command": "serve", "port": 8000, "publish": "/", "replicas": 2, "health_check_http": "/healthz"}}}}`
	if _, err := s.Client.ConfigCreate(ctx, "shop", []byte(cfg2)); err != nil {
		t.Fatal(err)
	}
	s.DeployTool(t, "shop")
	if _, err := cs.BatchV1().CronJobs(ns).Get(ctx, "nightly", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("cronjob nightly after it left the config: %v", err)
	}

	// A component built from a repository is built here but cannot run
	// on Kubernetes (its build is a directory), and says so.
	src := slipwaytest.GitRepo(t, map[string]string{"index.html": "hello\n"})
	repo := `{"components": {"site": {"component_type": "continuous", "build": {"repository": "` + src.URL + `", "ref": "main"},
	    "run": {"command": "python3 -m http.server $PORT", "port": 8000}}}}`
	if _, err := s.Client.ConfigCreate(ctx, "srctool", []byte(repo)); err != nil {
		t.Fatal(err)
	}
	final := s.DeployFinal(t, "srctool")
	if final.Status != slipway.DeploymentFailed || !strings.Contains(final.LongStatus+stepDetails(final), "a Kubernetes target cannot run") {
		t.Errorf("deployment of a source build: %s: %s %s; want failed, saying the target cannot run a directory", final.Status, final.LongStatus, stepDetails(final))
	}
}

func stepDetails(d slipway.Deployment) string {
	var b strings.Builder
	for _, st := range d.Steps {
		b.WriteString(st.Detail + "\n")
	}
	return b.String()
}

// TestServer_KubernetesBuilder deploys a component built from a repository
// through a server whose builds run in the cluster (--kube-registry): the
// build step makes a build Job in the build namespace, and once its pod
// reports the pushed image by digest (the test plays the kubelet, see
// kubebuildtest), the build record holds image@digest and the component's
// Deployment runs exactly that image. A redeploy of the same commit
// reuses the build by its key: no second Job. A build whose pod fails
// fails the deployment with the reason.
func TestServer_KubernetesBuilder(t *testing.T) {
	t.Parallel()
	const registry = "registry.example:5000/slipway"
	var buildNS string
	s, cs, prefix := startKube(t, &kubetest.Requests{}, func(c *server.Config) {
		c.Kube.Registry, c.Kube.RegistrySecret = registry, "registry-push"
		c.Kube.BuildNamespaceTemplate = c.Kube.NamespaceTemplate[:len(c.Kube.NamespaceTemplate)-len("{tool}")] + "builds"
		c.Kube.BuildNodeSelector = kubebuildtest.NodeSelector
		buildNS = c.Kube.BuildNamespaceTemplate
	})
	ctx := t.Context()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: buildNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	push := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "registry-push"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{}}`)},
	}
	if _, err := cs.CoreV1().Secrets(buildNS).Create(ctx, push, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	src := slipwaytest.GitRepo(t, map[string]string{"index.html": "hello\n"})
	cfg := `{"components": {"site": {"component_type": "continuous", "build": {"repository": "` + src.URL + `", "ref": "main"},
	    "run": {"command": "web", "port": 8000}}}}`
	if _, err := s.Client.ConfigCreate(ctx, "srctool", []byte(cfg)); err != nil {
		t.Fatal(err)
	}

	d := s.DeployStart(t, "srctool")
	digest := kubebuildtest.Digest("site")
	image := registry + "/srctool/site@" + digest
	kubebuildtest.Finish(t, cs, buildNS, "srctool", kubebuildtest.Outcome{Message: image})
	if d = s.AwaitFinal(t, "srctool", d); d.Status != slipway.DeploymentSuccessful {
		t.Fatalf("deployment: %s: %s %s", d.Status, d.LongStatus, stepDetails(d))
	}
	dep, err := cs.AppsV1().Deployments(prefix+"-srctool").Get(ctx, "site", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != image {
		t.Errorf("the Deployment runs %q, want the build's %q", got, image)
	}

	list, err := s.Client.BuildList(ctx, "srctool")
	if err != nil {
		t.Fatal(err)
	}
	if bs, err := list.Builds(); err != nil || len(bs) != 1 || bs[0].DestinationImage != image {
		t.Errorf("builds = %+v, %v; want one whose destination_image is %s", bs, err, image)
	}

	// The same commit again: the build is reused, no Job is made.
	jobs, err := cs.BatchV1().Jobs(buildNS).List(ctx, metav1.ListOptions{})
	if err != nil || len(jobs.Items) != 1 {
		t.Fatalf("build jobs: %v, %d", err, len(jobs.Items))
	}
	s.DeployTool(t, "srctool")
	if again, err := cs.BatchV1().Jobs(buildNS).List(ctx, metav1.ListOptions{}); err != nil || len(again.Items) != 1 || again.Items[0].UID != jobs.Items[0].UID {
		t.Errorf("a redeploy of a built commit made another build Job: %v, %d", err, len(again.Items))
	}

	// A new commit whose build fails fails the deployment, saying why.
	src.Commit(t, map[string]string{"index.html": "hello again\n"}, "again")
	d = s.DeployStart(t, "srctool")
	kubebuildtest.Finish(t, cs, buildNS, "srctool", kubebuildtest.Outcome{Failed: "build", ExitCode: 20, Message: "ERROR: No buildpack groups passed detection."})
	d = s.AwaitFinal(t, "srctool", d)
	if d.Status != slipway.DeploymentFailed || !strings.Contains(stepDetails(d), "No buildpack groups passed detection") {
		t.Errorf("deployment of a failing build: %s: %s %s; want failed with the build's reason", d.Status, d.LongStatus, stepDetails(d))
	}
}
