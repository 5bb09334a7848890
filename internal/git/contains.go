package git

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"

	"slipway.dev/slipway/internal/slipway"
)

// Contains reports whether commit is tip or one of its ancestors in
// repository: whether what runs at tip includes commit. Both are full
// SHAs. The answer comes from the repository's mirror, in one git process
// when the mirror has both commits; it is fetched when it lacks one. A
// commit that no branch or tag of the repository has is in no tip (false);
// a tip that none has wraps ErrRefNotFound.
func (c *Client) Contains(ctx context.Context, repository, commit, tip string) (bool, error) {
	if commit == tip {
		return true, nil
	}
	if !slipway.IsFullCommit(commit) || !slipway.IsFullCommit(tip) {
		return false, fmt.Errorf("is %q in %q: %w: give full commit SHAs", commit, tip, ErrRefNotFound)
	}
	if err := c.checkRepository(ctx, repository); err != nil {
		return false, err
	}
	r, err := c.remoteFor(ctx, repository)
	if err != nil {
		return false, err
	}
	key := r.mirror + " " + commit + " " + tip
	if in, ok := c.ancestry.get(key); ok {
		return in, nil
	}
	var in bool
	err = c.withMirror(ctx, r, func(dir string, fresh bool) error {
		if !fresh {
			if ok, known, err := c.isAncestor(ctx, dir, commit, tip); err != nil || known {
				in = ok
				return err
			}
		}
		if err := c.fetch(ctx, dir, r); err != nil {
			return err
		}
		if !c.hasCommit(ctx, dir, tip) {
			return fmt.Errorf("commit %s in %s: %w: no branch or tag of the repository contains it", tip, r.shown, ErrRefNotFound)
		}
		if !c.hasCommit(ctx, dir, commit) {
			return nil // not a commit of this repository
		}
		ok, _, err := c.isAncestor(ctx, dir, commit, tip)
		in = ok
		return err
	})
	if err != nil {
		return false, fmt.Errorf("is %s in %s of %s: %w", commit, tip, slipway.RedactURL(repository), err)
	}
	c.ancestry.put(key, in)
	return in, nil
}

// maxAncestry bounds the ancestry cache's entries (about 200 bytes each).
const maxAncestry = 100_000

// factCache keeps facts about commit objects by mirror: whether one commit
// is an ancestor of another, a commit's patch-id, a cherry-pick found in a
// tip. Each never changes (a rewritten branch makes new commits, it does
// not change old ones' parents or diffs), so it needs no invalidation,
// only a bound. A walk over a long history (189 ms for 100,000 commits
// with the commit-graph) is then asked once.
type factCache[V any] struct {
	mu  sync.Mutex
	max int
	m   map[string]V
}

func (a *factCache[V]) get(key string) (v V, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v, ok = a.m[key]
	return v, ok
}

func (a *factCache[V]) put(key string, v V) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil || len(a.m) >= a.max {
		a.m = make(map[string]V) // start over: a bound, not an LRU
	}
	a.m[key] = v
}

// isAncestor asks the mirror in dir whether commit is an ancestor of tip;
// known is false when it lacks one of them.
func (c *Client) isAncestor(ctx context.Context, dir, commit, tip string) (ok, known bool, err error) {
	_, err = c.run(ctx, runOpts{dir: dir}, "merge-base", "--is-ancestor", commit, tip)
	exitErr, exited := errors.AsType[*exec.ExitError](err)
	switch {
	case err == nil:
		return true, true, nil
	case exited && exitErr.ExitCode() == 1:
		return false, true, nil
	case exited && exitErr.ExitCode() == 128:
		return false, false, nil // a missing object
	}
	return false, false, err
}
