package kube

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// crashReasons are the waiting reasons of a container that will not run
// as it is: the rollout has failed, and the reason says why.
var crashReasons = []string{
	"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName",
	"CreateContainerConfigError", "CreateContainerError", "RunContainerError",
}

// Status reports one component; ok is false when the cluster has nothing
// of it.
func (d *Driver) Status(ctx context.Context, tool, component string) (target.Status, bool, error) {
	ns := d.namespace(tool)
	dep, err := d.cs.AppsV1().Deployments(ns).Get(ctx, component, metav1.GetOptions{})
	if err == nil {
		st, err := d.deploymentStatus(ctx, tool, dep)
		return st, err == nil, err
	}
	if ignoreNotFound(err) != nil {
		return target.Status{}, false, fmt.Errorf("status %s/%s: %w", tool, component, err)
	}
	cj, err := d.cs.BatchV1().CronJobs(ns).Get(ctx, component, metav1.GetOptions{})
	if err == nil {
		st, err := d.cronJobStatus(ctx, tool, cj)
		return st, err == nil, err
	}
	if ignoreNotFound(err) != nil {
		return target.Status{}, false, fmt.Errorf("status %s/%s: %w", tool, component, err)
	}
	jobs, err := d.cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: selector(tool, component) + "," + LabelType + "=" + string(slipway.OneOff)})
	if err != nil {
		return target.Status{}, false, fmt.Errorf("status %s/%s: %w", tool, component, ignoreNotFound(err))
	}
	if len(jobs.Items) == 0 {
		return target.Status{}, false, nil
	}
	return oneOffStatus(tool, component, jobs.Items), true, nil
}

// List reports every component of a tool.
func (d *Driver) List(ctx context.Context, tool string) ([]target.Status, error) {
	ns := d.namespace(tool)
	sel := metav1.ListOptions{LabelSelector: selector(tool, "")}
	deps, err := d.cs.AppsV1().Deployments(ns).List(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", tool, err)
	}
	var out []target.Status
	for i := range deps.Items {
		st, err := d.deploymentStatus(ctx, tool, &deps.Items[i])
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	cjs, err := d.cs.BatchV1().CronJobs(ns).List(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", tool, err)
	}
	for i := range cjs.Items {
		st, err := d.cronJobStatus(ctx, tool, &cjs.Items[i])
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	jobs, err := d.cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: selector(tool, "") + "," + LabelType + "=" + string(slipway.OneOff)})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", tool, err)
	}
	byComp := map[string][]batchv1.Job{}
	for _, j := range jobs.Items {
		c := j.Labels[LabelComponent]
		byComp[c] = append(byComp[c], j)
	}
	for _, c := range slices.Sorted(maps.Keys(byComp)) {
		out = append(out, oneOffStatus(tool, c, byComp[c]))
	}
	slices.SortFunc(out, func(a, b target.Status) int { return strings.Compare(a.Component, b.Component) })
	return out, nil
}

// deploymentStatus reports a continuous component from its Deployment and
// the pods of its newest version.
func (d *Driver) deploymentStatus(ctx context.Context, tool string, dep *appsv1.Deployment) (target.Status, error) {
	v := versionOf(dep.Spec.Template.Annotations)
	st := target.Status{
		Tool: tool, Component: dep.Name, Type: slipway.Continuous, SpecHash: v.specHash, BuildKey: v.buildKey,
		Replicas: int(dep.Status.AvailableReplicas),
	}
	pods, err := d.pods(ctx, tool, dep.Name)
	if err != nil {
		return st, err
	}
	r := rollout(dep, pods)
	st.Restarts, st.Since = r.restarts, r.since
	switch {
	case r.failure != "":
		st.State, st.Message = target.StateCrashLoop, r.failure
	case r.done:
		st.State, st.Message = target.StateRunning, fmt.Sprintf("%d/%d replicas available", dep.Status.AvailableReplicas, want(dep))
	default:
		st.State, st.Message = target.StateStarting, r.progress
	}
	if dep.Spec.Template.Spec.Containers != nil && d.cfg.IngressHost != nil {
		ing, err := d.cs.NetworkingV1().Ingresses(dep.Namespace).Get(ctx, dep.Name, metav1.GetOptions{})
		if err == nil && len(ing.Spec.Rules) > 0 {
			st.URL = d.cfg.URLScheme + "://" + ing.Spec.Rules[0].Host + "/"
		}
	}
	return st, nil
}

// pods lists the pods of a component.
func (d *Driver) pods(ctx context.Context, tool, component string) ([]corev1.Pod, error) {
	list, err := d.cs.CoreV1().Pods(d.namespace(tool)).List(ctx, metav1.ListOptions{LabelSelector: selector(tool, component)})
	if err != nil {
		return nil, fmt.Errorf("pods of %s/%s: %w", tool, component, err)
	}
	return list.Items, nil
}

func want(dep *appsv1.Deployment) int32 {
	if dep.Spec.Replicas == nil {
		return 1
	}
	return *dep.Spec.Replicas
}

// rolloutState is where a Deployment's rollout stands.
type rolloutState struct {
	done     bool
	failure  string // why it cannot succeed; "" while it may
	progress string
	restarts int
	since    time.Time
}

// rollout judges a Deployment's rollout of its newest template from the
// controller's status and the newest pods.
func rollout(dep *appsv1.Deployment, pods []corev1.Pod) rolloutState {
	var r rolloutState
	v := versionOf(dep.Spec.Template.Annotations)
	n := want(dep)
	s := dep.Status
	pending := ""
	current := map[string]bool{} // the ReplicaSets of the newest version, by name
	for _, p := range pods {
		if versionOf(p.Annotations) != v || p.DeletionTimestamp != nil {
			continue
		}
		if h := p.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; h != "" {
			current[dep.Name+"-"+h] = true
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				pending = fmt.Sprintf("pod %s is not scheduled: %s", p.Name, firstLine(cmp.Or(c.Message, c.Reason)))
			}
		}
		for _, cs := range p.Status.ContainerStatuses {
			r.restarts += int(cs.RestartCount)
			if w := cs.State.Waiting; w != nil && slices.Contains(crashReasons, w.Reason) {
				r.failure = fmt.Sprintf("pod %s: %s: %s", p.Name, w.Reason, firstLine(w.Message))
			}
			if t := cs.State.Terminated; t != nil && r.failure == "" && cs.RestartCount > 0 {
				r.failure = fmt.Sprintf("pod %s: exited %d (%s), restarted %d times", p.Name, t.ExitCode, t.Reason, cs.RestartCount)
			}
			if run := cs.State.Running; run != nil && run.StartedAt.After(r.since) {
				r.since = run.StartedAt.Time
			}
		}
	}
	for _, c := range s.Conditions {
		if s.ObservedGeneration < dep.Generation {
			break // about an older spec: the controller has not seen this one yet
		}
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" && !stale(c.Message, current) {
			r.failure = strings.Join(nonEmpty("rollout did not finish in time: "+c.Message, r.failure, pending), "; ")
		}
		if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
			r.failure = strings.Join(nonEmpty(c.Reason+": "+c.Message, r.failure), "; ")
		}
	}
	r.done = s.ObservedGeneration >= dep.Generation && s.UpdatedReplicas == n && s.AvailableReplicas == n && s.Replicas == n && r.failure == ""
	r.progress = strings.Join(nonEmpty(fmt.Sprintf("%d of %d new replicas available", min(s.UpdatedReplicas, s.AvailableReplicas), n), pending), "; ")
	return r
}

// stale reports whether a progress-deadline message is about another
// ReplicaSet than the newest version's: the controller keeps the condition
// until a rollout completes, so after an undo it still names the
// ReplicaSet that timed out.
func stale(msg string, current map[string]bool) bool {
	if len(current) == 0 {
		return false // nothing to compare with: believe it
	}
	for name := range current {
		if strings.Contains(msg, `"`+name+`"`) {
			return false
		}
	}
	return true
}

// cronJobStatus reports a scheduled component.
func (d *Driver) cronJobStatus(ctx context.Context, tool string, cj *batchv1.CronJob) (target.Status, error) {
	v := versionOf(cj.Annotations)
	st := target.Status{
		Tool: tool, Component: cj.Name, Type: slipway.Scheduled, SpecHash: v.specHash, BuildKey: v.buildKey,
		State: target.StateScheduled, Schedule: cj.Spec.Schedule, RunInProgress: len(cj.Status.Active) > 0,
	}
	if sched, err := cronParser.Parse(cj.Spec.Schedule); err == nil {
		st.NextRun = sched.Next(time.Now().UTC())
	}
	jobs, err := d.cs.BatchV1().Jobs(cj.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector(tool, cj.Name)})
	if err != nil {
		return st, fmt.Errorf("runs of %s/%s: %w", tool, cj.Name, err)
	}
	if last := lastFinished(jobs.Items); last != nil {
		st.LastRun = last
	}
	for _, j := range jobs.Items {
		if j.Status.StartTime != nil && finished(&j) == "" && j.Status.StartTime.After(st.Since) {
			st.Since = j.Status.StartTime.Time
		}
	}
	st.Message = "next run " + st.NextRun.Format(time.RFC3339)
	return st, nil
}

// oneOffStatus reports a one-off component from its runs' Jobs: the
// newest says what it does.
func oneOffStatus(tool, component string, jobs []batchv1.Job) target.Status {
	slices.SortFunc(jobs, func(a, b batchv1.Job) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	newest := jobs[len(jobs)-1]
	v := versionOf(newest.Annotations)
	st := target.Status{Tool: tool, Component: component, Type: slipway.OneOff, SpecHash: v.specHash, BuildKey: v.buildKey}
	st.LastRun = lastFinished(jobs)
	switch finished(&newest) {
	case "":
		st.State, st.Message = target.StateRunning, "running"
		if newest.Status.StartTime != nil {
			st.Since = newest.Status.StartTime.Time
		}
	case batchv1.JobComplete:
		st.State, st.Message = target.StateSucceeded, "succeeded"
	default:
		st.State, st.Message = target.StateFailed, jobFailure(&newest)
	}
	return st
}

// finished returns JobComplete or JobFailed once the Job has ended, else "".
// JobFinished returns JobComplete or JobFailed once the Job has ended, else
// "".
func JobFinished(j *batchv1.Job) batchv1.JobConditionType { return finished(j) }

func finished(j *batchv1.Job) batchv1.JobConditionType {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type
		}
	}
	return ""
}

// jobFailure says why a Job failed.
func jobFailure(j *batchv1.Job) string {
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			return strings.Join(nonEmpty(c.Reason, c.Message), ": ")
		}
	}
	return "failed"
}

// lastFinished summarises the newest Job that ended, or nil.
func lastFinished(jobs []batchv1.Job) *target.RunSummary {
	var last *batchv1.Job
	for i := range jobs {
		j := &jobs[i]
		if finished(j) == "" || j.Status.StartTime == nil {
			continue
		}
		if last == nil || j.Status.StartTime.After(last.Status.StartTime.Time) {
			last = j
		}
	}
	if last == nil {
		return nil
	}
	sum := &target.RunSummary{StartedAt: last.Status.StartTime.Time, FinishedAt: last.Status.StartTime.Time}
	if last.Status.CompletionTime != nil {
		sum.FinishedAt = last.Status.CompletionTime.Time
	}
	for _, c := range last.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			sum.ExitCode = 1
			sum.FinishedAt = c.LastTransitionTime.Time
			sum.TimedOut = c.Reason == batchv1.JobReasonDeadlineExceeded
		}
	}
	return sum
}

func nonEmpty(ss ...string) []string {
	return slices.DeleteFunc(ss, func(s string) bool { return s == "" })
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
