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
