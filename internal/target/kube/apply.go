package kube

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

var applyOpts = metav1.ApplyOptions{FieldManager: FieldManager, Force: true}

// Apply converges a continuous or scheduled component to spec: its
// namespace and the tool's envvars Secret, then its Deployment (with its
// Service and Ingress) or CronJob, applied server-side where they differ
// from what is there (an unchanged Apply only reads; see converge.go).
// The result is Changed when the workload did not run spec's version
// (spec hash, build key and restart token, read from its annotations); a
// component that changed type loses its objects of the old type before
// the new workload is made.
func (d *Driver) Apply(ctx context.Context, spec target.Spec) (target.ApplyResult, error) {
	fail := func(err error) (target.ApplyResult, error) {
		return target.ApplyResult{}, fmt.Errorf("apply %s/%s: %w", spec.Tool, spec.Component.Name, err)
	}
	if !slipway.ValidName(spec.Component.Name) || spec.Tool == "" {
		return fail(slipway.Errorf(slipway.EInvalid, "Invalid tool or component name %q/%q.", spec.Tool, spec.Component.Name))
	}
	if spec.Component.Run.Command == "" {
		return fail(slipway.Errorf(slipway.EInvalid, "Component %s has no command.", spec.Component.Name))
	}
	typ := spec.Component.Type
	if typ != slipway.Continuous && typ != slipway.Scheduled {
		return fail(slipway.Errorf(slipway.EInvalid, "Component %s of type %q cannot be applied.", spec.Component.Name, typ))
	}
	img, err := image(spec)
	if err != nil {
		return fail(err)
	}
	ns := d.namespace(spec.Tool)
	if err := d.prepareShared(ctx, ns, spec); err != nil {
		return fail(err)
	}
	name := spec.Component.Name
	if typ == slipway.Scheduled {
		expr, err := target.ActualSchedule(spec.Tool, name, spec.Component.Run.Schedule)
		if err != nil {
			return fail(slipway.Errorf(slipway.EInvalid, "Invalid schedule %q: %v.", spec.Component.Run.Schedule, err))
		}
		var prev version
		exists := false
		cur, err := d.cs.BatchV1().CronJobs(ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil:
			prev, exists = versionOf(cur.Annotations), true
		case ignoreNotFound(err) != nil:
			return fail(fmt.Errorf("read %s: %w", describe("cronjob", ns, name), err))
		}
		v := version{specHash: spec.SpecHash, buildKey: spec.Artifact.Key, restart: cmp.Or(spec.RestartToken, prev.restart)}
		cj, err := d.cronJob(ns, spec, img, expr, v)
		if err != nil {
			return fail(err)
		}
		// A component that was continuous loses its objects before the
		// CronJob is made: a CronJob there means they are gone.
		if !exists {
			if err := d.removeContinuous(ctx, ns, name); err != nil {
				return fail(err)
			}
		}
		if !exists || !owns(cur, cj, batchv1ac.ExtractCronJob) {
			if _, err := d.cs.BatchV1().CronJobs(ns).Apply(ctx, cj, applyOpts); err != nil {
				return fail(fmt.Errorf("apply %s: %w", describe("cronjob", ns, name), err))
			}
		}
		if exists && prev == v {
			return target.ApplyResult{Changed: false, Message: "already up to date"}, nil
		}
		return target.ApplyResult{Changed: true, Message: fmt.Sprintf("scheduled %q", expr)}, nil
	}

	var prev version
	exists := false
	cur, err := d.cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		prev, exists = versionOf(cur.Spec.Template.Annotations), true
	case ignoreNotFound(err) != nil:
		return fail(fmt.Errorf("read %s: %w", describe("deployment", ns, name), err))
	}
	v := version{specHash: spec.SpecHash, buildKey: spec.Artifact.Key, restart: cmp.Or(spec.RestartToken, prev.restart)}
	dep, err := d.deployment(ns, spec, img, v)
	if err != nil {
		return fail(err)
	}
	// A component that was scheduled loses its CronJob before the
	// Deployment is made: a Deployment there means it is gone.
	if !exists {
		cjs := d.cs.BatchV1().CronJobs(ns)
		if err := deleteIfPresent(ctx, describe("cronjob", ns, name), name, cjs.Get, cjs.Delete); err != nil {
			return fail(err)
		}
	}
	if !exists || !owns(cur, dep, appsv1ac.ExtractDeployment) {
		if _, err := d.cs.AppsV1().Deployments(ns).Apply(ctx, dep, applyOpts); err != nil {
			return fail(fmt.Errorf("apply %s: %w", describe("deployment", ns, name), err))
		}
	}
	if err := d.applyNetwork(ctx, ns, spec); err != nil {
		return fail(err)
	}
	n := spec.Component.Run.ReplicaCount()
	switch {
	case exists && prev == v:
		return target.ApplyResult{Changed: false, Message: "already up to date"}, nil
	case exists:
		return target.ApplyResult{Changed: true, Message: fmt.Sprintf("rolling out %d %s (the running ones serve until the new are ready)", n, plural(n, "replica"))}, nil
	}
	return target.ApplyResult{Changed: true, Message: fmt.Sprintf("started %d %s", n, plural(n, "replica"))}, nil
}

// prepareShared calls prepareNamespace, once for the concurrent callers
// that want the same namespace with the same tool and envvars: they all
// get its result. (A caller whose ctx ends first ends it for the others.)
func (d *Driver) prepareShared(ctx context.Context, ns string, spec target.Spec) error {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", ns, spec.Tool)
	for _, k := range slices.Sorted(maps.Keys(spec.SecretEnv)) {
		fmt.Fprintf(h, "%s\x00%s\x00", k, spec.SecretEnv[k])
	}
	_, err, _ := d.prep.Do(string(h.Sum(nil)), func() (any, error) {
		return nil, d.prepareNamespace(ctx, ns, spec)
	})
	return err
}

// prepareNamespace makes the instance's namespace, the objects that keep
// the tool to it (tenancy.go) and its envvars Secret.
func (d *Driver) prepareNamespace(ctx context.Context, ns string, spec target.Spec) error {
	nsac := corev1ac.Namespace(ns).WithLabels(namespaceLabels(spec.Tool))
	nss := d.cs.CoreV1().Namespaces()
	if err := applyIfChanged(ctx, "namespace "+ns, nsac, nss.Get, ns, corev1ac.ExtractNamespace, nss.Apply); err != nil {
		return err
	}
	if err := d.applyTenancy(ctx, ns, spec.Tool); err != nil {
		return err
	}
	lbl := map[string]string{LabelManagedBy: managedBy, LabelTool: spec.Tool}
	secrets := d.cs.CoreV1().Secrets(ns)
	return applyIfChanged(ctx, describe("secret", ns, envSecret), secret(ns, envSecret, lbl, spec.SecretEnv),
		secrets.Get, envSecret, corev1ac.ExtractSecret, secrets.Apply)
}

// applyNetwork gives a continuous component the Service its port needs
// and the Ingress its publish needs, and removes those it no longer does.
func (d *Driver) applyNetwork(ctx context.Context, ns string, spec target.Spec) error {
	name := spec.Component.Name
	run := spec.Component.Run
	svcs, ings := d.cs.CoreV1().Services(ns), d.cs.NetworkingV1().Ingresses(ns)
	if run.Port > 0 {
		if err := applyIfChanged(ctx, describe("service", ns, name), service(ns, spec), svcs.Get, name, corev1ac.ExtractService, svcs.Apply); err != nil {
			return err
		}
	} else if err := deleteIfPresent(ctx, describe("service", ns, name), name, svcs.Get, svcs.Delete); err != nil {
		return err
	}
	if run.Publish != "" && run.Port > 0 && d.cfg.IngressHost != nil {
		ing := d.ingress(ns, d.cfg.IngressHost(spec.Tool), spec)
		if err := applyIfChanged(ctx, describe("ingress", ns, name), ing, ings.Get, name, networkingv1ac.ExtractIngress, ings.Apply); err != nil {
			return err
		}
	} else if err := deleteIfPresent(ctx, describe("ingress", ns, name), name, ings.Get, ings.Delete); err != nil {
		return err
	}
	return nil
}

// removeContinuous deletes a component's Deployment, Service and Ingress,
// reading first so that absent ones cost no write.
func (d *Driver) removeContinuous(ctx context.Context, ns, name string) error {
	ings, svcs, deps := d.cs.NetworkingV1().Ingresses(ns), d.cs.CoreV1().Services(ns), d.cs.AppsV1().Deployments(ns)
	return errors.Join(
		deleteIfPresent(ctx, describe("ingress", ns, name), name, ings.Get, ings.Delete),
		deleteIfPresent(ctx, describe("service", ns, name), name, svcs.Get, svcs.Delete),
		deleteIfPresent(ctx, describe("deployment", ns, name), name, deps.Get, deps.Delete),
	)
}

// Remove deletes the component's objects (its runs' Jobs with their pods
// too). An unknown component, or tool, is not an error.
func (d *Driver) Remove(ctx context.Context, tool, component string) error {
	ns := d.namespace(tool)
	del := metav1.DeleteOptions{PropagationPolicy: propagation}
	err := errors.Join(
		d.removeContinuous(ctx, ns, component),
		wrapDelete("cronjob", ns, component, d.cs.BatchV1().CronJobs(ns).Delete(ctx, component, del)),
		wrapDelete("jobs of", ns, component, d.cs.BatchV1().Jobs(ns).DeleteCollection(ctx, del, metav1.ListOptions{LabelSelector: selector(tool, component)})),
	)
	if err != nil {
		return fmt.Errorf("remove %s/%s: %w", tool, component, err)
	}
	return nil
}

func wrapDelete(kind, ns, name string, err error) error {
	if err = ignoreNotFound(err); err != nil {
		return fmt.Errorf("delete %s: %w", describe(kind, ns, name), err)
	}
	return nil
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}
