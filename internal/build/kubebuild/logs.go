package kubebuild

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/target/kube"
)

// donePollInterval is how often a follower that waits for a build's pod
// asks opts.Done again: the build's record is in the store, which has no
// watch here. The pod itself is watched.
const donePollInterval = time.Second

// containers are a build pod's containers in the order they run.
var containers = []string{containerClone, containerBuild, containerReport}

// Logs writes the log of the tool's build attempt: the output of its
// pod's containers (fetching, building, reporting), from the cluster
// (pods/log), as [build.Builder] says. The log lives as long as the
// build's Job ([Config.TTL] after it ends, or until Remove or RemoveLog).
// With Lines, only the last lines of the buildpacks build are written.
// With Follow it waits for the pod, and follows each container in turn
// until it ends.
func (b *Builder) Logs(ctx context.Context, tool, attempt string, opts build.LogOptions, w io.Writer) error {
	if opts.Lines < 0 {
		return fmt.Errorf("log of build %s: lines must be at least 0, got %d", attempt, opts.Lines)
	}
	if opts.Follow && opts.Done == nil {
		return fmt.Errorf("log of build %s: following it needs Done", attempt)
	}
	pod, err := b.attemptPod(ctx, tool, attempt, opts)
	if err != nil {
		return fmt.Errorf("log of build %s: %w", attempt, err)
	}
	names := containers
	if opts.Lines > 0 {
		names = []string{containerBuild}
	}
	for _, c := range names {
		if opts.Follow {
			if pod, err = b.awaitStarted(ctx, pod, c); err != nil {
				return fmt.Errorf("log of build %s: %w", attempt, err)
			}
		}
		if !started(pod, c) {
			continue
		}
		po := &corev1.PodLogOptions{Container: c, Follow: opts.Follow}
		if opts.Lines > 0 {
			n := int64(opts.Lines)
			po.TailLines = &n
		}
		rc, err := b.cs.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, po).Stream(ctx)
		if err != nil {
			return fmt.Errorf("log of build %s: container %s: %w", attempt, c, err)
		}
		_, err = io.Copy(w, rc)
		_ = rc.Close()
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return fmt.Errorf("log of build %s: container %s: %w", attempt, c, err)
		}
	}
	return nil
}

// attemptPod returns the newest pod of the attempt's Job. Without Follow,
// none is an error wrapping [build.ErrNoLog]; with Follow it waits for
// one until opts.Done reports the build ended (then ErrNoLog) or ctx ends.
func (b *Builder) attemptPod(ctx context.Context, tool, attempt string, opts build.LogOptions) (*corev1.Pod, error) {
	ns := b.namespace(tool)
	sel := attemptSelector(tool, attempt)
	find := func() (*corev1.Pod, string, error) {
		ps, err := b.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return nil, "", ignoreNotFound(err)
		}
		var last *corev1.Pod
		for i := range ps.Items {
			if p := &ps.Items[i]; last == nil || p.CreationTimestamp.After(last.CreationTimestamp.Time) {
				last = p
			}
		}
		return last, ps.ResourceVersion, nil
	}
	pod, rv, err := find()
	if err != nil || pod != nil {
		return pod, err
	}
	if !opts.Follow {
		return nil, build.ErrNoLog
	}
	w, err := b.cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: rv})
	if err != nil {
		return nil, fmt.Errorf("watch the build's pods: %w", ignoreNotFound(err))
	}
	defer w.Stop()
	tick := time.NewTicker(donePollInterval)
	defer tick.Stop()
	for {
		done, err := opts.Done(ctx)
		if err != nil {
			return nil, err
		}
		if pod, _, err = find(); err != nil || pod != nil {
			return pod, err
		}
		if done {
			return nil, build.ErrNoLog
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case ev, ok := <-w.ResultChan():
			if !ok || ev.Type == watch.Error {
				w.Stop()
				if w, err = b.cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: sel}); err != nil {
					return nil, fmt.Errorf("watch the build's pods: %w", err)
				}
			}
		case <-tick.C:
		}
	}
}

// started reports whether container c of pod has started (or ended): it
// has output to read.
func started(pod *corev1.Pod, c string) bool {
	for _, cs := range append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		if cs.Name == c {
			return cs.State.Running != nil || cs.State.Terminated != nil
		}
	}
	return false
}

// errPodEnded ends a wait for a container of a pod that ended without it.
var errPodEnded = errors.New("the build's pod ended")

// awaitStarted waits, following a watch of the pod, until container c has
// started or ended, or the pod ended without it (then it returns the pod
// as it is, and the caller skips c).
func (b *Builder) awaitStarted(ctx context.Context, pod *corev1.Pod, c string) (*corev1.Pod, error) {
	cur := pod
	err := kube.Changes(ctx, []kube.Watched{{ResourceVersion: pod.ResourceVersion, Watch: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		o.FieldSelector = "metadata.name=" + pod.Name
		return b.cs.CoreV1().Pods(pod.Namespace).Watch(ctx, o)
	}}}, func() (bool, error) {
		p, err := b.cs.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, errPodEnded
		}
		if err != nil {
			return false, err
		}
		cur = p
		if started(p, c) {
			return true, nil
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil {
			return true, errPodEnded
		}
		return false, nil
	})
	if errors.Is(err, errPodEnded) {
		return cur, nil
	}
	return cur, err
}
