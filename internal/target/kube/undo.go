package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
)

// revisionAnnotation is the Deployment controller's revision of a
// ReplicaSet.
const revisionAnnotation = "deployment.kubernetes.io/revision"

// undo puts back the pod template of the newest earlier version of the
// Deployment that still has available pods (what serves while the new
// version fails), as `kubectl rollout undo` would. It returns false when
// no such version serves.
func (d *Driver) undo(ctx context.Context, dep *appsv1.Deployment) (bool, error) {
	ns, name := dep.Namespace, dep.Name
	rss, err := d.cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: metav1.FormatLabelSelector(dep.Spec.Selector)})
	if err != nil {
		return false, fmt.Errorf("replica sets of %s: %w", describe("deployment", ns, name), err)
	}
	newest := versionOf(dep.Spec.Template.Annotations)
	var prev *appsv1.ReplicaSet
	rev := func(rs *appsv1.ReplicaSet) int {
		n, _ := strconv.Atoi(rs.Annotations[revisionAnnotation])
		return n
	}
	for i := range rss.Items {
		rs := &rss.Items[i]
		if !metav1.IsControlledBy(rs, dep) || versionOf(rs.Spec.Template.Annotations) == newest || rs.Status.AvailableReplicas == 0 {
			continue
		}
		if prev == nil || rev(rs) > rev(prev) {
			prev = rs
		}
	}
	if prev == nil {
		return false, nil
	}
	ac, err := appsv1ac.ExtractDeployment(dep, FieldManager)
	if err != nil {
		return false, fmt.Errorf("undo %s: %w", describe("deployment", ns, name), err)
	}
	tpl := prev.Spec.Template.DeepCopy()
	delete(tpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey) // the controller's, not ours
	raw, err := json.Marshal(tpl)
	if err != nil {
		return false, fmt.Errorf("undo %s: %w", describe("deployment", ns, name), err)
	}
	var tplac corev1ac.PodTemplateSpecApplyConfiguration
	if err := json.Unmarshal(raw, &tplac); err != nil {
		return false, fmt.Errorf("undo %s: %w", describe("deployment", ns, name), err)
	}
	if ac.Spec == nil {
		ac.Spec = appsv1ac.DeploymentSpec()
	}
	ac.Spec.Template = &tplac
	ac.WithAnnotations(versionOf(tpl.Annotations).annotations())
	if _, err := d.cs.AppsV1().Deployments(ns).Apply(ctx, ac, applyOpts); err != nil {
		return false, fmt.Errorf("undo %s: %w", describe("deployment", ns, name), err)
	}
	return true, nil
}
