package kube

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/target"
)

// Logs writes the output of the component's pods (every replica, or a
// scheduled or one-off component's runs) to w, each line prefixed with
// its pod's name when there is more than one. With Follow it keeps
// writing until ctx ends or the pods' streams end.
func (d *Driver) Logs(ctx context.Context, tool, component string, opts target.LogOptions, w io.Writer) error {
	pods, err := d.pods(ctx, tool, component)
	if err != nil {
		return err
	}
	if len(pods) == 0 {
		if _, ok, err := d.Status(ctx, tool, component); err != nil || !ok {
			return cmpErr(err, slipway.Errorf(slipway.ENotFound, "Component %s of %s has no logs: it is not running.", component, tool))
		}
		return nil
	}
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	po := &corev1.PodLogOptions{Container: containerName, Follow: opts.Follow}
	if opts.Lines > 0 {
		n := int64(opts.Lines)
		po.TailLines = &n
	}
	var mu sync.Mutex // one line at a time on w
	var wg sync.WaitGroup
	errs := make([]error, len(pods))
	for i, p := range pods {
		prefix := ""
		if len(pods) > 1 {
			prefix = "[" + p.Name + "] "
		}
		copyPod := func() {
			rc, err := d.cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, po).Stream(ctx)
			if err != nil {
				errs[i] = fmt.Errorf("logs of pod %s: %w", p.Name, err)
				return
			}
			defer func() { _ = rc.Close() }()
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				mu.Lock()
				_, err := io.WriteString(w, prefix+sc.Text()+"\n")
				mu.Unlock()
				if err != nil {
					errs[i] = err
					return
				}
			}
			if err := sc.Err(); err != nil && ctx.Err() == nil {
				errs[i] = fmt.Errorf("logs of pod %s: %w", p.Name, err)
			}
		}
		if !opts.Follow {
			copyPod() // in order, oldest pod first
			continue
		}
		wg.Go(copyPod)
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil //nolint:nilerr // following ends when ctx does: that is no failure
	}
	return errors.Join(errs...)
}

func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}
