// Package kubebuildtest helps tests of the Kubernetes builder on a control
// plane without a kubelet that runs containers (kubetest's kwok): the
// test plays the kubelet's part for a build pod.
//
// Build pods are kept off kwok's fake node with [NodeSelector] (kwok would
// otherwise end them at once, with no termination message); [Finish] then
// writes the pod's status as the kubelet would once its containers ended,
// and the real Job controller turns that into the Job's Complete or
// Failed condition.
//
// It imports testing: import it only from tests.
package kubebuildtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"slipway.dev/slipway/internal/target/kube"
)

// NodeSelector matches no node: a build pod with it stays unscheduled,
// for the test to finish.
var NodeSelector = map[string]string{"slipway.dev/test-kubelet": "stand-in"}

// waitTimeout bounds each wait for a build pod.
const waitTimeout = 2 * time.Minute

// Digest returns a digest (sha256:<64 hex>) made from s.
func Digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Outcome is how a build pod's containers ended.
type Outcome struct {
	// Failed names the container that failed (clone, build or report);
	// "" means they all succeeded.
	Failed string
	// ExitCode and Reason of the failed container (default 1, "Error").
	ExitCode int32
	Reason   string
	// Message is the report container's termination message when all
	// succeeded (what the build reports: image@digest), else the failed
	// container's (the end of its output).
	Message string
}

// AwaitPod waits for a pod of a build of tool in namespace ns that has not
// ended, and returns it.
func AwaitPod(t *testing.T, cs kubernetes.Interface, ns, tool string) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	sel := metav1.ListOptions{LabelSelector: kube.LabelManagedBy + "=slipway," + kube.LabelTool + "=" + tool + ",batch.kubernetes.io/job-name"}
	var found *corev1.Pod
	pods, err := cs.CoreV1().Pods(ns).List(ctx, sel)
	if err != nil {
		t.Fatalf("kubebuildtest: pods: %v", err)
	}
	err = kube.Changes(ctx, []kube.Watched{{ResourceVersion: pods.ResourceVersion, Watch: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		o.LabelSelector = sel.LabelSelector
		return cs.CoreV1().Pods(ns).Watch(ctx, o)
	}}}, func() (bool, error) {
		ps, err := cs.CoreV1().Pods(ns).List(ctx, sel)
		if err != nil {
			return false, err
		}
		for i := range ps.Items {
			if p := &ps.Items[i]; p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil {
				found = p
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("kubebuildtest: no build pod of %s in %s: %v", tool, ns, err)
	}
	return found
}

// Finish waits for a build pod of tool in ns and, standing in for the
// kubelet, writes its status as o says its containers ended.
func Finish(t *testing.T, cs kubernetes.Interface, ns, tool string, o Outcome) *corev1.Pod {
	t.Helper()
	pod := AwaitPod(t, cs, ns, tool)
	now := metav1.Now()
	terminated := func(name string, code int32, reason, msg string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: code, Reason: reason, Message: msg, StartedAt: now, FinishedAt: now,
		}}}
	}
	waiting := func(name string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}
	}
	code, reason := o.ExitCode, o.Reason
	if code == 0 {
		code = 1
	}
	if reason == "" {
		reason = "Error"
	}
	var st corev1.PodStatus
	switch o.Failed {
	case "":
		st.Phase = corev1.PodSucceeded
		st.InitContainerStatuses = []corev1.ContainerStatus{terminated("clone", 0, "Completed", ""), terminated("build", 0, "Completed", "")}
		st.ContainerStatuses = []corev1.ContainerStatus{terminated("report", 0, "Completed", o.Message)}
	case "clone":
		st.Phase = corev1.PodFailed
		st.InitContainerStatuses = []corev1.ContainerStatus{terminated("clone", code, reason, o.Message), waiting("build")}
		st.ContainerStatuses = []corev1.ContainerStatus{waiting("report")}
	case "build":
		st.Phase = corev1.PodFailed
		st.InitContainerStatuses = []corev1.ContainerStatus{terminated("clone", 0, "Completed", ""), terminated("build", code, reason, o.Message)}
		st.ContainerStatuses = []corev1.ContainerStatus{waiting("report")}
	default:
		st.Phase = corev1.PodFailed
		st.InitContainerStatuses = []corev1.ContainerStatus{terminated("clone", 0, "Completed", ""), terminated("build", 0, "Completed", "")}
		st.ContainerStatuses = []corev1.ContainerStatus{terminated("report", code, reason, o.Message)}
	}
	st.StartTime = &now
	var out *corev1.Pod
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := cs.CoreV1().Pods(ns).Get(t.Context(), pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		st.Conditions = p.Status.Conditions
		p.Status = st
		out, err = cs.CoreV1().Pods(ns).UpdateStatus(t.Context(), p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("kubebuildtest: finish pod %s/%s: %v", ns, pod.Name, err)
	}
	return out
}
