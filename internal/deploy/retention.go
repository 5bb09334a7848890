package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// releasePruneBatch is how many releases one statement of release
// retention deletes: small transactions, so that deployments writing
// releases meanwhile never wait long.
const releasePruneBatch = 1000

// PruneReleases deletes the releases that a newer release of their
// component (in their environment) superseded longer ago than the release
// retention (Config.ReleaseRetention), of every tool, and returns how
// many it deleted: what is left is the whole history of the window, with
// what each component ran when it began, so never a live component's
// current release. With no
// retention (forever, the default) it deletes nothing. The maintenance
// job calls it.
func (s *Releases) PruneReleases(ctx context.Context) (int, error) {
	if s.cfg.ReleaseRetention <= 0 {
		return 0, nil
	}
	before := s.now().Add(-s.cfg.ReleaseRetention)
	total := 0
	for {
		n, err := s.store.ReleasePrune(ctx, before, releasePruneBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("release retention: %w", err)
		}
		if n < releasePruneBatch {
			break
		}
	}
	s.logger.InfoContext(ctx, "release retention: deleted old releases", "deleted", total,
		"retention", slipway.FormatRetention(s.cfg.ReleaseRetention), "applied_before", before.UTC())
	return total, nil
}

// BuildPrune removes the tool's artifacts that nothing needs, with their
// build records and logs, and says what it removed. An artifact is kept
// when a live component of the tool runs it, an unfinished deployment of
// the tool needs it, a release that release retention keeps references it
// (every release when it is forever; else those applied in the window and
// what each component ran in each environment when it began: what runs
// now among them, in every environment's instance), or its build ended
// less than opts.OlderThan ago. Failed attempts have no
// artifact and are left alone. With opts.DryRun it lists what it would
// remove and removes nothing. Returns EInvalid for a bad tool name or a
// negative age.
//
// Each removed artifact is logged with its tool, build, key and size, and
// the pass with its total. Removal follows [Builds.BuildDelete]'s protocol:
// the records are marked under the tool's lock, so no deployment planned
// after that reuses them, and the files go after the commit.
func (s *Builds) BuildPrune(ctx context.Context, tool string, opts slipway.BuildPruneOptions) (slipway.BuildPrune, error) {
	if err := slipway.ValidateToolName(tool); err != nil {
		return slipway.BuildPrune{}, err
	}
	age := cmp.Or(s.cfg.ArtifactRetention, slipway.DefaultPruneAge)
	if opts.OlderThan != nil {
		age = *opts.OlderThan
	}
	if age < 0 {
		return slipway.BuildPrune{}, slipway.Errorf(slipway.EInvalid,
			"older_than: %s is negative: want 0 (any age), whole days such as 7d, or a duration such as 48h", age)
	}
	now := s.now()
	var (
		out    slipway.BuildPrune
		groups [][]slipway.Build // the successful attempts of each key removed
	)
	err := s.store.InTx(ctx, func(tx store.Tx) error {
		out, groups = slipway.BuildPrune{DryRun: opts.DryRun}, nil // InTx may run fn again
		if err := tx.ToolLock(ctx, tool, now); err != nil {
			return err
		}
		keep, released, err := s.neededKeys(ctx, tx, tool, now)
		if err != nil {
			return err
		}
		builds, err := tx.BuildList(ctx, tool)
		if err != nil {
			return fmt.Errorf("builds: %w", err)
		}
		// One artifact per key: the successful attempts of a key go
		// together or stay together (a young one keeps an old one's).
		byKey := map[string][]slipway.Build{}
		var order []string
		for _, b := range builds { // newest first
			if b.Status != slipway.BuildSuccessful {
				continue
			}
			if byKey[b.Key] == nil {
				order = append(order, b.Key)
			}
			byKey[b.Key] = append(byKey[b.Key], b)
		}
		for _, key := range order {
			g := byKey[key]
			switch {
			case keep[key]:
				out.Kept += len(g)
			case released[key]:
				out.Kept += len(g)
				out.KeptReleased += len(g)
			case now.Sub(youngest(g)) < age:
				out.Kept += len(g)
			default:
				groups = append(groups, g)
				if opts.DryRun {
					continue
				}
				for _, b := range g {
					if err := tx.BuildSetDeleting(ctx, tool, b.ID, true); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return slipway.BuildPrune{}, fmt.Errorf("prune builds of %s: %w", tool, err)
	}
	out.Removed = make([]slipway.PrunedBuild, 0, len(groups))
	var errs []error
	for _, g := range groups {
		b := g[0] // the newest attempt names the artifact
		p := slipway.PrunedBuild{Tool: tool, ID: b.ID, Key: b.Key, Component: b.Component, Commit: b.Commit, FinishedAt: b.UpdatedAt}
		p.Size = s.artifactSize(tool, b.Key)
		if !opts.DryRun {
			if err := s.removeGroup(ctx, g); err != nil {
				errs = append(errs, err)
				continue
			}
			s.logger.InfoContext(ctx, "artifact retention: removed an artifact", "tool", tool, "build", b.ID, "key", b.Key, "bytes", p.Size)
		}
		out.Removed = append(out.Removed, p)
		out.Bytes += p.Size
	}
	if !opts.DryRun && (len(out.Removed) > 0 || len(errs) > 0) {
		s.logger.InfoContext(ctx, "artifact retention: pass over a tool", "tool", tool, "removed", len(out.Removed),
			"bytes", out.Bytes, "kept", out.Kept, "kept_for_releases", out.KeptReleased, "failed", len(errs))
	}
	if err := errors.Join(errs...); err != nil {
		return out, fmt.Errorf("prune builds of %s: %w", tool, err)
	}
	return out, nil
}

// youngest returns when the last of builds ended.
func youngest(builds []slipway.Build) time.Time {
	var t time.Time
	for _, b := range builds {
		if b.UpdatedAt.After(t) {
			t = b.UpdatedAt
		}
	}
	return t
}

// neededKeys returns the build keys of the tool that must stay: those its
// live components run and its unfinished deployments need (keep), and
// those of the releases release retention keeps (released).
func (s *Builds) neededKeys(ctx context.Context, tx store.Tx, tool string, now time.Time) (keep, released map[string]bool, err error) {
	keep, released = map[string]bool{}, map[string]bool{}
	live, err := tx.LiveRunList(ctx, tool)
	if err != nil {
		return nil, nil, fmt.Errorf("live components: %w", err)
	}
	for _, r := range live {
		keep[r.BuildKey] = true
	}
	unfinished, err := tx.DeploymentListUnfinished(ctx, tool)
	if err != nil {
		return nil, nil, fmt.Errorf("unfinished deployments: %w", err)
	}
	for _, d := range unfinished {
		steps, err := tx.StepList(ctx, d.ID)
		if err != nil {
			return nil, nil, fmt.Errorf("steps of %s: %w", d.ID, err)
		}
		for _, st := range steps {
			if st.BuildKey != "" {
				keep[st.BuildKey] = true
			}
		}
	}
	var since time.Time // zero: every release
	if s.cfg.ReleaseRetention > 0 {
		since = now.Add(-s.cfg.ReleaseRetention)
	}
	keys, err := tx.ReleaseBuildKeys(ctx, tool, since)
	if err != nil {
		return nil, nil, err
	}
	for _, k := range keys {
		released[k] = true
	}
	return keep, released, nil
}

// removeGroup removes the marked successful attempts of one key: their
// logs, the artifact, their records. A failure puts the records that are
// left back (their files may be partly gone: the next deployment of the
// key builds it again, as after BuildDelete).
func (s *Builds) removeGroup(ctx context.Context, g []slipway.Build) error {
	for i, b := range g {
		if err := s.removeBuild(ctx, b, i == 0); err != nil {
			var errs []error
			for _, left := range g[i:] {
				if rerr := s.store.BuildSetDeleting(context.WithoutCancel(ctx), left.Tool, left.ID, false); rerr != nil && !errors.Is(rerr, store.ErrNotFound) {
					errs = append(errs, fmt.Errorf("keep the record of %s: %w", left.ID, rerr))
				}
			}
			return errors.Join(append([]error{fmt.Errorf("remove build %s: %w", b.ID, err)}, errs...)...)
		}
	}
	return nil
}

// artifactSizer is a builder that can tell an artifact's size on disk
// (the local builder).
type artifactSizer interface {
	ArtifactSize(tool, key string) (int64, error)
}

// artifactSize returns the size of the tool's artifact of key, 0 when the
// builder cannot tell.
func (s *Builds) artifactSize(tool, key string) int64 {
	sz, ok := s.builder.(artifactSizer)
	if !ok {
		return 0
	}
	n, err := sz.ArtifactSize(tool, key)
	if err != nil {
		return 0
	}
	return n
}

// PruneAll runs [Builds.BuildPrune] over every tool with the artifact
// retention as the age bound (Config.ArtifactRetention; 0: off, nothing
// is removed), and returns how many artifacts and bytes it removed. A
// tool that fails is logged and the others go on. The maintenance job
// calls it.
func (s *Builds) PruneAll(ctx context.Context) (removed int, bytes int64, err error) {
	if s.cfg.ArtifactRetention <= 0 {
		return 0, 0, nil
	}
	tools, err := s.store.ToolList(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("artifact retention: %w", err)
	}
	slices.Sort(tools)
	var errs []error
	for _, tool := range tools {
		res, err := s.BuildPrune(ctx, tool, slipway.BuildPruneOptions{OlderThan: new(s.cfg.ArtifactRetention)})
		removed, bytes = removed+len(res.Removed), bytes+res.Bytes
		if err != nil {
			errs = append(errs, err)
		}
	}
	s.logger.InfoContext(ctx, "artifact retention: removed the artifacts nothing needs", "removed", removed, "bytes", bytes,
		"retention", slipway.FormatRetention(s.cfg.ArtifactRetention), "tools", len(tools), "failed", len(errs))
	if err := errors.Join(errs...); err != nil {
		return removed, bytes, fmt.Errorf("artifact retention: %w", err)
	}
	return removed, bytes, nil
}
