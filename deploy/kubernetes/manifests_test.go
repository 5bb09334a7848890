// Package kubernetes_test checks the manifests of this directory against a
// real control plane (internal/kubetest): they apply, the servers' pods are
// admitted and become available, and a Slipway server talking to the
// cluster as the manifests' ServiceAccount deploys a tool as one with the
// administrator's credentials does, needing no permission the ClusterRole
// lacks and leaving none of its permissions unused.
package kubernetes_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/yaml"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/cli"
	"slipway.dev/slipway/internal/kubetest"
	"slipway.dev/slipway/internal/pgtest"
	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

func TestMain(m *testing.M) {
	os.Exit(kubetest.Wrap(pgtest.Wrap(m)).Run())
}

// The servers' identity, as the manifests make it.
const (
	saUser      = "system:serviceaccount:slipway:slipway"
	saNamespace = "slipway"
)

var saGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + saNamespace, "system:authenticated"}

// kustomization is what the tests read of kustomization.yaml.
type kustomization struct {
	Resources []string `json:"resources"`
	Images    []struct {
		Name string `json:"name"`
	} `json:"images"`
}

func readKustomization(t *testing.T) kustomization {
	t.Helper()
	b, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	return k
}

// manifests returns the objects of the kustomization's resources, in its
// order (the namespace first).
func manifests(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, f := range readKustomization(t).Resources {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(b, []byte("\n---\n")) {
			var m map[string]any
			if err := yaml.UnmarshalStrict(doc, &m); err != nil {
				t.Fatalf("%s, document %d: %v", f, i+1, err)
			}
			if m == nil {
				continue
			}
			o := &unstructured.Unstructured{Object: m}
			if o.GetKind() == "" || o.GetName() == "" {
				t.Fatalf("%s, document %d: no kind or name", f, i+1)
			}
			objs = append(objs, o)
		}
	}
	return objs
}

// Ensure kustomization.yaml lists every manifest of the directory, and
// only those, and that its image names the Deployment's.
func TestKustomization_ListsEveryManifest(t *testing.T) {
	t.Parallel()
	k := readKustomization(t)
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = slices.DeleteFunc(files, func(f string) bool { return f == "kustomization.yaml" })
	listed := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(listed, files) {
		t.Errorf("kustomization.yaml lists %v; the directory has %v", listed, files)
	}
	var images []string
	for _, o := range manifests(t) {
		if o.GetKind() != "Deployment" {
			continue
		}
		cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range cs {
			images = append(images, c.(map[string]any)["image"].(string))
		}
	}
	if len(k.Images) != 1 || !slices.Equal(images, []string{k.Images[0].Name}) {
		t.Errorf("kustomization.yaml's images %v do not name the Deployment's %v", k.Images, images)
	}
}

// perm is one permission: a verb on a resource (with its subresource) of
// an API group.
type perm struct{ group, resource, verb string }

func (p perm) String() string { return p.verb + " " + strings.TrimPrefix(p.group+"/"+p.resource, "/") }

// recorder records the permission each API request through it needs, and
// the requests refused with 403.
type recorder struct {
	mu         sync.Mutex
	used       map[perm]int
	namespaces map[string]bool
	forbidden  []string
}

func (r *recorder) Wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			return resp, err
		}
		p, ns, ok := requestPerm(req)
		r.mu.Lock()
		defer r.mu.Unlock()
		if resp.StatusCode == http.StatusForbidden {
			r.forbidden = append(r.forbidden, req.Method+" "+req.URL.RequestURI())
		}
		if ok {
			if r.used == nil {
				r.used, r.namespaces = map[perm]int{}, map[string]bool{}
			}
			r.used[p]++
			if p.verb == "patch" && req.Header.Get("Content-Type") == "application/apply-patch+yaml" {
				// An apply of an object not there yet is authorized as
				// create too.
				r.used[perm{p.group, p.resource, "create"}]++
			}
			if ns != "" {
				r.namespaces[ns] = true
			}
		}
		return resp, nil
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// requestPerm is the permission a resource request needs, as the API
// server's request info names it, and its namespace; ok is false for a
// request of no resource (/version, discovery).
func requestPerm(req *http.Request) (p perm, ns string, ok bool) {
	segs := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	var rest []string
	switch {
	case len(segs) > 2 && segs[0] == "api":
		rest = segs[2:]
	case len(segs) > 3 && segs[0] == "apis":
		p.group, rest = segs[1], segs[3:]
	default:
		return p, "", false
	}
	if rest[0] == "namespaces" && len(rest) > 2 {
		ns, rest = rest[1], rest[2:]
	}
	p.resource = rest[0]
	name := ""
	if len(rest) > 1 {
		name = rest[1]
	}
	if len(rest) > 2 {
		p.resource += "/" + rest[2]
	}
	if p.resource == "namespaces" {
		ns = name
	}
	switch req.Method {
	case http.MethodGet:
		switch {
		case req.URL.Query().Get("watch") == "true" || req.URL.Query().Get("watch") == "1":
			p.verb = "watch"
		case name == "":
			p.verb = "list"
		default:
			p.verb = "get"
		}
	case http.MethodPost:
		p.verb = "create"
	case http.MethodPut:
		p.verb = "update"
	case http.MethodPatch:
		p.verb = "patch"
	case http.MethodDelete:
		p.verb = "delete"
		if name == "" {
			p.verb = "deletecollection"
		}
	default:
		p.verb = strings.ToLower(req.Method)
	}
	return p, ns, true
}

// expand lists the permissions of RBAC rules (no wildcards: the
// manifests and the tools' Role use none).
func expand(rules []rbacv1.PolicyRule) map[perm]bool {
	ps := map[perm]bool{}
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					ps[perm{g, res, v}] = true
				}
			}
		}
	}
	return ps
}

// notExercised are the ClusterRole's permissions that the test's
// deployments need not use (and that the tools' Role does not grant), each
// with the code that needs it.
var notExercised = map[perm]string{
	{"", "resourcequotas", "watch"}:              "tenancy.go counted: a quota the quota controller has not counted yet when applied (a race the test may lose or win)",
	{"apps", "replicasets", "list"}:              "undo.go: a failed rollout is put back to its old ReplicaSet",
	{"batch", "jobs", "delete"}:                  "runonce.go refused: a run whose pod the quota or Pod Security refused",
	{"", "resourcequotas", "delete"}:             "tenancy.go: the server's limits no longer set a quota",
	{"", "limitranges", "delete"}:                "tenancy.go: the server's limits no longer set container bounds",
	{"networking.k8s.io", "ingresses", "delete"}: "apply.go applyNetwork, removeContinuous: a published component unpublished or removed",
	{"", "configmaps", "get"}:                    "kubebuild.go Lookup, with --kube-registry: a build's image record",
	{"", "configmaps", "create"}:                 "kubebuild.go record, with --kube-registry: a build's image record (apply of a new one)",
	{"", "configmaps", "patch"}:                  "kubebuild.go record, with --kube-registry: a build's image record",
	{"", "configmaps", "delete"}:                 "kubebuild.go Remove, with --kube-registry: a build's image record",
}

// TestManifests_ServiceAccountDeploys applies every manifest, waits for
// the servers' Deployment to be available (its pods admitted in the
// restricted namespace), then runs two Slipway servers on one PostgreSQL
// database whose kubeconfig impersonates the manifests' ServiceAccount,
// deploys a tool of a published continuous component, a continuous
// worker, a scheduled and a one-off component through one, and removes
// some through the other. Every request is allowed and every permission
// of the ClusterRole is used or accounted for; then the ServiceAccount's
// limits are checked: what RBAC refuses it, and what the admission
// policies refuse it outside Slipway's namespaces. Last, the CLI starts a
// server from the Deployment's own arguments and environment.
func TestManifests_ServiceAccountDeploys(t *testing.T) {
	t.Parallel()
	cluster := kubetest.Shared(t)
	ctx := t.Context()
	adminRC, err := clientcmd.BuildConfigFromFlags("", cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs := k8s.NewForConfigOrDie(adminRC)

	// (1) Every manifest applies, and the servers' pods are admitted.
	applyManifests(t, adminRC)
	if err := awaitAvailable(ctx, cs, saNamespace, "slipway", 3); err != nil {
		t.Fatalf("the servers' Deployment: %v", err)
	}

	// (2) Two servers, as the ServiceAccount, on one database.
	kubeconfig := impersonatingKubeconfig(t, cluster.Kubeconfig)
	secrets := t.TempDir()
	tokenFile, keyFile := filepath.Join(secrets, "admin-token"), filepath.Join(secrets, "secret-key")
	token := "slw_" + randomHex(24)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, key, 0o400); err != nil {
		t.Fatal(err)
	}
	prefix := "m" + randomHex(4)
	t.Cleanup(func() { deleteNamespaces(cs, prefix+"-") })
	var rec recorder
	url := pgtest.Schema(t)
	start := func() *servertest.Server {
		return servertest.StartEmpty(t, func(c *server.Config) {
			c.Database = url
			c.Target = server.TargetKubernetes
			c.Kube = server.KubeTarget{
				Kubeconfig: kubeconfig, NamespaceTemplate: prefix + "-{tool}",
				IngressHostTemplate: "{tool}.apps.example.org", IngressClass: "nginx", IngressNamespace: "ingress-nginx",
				WrapTransport: rec.Wrap,
			}
			c.AdminTokenFile, c.SecretKeyFile = tokenFile, keyFile
		})
	}
	a, b := start(), start()
	for _, s := range []*servertest.Server{a, b} {
		if s.AdminToken() != token {
			t.Errorf("server's admin token %q, want the file's", s.AdminToken())
		}
		for _, f := range []string{server.AdminTokenFile, server.SecretKeyFile} {
			if _, err := os.Stat(filepath.Join(s.DataDir, f)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the data directory has %s (%v): the given file should be used instead", f, err)
			}
		}
	}

	ns := prefix + "-shop"
	cfg := `{"components": {
	  "web": {"component_type": "continuous", "build": {"image": "registry.example/shop@sha256:0a1b"},
	    "run": {"command": "serve", "port": 8000, "publish": "/", "replicas": 2, "health_check_http": "/healthz"}},
	  "worker": {"component_type": "continuous", "build": {"image": "registry.example/shop@sha256:0a1b"},
	    "run": {"command": "work", "port": 9000}},
	  "nightly": {"component_type": "scheduled", "build": {"image": "registry.example/shop@sha256:0a1b"},
	    "run": {"command": "report", "schedule": "@daily", "timeout": 600}, "wait_for": ["web"]},
	  "migrate": {"component_type": "one-off", "build": {"image": "registry.example/shop@sha256:0a1b"},
	    "run": {"command": "migrate"}, "wait_for": ["web"]}}}`
	if _, err := a.Client.ConfigCreate(ctx, "shop", []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Client.EnvVarCreate(ctx, "shop", "DB_PASSWORD", "hunter2"); err != nil {
		t.Fatal(err)
	}
	a.DeployTool(t, "shop")
	// The same outcome as TestServer_KubernetesTarget's, with the
	// administrator's credentials.
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || *dep.Spec.Replicas != 2 || dep.Status.AvailableReplicas != 2 {
		t.Fatalf("deployment web: %v, %+v", err, dep.Status)
	}
	if ing, err := cs.NetworkingV1().Ingresses(ns).Get(ctx, "web", metav1.GetOptions{}); err != nil || ing.Spec.Rules[0].Host != "shop.apps.example.org" {
		t.Fatalf("ingress web: %v", err)
	}
	if _, err := cs.BatchV1().CronJobs(ns).Get(ctx, "nightly", metav1.GetOptions{}); err != nil {
		t.Fatalf("cronjob nightly: %v", err)
	}
	jobs, err := cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: "slipway.dev/component=migrate"})
	if err != nil || len(jobs.Items) != 1 {
		t.Fatalf("jobs of migrate: %v, %d", err, len(jobs.Items))
	}
	for _, get := range []func() error{
		func() error {
			_, err := cs.CoreV1().ResourceQuotas(ns).Get(ctx, "slipway-tool", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().LimitRanges(ns).Get(ctx, "slipway-tool", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := cs.NetworkingV1().NetworkPolicies(ns).Get(ctx, "slipway-tool", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().Secrets(ns).Get(ctx, "slipway-env", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := cs.RbacV1().RoleBindings(ns).Get(ctx, "slipway-tool", metav1.GetOptions{})
			return err
		},
	} {
		if err := get(); err != nil {
			t.Error(err)
		}
	}
	// The other server reads the components and their logs (kwok's pods
	// have none to give: the request only has to be allowed).
	if _, err := b.Client.JobList(ctx, "shop", false); err != nil {
		t.Errorf("job list through the second server: %v", err)
	}
	_ = b.Client.JobLogs(ctx, "shop", "web", false, 10, func(apiclient.JobLogLine) error { return nil })

	// Through the other server: without worker, nightly and migrate,
	// which are removed from the cluster.
	cfg2 := `{"components": {"web": {"component_type": "continuous", "build": {"image": "registry.example/shop@sha256:0a1b"},
	    "run": {"command": "serve", "port": 8000, "publish": "/", "replicas": 2, "health_check_http": "/healthz"}}}}`
	if _, err := b.Client.ConfigCreate(ctx, "shop", []byte(cfg2)); err != nil {
		t.Fatal(err)
	}
	b.DeployTool(t, "shop")
	if _, err := cs.BatchV1().CronJobs(ns).Get(ctx, "nightly", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("cronjob nightly after it left the config: %v", err)
	}
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "worker", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deployment worker after it left the config: %v", err)
	}

	// (4) Nothing was refused, and the servers kept to their namespaces.
	rec.mu.Lock()
	used, forbidden, namespaces := maps.Clone(rec.used), slices.Clone(rec.forbidden), slices.Sorted(maps.Keys(rec.namespaces))
	rec.mu.Unlock()
	if len(forbidden) > 0 {
		t.Errorf("%d requests of the servers were forbidden:\n%s", len(forbidden), strings.Join(forbidden, "\n"))
	}
	for _, n := range namespaces {
		if !strings.HasPrefix(n, prefix+"-") {
			t.Errorf("the servers sent requests in namespace %s", n)
		}
	}
	t.Logf("the servers used: %s", permList(slices.Collect(maps.Keys(used))))

	// Every permission of the ClusterRole is used, needed to grant the
	// tools' Role, or in notExercised; and each of those is needed.
	role, err := cs.RbacV1().Roles(ns).Get(ctx, "slipway-tool", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	granted := expand(role.Rules)
	rules := expand(clusterRole(t).Rules)
	for p := range used {
		if !rules[p] {
			t.Errorf("the servers used %s, which the ClusterRole does not grant", p)
		}
	}
	for p := range granted {
		if !rules[p] {
			t.Errorf("the tools' Role grants %s, which the ClusterRole does not hold (escalation)", p)
		}
	}
	for _, p := range slices.SortedFunc(maps.Keys(rules), func(x, y perm) int { return strings.Compare(x.String(), y.String()) }) {
		if _, listed := notExercised[p]; !listed && used[p] == 0 && !granted[p] {
			t.Errorf("the ClusterRole grants %s, which the servers did not use, the tools' Role does not grant, and notExercised does not explain", p)
		}
	}
	for p := range notExercised {
		if !rules[p] {
			t.Errorf("notExercised names %s, which the ClusterRole does not grant", p)
		}
	}

	// (3) What the ServiceAccount may not do.
	checkRefused(t, cs, ns)
	checkAdmission(t, adminRC, ns)

	// (5) The Deployment's own arguments and environment start a server,
	// whose healthz (the probes') answers as the ServiceAccount.
	checkContainerStarts(t, kubeconfig, url, tokenFile, keyFile)
}

// checkContainerStarts runs the CLI with the servers' container's
// arguments and environment, as deployment.yaml and config.yaml give
// them, with the pod's mounts and the in-cluster config replaced by the
// test's (its directories, the impersonating kubeconfig, loopback
// addresses), and asks its healthz as the probes do.
func checkContainerStarts(t *testing.T, kubeconfig, dbURL, tokenFile, keyFile string) {
	t.Helper()
	var dep appsv1.Deployment
	var cm corev1.ConfigMap
	for _, o := range manifests(t) {
		var into any
		switch o.GetKind() {
		case "Deployment":
			into = &dep
		case "ConfigMap":
			into = &cm
		default:
			continue
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, into, true); err != nil {
			t.Fatal(err)
		}
	}
	c := dep.Spec.Template.Spec.Containers[0]
	// The pod's mounts, here.
	secrets := t.TempDir()
	for _, f := range []string{tokenFile, keyFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(secrets, filepath.Base(f)), b, 0o400); err != nil {
			t.Fatal(err)
		}
	}
	dirs := map[string]string{}
	for _, m := range c.VolumeMounts {
		switch m.Name {
		case "secrets":
			dirs[m.MountPath] = secrets
		default:
			dirs[m.MountPath] = t.TempDir()
		}
	}
	// local maps a path under a mount (the whole value, or a flag's after
	// its "=") to the test's directory.
	local := func(v string) string {
		prefix, path := "", v
		if k, p, ok := strings.Cut(v, "="); ok && strings.HasPrefix(p, "/") {
			prefix, path = k+"=", p
		}
		best := ""
		for mount := range dirs {
			if (path == mount || strings.HasPrefix(path, mount+"/")) && len(mount) > len(best) {
				best = mount
			}
		}
		if best == "" {
			return v
		}
		return prefix + dirs[best] + strings.TrimPrefix(path, best)
	}
	args := slices.Clone(c.Args)
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "--listen="), strings.HasPrefix(a, "--proxy-listen="):
			k, _, _ := strings.Cut(a, "=")
			args[i] = k + "=127.0.0.1:0"
		default:
			args[i] = local(a)
		}
	}
	env := map[string]string{"SLIPWAY_KUBECONFIG": kubeconfig} // for the in-cluster config
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = local(e.Value)
		case e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Key == "database-url":
			env[e.Name] = dbURL
		case e.ValueFrom.ConfigMapKeyRef != nil && e.ValueFrom.ConfigMapKeyRef.Name == cm.Name:
			env[e.Name] = cm.Data[e.ValueFrom.ConfigMapKeyRef.Key]
		case e.ValueFrom.ResourceFieldRef != nil:
		default:
			t.Fatalf("env %s: a source the test does not know", e.Name)
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out, outW := io.Pipe()
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), outW, &stderr)
		_ = outW.Close()
	}()
	apiURL := ""
	sc := bufio.NewScanner(out)
	for apiURL == "" && sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Slipway server listening on "); ok {
			apiURL, _, _ = strings.Cut(rest, " ")
		}
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	if apiURL == "" {
		t.Fatalf("slipway %s: exited %d before it listened: %s", strings.Join(args, " "), <-done, stderr.String())
	}
	probe := c.ReadinessProbe.HTTPGet.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiURL+probe, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var health struct {
		Data struct {
			Status string            `json:"status"`
			Checks map[string]string `json:"checks"`
		} `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&health)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || health.Data.Checks["target"] != "ok" || health.Data.Checks["store"] != "ok" {
		t.Errorf("%s: %d %+v (%v); want 200 with the store and the target ok", probe, resp.StatusCode, health.Data, err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("slipway server exited %d: %s", code, stderr.String())
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// checkRefused asks the API server whether the ServiceAccount may do what
// it should never do.
func checkRefused(t *testing.T, cs k8s.Interface, toolNS string) {
	t.Helper()
	for _, a := range []authorizationv1.ResourceAttributes{
		{Verb: "list", Resource: "secrets"},                             // every namespace's Secrets at once
		{Verb: "update", Resource: "secrets", Namespace: "kube-system"}, // only patch (apply), and the admission policy limits that
		{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
		{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
		{Verb: "escalate", Group: "rbac.authorization.k8s.io", Resource: "roles", Namespace: toolNS},
		{Verb: "escalate", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
		{Verb: "bind", Group: "rbac.authorization.k8s.io", Resource: "clusterroles", Name: "cluster-admin"},
		{Verb: "impersonate", Resource: "users"},
		{Verb: "impersonate", Resource: "groups"},
		{Verb: "impersonate", Resource: "serviceaccounts", Namespace: "kube-system"},
		{Verb: "delete", Resource: "namespaces", Name: toolNS},
		{Verb: "delete", Resource: "namespaces", Name: "kube-system"},
		{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: toolNS},
		{Verb: "get", Resource: "pods", Subresource: "exec", Namespace: toolNS},
		{Verb: "create", Resource: "pods", Subresource: "attach", Namespace: toolNS},
		{Verb: "create", Resource: "pods", Subresource: "portforward", Namespace: toolNS},
		{Verb: "create", Resource: "pods", Namespace: toolNS},
		{Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: toolNS},
		{Verb: "get", Resource: "nodes"},
		{Verb: "patch", Group: "admissionregistration.k8s.io", Resource: "validatingadmissionpolicies"},
	} {
		if allowed(t, cs, a) {
			t.Errorf("the ServiceAccount may %s", describe(a))
		}
	}
	// RBAC cannot name namespaces made later: the reads hold in every
	// namespace (README.md, "What RBAC cannot express"). This states it,
	// so that the README changes when it stops being true.
	if a := (authorizationv1.ResourceAttributes{Verb: "get", Resource: "secrets", Namespace: "kube-system"}); !allowed(t, cs, a) {
		t.Errorf("the ServiceAccount may no longer %s: update README.md", describe(a))
	}
}

func allowed(t *testing.T, cs k8s.Interface, a authorizationv1.ResourceAttributes) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: saUser, Groups: saGroups, ResourceAttributes: &a,
	}}
	res, err := cs.AuthorizationV1().SubjectAccessReviews().Create(t.Context(), sar, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("access review of %s: %v", describe(a), err)
	}
	return res.Status.Allowed
}

func describe(a authorizationv1.ResourceAttributes) string {
	s := a.Verb + " " + strings.TrimPrefix(a.Group+"/"+a.Resource, "/")
	if a.Subresource != "" {
		s += "/" + a.Subresource
	}
	if a.Name != "" {
		s += " " + a.Name
	}
	if a.Namespace != "" {
		s += " in " + a.Namespace
	}
	return s
}

// checkAdmission sends, as the ServiceAccount and in dry run, the writes
// that RBAC allows it anywhere but the admission policies refuse outside
// Slipway's namespaces; and one inside, which they let through.
func checkAdmission(t *testing.T, adminRC *rest.Config, toolNS string) {
	t.Helper()
	rc := rest.CopyConfig(adminRC)
	rc.Impersonate = rest.ImpersonationConfig{UserName: saUser, Groups: saGroups}
	cs := k8s.NewForConfigOrDie(rc)
	ctx := t.Context()
	opts := metav1.ApplyOptions{FieldManager: "slipway", Force: true, DryRun: []string{metav1.DryRunAll}}
	for _, w := range []struct {
		what  string
		apply func(ns string) error
	}{
		{"apply a Secret", func(ns string) error {
			_, err := cs.CoreV1().Secrets(ns).Apply(ctx, corev1ac.Secret("x", ns).WithStringData(map[string]string{"k": "v"}), opts)
			return err
		}},
		{"apply a RoleBinding", func(ns string) error {
			// Binding the servers' own ClusterRole: RBAC lets them, as
			// they hold every permission of it.
			rb := rbacv1ac.RoleBinding("x", ns).
				WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName("slipway")).
				WithSubjects(rbacv1ac.Subject().WithKind(rbacv1.ServiceAccountKind).WithName("tool").WithNamespace(ns))
			_, err := cs.RbacV1().RoleBindings(ns).Apply(ctx, rb, opts)
			return err
		}},
	} {
		if err := w.apply("kube-system"); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "write only in the namespaces they made") {
			t.Errorf("%s in kube-system as the ServiceAccount: %v; want refused by the admission policy", w.what, err)
		}
		if err := w.apply(toolNS); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("%s in the tool's namespace as the ServiceAccount: %v", w.what, err)
		}
	}
	// Labelling a namespace as Slipway's does not make it Slipway's.
	steal := corev1ac.Namespace("kube-system").WithLabels(map[string]string{"app.kubernetes.io/managed-by": "slipway"})
	if _, err := cs.CoreV1().Namespaces().Apply(ctx, steal, opts); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "change only the namespaces they made") {
		t.Errorf("labelling kube-system as Slipway's: %v; want refused by the admission policy", err)
	}
	// Nor may it make a namespace that is not labelled as Slipway's.
	if _, err := cs.CoreV1().Namespaces().Apply(ctx, corev1ac.Namespace("not-slipway-"+randomHex(3)), opts); !apierrors.IsForbidden(err) {
		t.Errorf("making an unlabelled namespace: %v; want refused by the admission policy", err)
	}
}

func clusterRole(t *testing.T) *rbacv1.ClusterRole {
	t.Helper()
	for _, o := range manifests(t) {
		if o.GetKind() != "ClusterRole" {
			continue
		}
		var cr rbacv1.ClusterRole
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, &cr, true); err != nil {
			t.Fatal(err)
		}
		return &cr
	}
	t.Fatal("no ClusterRole in the manifests")
	return nil
}

// applyManifests server-side applies every manifest, as an administrator
// would with kubectl apply -k --server-side.
func applyManifests(t *testing.T, rc *rest.Config) {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(rc)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(rc)))
	for _, o := range manifests(t) {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s %s: %v", gvk.Kind, o.GetName(), err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			if o.GetNamespace() == "" {
				t.Fatalf("%s %s: a namespaced object with no namespace", gvk.Kind, o.GetName())
			}
			ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		if _, err := ri.Apply(t.Context(), o.GetName(), o, metav1.ApplyOptions{FieldManager: "kubectl", Force: true}); err != nil {
			t.Fatalf("apply %s %s: %v", gvk.Kind, o.GetName(), err)
		}
	}
}

// awaitAvailable waits until the Deployment has want updated and
// available replicas.
func awaitAvailable(ctx context.Context, cs k8s.Interface, ns, name string, want int32) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	lw := cache.NewListWatchFromClient(cs.AppsV1().RESTClient(), "deployments", ns, fields.OneTermEqualSelector("metadata.name", name))
	var last appsv1.DeploymentStatus
	_, err := watchtools.UntilWithSync(ctx, lw, &appsv1.Deployment{}, nil, func(ev watch.Event) (bool, error) {
		d, ok := ev.Object.(*appsv1.Deployment)
		if !ok {
			return false, nil
		}
		last = d.Status
		return d.Status.UpdatedReplicas == want && d.Status.AvailableReplicas == want, nil
	})
	if err != nil {
		return fmt.Errorf("%w; last status %+v", err, last)
	}
	return nil
}

// impersonatingKubeconfig writes a copy of the kubeconfig at path whose
// user acts as the manifests' ServiceAccount, and returns its path.
func impersonatingKubeconfig(t *testing.T, path string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, ai := range cfg.AuthInfos {
		ai.Impersonate, ai.ImpersonateGroups = saUser, saGroups
	}
	out := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func deleteNamespaces(cs k8s.Interface, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, ns := range list.Items {
		if strings.HasPrefix(ns.Name, prefix) {
			_ = cs.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{})
		}
	}
}

func permList(ps []perm) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	slices.Sort(s)
	return strings.Join(s, ", ")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
