package deploy

import (
	"strings"

	"slipway.dev/slipway/internal/metrics"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// Metrics are recorded from inside the transactions that make the changes
// they count, but only once the transaction has committed: [Engine.tx]
// runs what was observed after the commit, and drops it when the
// transaction fails or is retried.

// observe runs fn with the engine's metrics after t commits; without
// metrics, nothing is recorded.
func (e *Engine) observe(t txn, fn func(m *metrics.Metrics)) {
	if e.cfg.Metrics == nil {
		return
	}
	*t.after = append(*t.after, fn)
}

// observeCreated counts a new deployment.
func (e *Engine) observeCreated(t txn, d slipway.Deployment) {
	e.observe(t, func(m *metrics.Metrics) { m.DeploymentCreated(d.Trigger) })
}

// observeFinished counts a deployment that became final.
func (e *Engine) observeFinished(t txn, status slipway.DeploymentStatus) {
	e.observe(t, func(m *metrics.Metrics) { m.DeploymentFinished(string(status)) })
}

// observePlanned counts the builds a new plan found made already.
func (e *Engine) observePlanned(t txn, steps []slipway.Step) {
	for _, st := range steps {
		if st.Kind == slipway.StepBuild && st.State == slipway.StepUnchanged {
			e.observe(t, func(m *metrics.Metrics) { m.BuildCached() })
		}
	}
}

// observeStep records a step that ran and became final: its duration, and
// a build made.
func (e *Engine) observeStep(t txn, u store.StepUpdate) {
	if !u.State.Final() || u.StartedAt.IsZero() || u.FinishedAt.IsZero() {
		return // still running, or settled without running
	}
	kind, _, _ := strings.Cut(u.Key, ":") // slipway.StepKey
	took := u.FinishedAt.Sub(u.StartedAt)
	e.observe(t, func(m *metrics.Metrics) {
		m.StepFinished(kind, string(u.State), took)
		if kind == string(slipway.StepBuild) && u.State == slipway.StepDone {
			m.BuildBuilt()
		}
	})
}
