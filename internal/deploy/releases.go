package deploy

import (
	"context"
	"fmt"
	"regexp"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// Releases serves a tool's release history: every component version its
// deployments made live, kept when they are pruned.
type Releases struct {
	app
}

// NewReleases returns the release history service over an engine.
func NewReleases(eng *Engine) *Releases { return &Releases{app: newApp(eng)} }

// Release list bounds.
const (
	defaultReleaseList = 100
	maxReleaseList     = 1000
)

// fullSHA matches a full commit id (SHA-1 or SHA-256).
var fullSHA = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// ReleaseList returns the tool's releases that q selects, newest first.
// EInvalid for a bad tool name, a commit that is not a full SHA, or a
// limit out of range.
func (s *Releases) ReleaseList(ctx context.Context, tool string, q slipway.ReleaseQuery) ([]slipway.Release, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return nil, err
	}
	switch {
	case q.Commit != "" && !fullSHA.MatchString(q.Commit):
		return nil, slipway.Errorf(slipway.EInvalid, "commit: %q is not a full commit SHA (40 or 64 lowercase hex digits)", q.Commit)
	case q.Limit < 0 || q.Limit > maxReleaseList:
		return nil, slipway.Errorf(slipway.EInvalid, "limit: %d is not between 1 and %d", q.Limit, maxReleaseList)
	case q.Before < 0:
		return nil, slipway.Errorf(slipway.EInvalid, "before: %d is not a release number", q.Before)
	}
	if q.Limit == 0 {
		q.Limit = defaultReleaseList
	}
	rs, err := s.store.ReleaseList(ctx, store.ReleaseFilter{
		Tool: tool, Environment: q.Environment, Component: q.Component, Commit: q.Commit,
		DeploymentID: q.DeploymentID, Before: q.Before, Limit: q.Limit,
	})
	if err != nil {
		return nil, fmt.Errorf("releases of %s: %w", tool, err)
	}
	if rs == nil {
		rs = []slipway.Release{}
	}
	return rs, nil
}
