package deploy

import (
	"strings"

	"slipway.dev/slipway/internal/metrics"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// Metrics are recorded from inside the transactions that make the changes
// they count, but only once the transaction has committed: [Service.tx]
// runs what was observed after the commit, and drops it when the
// transaction fails or is retried.

// observe runs fn with the service's metrics after tx commits. tx must be
// one of [Service.tx]; elsewhere, or without metrics, nothing is recorded.
func (s *Service) observe(tx store.Tx, fn func(m *metrics.Metrics)) {
	if s.cfg.Metrics == nil {
		return
	}
	if q, ok := tx.(queueingTx); ok {
		*q.observed = append(*q.observed, fn)
	}
}

// observeCreated counts a new deployment.
func (s *Service) observeCreated(tx store.Tx, d slipway.Deployment) {
	s.observe(tx, func(m *metrics.Metrics) { m.DeploymentCreated(d.Trigger) })
}

// observeFinished counts a deployment that became final.
func (s *Service) observeFinished(tx store.Tx, status slipway.DeploymentStatus) {
	s.observe(tx, func(m *metrics.Metrics) { m.DeploymentFinished(string(status)) })
}

// observePlanned counts the builds a new plan found made already.
func (s *Service) observePlanned(tx store.Tx, steps []slipway.Step) {
	for _, st := range steps {
		if st.Kind == slipway.StepBuild && st.State == slipway.StepUnchanged {
			s.observe(tx, func(m *metrics.Metrics) { m.BuildCached() })
		}
	}
}

// observeStep records a step that ran and became final: its duration, and
// a build made.
func (s *Service) observeStep(tx store.Tx, u store.StepUpdate) {
	if !u.State.Final() || u.StartedAt.IsZero() || u.FinishedAt.IsZero() {
		return // still running, or settled without running
	}
	kind, _, _ := strings.Cut(u.Key, ":") // slipway.StepKey
	took := u.FinishedAt.Sub(u.StartedAt)
	s.observe(tx, func(m *metrics.Metrics) {
		m.StepFinished(kind, string(u.State), took)
		if kind == string(slipway.StepBuild) && u.State == slipway.StepDone {
			m.BuildBuilt()
		}
	})
}
