package kube_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"slipway.dev/slipway/internal/kubetest"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
	"slipway.dev/slipway/internal/target/kube"
	"slipway.dev/slipway/internal/target/targettest"
)

const (
	benchTools       = 50
	benchPerTool     = 10 // 7 continuous (3 of them published with a port), 3 scheduled
	benchConcurrency = 10 // Applies at once, as a server deploying several tools does
)

// benchSpecs returns the specs of benchTools tools of benchPerTool
// components each.
func benchSpecs() []target.Spec {
	var specs []target.Spec
	for i := range benchTools {
		tool := fmt.Sprintf("tool%02d", i)
		env := map[string]string{"DB_PASSWORD": "hunter" + tool}
		for j := range benchPerTool {
			name := fmt.Sprintf("c%d", j)
			art := slipway.Artifact{Key: "0123456789abcdef", Image: "registry.example/" + tool + "@sha256:0123456789abcdef"}
			var sp target.Spec
			switch {
			case j < 3:
				sp = targettest.Spec(tool, name, slipway.Continuous, slipway.RunSpec{
					Command: "serve", Port: 8000, Publish: "/" + name, CPU: "10m", Memory: "32Mi", HealthCheckHTTP: "/healthz",
				}, art)
			case j < 7:
				sp = targettest.Spec(tool, name, slipway.Continuous, slipway.RunSpec{Command: "work", CPU: "10m", Memory: "32Mi"}, art)
			default:
				sp = targettest.Spec(tool, name, slipway.Scheduled, slipway.RunSpec{Command: "report", Schedule: "@daily", Timeout: 600}, art)
			}
			sp.SecretEnv = env
			specs = append(specs, sp)
		}
	}
	return specs
}

// applyAll applies specs, benchConcurrency at once.
func applyAll(ctx context.Context, d *kube.Driver, specs []target.Spec) error {
	work := make(chan target.Spec)
	errs := make(chan error, len(specs))
	var wg sync.WaitGroup
	for range benchConcurrency {
		wg.Go(func() {
			for sp := range work {
				if _, err := d.Apply(ctx, sp); err != nil {
					errs <- err
				}
			}
		})
	}
	for _, sp := range specs {
		work <- sp
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

// kubectlRequest matches a request line of kubectl -v=6.
var kubectlRequest = regexp.MustCompile(`\] (GET|POST|PUT|PATCH|DELETE) https?://`)

// BenchmarkApply applies 500 components of 50 tools through the driver,
// then again unchanged, and applies the same objects (read back from the
// cluster, in namespaces of their own) with kubectl apply --server-side,
// reporting each one's wall time and API requests. kubectl is the one on
// the PATH ($KUBECTL overrides); its version may skew from the cluster's.
func BenchmarkApply(b *testing.B) {
	c := kubetest.Shared(b)
	kubectl := os.Getenv("KUBECTL")
	if kubectl == "" {
		kubectl = "kubectl"
	}
	if _, err := exec.LookPath(kubectl); err != nil {
		b.Fatalf("kubectl: %v", err)
	}
	specs := benchSpecs()
	for b.Loop() {
		var reqs kubetest.Requests
		rc, err := kube.RESTConfig(c.Kubeconfig)
		if err != nil {
			b.Fatal(err)
		}
		rc.Wrap(reqs.Wrap)
		cs, err := kubernetes.NewForConfig(rc)
		if err != nil {
			b.Fatal(err)
		}
		prefix, kprefix := randPrefix("b"), randPrefix("k")
		d, err := kube.New(kube.Config{
			Client: cs, Namespace: func(i string) string { return prefix + i },
			IngressHost: func(i string) string { return i + ".apps.example.org" },
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx := b.Context()
		defer deleteNamespaces(cs, prefix, kprefix)

		start := time.Now()
		if err := applyAll(ctx, d, specs); err != nil {
			b.Fatal(err)
		}
		first := time.Since(start)
		firstReqs, firstWrites := reqs.Total(), reqs.Writes()
		b.Logf("driver, first apply: %s, %d requests (%s)", first.Round(time.Millisecond), firstReqs, &reqs)

		reqs.Reset()
		start = time.Now()
		if err := applyAll(ctx, d, specs); err != nil {
			b.Fatal(err)
		}
		noop := time.Since(start)
		b.Logf("driver, unchanged apply: %s, %d requests (%s)", noop.Round(time.Millisecond), reqs.Total(), &reqs)
		noopReqs, noopWrites := reqs.Total(), reqs.Writes()

		// The same objects, for kubectl, in namespaces of their own.
		file := filepath.Join(b.TempDir(), "objects.yaml")
		n, err := dumpObjects(ctx, cs, prefix, kprefix, file)
		if err != nil {
			b.Fatal(err)
		}
		kfirst, kreqs, kwrites, err := runKubectl(ctx, kubectl, c.Kubeconfig, file)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("kubectl apply --server-side of %d objects: %s, %d requests (%d writes)", n, kfirst.Round(time.Millisecond), kreqs, kwrites)
		kagain, kreqs2, kwrites2, err := runKubectl(ctx, kubectl, c.Kubeconfig, file)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("kubectl apply --server-side again, unchanged: %s, %d requests (%d writes)", kagain.Round(time.Millisecond), kreqs2, kwrites2)

		b.ReportMetric(first.Seconds(), "first-s")
		b.ReportMetric(float64(firstReqs), "first-reqs")
		b.ReportMetric(float64(firstWrites), "first-writes")
		b.ReportMetric(noop.Seconds(), "noop-s")
		b.ReportMetric(float64(noopReqs), "noop-reqs")
		b.ReportMetric(float64(noopWrites), "noop-writes")
		b.ReportMetric(kfirst.Seconds(), "kubectl-s")
		b.ReportMetric(float64(kreqs), "kubectl-reqs")
		b.ReportMetric(kagain.Seconds(), "kubectl-again-s")
		b.ReportMetric(float64(kwrites2), "kubectl-again-writes")
		b.ReportMetric(first.Seconds()/kfirst.Seconds(), "first/kubectl")
	}
}

func randPrefix(p string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return p + hex.EncodeToString(b) + "-"
}

// dumpObjects writes the driver's objects of the namespaces prefix* to
// file as YAML, moved to the namespaces kprefix*, namespaces first, and
// returns how many there are.
func dumpObjects(ctx context.Context, cs kubernetes.Interface, prefix, kprefix, file string) (int, error) {
	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: kube.LabelManagedBy + "=slipway"})
	if err != nil {
		return 0, err
	}
	var objs []runtime.Object
	var rest []runtime.Object
	opts := metav1.ListOptions{LabelSelector: kube.LabelManagedBy + "=slipway"}
	for i := range nss.Items {
		ns := nss.Items[i].Name
		if !strings.HasPrefix(ns, prefix) {
			continue
		}
		objs = append(objs, kinded(&nss.Items[i], "v1", "Namespace"))
		secs, err := cs.CoreV1().Secrets(ns).List(ctx, opts)
		if err != nil {
			return 0, err
		}
		for i := range secs.Items {
			rest = append(rest, kinded(&secs.Items[i], "v1", "Secret"))
		}
		deps, err := cs.AppsV1().Deployments(ns).List(ctx, opts)
		if err != nil {
			return 0, err
		}
		for i := range deps.Items {
			rest = append(rest, kinded(&deps.Items[i], "apps/v1", "Deployment"))
		}
		svcs, err := cs.CoreV1().Services(ns).List(ctx, opts)
		if err != nil {
			return 0, err
		}
		for i := range svcs.Items {
			rest = append(rest, kinded(&svcs.Items[i], "v1", "Service"))
		}
		ings, err := cs.NetworkingV1().Ingresses(ns).List(ctx, opts)
		if err != nil {
			return 0, err
		}
		for i := range ings.Items {
			rest = append(rest, kinded(&ings.Items[i], "networking.k8s.io/v1", "Ingress"))
		}
		cjs, err := cs.BatchV1().CronJobs(ns).List(ctx, opts)
		if err != nil {
			return 0, err
		}
		for i := range cjs.Items {
			rest = append(rest, kinded(&cjs.Items[i], "batch/v1", "CronJob"))
		}
	}
	objs = append(objs, rest...)
	var buf bytes.Buffer
	for _, o := range objs {
		m, err := kubetest.Strip(o)
		if err != nil {
			return 0, err
		}
		y, err := yaml.Marshal(m)
		if err != nil {
			return 0, err
		}
		buf.WriteString("---\n")
		buf.Write(bytes.ReplaceAll(y, []byte(prefix), []byte(kprefix)))
	}
	return len(objs), os.WriteFile(file, buf.Bytes(), 0o600)
}

// runKubectl server-side applies file with kubectl, with a cold discovery
// cache, and returns its wall time, its requests and how many wrote.
func runKubectl(ctx context.Context, kubectl, kubeconfig, file string) (time.Duration, int, int, error) {
	cache, err := os.MkdirTemp("", "kubectl-cache-")
	if err != nil {
		return 0, 0, 0, err
	}
	defer os.RemoveAll(cache)
	cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "--cache-dir", cache, "-v=6",
		"apply", "--server-side", "--field-manager=kubectl-bench", "-f", file)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, 0, fmt.Errorf("kubectl apply: %w: %s", err, tail(out.String()))
	}
	took := time.Since(start)
	reqs, writes := 0, 0
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := kubectlRequest.FindStringSubmatch(sc.Text()); m != nil {
			reqs++
			if m[1] != "GET" {
				writes++
			}
		}
	}
	return took, reqs, writes, nil
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}

func deleteNamespaces(cs kubernetes.Interface, prefixes ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, ns := range nss.Items {
		for _, p := range prefixes {
			if strings.HasPrefix(ns.Name, p) {
				_ = cs.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{})
			}
		}
	}
}
