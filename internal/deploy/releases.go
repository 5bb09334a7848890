package deploy

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

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

// ReleaseList returns the tool's releases that q selects, newest first.
// EInvalid for a bad tool name, a commit that is not a full SHA, or a
// limit out of range.
func (s *Releases) ReleaseList(ctx context.Context, tool string, q slipway.ReleaseQuery) ([]slipway.Release, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return nil, err
	}
	if q.Commit != "" {
		if err := slipway.ValidateCommit("commit", q.Commit); err != nil {
			return nil, err
		}
	}
	switch {
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

// maxSinceWalk bounds how many of a component's releases IsLive looks back
// through for when it began to include a commit.
const maxSinceWalk = 200

// IsLive says, for every live component of the tool, whether commit is
// in what it runs: exactly, as an ancestor (merged into it), as a
// cherry-pick (a commit with its patch-id in the first-parent history
// since the fork, not reverted since), or not, and since which release
// without a break. commit is a full SHA; components
// built from other repositories than commit's are "unknown" unless they
// run it exactly or have it as an ancestor. EInvalid for a bad commit;
// ENotFound-like answers come back as "absent".
func (s *Releases) IsLive(ctx context.Context, tool, commit string) ([]slipway.LiveCommit, error) {
	return s.IsLiveIn(ctx, tool, "", commit)
}

// IsLiveIn is [Releases.IsLive] in environment env only ("": every
// environment). EInvalid for a bad environment name, ENotFound for an
// environment the tool does not have.
func (s *Releases) IsLiveIn(ctx context.Context, tool, env, commit string) ([]slipway.LiveCommit, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return nil, err
	}
	if err := slipway.ValidateCommit("commit", commit); err != nil {
		return nil, err
	}
	envs := s.environments(ctx, tool)
	if env != "" {
		if err := slipway.ValidateEnvironmentName("environment", env); err != nil {
			return nil, err
		}
		if !slices.Contains(envs, env) {
			return nil, slipway.Errorf(slipway.ENotFound, "Tool %s has no environment %q; its environments: %s.", tool, env, strings.Join(envs, ", "))
		}
		envs = []string{env}
	}
	out := []slipway.LiveCommit{}
	for _, env := range envs {
		live, err := s.store.LiveRunList(ctx, slipway.InstanceName(tool, env))
		if err != nil {
			return nil, fmt.Errorf("is %s live in %s: %w", commit, tool, err)
		}
		repos := repositories(live)
		for _, r := range live {
			lc := slipway.LiveCommit{Environment: env, Component: r.Component, Live: r.Commit, State: slipway.LiveUnknown}
			repo := repos[r.Component]
			if r.Commit != "" && repo != "" {
				if lc, err = s.liveCommit(ctx, tool, repo, commit, lc); err != nil {
					return nil, err
				}
			}
			out = append(out, lc)
		}
	}
	return out, nil
}

// liveCommit fills in lc (a live component building from repo) for
// commit: its state, and the release since which it holds commit.
func (s *Releases) liveCommit(ctx context.Context, tool, repo, commit string, lc slipway.LiveCommit) (slipway.LiveCommit, error) {
	rs, err := s.store.ReleaseList(ctx, store.ReleaseFilter{Tool: tool, Environment: lc.Environment, Component: lc.Component, Limit: maxSinceWalk})
	if err != nil {
		return lc, fmt.Errorf("releases of %s of %s: %w", lc.Component, tool, err)
	}
	version := 0
	if len(rs) > 0 {
		version = rs[0].ConfigVersion
	}
	gctx := s.eng.scopeOf(ctx, tool, version)
	in, err := s.source.Contains(gctx, repo, commit, lc.Live)
	if err != nil {
		return lc, fmt.Errorf("is %s in %s of %s: %w", commit, lc.Component, tool, err)
	}
	// held is the commit whose presence makes a release hold commit: commit
	// itself, or its cherry-pick.
	held := commit
	switch {
	case lc.Live == commit:
		lc.State = slipway.LiveExact
	case in:
		lc.State = slipway.LiveIncluded
	default:
		if lc.Pick, err = s.source.CherryPick(gctx, repo, commit, lc.Live); err != nil {
			return lc, fmt.Errorf("is %s cherry-picked in %s of %s: %w", commit, lc.Component, tool, err)
		}
		if !lc.Pick.Found() {
			lc.State = slipway.LiveAbsent
			return lc, nil
		}
		lc.State, held = slipway.LiveCherryPicked, lc.Pick.Commit
	}
	contains := func(tip string) (bool, error) { return s.source.Contains(gctx, repo, held, tip) }
	// Back through the releases while each one ran code with commit (or
	// the cherry-pick found now) in it: the last one found is since when.
	for _, r := range rs {
		if r.Outcome != slipway.ReleaseApplied || r.Commit == "" {
			break
		}
		if r.Commit != lc.Live {
			ok, err := contains(r.Commit)
			if err != nil {
				return lc, fmt.Errorf("is %s in release %d of %s: %w", commit, r.Seq, lc.Component, err)
			}
			if !ok {
				break
			}
		}
		lc.Since, lc.Release, lc.DeploymentID = r.AppliedAt, r.Seq, r.DeploymentID
	}
	return lc, nil
}

// maxWhenWalk bounds how many of a component's releases When looks
// through, oldest first.
const maxWhenWalk = 1000

// When returns, per environment and component of the tool that was ever
// released, the first release whose code included commit (a full SHA):
// itself, a descendant, or a cherry-pick of it (as IsLive finds one),
// saying which. A component whose releases never included it is listed
// with no release. EInvalid for a bad commit.
func (s *Releases) When(ctx context.Context, tool, commit string) ([]slipway.FirstRelease, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return nil, err
	}
	if err := slipway.ValidateCommit("commit", commit); err != nil {
		return nil, err
	}
	rs, err := s.store.ReleaseList(ctx, store.ReleaseFilter{Tool: tool, Limit: maxWhenWalk})
	if err != nil {
		return nil, fmt.Errorf("when did %s reach %s: %w", commit, tool, err)
	}
	// A component's repository is the one it builds from where it is
	// live (the same in every environment: one config).
	repos := map[string]string{}
	for _, env := range s.environments(ctx, tool) {
		live, err := s.store.LiveRunList(ctx, slipway.InstanceName(tool, env))
		if err != nil {
			return nil, fmt.Errorf("when did %s reach %s: %w", commit, tool, err)
		}
		maps.Copy(repos, repositories(live))
	}
	// The repositories are the live components' (their current config's),
	// so the newest release's config decides the scope git reads them in,
	// as for IsLive: read once, not once per release walked.
	gctx := ctx
	if len(rs) > 0 {
		gctx = s.eng.scopeOf(ctx, tool, rs[0].ConfigVersion)
	}
	// Asking each release for a cherry-pick costs a git pipeline; one
	// question over all the releases of a repository first says whether
	// any may have one (usually none).
	tips := map[string][]string{} // repository → the releases' commits
	for _, r := range rs {
		if repo := repos[r.Component]; repo != "" && r.Outcome == slipway.ReleaseApplied && r.Commit != "" {
			tips[repo] = append(tips[repo], r.Commit)
		}
	}
	picks := map[string]bool{} // repository → may have a pick
	for repo, ts := range tips {
		if picks[repo], err = s.source.MayHaveCherryPick(gctx, repo, commit, ts); err != nil {
			return nil, fmt.Errorf("is %s cherry-picked in %s: %w", commit, tool, err)
		}
	}
	var (
		out   []slipway.FirstRelease
		index = map[string]int{} // environment/component → out
	)
	for _, r := range slices.Backward(rs) { // oldest first
		key := r.Environment + "/" + r.Component
		at, seen := index[key]
		if !seen {
			at = len(out)
			index[key] = at
			out = append(out, slipway.FirstRelease{Environment: r.Environment, Component: r.Component})
		}
		if out[at].Release.Seq != 0 || r.Outcome != slipway.ReleaseApplied || r.Commit == "" {
			continue
		}
		repo := repos[r.Component]
		if repo == "" {
			continue
		}
		in, err := s.source.Contains(gctx, repo, commit, r.Commit)
		if err != nil {
			return nil, fmt.Errorf("is %s in release %d of %s: %w", commit, r.Seq, r.Component, err)
		}
		switch {
		case r.Commit == commit:
			out[at].Release, out[at].Exact, out[at].How = r, true, slipway.LiveExact
			continue
		case in:
			out[at].Release, out[at].How = r, slipway.LiveIncluded
			continue
		}
		if !picks[repo] {
			continue
		}
		pick, err := s.source.CherryPick(gctx, repo, commit, r.Commit)
		if err != nil {
			return nil, fmt.Errorf("is %s cherry-picked in release %d of %s: %w", commit, r.Seq, r.Component, err)
		}
		if pick.Found() {
			out[at].Release, out[at].How, out[at].Pick = r, slipway.LiveCherryPicked, pick.Commit
		}
	}
	return out, nil
}

// environments returns the names of the tool's environments, in
// promotion order: its latest config's, or the default one.
func (s *Releases) environments(ctx context.Context, tool string) []string {
	cfg := slipway.ToolConfig{}
	if sc, err := s.store.ConfigGetLatest(ctx, tool); err == nil {
		if c, err := parseStored(sc.Raw); err == nil {
			cfg = c
		}
	}
	var names []string
	for _, e := range cfg.EnvironmentList() {
		names = append(names, e.Name)
	}
	return names
}

// repositories returns the repository each live component builds from
// (through reuse_from).
func repositories(live []slipway.LiveRun) map[string]string {
	own := map[string]string{}
	for _, r := range live {
		if src := r.Spec.Build.Source; src != nil {
			own[r.Component] = src.Repository
		}
	}
	repos := make(map[string]string, len(live))
	for _, r := range live {
		if repo := own[r.Spec.BuildFrom()]; repo != "" {
			repos[r.Component] = repo
		}
	}
	return repos
}
