package kube_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"slipway.dev/slipway/internal/kubetest"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target/kube"
	"slipway.dev/slipway/internal/target/targettest"
)

// tenancyDriver returns a driver like newDriver's, with a quota and an
// ingress controller namespace.
func tenancyDriver(t *testing.T, cs kubernetes.Interface, q kube.Quota) (*kube.Driver, kube.Config) {
	t.Helper()
	_, cfg := newDriver(t, cs)
	cfg.Quota = q
	cfg.IngressNamespace = "ingress-nginx"
	return start(t, cfg), cfg
}

// TestTenancy_Objects checks the objects that keep a tool to its
// namespace, and that a pod which sets no resources runs with the
// LimitRange's under the quota and the restricted Pod Security Standard.
func TestTenancy_Objects(t *testing.T) {
	t.Parallel()
	cs := client(t)
	d, cfg := tenancyDriver(t, cs, kube.Quota{
		CPU: resource.MustParse("2"), Memory: resource.MustParse("2Gi"), Pods: 4,
		DefaultCPU: resource.MustParse("100m"), DefaultMemory: resource.MustParse("128Mi"),
		MaxCPU: resource.MustParse("1"), MaxMemory: resource.MustParse("1Gi"),
	})
	ctx := t.Context()
	targettest.MustApply(t, d, spec("shop", "web", slipway.RunSpec{Command: "serve", Port: 8000}))
	targettest.MustWaitHealthy(t, d, "shop", "web")
	ns := cfg.Namespace("shop")

	n, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted", kube.LabelTool: "shop", kube.LabelManagedBy: "slipway",
	} {
		if got := n.Labels[k]; got != want {
			t.Errorf("namespace label %s=%q, want %q", k, got, want)
		}
	}

	sa, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, kube.ServiceAccount, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Errorf("serviceaccount automounts its token (%v), want not", sa.AutomountServiceAccountToken)
	}
	rb, err := cs.RbacV1().RoleBindings(ns).Get(ctx, "slipway-tool", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rb.Subjects) != 1 || rb.Subjects[0].Name != kube.ServiceAccount || rb.Subjects[0].Namespace != ns || rb.RoleRef.Kind != "Role" {
		t.Errorf("rolebinding = %+v → %+v, want the tool's ServiceAccount bound to a Role", rb.Subjects, rb.RoleRef)
	}

	rq, err := cs.CoreV1().ResourceQuotas(ns).Get(ctx, "slipway-tool", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[corev1.ResourceName]string{"limits.cpu": "2", "requests.memory": "2Gi", "pods": "4"} {
		if got := rq.Spec.Hard[name]; got.String() != want {
			t.Errorf("quota %s = %s, want %s", name, got.String(), want)
		}
	}
	lr, err := cs.CoreV1().LimitRanges(ns).Get(ctx, "slipway-tool", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lr.Spec.Limits) != 1 || lr.Spec.Limits[0].Max.Cpu().String() != "1" || lr.Spec.Limits[0].Default.Memory().String() != "128Mi" {
		t.Errorf("limitrange = %+v", lr.Spec.Limits)
	}

	np, err := cs.NetworkingV1().NetworkPolicies(ns).Get(ctx, "slipway-tool", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(np.Spec.PodSelector.MatchLabels) != 0 || len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].From) != 2 {
		t.Fatalf("networkpolicy spec = %+v, want every pod, admitting two peers", np.Spec)
	}
	if from := np.Spec.Ingress[0].From; from[0].PodSelector == nil || from[0].NamespaceSelector != nil ||
		from[1].NamespaceSelector == nil || from[1].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "ingress-nginx" {
		t.Errorf("networkpolicy admits %+v, want the namespace's pods and ingress-nginx's", from)
	}

	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods = %d, %v; want 1", len(pods.Items), err)
	}
	p := pods.Items[0]
	if p.Spec.ServiceAccountName != kube.ServiceAccount || p.Spec.AutomountServiceAccountToken == nil || *p.Spec.AutomountServiceAccountToken {
		t.Errorf("pod runs as %q, automount %v; want %q without a token", p.Spec.ServiceAccountName, p.Spec.AutomountServiceAccountToken, kube.ServiceAccount)
	}
	for _, v := range p.Spec.Volumes {
		if v.Projected != nil {
			t.Errorf("pod has a projected volume %s: a token was mounted", v.Name)
		}
	}
	c := p.Spec.Containers[0]
	if got := c.Resources.Limits.Cpu().String(); got != "100m" {
		t.Errorf("container's cpu limit %s, want the LimitRange's default 100m", got)
	}
	if sc := c.SecurityContext; sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container security context = %+v, want no escalation and no capabilities", c.SecurityContext)
	}
	if psc := p.Spec.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil {
		t.Errorf("pod security context = %+v, want non-root with a seccomp profile", psc)
	}

	// Without a quota, a later Apply removes the quota's objects.
	cfg.Quota = kube.Quota{}
	targettest.MustApply(t, start(t, cfg), spec("shop", "web", slipway.RunSpec{Command: "serve", Port: 8000}))
	if _, err := cs.CoreV1().ResourceQuotas(ns).Get(ctx, "slipway-tool", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("quota after an Apply without one: %v, want NotFound", err)
	}
	if _, err := cs.CoreV1().LimitRanges(ns).Get(ctx, "slipway-tool", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("limitrange after an Apply without one: %v, want NotFound", err)
	}
}

// TestTenancy_ServiceAccountRights checks, as the API server decides it
// for requests impersonating a tool's ServiceAccount, that it reads its
// own namespace's pods and writes nothing there, and reaches nothing of
// another tool's namespace or the cluster.
func TestTenancy_ServiceAccountRights(t *testing.T) {
	t.Parallel()
	cs := client(t)
	d, cfg := newDriver(t, cs)
	for _, tool := range []string{"alpha", "beta"} {
		targettest.MustApply(t, d, spec(tool, "web", slipway.RunSpec{Command: "serve"}))
		targettest.MustWaitHealthy(t, d, tool, "web")
	}
	own, other := cfg.Namespace("alpha"), cfg.Namespace("beta")
	c := kubetest.Shared(t)
	as, err := kubernetes.NewForConfig(&rest.Config{
		Host: c.Host, BearerToken: c.Token, TLSClientConfig: rest.TLSClientConfig{CAData: c.CAData},
		Impersonate: rest.ImpersonationConfig{
			UserName: "system:serviceaccount:" + own + ":" + kube.ServiceAccount,
			Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + own, "system:authenticated"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	pods, err := as.CoreV1().Pods(own).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list own pods: %v", err)
	}
	if len(pods.Items) != 1 {
		t.Fatalf("own pods = %d, want 1", len(pods.Items))
	}
	if _, err := as.CoreV1().Pods(own).Get(ctx, pods.Items[0].Name, metav1.GetOptions{}); err != nil {
		t.Errorf("get own pod: %v", err)
	}
	if _, err := as.AppsV1().Deployments(own).Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Errorf("get own deployment: %v", err)
	}

	forbidden := map[string]error{}
	_, forbidden["list the other tool's pods"] = as.CoreV1().Pods(other).List(ctx, metav1.ListOptions{})
	_, forbidden["get the other tool's deployment"] = as.AppsV1().Deployments(other).Get(ctx, "web", metav1.GetOptions{})
	forbidden["delete the other tool's pods"] = as.CoreV1().Pods(other).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
	_, forbidden["read its own envvars Secret"] = as.CoreV1().Secrets(own).Get(ctx, "slipway-env", metav1.GetOptions{})
	forbidden["delete its own pods"] = as.CoreV1().Pods(own).Delete(ctx, pods.Items[0].Name, metav1.DeleteOptions{})
	_, forbidden["create a configmap in its namespace"] = as.CoreV1().ConfigMaps(own).Create(ctx,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	_, forbidden["list namespaces"] = as.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	for what, err := range forbidden {
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s: %v, want Forbidden", what, err)
		}
	}
}

// TestTenancy_QuotaRefuses checks that a rollout whose pod the namespace's
// quota refuses fails, and WaitHealthy says so; and that a run refused
// its pod fails, RunOnce saying so.
func TestTenancy_QuotaRefuses(t *testing.T) {
	t.Parallel()
	cs := client(t)
	d, cfg := tenancyDriver(t, cs, kube.Quota{
		CPU: resource.MustParse("1"), Memory: resource.MustParse("1Gi"),
		DefaultCPU: resource.MustParse("100m"), DefaultMemory: resource.MustParse("64Mi"),
	})
	// A component within the quota runs (and the quota controller has
	// counted the namespace before the next one).
	targettest.MustApply(t, d, spec("busy", "small", slipway.RunSpec{Command: "serve"}))
	targettest.MustWaitHealthy(t, d, "busy", "small")

	targettest.MustApply(t, d, spec("busy", "big", slipway.RunSpec{Command: "serve", CPU: "2"}))
	_, err := d.WaitHealthy(t.Context(), "busy", "big")
	if err == nil || !strings.Contains(err.Error(), "exceeded quota") || !strings.Contains(err.Error(), "FailedCreate") {
		t.Fatalf("WaitHealthy = %v, want the quota's refusal", err)
	}
	t.Logf("WaitHealthy: %v", err)

	// A run whose pod the quota refuses fails at once, saying why, and
	// its Job is gone: it does not start later when the quota has room.
	run := targettest.Spec("busy", "migrate", slipway.OneOff, slipway.RunSpec{Command: "migrate", CPU: "2"},
		artifact(nil, map[string]string{"app": "migrate"}))
	_, err = d.RunOnce(t.Context(), run, "run-1")
	if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), "exceeded quota") {
		t.Fatalf("RunOnce = %v, want the quota's refusal", err)
	}
	t.Logf("RunOnce: %v", err)
	jobs, err := cs.BatchV1().Jobs(cfg.Namespace("busy")).List(t.Context(), metav1.ListOptions{LabelSelector: kube.LabelComponent + "=migrate"})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs.Items {
		if j.DeletionTimestamp == nil {
			t.Errorf("job %s of the refused run is still there", j.Name)
		}
	}
}
