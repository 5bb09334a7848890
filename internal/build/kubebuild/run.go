package kubebuild

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target/kube"
)

// commitRE is a full commit name (SHA-1 or SHA-256).
var commitRE = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// logDrain bounds how long Build waits, once its Job ended, for the
// follower writing the build's output to req.Log.
const logDrain = 10 * time.Second

// errJobGone ends a wait whose Job was deleted by someone else (another
// build of the key, cancelled): the build makes it again.
var errJobGone = errors.New("the build's Job was deleted")

// Build builds req as a Job (see the package doc) and returns its image
// by digest, or the recorded artifact of req.Key without building. A Job
// of the key already there (another server's build, or this one's before a
// crash) is waited for rather than made again; one that failed is
// replaced. When ctx ends the Job is deleted and ctx's cause returned.
func (b *Builder) Build(ctx context.Context, req build.Request) (slipway.Artifact, error) {
	fail := func(err error) (slipway.Artifact, error) {
		return slipway.Artifact{}, fmt.Errorf("build %s of %s/%s: %w", req.Key, req.Tool, req.Component, err)
	}
	if !slipway.ValidName(req.Tool) || !slipway.ValidName(req.Component) || req.Key == "" {
		return fail(slipway.Errorf(slipway.EInvalid, "A build needs a tool, a component and a key."))
	}
	if !commitRE.MatchString(req.Commit) {
		return fail(slipway.Errorf(slipway.EInvalid, "Commit %q is not a full commit name.", req.Commit))
	}
	if a, ok, err := b.Lookup(ctx, req.Tool, req.Key); err == nil && ok {
		return a, nil
	} else if err != nil && !errors.Is(err, build.ErrCorrupt) {
		return fail(err)
	} else if err != nil {
		logf(req.Log, "slipway: building again: %v\n", err)
	}
	ns := b.namespace(req.Tool)
	if err := b.ensureNamespace(ctx, ns, req.Tool); err != nil {
		return fail(err)
	}
	if err := b.checkRegistrySecret(ctx, ns); err != nil {
		return fail(err)
	}
	for range maxRecreates {
		a, err := b.buildOnce(ctx, ns, req)
		if errors.Is(err, errJobGone) && ctx.Err() == nil {
			// Another build of the key was cancelled and took the Job
			// with it: this one is still wanted.
			logf(req.Log, "slipway: the build's Job was deleted; starting it again\n")
			continue
		}
		if err != nil {
			return fail(err)
		}
		return a, nil
	}
	return fail(fmt.Errorf("%w %d times", errJobGone, maxRecreates))
}

// buildOnce makes (or adopts) the key's Job, waits for it and returns its
// result.
func (b *Builder) buildOnce(ctx context.Context, ns string, req build.Request) (slipway.Artifact, error) {
	name := jobName(req.Tool, req.Key)
	jobs := b.cs.BatchV1().Jobs(ns)
	job, err := jobs.Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil && kube.JobFinished(job) == batchv1.JobComplete:
		// Complete, yet not recorded (a build that crashed before its
		// record): its result is the build's, if its pod still says it.
		if a, err := b.result(ctx, ns, req, job); err == nil {
			return a, nil
		}
		fallthrough
	case err == nil && kube.JobFinished(job) == batchv1.JobFailed:
		// An earlier attempt failed (or left no result): this one builds
		// anew.
		if err := b.deleteJob(ctx, ns, name); err != nil {
			return slipway.Artifact{}, err
		}
		if job, err = b.makeJob(ctx, ns, req); err != nil {
			return slipway.Artifact{}, err
		}
	case err == nil:
		logf(req.Log, "slipway: the build of %s is already running (job %s/%s); waiting for it\n", req.Key, ns, name)
	case apierrors.IsNotFound(err):
		if job, err = b.makeJob(ctx, ns, req); err != nil {
			return slipway.Artifact{}, err
		}
	default:
		return slipway.Artifact{}, fmt.Errorf("read job %s/%s: %w", ns, name, err)
	}

	// The build's output goes to req.Log as it is made.
	var ended atomic.Bool
	var wg sync.WaitGroup
	logCtx, stopLog := context.WithCancel(ctx)
	if req.Log != nil {
		attempt := job.Annotations[AnnotAttempt]
		wg.Go(func() {
			err := b.Logs(logCtx, req.Tool, attempt, build.LogOptions{Follow: true, Done: func(context.Context) (bool, error) {
				return ended.Load(), nil
			}}, req.Log)
			if err != nil && logCtx.Err() == nil {
				logf(req.Log, "slipway: the build's output cannot be read: %v\n", err)
			}
		})
	}
	job, err = b.wait(ctx, job)
	ended.Store(true)
	if err != nil {
		stopLog()
	}
	// The follower ends with the pod's log streams; one that a cluster
	// keeps open past the Job's end is given a while, then stopped.
	followed := make(chan struct{})
	go func() { wg.Wait(); close(followed) }()
	select {
	case <-followed:
	case <-time.After(logDrain):
		stopLog()
		<-followed
	}
	stopLog()
	if err != nil {
		if ctx.Err() != nil {
			// Cancelled, or past the build's timeout: the Job goes, so
			// nothing builds on behind the caller's back.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deleteWait)
			defer cancel()
			if derr := b.deleteJob(dctx, ns, job.Name); derr != nil {
				b.logger.WarnContext(dctx, "kubebuild: the Job of a cancelled build could not be deleted", "job", ns+"/"+job.Name, "error", derr.Error())
			}
		}
		return slipway.Artifact{}, err
	}
	return b.result(ctx, ns, req, job)
}

// makeJob applies the build's Job, and its repository credential's
// Secret (owned by the Job) when the repository has one.
func (b *Builder) makeJob(ctx context.Context, ns string, req build.Request) (*batchv1.Job, error) {
	name := jobName(req.Tool, req.Key)
	split, err := slipway.SplitURLCredential(req.Repository)
	if err != nil {
		return nil, slipway.Errorf(slipway.EInvalid, "Repository: %v.", err)
	}
	repository := slipway.StripUserInfo(req.Repository)
	var cred *slipway.Credential
	switch {
	case split.HasCredential:
		cred = &split.Credential
	case split.Stored:
		if b.cfg.Credentials == nil {
			return nil, slipway.Errorf(slipway.EInvalid, "Repository %s needs its stored credential, and this builder has none.", split.Redacted)
		}
		c, err := b.cfg.Credentials(ctx, req.Tool, req.Repository)
		if err != nil {
			return nil, fmt.Errorf("credential of %s: %w", split.Redacted, err)
		}
		cred = &c
	}
	gitSecret := ""
	var creds string
	if cred != nil {
		gitSecret = name + "-git"
		if creds, err = gitCredentials(repository, cred.Username, cred.Password); err != nil {
			return nil, err
		}
	}
	job, err := b.cs.BatchV1().Jobs(ns).Apply(ctx, b.job(ns, req, repository, gitSecret), applyOpts)
	if apierrors.IsInvalid(err) {
		// Another component's build of the same key made the Job first
		// (its image name differs, and a Job's template cannot change):
		// that build is this one's.
		if cur, gerr := b.cs.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{}); gerr == nil {
			return cur, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("apply job %s/%s: %w", ns, name, err)
	}
	if gitSecret != "" {
		owner := metav1ac.OwnerReference().WithAPIVersion("batch/v1").WithKind("Job").WithName(job.Name).WithUID(job.UID)
		s := corev1ac.Secret(gitSecret, ns).WithLabels(labels(req)).WithType(corev1.SecretTypeOpaque).
			WithOwnerReferences(owner).WithData(map[string][]byte{"credentials": []byte(creds)})
		if _, err := b.cs.CoreV1().Secrets(ns).Apply(ctx, s, applyOpts); err != nil {
			return nil, fmt.Errorf("apply secret %s/%s: %w", ns, gitSecret, err)
		}
	}
	return job, nil
}

// deleteJob deletes a build's Job and, in the background, its pod.
func (b *Builder) deleteJob(ctx context.Context, ns, name string) error {
	err := b.cs.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: new(metav1.DeletePropagationBackground)})
	if ignoreNotFound(err) != nil {
		return fmt.Errorf("delete job %s/%s: %w", ns, name, err)
	}
	return nil
}

// waitReasons are the waiting reasons of a build container that will not
// start as it is: the build fails at once, rather than at its deadline.
var waitReasons = []string{"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError"}

// wait follows watches of the Job and its pod until the Job ends, and
// returns it; a container that cannot start fails the wait.
func (b *Builder) wait(ctx context.Context, job *batchv1.Job) (*batchv1.Job, error) {
	ns, name, uid := job.Namespace, job.Name, string(job.UID)
	podSel := labelJobUID + "=" + uid
	pods, err := b.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: podSel})
	if err != nil {
		return job, fmt.Errorf("pods of job %s/%s: %w", ns, name, err)
	}
	check := func() (bool, error) {
		j, err := b.cs.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || err == nil && string(j.UID) != uid {
			return false, errJobGone
		}
		if err != nil {
			return false, err
		}
		job = j
		if kube.JobFinished(j) != "" {
			return true, nil
		}
		ps, err := b.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: podSel})
		if err != nil {
			return false, err
		}
		for _, p := range ps.Items {
			for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
				if w := cs.State.Waiting; w != nil && slices.Contains(waitReasons, w.Reason) {
					return false, fmt.Errorf("container %s cannot start: %s: %s", cs.Name, w.Reason, firstLine(w.Message))
				}
			}
		}
		return false, nil
	}
	err = kube.Changes(ctx, []kube.Watched{
		{ResourceVersion: job.ResourceVersion, Watch: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = "metadata.name=" + name
			return b.cs.BatchV1().Jobs(ns).Watch(ctx, o)
		}},
		{ResourceVersion: pods.ResourceVersion, Watch: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = podSel
			return b.cs.CoreV1().Pods(ns).Watch(ctx, o)
		}},
	}, check)
	if err != nil {
		if errors.Is(err, errJobGone) {
			return job, err
		}
		return job, fmt.Errorf("wait for job %s/%s: %w", ns, name, err)
	}
	return job, nil
}

// result reads a finished Job: the image by digest its report container
// wrote (recorded, and returned as the artifact), or why it failed.
func (b *Builder) result(ctx context.Context, ns string, req build.Request, job *batchv1.Job) (slipway.Artifact, error) {
	pod, err := b.jobPod(ctx, ns, job)
	if err != nil {
		return slipway.Artifact{}, err
	}
	if kube.JobFinished(job) == batchv1.JobFailed {
		return slipway.Artifact{}, errors.New(failure(job, pod))
	}
	img := job.Annotations[AnnotImage]
	var msg string
	found := false
	if pod != nil {
		for _, cs := range pod.Status.ContainerStatuses {
			if t := cs.State.Terminated; cs.Name == containerReport && t != nil {
				msg, found = strings.TrimSpace(t.Message), true
			}
		}
	}
	if !found {
		return slipway.Artifact{}, fmt.Errorf("the build's Job %s/%s completed, but its pod's report is gone (its pod was deleted); build again", ns, job.Name)
	}
	if !digestRE(img).MatchString(msg) {
		return slipway.Artifact{}, fmt.Errorf("the builder reported %q, which is not %s@sha256:<64 hex digits>", clip(msg, 200), img)
	}
	if err := b.record(ctx, ns, req, msg); err != nil {
		return slipway.Artifact{}, err
	}
	logf(req.Log, "slipway: built %s\n", msg)
	return artifact(req.Key, msg), nil
}

// jobPod returns the newest pod of a Job, or nil when it has none.
func (b *Builder) jobPod(ctx context.Context, ns string, job *batchv1.Job) (*corev1.Pod, error) {
	ps, err := b.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labelJobUID + "=" + string(job.UID)})
	if err != nil {
		return nil, fmt.Errorf("pods of job %s/%s: %w", ns, job.Name, err)
	}
	var last *corev1.Pod
	for i := range ps.Items {
		if p := &ps.Items[i]; last == nil || p.CreationTimestamp.After(last.CreationTimestamp.Time) {
			last = p
		}
	}
	return last, nil
}

// failure says why a build's Job failed: its deadline, else the first
// container that failed (its exit code, reason and message: the end of its
// output), else the Job's condition.
func failure(job *batchv1.Job, pod *corev1.Pod) string {
	var cond batchv1.JobCondition
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			cond = c
		}
	}
	if cond.Reason == batchv1.JobReasonDeadlineExceeded {
		return fmt.Sprintf("the build did not finish within its %s deadline (%s)", time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second, cond.Reason)
	}
	if pod != nil {
		for _, cs := range append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
			t := cs.State.Terminated
			if t == nil || t.ExitCode == 0 {
				continue
			}
			s := fmt.Sprintf("%s failed: exit code %d", step(cs.Name), t.ExitCode)
			if t.Reason != "" {
				s += " (" + t.Reason + ")"
			}
			if m := strings.TrimSpace(t.Message); m != "" {
				s += ": " + clip(m, 2000)
			}
			return s
		}
	}
	s := "the build's Job failed"
	if cond.Reason != "" {
		s += ": " + cond.Reason
	}
	if cond.Message != "" {
		s += ": " + cond.Message
	}
	return s
}

// step names a build container for people.
func step(container string) string {
	switch container {
	case containerClone:
		return "fetching the repository"
	case containerBuild:
		return "the buildpacks build"
	case containerReport:
		return "reading the pushed image's digest"
	}
	return container
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		_, _ = fmt.Fprintf(w, format, args...)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// clip cuts s to n bytes, saying so.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
