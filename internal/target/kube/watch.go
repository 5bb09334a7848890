package kube

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

// watched is one watch: what it follows, from which resource version.
type watched struct {
	rv    string
	watch func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// Watched is one watch that [Changes] follows: Watch from ResourceVersion
// (a list's, so that nothing after it is missed).
type Watched struct {
	ResourceVersion string
	Watch           func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// Changes calls check once, then again after every event of the watches,
// until check reports done, ctx ends (its cause is returned) or a watch
// fails; the watches are retry watchers. It is the wait every watch of
// this package makes, for other packages that wait on the cluster (the
// Kubernetes builder).
func Changes(ctx context.Context, ws []Watched, check func() (done bool, err error)) error {
	in := make([]watched, len(ws))
	for i, w := range ws {
		in[i] = watched{rv: w.ResourceVersion, watch: w.Watch}
	}
	return changes(ctx, in, check)
}

// changes calls check once, then again after every event of the watches,
// until check reports done, ctx ends or a watch fails. The watches are
// retry watchers: a closed connection is resumed from the last resource
// version seen, so no change is missed.
func changes(ctx context.Context, ws []watched, check func() (done bool, err error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan watch.Event)
	for _, w := range ws {
		rw, err := watchtools.NewRetryWatcherWithContext(ctx, w.rv, &cache.ListWatch{WatchFuncWithContext: w.watch})
		if err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		defer rw.Stop()
		go func() {
			for ev := range rw.ResultChan() {
				select {
				case events <- ev:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	for {
		if done, err := check(); done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case ev := <-events:
			if ev.Type == watch.Error {
				return fmt.Errorf("watch: %v", ev.Object)
			}
		}
	}
}

// WaitHealthy blocks until every replica of the component's newest
// version is updated and available, following watches of its Deployment
// and pods. A pod that cannot run (crash loop, image pull error, bad
// config) or a rollout past its deadline ends the wait with the reason;
// the Deployment keeps its old pods serving meanwhile (a rolling update
// with no unavailable replica), and is then put back to the version they
// run, and the error is a [target.KeptError]. Scheduled components return
// at once.
func (d *Driver) WaitHealthy(ctx context.Context, tool, component string) (target.HealthResult, error) {
	ns := d.namespace(tool)
	start := time.Now()
	ctx, cancel := d.bound(ctx)
	defer cancel()
	dep, err := d.cs.AppsV1().Deployments(ns).Get(ctx, component, metav1.GetOptions{})
	if ignoreNotFound(err) != nil {
		return target.HealthResult{}, fmt.Errorf("wait for %s/%s: %w", tool, component, err)
	}
	if err != nil {
		if _, cerr := d.cs.BatchV1().CronJobs(ns).Get(ctx, component, metav1.GetOptions{}); cerr == nil {
			return target.HealthResult{Message: "scheduled"}, nil
		}
		return target.HealthResult{}, slipway.Errorf(slipway.ENotFound, "Component %s of %s is not running.", component, tool)
	}
	pods, err := d.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector(tool, component)})
	if err != nil {
		return target.HealthResult{}, fmt.Errorf("wait for %s/%s: %w", tool, component, err)
	}
	var last rolloutState
	check := func() (bool, error) {
		dep, err := d.cs.AppsV1().Deployments(ns).Get(ctx, component, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		pods, err := d.pods(ctx, tool, component)
		if err != nil {
			return false, err
		}
		last = rollout(dep, pods)
		if last.failure != "" {
			return false, fmt.Errorf("%s/%s did not become healthy: %s", tool, component, last.failure)
		}
		return last.done, nil
	}
	err = changes(ctx, []watched{
		{dep.ResourceVersion, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = "metadata.name=" + component
			return d.cs.AppsV1().Deployments(ns).Watch(ctx, o)
		}},
		{pods.ResourceVersion, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector(tool, component)
			return d.cs.CoreV1().Pods(ns).Watch(ctx, o)
		}},
	}, check)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%s/%s not healthy (%s): %w", tool, component, last.progress, err)
		}
		return target.HealthResult{}, d.keepOld(ctx, tool, component, err)
	}
	after := time.Since(start)
	return target.HealthResult{After: after, Message: fmt.Sprintf("healthy after %s", after.Round(time.Millisecond))}, nil
}

// keepOld answers a rollout that failed (err): when an earlier version
// still serves, the Deployment is put back to it and the error is a
// [target.KeptError]; else err is returned as it is.
func (d *Driver) keepOld(ctx context.Context, tool, component string, err error) error {
	// The undo is done even when ctx ended the wait: it is what makes the
	// error a KeptError.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	dep, gerr := d.cs.AppsV1().Deployments(d.namespace(tool)).Get(ctx, component, metav1.GetOptions{})
	if gerr != nil {
		return err
	}
	undone, uerr := d.undo(ctx, dep)
	switch {
	case uerr != nil:
		return fmt.Errorf("%w (and the old version could not be put back: %w)", err, uerr)
	case undone:
		return &target.KeptError{Err: fmt.Errorf("%w; the version that served before serves on", err)}
	}
	return err
}

// errStopped ends the waits of a driver that was stopped.
var errStopped = errors.New("the Kubernetes driver stopped")

// bound returns ctx ended also by the driver's Stop: a wait does not
// outlive the driver.
func (d *Driver) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(d.ctx, func() { cancel(errStopped) })
	return ctx, func() { stop(); cancel(nil) }
}

// errGone ends a wait for something deleted meanwhile.
var errGone = errors.New("deleted while waited for")
