package deploy

import (
	"context"
	"sync"
)

// runningSteps holds the cancel functions of the steps this process is
// executing, by deployment and step key, so that a cancel request (of a
// deployment or of one build) stops them at once.
//
// It is per process, the fast path: with several servers sharing the
// store, a running step also watches its deployment's status
// ([Engine.watchCancel]) and stops as soon as the store's notification of
// a cancel taken by another server arrives, within RecheckInterval at
// worst.
type runningSteps struct {
	mu   sync.Mutex
	next int
	m    map[string]map[int]runningStep
}

// runningStep is one registered step.
type runningStep struct {
	key    string
	cancel context.CancelCauseFunc
}

func newRunningSteps() *runningSteps {
	return &runningSteps{m: map[string]map[int]runningStep{}}
}

// add registers the cancel function of step key of a deployment and
// returns its unregister.
func (r *runningSteps) add(deploymentID, key string, cancel context.CancelCauseFunc) func() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	id := r.next
	if r.m[deploymentID] == nil {
		r.m[deploymentID] = map[int]runningStep{}
	}
	r.m[deploymentID][id] = runningStep{key: key, cancel: cancel}
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.m[deploymentID], id)
		if len(r.m[deploymentID]) == 0 {
			delete(r.m, deploymentID)
		}
	}
}

// cancel stops every running step of a deployment with cause.
func (r *runningSteps) cancel(deploymentID string, cause error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.m[deploymentID] {
		st.cancel(cause)
	}
}

// cancelStep stops step key of a deployment with cause, and reports
// whether this process was running it.
func (r *runningSteps) cancelStep(deploymentID, key string, cause error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	found := false
	for _, st := range r.m[deploymentID] {
		if st.key == key {
			st.cancel(cause)
			found = true
		}
	}
	return found
}

// register registers the cancel function of work that a cancel request
// stops: step key of a deployment, or a build started outside deployments
// (standaloneRunID). It returns the unregister.
func (e *Engine) register(deploymentID, key string, cancel context.CancelCauseFunc) func() {
	return e.running.add(deploymentID, key, cancel)
}

// cancelRunning stops every step of a deployment that this process runs,
// with cause.
func (e *Engine) cancelRunning(deploymentID string, cause error) {
	e.running.cancel(deploymentID, cause)
}

// cancelStep stops step key of a deployment with cause, and reports
// whether this process was running it.
func (e *Engine) cancelStep(deploymentID, key string, cause error) bool {
	return e.running.cancelStep(deploymentID, key, cause)
}
