package slipway

import "time"

// ToolPolicy is the tool-level Slipway extension of a tool config: the
// top-level `x-slipway:` mapping, which Toolforge's parser skips as an
// unknown top-level key. The zero value is what a config without the block
// asks for.
type ToolPolicy struct {
	// AutoRollback, when set, rolls back a deployment whose components
	// fail their health within a window after it succeeded; nil: off.
	AutoRollback *AutoRollback
	// Poll, when set, deploys the tool when a branch its components
	// follow gets a new commit, found by polling the repositories (for
	// forges that cannot reach the server with a webhook); nil: off.
	Poll *Poll
}

// Poll is the polling policy of a tool.
type Poll struct {
	// Interval is how often the repositories are asked; the server may
	// raise it to its own floor.
	Interval time.Duration
	// Components are the components whose refs are polled, in the
	// config's order; empty: every component that builds from source.
	Components []string
}

// The bounds of a poll interval in a config.
const (
	MinPollInterval = time.Second
	MaxPollInterval = 24 * time.Hour
)

// Polled returns the components of cfg whose refs p polls, in the
// config's order: p.Components, or every component built from source.
func (p Poll) Polled(cfg ToolConfig) []string {
	if len(p.Components) > 0 {
		return p.Components
	}
	var out []string
	for _, name := range cfg.Names() {
		if cfg.Components[name].Build.Source != nil {
			out = append(out, name)
		}
	}
	return out
}

// AutoRollback is the auto-rollback policy of a tool: after a deployment
// (not itself a rollback) succeeds, the components it made live are
// watched for Window; one that fails its health (crash loops, is not
// running) in that time makes Slipway deploy the release before it again.
type AutoRollback struct {
	Window time.Duration
}

// The bounds of an auto-rollback window.
const (
	MinAutoRollbackWindow = 10 * time.Second
	MaxAutoRollbackWindow = 24 * time.Hour
)
