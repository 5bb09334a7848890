package kube

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
)

// The objects that keep a tool to its namespace, besides the namespace.
const (
	// ServiceAccount is the ServiceAccount a tool's pods run as.
	ServiceAccount = "tool"
	// tenancyName names the Role, RoleBinding, ResourceQuota, LimitRange
	// and NetworkPolicy of a tool's namespace.
	tenancyName = "slipway-tool"
	// PodSecurityLevel is the Pod Security Standard a tool namespace
	// enforces (and warns and audits at).
	PodSecurityLevel = "restricted"
	labelPSA         = "pod-security.kubernetes.io/"
	labelNSName      = "kubernetes.io/metadata.name"
)

// Quota bounds a tool namespace as a whole (a ResourceQuota) and each
// container in it (a LimitRange). A zero field sets no bound, and a zero
// Quota makes neither object.
type Quota struct {
	// CPU and Memory bound the sum of the requests and of the limits of
	// the namespace's pods; Pods bounds their number (running and
	// pending: a Job's finished pods do not count).
	CPU, Memory resource.Quantity
	Pods        int
	// DefaultCPU and DefaultMemory are the request and limit of a
	// container that sets none: with CPU or Memory set, a pod without
	// them would be refused.
	DefaultCPU, DefaultMemory resource.Quantity
	// MaxCPU and MaxMemory bound one container's limits.
	MaxCPU, MaxMemory resource.Quantity
}

// resourceQuota is the namespace's ResourceQuota, nil when q bounds
// nothing of the namespace.
func (q Quota) resourceQuota(ns string, lbl map[string]string) *corev1ac.ResourceQuotaApplyConfiguration {
	hard := corev1.ResourceList{}
	if !q.CPU.IsZero() {
		hard[corev1.ResourceRequestsCPU] = q.CPU
		hard[corev1.ResourceLimitsCPU] = q.CPU
	}
	if !q.Memory.IsZero() {
		hard[corev1.ResourceRequestsMemory] = q.Memory
		hard[corev1.ResourceLimitsMemory] = q.Memory
	}
	if q.Pods > 0 {
		hard[corev1.ResourcePods] = *resource.NewQuantity(int64(q.Pods), resource.DecimalSI)
	}
	if len(hard) == 0 {
		return nil
	}
	return corev1ac.ResourceQuota(tenancyName, ns).WithLabels(lbl).WithSpec(corev1ac.ResourceQuotaSpec().WithHard(hard))
}

// limitRange is the namespace's LimitRange, nil when q bounds no
// container.
func (q Quota) limitRange(ns string, lbl map[string]string) *corev1ac.LimitRangeApplyConfiguration {
	def, maxes := corev1.ResourceList{}, corev1.ResourceList{}
	for _, r := range []struct {
		name corev1.ResourceName
		def  resource.Quantity
		max  resource.Quantity
	}{{corev1.ResourceCPU, q.DefaultCPU, q.MaxCPU}, {corev1.ResourceMemory, q.DefaultMemory, q.MaxMemory}} {
		if !r.def.IsZero() {
			def[r.name] = r.def
		}
		if !r.max.IsZero() {
			maxes[r.name] = r.max
		}
	}
	if len(def) == 0 && len(maxes) == 0 {
		return nil
	}
	item := corev1ac.LimitRangeItem().WithType(corev1.LimitTypeContainer)
	if len(def) > 0 {
		item.WithDefault(def).WithDefaultRequest(def)
	}
	if len(maxes) > 0 {
		item.WithMax(maxes)
	}
	return corev1ac.LimitRange(tenancyName, ns).WithLabels(lbl).WithSpec(corev1ac.LimitRangeSpec().WithLimits(item))
}

// namespaceLabels are a tool namespace's labels: Slipway's, and the Pod
// Security Standard it enforces.
func namespaceLabels(tool string) map[string]string {
	return map[string]string{
		LabelManagedBy: managedBy, LabelTool: tool,
		labelPSA + "enforce": PodSecurityLevel, labelPSA + "enforce-version": "latest",
		labelPSA + "warn": PodSecurityLevel, labelPSA + "audit": PodSecurityLevel,
	}
}

// toolRole is what a tool's ServiceAccount may do in its own namespace:
// read what runs there (pods and their logs, events, and the workloads
// and Services Slipway made). It writes nothing, since Slipway owns every
// object there, and reads no Secret (the envvars reach the pods as
// environment; the Secrets also hold one-off runs' ask tokens).
var toolRole = []*rbacv1ac.PolicyRuleApplyConfiguration{
	rbacv1ac.PolicyRule().WithAPIGroups("").WithResources("pods", "pods/log", "events", "services").
		WithVerbs("get", "list", "watch"),
	rbacv1ac.PolicyRule().WithAPIGroups("apps").WithResources("deployments", "replicasets").
		WithVerbs("get", "list", "watch"),
	rbacv1ac.PolicyRule().WithAPIGroups("batch").WithResources("jobs", "cronjobs").
		WithVerbs("get", "list", "watch"),
}

// applyTenancy applies the objects that keep a tool to its namespace: its
// ServiceAccount with a Role and RoleBinding in that namespace only, the
// quota, and a NetworkPolicy that admits traffic from the namespace itself
// and the ingress controller's only. Unchanged objects are only read
// (applyIfChanged); a quota or limit range the config no longer sets is
// deleted.
func (d *Driver) applyTenancy(ctx context.Context, ns, tool string) error {
	lbl := map[string]string{LabelManagedBy: managedBy, LabelTool: tool}
	sas, roles, rbs := d.cs.CoreV1().ServiceAccounts(ns), d.cs.RbacV1().Roles(ns), d.cs.RbacV1().RoleBindings(ns)
	rqs, lrs, nps := d.cs.CoreV1().ResourceQuotas(ns), d.cs.CoreV1().LimitRanges(ns), d.cs.NetworkingV1().NetworkPolicies(ns)
	sa := corev1ac.ServiceAccount(ServiceAccount, ns).WithLabels(lbl).
		WithAutomountServiceAccountToken(d.cfg.ServiceAccountToken)
	if err := applyIfChanged(ctx, describe("serviceaccount", ns, ServiceAccount), sa, sas.Get, ServiceAccount, corev1ac.ExtractServiceAccount, sas.Apply); err != nil {
		return err
	}
	role := rbacv1ac.Role(tenancyName, ns).WithLabels(lbl).WithRules(toolRole...)
	if err := applyIfChanged(ctx, describe("role", ns, tenancyName), role, roles.Get, tenancyName, rbacv1ac.ExtractRole, roles.Apply); err != nil {
		return err
	}
	rb := rbacv1ac.RoleBinding(tenancyName, ns).WithLabels(lbl).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("Role").WithName(tenancyName)).
		WithSubjects(rbacv1ac.Subject().WithKind(rbacv1.ServiceAccountKind).WithName(ServiceAccount).WithNamespace(ns))
	if err := applyIfChanged(ctx, describe("rolebinding", ns, tenancyName), rb, rbs.Get, tenancyName, rbacv1ac.ExtractRoleBinding, rbs.Apply); err != nil {
		return err
	}
	if rq := d.cfg.Quota.resourceQuota(ns, lbl); rq != nil {
		cur, err := rqs.Get(ctx, tenancyName, metav1.GetOptions{})
		if ignoreNotFound(err) != nil {
			return fmt.Errorf("read %s: %w", describe("resourcequota", ns, tenancyName), err)
		}
		if err != nil || !owns(cur, rq, corev1ac.ExtractResourceQuota) {
			q, err := rqs.Apply(ctx, rq, applyOpts)
			if err != nil {
				return fmt.Errorf("apply %s: %w", describe("resourcequota", ns, tenancyName), err)
			}
			if err := d.counted(ctx, q); err != nil {
				return err
			}
		}
	} else if err := deleteIfPresent(ctx, describe("resourcequota", ns, tenancyName), tenancyName, rqs.Get, rqs.Delete); err != nil {
		return err
	}
	if lr := d.cfg.Quota.limitRange(ns, lbl); lr != nil {
		if err := applyIfChanged(ctx, describe("limitrange", ns, tenancyName), lr, lrs.Get, tenancyName, corev1ac.ExtractLimitRange, lrs.Apply); err != nil {
			return err
		}
	} else if err := deleteIfPresent(ctx, describe("limitrange", ns, tenancyName), tenancyName, lrs.Get, lrs.Delete); err != nil {
		return err
	}
	return applyIfChanged(ctx, describe("networkpolicy", ns, tenancyName), d.networkPolicy(ns, lbl), nps.Get, tenancyName, networkingv1ac.ExtractNetworkPolicy, nps.Apply)
}

// quotaWait bounds how long prepareNamespace waits for the quota
// controller to count a new or changed quota.
const quotaWait = 30 * time.Second

// counted waits until the quota controller has counted the namespace
// under q's hard limits (its status says the same): until then the API
// server refuses every new pod ("status unknown for quota"), which a
// rollout would report as its failure. An unchanged quota has been
// counted, so this waits for nothing then.
func (d *Driver) counted(ctx context.Context, q *corev1.ResourceQuota) error {
	same := func(q *corev1.ResourceQuota) bool {
		if len(q.Spec.Hard) != len(q.Status.Hard) {
			return false
		}
		for k, v := range q.Spec.Hard {
			if u, ok := q.Status.Hard[k]; !ok || u.Cmp(v) != 0 {
				return false
			}
		}
		return true
	}
	if same(q) {
		return nil
	}
	ctx, cancel := d.bound(ctx)
	defer cancel()
	ctx, cancelT := context.WithTimeoutCause(ctx, quotaWait, fmt.Errorf("the quota controller did not count it in %v", quotaWait))
	defer cancelT()
	ns, name := q.Namespace, q.Name
	err := changes(ctx, []watched{{q.ResourceVersion, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		o.FieldSelector = "metadata.name=" + name
		return d.cs.CoreV1().ResourceQuotas(ns).Watch(ctx, o)
	}}}, func() (bool, error) {
		cur, err := d.cs.CoreV1().ResourceQuotas(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return same(cur), nil
	})
	if err != nil {
		return fmt.Errorf("wait for %s: %w", describe("resourcequota", ns, name), err)
	}
	return nil
}

// networkPolicy selects every pod of the namespace and admits traffic
// from the namespace's own pods and, when [Config.IngressNamespace] is
// set, from that namespace's; egress stays open (tools call out).
func (d *Driver) networkPolicy(ns string, lbl map[string]string) *networkingv1ac.NetworkPolicyApplyConfiguration {
	rule := networkingv1ac.NetworkPolicyIngressRule().
		WithFrom(networkingv1ac.NetworkPolicyPeer().WithPodSelector(metav1ac.LabelSelector()))
	if d.cfg.IngressNamespace != "" {
		rule.WithFrom(networkingv1ac.NetworkPolicyPeer().WithNamespaceSelector(
			metav1ac.LabelSelector().WithMatchLabels(map[string]string{labelNSName: d.cfg.IngressNamespace})))
	}
	return networkingv1ac.NetworkPolicy(tenancyName, ns).WithLabels(lbl).
		WithSpec(networkingv1ac.NetworkPolicySpec().
			WithPodSelector(metav1ac.LabelSelector()).
			WithPolicyTypes(networkingv1.PolicyTypeIngress).
			WithIngress(rule))
}

// securePod makes a pod run as the tool's ServiceAccount and meet the
// restricted Pod Security Standard: a non-root user ([Config.RunAsUser],
// else the image's, which must then be a numeric non-root one), no
// privilege escalation, no capabilities, the runtime's seccomp profile.
func (d *Driver) securePod(pod *corev1ac.PodSpecApplyConfiguration) {
	psc := corev1ac.PodSecurityContext().WithRunAsNonRoot(true).
		WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))
	if u := d.cfg.RunAsUser; u > 0 {
		psc.WithRunAsUser(u).WithRunAsGroup(u).WithFSGroup(u)
	}
	pod.WithServiceAccountName(ServiceAccount).WithAutomountServiceAccountToken(d.cfg.ServiceAccountToken).
		WithSecurityContext(psc)
	for i := range pod.Containers { // WithContainers copied them: change them in place
		pod.Containers[i].WithSecurityContext(corev1ac.SecurityContext().WithAllowPrivilegeEscalation(false).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL")))
	}
}
