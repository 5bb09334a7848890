package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
)

// BuildDelete deletes a finished build's record, its artifact and its log
// (artifacts belong to the tool that built them), and returns the deleted
// build. Returns EInvalid and ENotFound as [Builds.BuildGet]; EConflict
// when the build is running,
// when a live component of the tool runs it (naming the components), or
// when an unfinished deployment of the tool needs it. Nothing is deleted
// then.
func (s *Builds) BuildDelete(ctx context.Context, tool, id string) (slipway.Build, error) {
	if _, err := s.BuildGet(ctx, tool, id); err != nil {
		return slipway.Build{}, err
	}
	// First the record is marked (hidden from every read, so no new
	// deployment reuses it), under the tool's lock; the files go after
	// that commits, never inside a transaction that may run twice; then
	// the record.
	var (
		b            slipway.Build
		withArtifact bool
	)
	err := s.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.ToolLock(ctx, tool, s.now()); err != nil {
			return err
		}
		var err error
		if b, err = tx.BuildGet(ctx, tool, id); err != nil {
			return notFound(err, "Build %s not found for tool %s", id, tool)
		}
		if err := s.checkDeletable(ctx, tx, b); err != nil {
			return err
		}
		if err := tx.BuildSetDeleting(ctx, tool, id, true); err != nil {
			return err
		}
		withArtifact = false
		if b.Status != slipway.BuildSuccessful {
			return nil // the artifact, if any, is another attempt's
		}
		_, other, err := latestAttempt(ctx, tx, tool, b.Key)
		// checkDeletable made sure nothing of the tool uses the artifact;
		// another attempt that made the key too keeps it.
		withArtifact = !other
		return err
	})
	if err != nil {
		return slipway.Build{}, fmt.Errorf("delete build %s of %s: %w", id, tool, err)
	}
	if err := s.removeBuild(ctx, b, withArtifact); err != nil {
		// The record comes back: the files that are left stay findable.
		if rerr := s.store.BuildSetDeleting(context.WithoutCancel(ctx), tool, id, false); rerr != nil {
			err = errors.Join(err, fmt.Errorf("keep its record: %w", rerr))
		}
		return slipway.Build{}, fmt.Errorf("delete build %s of %s: %w", id, tool, err)
	}
	return b, nil
}

// removeBuild removes a build marked deleting: its log, its artifact
// when withArtifact, then its record.
func (s *Builds) removeBuild(ctx context.Context, b slipway.Build, withArtifact bool) error {
	if err := s.builder.RemoveLog(ctx, b.Tool, b.ID); err != nil {
		return err
	}
	if withArtifact {
		if err := s.builder.Remove(ctx, b.Tool, b.Key); err != nil {
			return err
		}
	}
	return ignoreNotFound(s.store.BuildDelete(ctx, b.Tool, b.ID))
}

// FinishBuildDeletes finishes the build deletions a stopped server left
// half done (records marked deleting): their files are removed and the
// records deleted. An artifact stays when another attempt of its tool made
// it too. Call it once at start.
func (s *Builds) FinishBuildDeletes(ctx context.Context) (int, error) {
	marked, err := s.store.BuildListDeleting(ctx)
	if err != nil {
		return 0, fmt.Errorf("finish build deletes: %w", err)
	}
	for i, b := range marked {
		_, other, err := latestAttempt(ctx, s.store, b.Tool, b.Key)
		if err != nil {
			return i, fmt.Errorf("finish deleting build %s of %s: %w", b.ID, b.Tool, err)
		}
		if err := s.removeBuild(ctx, b, b.Status == slipway.BuildSuccessful && !other); err != nil {
			return i, fmt.Errorf("finish deleting build %s of %s: %w", b.ID, b.Tool, err)
		}
	}
	return len(marked), nil
}

// checkDeletable returns EConflict when build b of its tool is running, is
// what a live component runs, or is needed by an unfinished deployment.
func (s *Builds) checkDeletable(ctx context.Context, tx store.Tx, b slipway.Build) error {
	if !buildFinal(b) {
		return slipway.Errorf(slipway.EConflict,
			"Build %s is %s: cancel it first (slipway builds cancel %s), or wait for it to end.", b.ID, b.Status, b.ID)
	}
	if b.Status != slipway.BuildSuccessful {
		return nil // an attempt that made nothing: only its record and log go
	}
	live, err := tx.LiveRunList(ctx, b.Tool)
	if err != nil {
		return fmt.Errorf("live components: %w", err)
	}
	var users []string
	for _, r := range live {
		if r.BuildKey == b.Key {
			users = append(users, r.Component)
		}
	}
	if len(users) > 0 {
		slices.Sort(users)
		return slipway.Errorf(slipway.EConflict,
			"Build %s is what component %s runs now: deploy another build of it (or remove the component) before deleting this one.",
			b.ID, strings.Join(users, ", "))
	}
	uses, err := pendingUses(ctx, tx, b.Tool, b.Key)
	if err != nil {
		return err
	}
	if len(uses) > 0 {
		return slipway.Errorf(slipway.EConflict,
			"Build %s is needed by deployment %s, which has not finished: wait for it or cancel it first.", b.ID, uses[0].deployment.ID)
	}
	return nil
}
