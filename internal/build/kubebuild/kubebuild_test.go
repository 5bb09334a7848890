package kubebuild_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/build/kubebuild"
	"slipway.dev/slipway/internal/build/kubebuild/kubebuildtest"
	"slipway.dev/slipway/internal/kubetest"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target/kube"
	"slipway.dev/slipway/internal/target/targettest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) { kubetest.Main(m) }

const registry = "registry.example:5000/slipway"

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

// newBuilder returns a builder whose builds run in a namespace of this
// test, holding the registry's push credential, their pods kept off
// kwok's node for the test to finish (kubebuildtest).
func newBuilder(t *testing.T, cs kubernetes.Interface, edit ...func(*kubebuild.Config)) (*kubebuild.Builder, string) {
	t.Helper()
	ns := kubetest.Shared(t).Namespace(t)
	push := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "registry-push"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"registry.example:5000":{"auth":"c2xpcHdheTpwdXNo"}}}`)},
	}
	if _, err := cs.CoreV1().Secrets(ns).Create(t.Context(), push, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := kubebuild.Config{
		Client: cs, Registry: registry, RegistrySecret: "registry-push",
		Namespace: func(string) string { return ns },
		CPU:       resource.MustParse("1"), Memory: resource.MustParse("2Gi"),
		Timeout: 20 * time.Minute, TTL: time.Hour,
		NodeSelector: kubebuildtest.NodeSelector,
	}
	for _, e := range edit {
		e(&cfg)
	}
	b, err := kubebuild.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b, ns
}

// request is a build of a commit of the tool's component web.
func request(b build.Builder, tool, repo string) build.Request {
	commit := strings.Repeat("c0ffee12", 5)
	var settings slipway.SourceBuild
	return build.Request{
		Tool: tool, Component: "web", Repository: repo, Ref: "main", Commit: commit,
		Key:     slipway.BuildKey(repo, commit, b.Version(), slipway.SourceBuildSettings(settings)...),
		Attempt: "attempt-1",
	}
}

// result is a Build's outcome.
type result struct {
	art slipway.Artifact
	err error
}

// start runs Build in a goroutine.
func start(ctx context.Context, b build.Builder, req build.Request) <-chan result {
	out := make(chan result, 1)
	go func() {
		a, err := b.Build(ctx, req)
		out <- result{a, err}
	}()
	return out
}

// await returns the Build's outcome, or fails the test after a while.
func await(t *testing.T, c <-chan result) result {
	t.Helper()
	select {
	case r := <-c:
		return r
	case <-time.After(2 * time.Minute):
		t.Fatal("Build did not return within 2 minutes of its pod's end")
		return result{}
	}
}

// Ensure a build's Job is what the package doc says (the golden manifest,
// read back from the cluster), that the repository's credential is in a
// Secret owned by the Job and nowhere in the Job, and that a completed Job
// whose report is image@digest is a build of that image by digest, which
// Lookup finds and a second Build reuses without a Job.
func TestBuild_Succeeds(t *testing.T) {
	t.Parallel()
	cs := client(t)
	b, ns := newBuilder(t, cs)
	req := request(b, "gold", "https://deploy:s3cret-token@git.example/gold.git")
	done := start(t.Context(), b, req)

	pod := kubebuildtest.AwaitPod(t, cs, ns, "gold")
	jobName := pod.Labels["batch.kubernetes.io/job-name"]
	job, err := cs.BatchV1().Jobs(ns).Get(t.Context(), jobName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	job.SetGroupVersionKind(schema.FromAPIVersionAndKind("batch/v1", "Job"))
	got := kubetest.Manifest(t, ns, job)
	golden(t, "job.yaml", got)
	if strings.Contains(string(got), "s3cret") {
		t.Errorf("the Job's spec holds the repository's password:\n%s", got)
	}
	sec, err := cs.CoreV1().Secrets(ns).Get(t.Context(), jobName+"-git", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the repository credential's Secret: %v", err)
	}
	if want := "https://deploy:s3cret-token@git.example\n"; string(sec.Data["credentials"]) != want {
		t.Errorf("credentials = %q, want %q", sec.Data["credentials"], want)
	}
	if len(sec.OwnerReferences) != 1 || sec.OwnerReferences[0].UID != job.UID {
		t.Errorf("the credential's Secret is owned by %+v, want the Job %s", sec.OwnerReferences, job.UID)
	}

	digest := kubebuildtest.Digest("gold")
	kubebuildtest.Finish(t, cs, ns, "gold", kubebuildtest.Outcome{Message: registry + "/gold/web@" + digest})
	r := await(t, done)
	if r.err != nil {
		t.Fatalf("Build = %v", r.err)
	}
	want := slipway.Artifact{Key: req.Key, Image: registry + "/gold/web@" + digest, Digest: digest, Stack: "buildpacks"}
	if diff := cmp.Diff(want, r.art); diff != "" {
		t.Errorf("Build's artifact (-want +got):\n%s", diff)
	}
	if r.art.Ref() != want.Image {
		t.Errorf("Ref() = %q, want the image by digest", r.art.Ref())
	}
	found, ok, err := b.Lookup(t.Context(), "gold", req.Key)
	if err != nil || !ok || !cmp.Equal(found, r.art) {
		t.Errorf("Lookup = %+v, %v, %v; want what Build returned", found, ok, err)
	}
	if _, ok, _ := b.Lookup(t.Context(), "other", req.Key); ok {
		t.Error("another tool's Lookup of the key found the artifact")
	}

	// A build that ended while no server recorded it (a crash): its
	// completed Job is the result, read again, with no new Job.
	if err := cs.CoreV1().ConfigMaps(ns).Delete(t.Context(), jobName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if again, err := b.Build(t.Context(), req); err != nil || !cmp.Equal(again, r.art) {
		t.Fatalf("Build of a completed, unrecorded key = %+v, %v", again, err)
	}
	if cur, err := cs.BatchV1().Jobs(ns).Get(t.Context(), jobName, metav1.GetOptions{}); err != nil || cur.UID != job.UID {
		t.Errorf("Build of a completed, unrecorded key replaced its Job: %v", err)
	}

	// Built: another Build of the key returns the artifact and makes no
	// Job (the one there is removed first, so a new one would show).
	if err := cs.BatchV1().Jobs(ns).Delete(t.Context(), jobName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	again, err := b.Build(t.Context(), req)
	if err != nil || !cmp.Equal(again, r.art) {
		t.Fatalf("Build of a built key = %+v, %v", again, err)
	}
	if _, err := cs.BatchV1().Jobs(ns).Get(t.Context(), jobName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Build of a built key made a Job: %v", err)
	}

	// Remove forgets it.
	if err := b.Remove(t.Context(), "gold", req.Key); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.Lookup(t.Context(), "gold", req.Key); ok || err != nil {
		t.Errorf("Lookup after Remove = %v, %v", ok, err)
	}
}

// Ensure a failed build pod is a failed build saying which step failed
// and why (the container's reason and message, the end of its output),
// and leaves no artifact; a later Build replaces the failed Job.
func TestBuild_Fails(t *testing.T) {
	t.Parallel()
	cs := client(t)
	for _, tt := range []struct {
		name string
		out  kubebuildtest.Outcome
		want string
	}{
		{
			"detect",
			kubebuildtest.Outcome{Failed: "build", ExitCode: 20, Message: "ERROR: No buildpack groups passed detection."},
			"the buildpacks build failed: exit code 20 (Error): ERROR: No buildpack groups passed detection.",
		},
		{
			"clone",
			kubebuildtest.Outcome{Failed: "clone", ExitCode: 128, Message: "fatal: could not read from remote repository"},
			"fetching the repository failed: exit code 128 (Error): fatal: could not read from remote repository",
		},
		{
			"oom",
			kubebuildtest.Outcome{Failed: "build", ExitCode: 137, Reason: "OOMKilled"},
			"the buildpacks build failed: exit code 137 (OOMKilled)",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, ns := newBuilder(t, cs)
			req := request(b, "fails", "https://git.example/fails.git")
			done := start(t.Context(), b, req)
			kubebuildtest.Finish(t, cs, ns, "fails", tt.out)
			r := await(t, done)
			if r.err == nil || !strings.Contains(r.err.Error(), tt.want) {
				t.Fatalf("Build = %+v, %v; want an error saying %q", r.art, r.err, tt.want)
			}
			if _, ok, err := b.Lookup(t.Context(), "fails", req.Key); ok || err != nil {
				t.Errorf("Lookup after a failed build = %v, %v", ok, err)
			}
			// Built again, the failed Job gives way to a new one.
			done = start(t.Context(), b, req)
			digest := kubebuildtest.Digest(tt.name)
			kubebuildtest.Finish(t, cs, ns, "fails", kubebuildtest.Outcome{Message: registry + "/fails/web@" + digest})
			if r := await(t, done); r.err != nil || r.art.Digest != digest {
				t.Errorf("Build after a failure = %+v, %v", r.art, r.err)
			}
		})
	}
}

// Ensure a completed Job whose report is not exactly the expected image
// by digest (not a digest, a short one, another image's) fails the build
// with a clear error, and records nothing.
func TestBuild_BadReport(t *testing.T) {
	t.Parallel()
	cs := client(t)
	digest := kubebuildtest.Digest("x")
	for name, msg := range map[string]string{
		"text":    "the build went fine",
		"empty":   "",
		"short":   registry + "/bad/web@sha256:0123abcd",
		"other":   "docker.io/evil/web@" + digest,
		"trailer": registry + "/bad/web@" + digest + "\nmore",
		"tag":     registry + "/bad/web:latest",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, ns := newBuilder(t, cs)
			req := request(b, "bad", "https://git.example/bad.git")
			done := start(t.Context(), b, req)
			kubebuildtest.Finish(t, cs, ns, "bad", kubebuildtest.Outcome{Message: msg})
			r := await(t, done)
			if r.err == nil || !strings.Contains(r.err.Error(), "which is not "+registry+"/bad/web@sha256:<64 hex digits>") {
				t.Fatalf("Build with report %q = %+v, %v; want an error naming the expected form", msg, r.art, r.err)
			}
			if _, ok, err := b.Lookup(t.Context(), "bad", req.Key); ok || err != nil {
				t.Errorf("Lookup after a bad report = %v, %v", ok, err)
			}
		})
	}
}

// Ensure a build past its deadline fails saying so: the real Job
// controller ends the Job at activeDeadlineSeconds.
func TestBuild_Deadline(t *testing.T) {
	t.Parallel()
	cs := client(t)
	b, _ := newBuilder(t, cs, func(c *kubebuild.Config) { c.Timeout = 2 * time.Second })
	req := request(b, "slow", "https://git.example/slow.git")
	r := await(t, start(t.Context(), b, req))
	if r.err == nil || !strings.Contains(r.err.Error(), "did not finish within its 2s deadline (DeadlineExceeded)") {
		t.Fatalf("Build = %+v, %v; want the deadline's error", r.art, r.err)
	}
}

// Ensure a cancelled build returns the context's error and deletes its
// Job (and so its pod), leaving no artifact.
func TestBuild_Cancel(t *testing.T) {
	t.Parallel()
	cs := client(t)
	b, ns := newBuilder(t, cs)
	req := request(b, "gone", "https://git.example/gone.git")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := start(ctx, b, req)
	pod := kubebuildtest.AwaitPod(t, cs, ns, "gone")
	name := pod.Labels["batch.kubernetes.io/job-name"]
	cancel()
	r := await(t, done)
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Build cancelled = %+v, %v; want context.Canceled", r.art, r.err)
	}
	// Build deletes it before it returns; the watch sees it gone.
	awaitGone(t, cs, ns, name)
	if _, ok, err := b.Lookup(t.Context(), "gone", req.Key); ok || err != nil {
		t.Errorf("Lookup after a cancelled build = %v, %v", ok, err)
	}
}

// awaitGone waits until Job ns/name is gone.
func awaitGone(t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	list, err := cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	err = kube.Changes(ctx, []kube.Watched{{ResourceVersion: list.ResourceVersion, Watch: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		o.FieldSelector = "metadata.name=" + name
		return cs.BatchV1().Jobs(ns).Watch(ctx, o)
	}}}, func() (bool, error) {
		_, err := cs.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("job %s/%s not deleted: %v", ns, name, err)
	}
}

// Ensure the image by digest a build reports is what the Kubernetes
// target runs: a continuous component applied with the build's artifact
// gets a Deployment whose container image is that image@digest.
func TestBuild_DigestReachesDeployment(t *testing.T) {
	t.Parallel()
	cs := client(t)
	b, ns := newBuilder(t, cs)
	req := request(b, "e2e", "https://git.example/e2e.git")
	done := start(t.Context(), b, req)
	digest := kubebuildtest.Digest("e2e")
	kubebuildtest.Finish(t, cs, ns, "e2e", kubebuildtest.Outcome{Message: registry + "/e2e/web@" + digest})
	r := await(t, done)
	if r.err != nil {
		t.Fatal(r.err)
	}
	art, ok, err := b.Lookup(t.Context(), "e2e", req.Key)
	if err != nil || !ok {
		t.Fatalf("Lookup = %v, %v", ok, err)
	}
	d, err := kube.New(kube.Config{Client: cs, Namespace: func(string) string { return ns }})
	if err != nil {
		t.Fatal(err)
	}
	spec := targettest.Spec("e2e", "web", slipway.Continuous, slipway.RunSpec{Command: "web", Port: 8000}, art)
	targettest.MustApply(t, d, spec)
	dep, err := cs.AppsV1().Deployments(ns).Get(t.Context(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if got, want := c.Image, registry+"/e2e/web@"+digest; got != want {
		t.Errorf("the Deployment runs %q, want the build's %q", got, want)
	}
	// A buildpacks image runs its command through the CNB launcher.
	if got, want := c.Command, []string{"/cnb/lifecycle/launcher", "web"}; !cmp.Equal(got, want) {
		t.Errorf("the Deployment's command is %q, want %q", got, want)
	}
}

// Ensure logs of an attempt with no build are ErrNoLog, with and without
// Follow, and that bad options are refused.
func TestLogs_Missing(t *testing.T) {
	t.Parallel()
	cs := client(t)
	b, _ := newBuilder(t, cs)
	var w strings.Builder
	if err := b.Logs(t.Context(), "tool1", "nosuchattempt", build.LogOptions{}, &w); !errors.Is(err, build.ErrNoLog) {
		t.Errorf("Logs of no build = %v, want ErrNoLog", err)
	}
	ended := func(context.Context) (bool, error) { return true, nil }
	if err := b.Logs(t.Context(), "tool1", "nosuchattempt", build.LogOptions{Follow: true, Done: ended}, &w); !errors.Is(err, build.ErrNoLog) {
		t.Errorf("Logs with Follow of an ended build with no pod = %v, want ErrNoLog", err)
	}
	if err := b.Logs(t.Context(), "tool1", "x", build.LogOptions{Lines: -1}, &w); err == nil {
		t.Error("Logs with Lines -1 succeeded")
	}
	if err := b.Logs(t.Context(), "tool1", "x", build.LogOptions{Follow: true}, &w); err == nil {
		t.Error("Logs with Follow and no Done succeeded")
	}
}

// Ensure a missing registry credential fails the build at once, naming
// it, instead of leaving a pod that waits for it.
func TestBuild_NoRegistrySecret(t *testing.T) {
	t.Parallel()
	cs := client(t)
	b, _ := newBuilder(t, cs, func(c *kubebuild.Config) { c.RegistrySecret = "nosuch" })
	_, err := b.Build(t.Context(), request(b, "nosecret", "https://git.example/x.git"))
	if err == nil || !strings.Contains(err.Error(), "Secret") || !strings.Contains(err.Error(), "nosuch") {
		t.Fatalf("Build without the registry's Secret = %v", err)
	}
}

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

// Ensure builds of one key asked for at once, through two builders on one
// cluster (two servers), make one Job and all get its artifact, which a
// third builder's Lookup finds too: the cluster is the builders' storage.
func TestBuild_ConcurrentOnce(t *testing.T) {
	t.Parallel()
	cs := client(t)
	b1, ns := newBuilder(t, cs)
	b2, err := kubebuild.New(kubebuild.Config{
		Client: cs, Registry: registry, RegistrySecret: "registry-push", Namespace: func(string) string { return ns },
		CPU: resource.MustParse("1"), Memory: resource.MustParse("2Gi"), Timeout: 20 * time.Minute, TTL: time.Hour,
		NodeSelector: kubebuildtest.NodeSelector,
	})
	if err != nil {
		t.Fatal(err)
	}
	req := request(b1, "many", "https://git.example/many.git")
	const n = 4
	dones := make([]<-chan result, n)
	for i := range n {
		b := b1
		if i%2 == 1 {
			b = b2
		}
		dones[i] = start(t.Context(), b, req)
	}
	digest := kubebuildtest.Digest("many")
	kubebuildtest.Finish(t, cs, ns, "many", kubebuildtest.Outcome{Message: registry + "/many/web@" + digest})
	for i, d := range dones {
		if r := await(t, d); r.err != nil || r.art.Digest != digest {
			t.Errorf("Build %d = %+v, %v", i, r.art, r.err)
		}
	}
	jobs, err := cs.BatchV1().Jobs(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil || len(jobs.Items) != 1 {
		t.Errorf("%d concurrent builds of one key made %d Jobs (%v), want 1", n, len(jobs.Items), err)
	}
	b3, err := kubebuild.New(kubebuild.Config{Client: cs, Registry: registry, Namespace: func(string) string { return ns }})
	if err != nil {
		t.Fatal(err)
	}
	if a, ok, err := b3.Lookup(t.Context(), "many", req.Key); err != nil || !ok || a.Digest != digest {
		t.Errorf("another builder's Lookup = %+v, %v, %v", a, ok, err)
	}
}

// Ensure a missing build namespace is made enforcing the restricted Pod
// Security Standard, and that the build's pod is admitted there (the API
// server refuses a pod that breaks it: root, escalation, capabilities, no
// seccomp profile).
func TestBuild_RestrictedNamespace(t *testing.T) {
	t.Parallel()
	cs := client(t)
	ns := "t-" + strings.ToLower(kubebuildtest.Digest(t.Name())[7:19]) + "-builds"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	})
	b, err := kubebuild.New(kubebuild.Config{
		Client: cs, Registry: registry, Namespace: func(string) string { return ns }, NodeSelector: kubebuildtest.NodeSelector,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := start(ctx, b, request(b, "psa", "https://git.example/psa.git"))
	kubebuildtest.AwaitPod(t, cs, ns, "psa")
	got, err := cs.CoreV1().Namespaces().Get(t.Context(), ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lvl := got.Labels["pod-security.kubernetes.io/enforce"]; lvl != "restricted" {
		t.Errorf("the build namespace enforces %q, want restricted", lvl)
	}
	// The admission is at work there: a pod that may run as root is
	// refused (a dry run), where the build's pod was admitted.
	root := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "root"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(t.Context(), root, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); !apierrors.IsForbidden(err) {
		t.Errorf("a pod breaking the restricted standard in the build namespace: %v, want Forbidden", err)
	}
	cancel()
	if r := await(t, done); !errors.Is(r.err, context.Canceled) {
		t.Errorf("Build cancelled = %v", r.err)
	}
}
