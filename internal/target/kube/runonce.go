package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

// logTailLines is how much of a run's output its result carries.
const logTailLines = 20

// RunOnce runs a one-off component as the Job c-<hash of runID> and waits,
// following watches of the Job and its pods, for it to end. It is
// idempotent on runID: the Job's name is derived from it, so a second call
// (after a server crash too) finds the first call's Job and waits for it,
// or returns its result. A run that fails (its pods exit non-zero, or its
// deadline passes) is a result, not an error; errors mean the Job could
// not be made or watched, the API server refused its pod (the Job is then
// deleted), or ctx ended (the Job then runs on).
func (d *Driver) RunOnce(ctx context.Context, spec target.Spec, runID string) (target.RunResult, error) {
	fail := func(err error) (target.RunResult, error) {
		return target.RunResult{}, fmt.Errorf("run %s/%s %s: %w", spec.Tool, spec.Component.Name, runID, err)
	}
	if runID == "" {
		return fail(slipway.Errorf(slipway.EInvalid, "A run needs an ID."))
	}
	if !slipway.ValidName(spec.Component.Name) || spec.Component.Run.Command == "" {
		return fail(slipway.Errorf(slipway.EInvalid, "Component %q cannot run: it needs a valid name and a command.", spec.Component.Name))
	}
	img, err := image(spec)
	if err != nil {
		return fail(err)
	}
	ns := d.namespace(spec.Tool)
	if err := d.prepareShared(ctx, ns, spec); err != nil {
		return fail(err)
	}
	name := runName(spec.Component.Name, runID)
	job, err := d.cs.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		v := version{specHash: spec.SpecHash, buildKey: spec.Artifact.Key, restart: spec.RestartToken}
		ac, err := d.runJob(ns, name, spec, img, runID, v)
		if err != nil {
			return fail(err)
		}
		if job, err = d.cs.BatchV1().Jobs(ns).Apply(ctx, ac, applyOpts); err != nil {
			return fail(fmt.Errorf("apply %s: %w", describe("job", ns, name), err))
		}
		if len(spec.AskEnv) > 0 {
			owner := metav1ac.OwnerReference().WithAPIVersion("batch/v1").WithKind("Job").WithName(job.Name).WithUID(job.UID)
			s := secret(ns, name, labels(spec.Tool, spec.Component.Name), spec.AskEnv).WithOwnerReferences(owner)
			if _, err := d.cs.CoreV1().Secrets(ns).Apply(ctx, s, applyOpts); err != nil {
				return fail(fmt.Errorf("apply %s: %w", describe("secret", ns, name), err))
			}
		}
	case err != nil:
		return fail(fmt.Errorf("read %s: %w", describe("job", ns, name), err))
	}
	return d.waitJob(ctx, ns, job)
}

// waitJob waits for a run's Job to end and returns its result.
func (d *Driver) waitJob(ctx context.Context, ns string, job *batchv1.Job) (target.RunResult, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	name := job.Name
	pods, err := d.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + name})
	if err != nil {
		return target.RunResult{}, fmt.Errorf("pods of %s: %w", describe("job", ns, name), err)
	}
	// A pod the API server refuses (the quota, the limit range, Pod
	// Security) leaves no pod and no Job condition, only the Job
	// controller's FailedCreate events.
	refusals := metav1.ListOptions{FieldSelector: "involvedObject.kind=Job,involvedObject.name=" + name + ",reason=FailedCreate"}
	evs, err := d.cs.CoreV1().Events(ns).List(ctx, refusals)
	if err != nil {
		return target.RunResult{}, fmt.Errorf("events of %s: %w", describe("job", ns, name), err)
	}
	check := func() (bool, error) {
		j, err := d.cs.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, fmt.Errorf("%s: %w", describe("job", ns, name), errGone)
		}
		if err != nil {
			return false, err
		}
		job = j
		if finished(j) != "" {
			return true, nil
		}
		if j.Status.Active+j.Status.Succeeded+j.Status.Failed == 0 {
			return false, d.refused(ctx, j, refusals)
		}
		return false, nil
	}
	err = changes(ctx, []watched{
		{job.ResourceVersion, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = "metadata.name=" + name
			return d.cs.BatchV1().Jobs(ns).Watch(ctx, o)
		}},
		{pods.ResourceVersion, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = "job-name=" + name
			return d.cs.CoreV1().Pods(ns).Watch(ctx, o)
		}},
		{evs.ResourceVersion, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = refusals.FieldSelector
			return d.cs.CoreV1().Events(ns).Watch(ctx, o)
		}},
	}, check)
	if err != nil {
		return target.RunResult{}, fmt.Errorf("wait for %s: %w", describe("job", ns, name), err)
	}
	return d.result(ctx, ns, job), nil
}

// refused returns an error when a Job that has made no pod yet was
// refused one, having deleted the Job (with its ask token), which would
// otherwise start the run whenever the API server lets it: a run is
// refused once, or runs. An error of the Job controller's own is no
// refusal.
func (d *Driver) refused(ctx context.Context, j *batchv1.Job, refusals metav1.ListOptions) error {
	evs, err := d.cs.CoreV1().Events(j.Namespace).List(ctx, refusals)
	if err != nil {
		return fmt.Errorf("events of %s: %w", describe("job", j.Namespace, j.Name), err)
	}
	for _, ev := range evs.Items {
		if ev.InvolvedObject.UID != j.UID || !strings.Contains(ev.Message, "forbidden") {
			continue
		}
		del := metav1.DeleteOptions{PropagationPolicy: propagation}
		if err := ignoreNotFound(d.cs.BatchV1().Jobs(j.Namespace).Delete(ctx, j.Name, del)); err != nil {
			return fmt.Errorf("delete the refused %s: %w", describe("job", j.Namespace, j.Name), err)
		}
		return fmt.Errorf("its pod was refused: %s", firstLine(ev.Message))
	}
	return nil
}

// result reads a finished Job's outcome: the exit code and reason of its
// last pod's container, whether its deadline ended it, and its output's
// last lines when the cluster has them.
func (d *Driver) result(ctx context.Context, ns string, job *batchv1.Job) target.RunResult {
	res := target.RunResult{}
	if job.Status.StartTime != nil {
		end := time.Now()
		if job.Status.CompletionTime != nil {
			end = job.Status.CompletionTime.Time
		}
		res.Duration = end.Sub(job.Status.StartTime.Time)
	}
	failed := finished(job) == batchv1.JobFailed
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue && c.Reason == batchv1.JobReasonDeadlineExceeded {
			res.TimedOut = true
		}
	}
	pods, err := d.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job.Name})
	var last *corev1.Pod
	if err == nil {
		for i := range pods.Items {
			p := &pods.Items[i]
			if last == nil || p.CreationTimestamp.After(last.CreationTimestamp.Time) {
				last = p
			}
		}
	}
	if failed {
		res.ExitCode = 1 // unless the pod says more
	}
	if last != nil {
		for _, cs := range last.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil {
				res.ExitCode = int(t.ExitCode)
				res.OOMKilled = t.Reason == "OOMKilled"
			}
		}
		if res.OOMKilled {
			if lim, ok := last.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]; ok {
				res.MemoryLimit = lim.Value()
			}
		}
		res.LogTail = d.tail(ctx, ns, last.Name)
	}
	if failed && res.ExitCode == 0 && !res.TimedOut {
		res.ExitCode = 1 // the Job failed without a container's exit code (e.g. its pod was lost)
	}
	return res
}

// tail returns a pod's last lines of output, or a note saying why there
// are none (a cluster without a kubelet for the pod keeps no logs).
func (d *Driver) tail(ctx context.Context, ns, pod string) string {
	n := int64(logTailLines)
	rc, err := d.cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: containerName, TailLines: &n}).Stream(ctx)
	if err != nil {
		return "(no output: " + firstLine(err.Error()) + ")"
	}
	defer func() { _ = rc.Close() }()
	var b bytes.Buffer
	if _, err := io.Copy(&b, io.LimitReader(rc, 64<<10)); err != nil && !errors.Is(err, io.EOF) {
		b.WriteString("\n(output cut: " + err.Error() + ")")
	}
	return strings.TrimRight(b.String(), "\n")
}
