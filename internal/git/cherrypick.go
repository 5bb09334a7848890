package git

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"

	"slipway.dev/slipway/internal/slipway"
)

// MaxPickWalk bounds how many commits of a tip's first-parent history
// [Client.CherryPick] reads: the newest ones since the fork. Reading
// 10,000 small commits' patches takes about 150 ms.
const MaxPickWalk = 10_000

// Cache bounds (entries of about 200 bytes each).
const (
	maxPatchIDs = 200_000
	maxPicks    = 100_000
)

// CherryPick looks in tip's first-parent history, from tip back to where
// it forked from commit (the commits `git rev-list --first-parent tip
// ^commit` lists, the newest MaxPickWalk of them), for a commit with the
// same `git patch-id --stable` as commit: a cherry-pick of it. It also
// says whether a newer commit on that path reverts the pick (its patch-id
// is that of commit's reverse diff). Both are full SHAs; commit is not an
// ancestor of tip (ask [Client.Contains] first: an ancestor finds
// nothing, as everything since the fork is newer than it).
//
// A merge commit, or a commit with no diff, has no patch-id: nothing is
// found. Patch-ids are computed only for commits not yet cached, in one
// `git diff-tree --stdin -p | git patch-id --stable` pipeline; patch-ids
// and answers are cached by mirror, as facts that never change. A commit
// the repository does not have has no cherry-pick; a tip it does not have
// wraps ErrRefNotFound.
func (c *Client) CherryPick(ctx context.Context, repository, commit, tip string) (slipway.CherryPick, error) {
	var none slipway.CherryPick
	if !slipway.IsFullCommit(commit) || !slipway.IsFullCommit(tip) {
		return none, fmt.Errorf("cherry-pick of %q in %q: %w: give full commit SHAs", commit, tip, ErrRefNotFound)
	}
	if commit == tip {
		return none, nil
	}
	if err := c.checkRepository(ctx, repository); err != nil {
		return none, err
	}
	r, err := c.remoteFor(ctx, repository)
	if err != nil {
		return none, err
	}
	key := r.mirror + " " + commit + " " + tip
	if p, ok := c.picks.get(key); ok {
		return p, nil
	}
	var (
		pick  slipway.CherryPick
		known bool
	)
	err = c.withMirror(ctx, r, func(dir string, fresh bool) error {
		var rng []string
		if !fresh {
			if rng, known, err = c.firstParentSince(ctx, dir, commit, tip); err != nil {
				return err
			}
		}
		if !known {
			if err := c.fetch(ctx, dir, r); err != nil {
				return err
			}
			if !c.hasCommit(ctx, dir, tip) {
				return fmt.Errorf("commit %s in %s: %w: no branch or tag of the repository contains it", tip, r.shown, ErrRefNotFound)
			}
			if !c.hasCommit(ctx, dir, commit) {
				return nil // not a commit of this repository (not cached: a later fetch may bring it)
			}
			if rng, known, err = c.firstParentSince(ctx, dir, commit, tip); err != nil {
				return err
			}
			if !known {
				return fmt.Errorf("first-parent history of %s since %s: the mirror lacks a commit after a fetch", tip, commit)
			}
		}
		pick, err = c.findPick(ctx, dir, r.mirror, commit, rng)
		return err
	})
	if err != nil {
		return none, fmt.Errorf("cherry-pick of %s in %s of %s: %w", commit, tip, slipway.RedactURL(repository), err)
	}
	if known {
		c.picks.put(key, pick)
	}
	return pick, nil
}

// firstParentSince lists tip's first-parent history that commit lacks,
// newest first, at most one more than the bound (MaxPickWalk); known is false when the
// mirror in dir lacks one of them.
func (c *Client) firstParentSince(ctx context.Context, dir, commit, tip string) (rng []string, known bool, err error) {
	out, err := c.run(ctx, runOpts{dir: dir}, "rev-list", "--first-parent", "-n", strconv.Itoa(c.pickWalk+1), tip, "^"+commit, "--")
	if exitErr, ok := errors.AsType[*exec.ExitError](err); ok && exitErr.ExitCode() == 128 {
		return nil, false, nil // a missing object
	}
	if err != nil {
		return nil, false, err
	}
	return strings.Fields(string(out)), true, nil
}

// findPick finds commit's cherry-pick among rng (newest first, one more
// than MaxPickWalk when the history is longer) in the mirror in dir, and
// a revert of it newer than it.
func (c *Client) findPick(ctx context.Context, dir, mirror, commit string, rng []string) (slipway.CherryPick, error) {
	var p slipway.CherryPick
	if len(rng) > c.pickWalk {
		rng, p.Partial = rng[:c.pickWalk], true
	}
	ids, err := c.patchIDsOf(ctx, dir, mirror, append([]string{commit}, rng...), false)
	if err != nil {
		return p, err
	}
	want := ids[commit]
	if want == "" || len(rng) == 0 {
		return p, nil // a merge or an empty commit has no patch to look for
	}
	rev, err := c.patchIDsOf(ctx, dir, mirror, []string{commit}, true)
	if err != nil {
		return p, err
	}
	undo, revert := rev[commit], ""
	for _, x := range rng {
		switch id := ids[x]; {
		case id == want:
			p.Commit, p.RevertedBy = x, revert
			return p, nil
		case id == undo && revert == "":
			revert = x // the newest revert, if a pick older than it is found
		}
	}
	return p, nil
}

// patchIDsOf returns the stable patch-id of each commit ("" for a merge or
// a commit without a diff), or of its reverse diff, from the cache or the
// mirror in dir: one pipeline for all the commits not cached.
func (c *Client) patchIDsOf(ctx context.Context, dir, mirror string, commits []string, reverse bool) (map[string]string, error) {
	prefix := mirror + " "
	if reverse {
		prefix = mirror + " -"
	}
	ids := make(map[string]string, len(commits))
	var missing []string
	for _, x := range commits {
		if id, ok := c.patchIDs.get(prefix + x); ok {
			ids[x] = id
		} else {
			missing = append(missing, x)
		}
	}
	if len(missing) == 0 {
		return ids, nil
	}
	computed, err := c.computePatchIDs(ctx, dir, missing, reverse)
	if err != nil {
		return nil, err
	}
	for _, x := range missing {
		ids[x] = computed[x] // "" when git printed none
		c.patchIDs.put(prefix+x, computed[x])
	}
	return ids, nil
}

// computePatchIDs runs `git diff-tree --stdin -p | git patch-id --stable` over
// commits in the mirror in dir. Binary changes are read in full
// (--binary): without it two different changes of one binary file would
// have the same patch-id.
func (c *Client) computePatchIDs(ctx context.Context, dir string, commits []string, reverse bool) (map[string]string, error) {
	args := []string{"diff-tree", "--stdin", "-p", "--root", "--binary", "--no-renames", "--no-color", "--no-ext-diff", "--no-textconv"}
	if reverse {
		// -R swaps the prefixes too: given swapped, the reverse diff names
		// files as a forward one does, which patch-id hashes.
		args = append(args, "-R", "--src-prefix=b/", "--dst-prefix=a/")
	} else {
		args = append(args, "--src-prefix=a/", "--dst-prefix=b/")
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := c.run(ctx, runOpts{dir: dir, stdin: strings.Join(commits, "\n") + "\n", stdout: pw}, args...)
		pw.CloseWithError(err) // nil: patch-id reads to the end
		done <- err
	}()
	out, err := c.run(ctx, runOpts{dir: dir, in: pr}, "patch-id", "--stable")
	_ = pr.Close() // a diff-tree still writing stops (io.Pipe: never an error)
	if derr := <-done; derr != nil {
		return nil, fmt.Errorf("diff-tree: %w", derr)
	}
	if err != nil {
		return nil, fmt.Errorf("patch-id: %w", err)
	}
	ids := make(map[string]string, len(commits))
	for line := range strings.Lines(string(out)) {
		if id, x, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			ids[x] = id
		}
	}
	return ids, nil
}

// MayHaveCherryPick reports whether the first-parent history of any of
// tips, since it forked from commit, may hold a cherry-pick of commit
// (reverted or not): false means [Client.CherryPick] finds none in any of
// them. It reads the union of those histories at once (one rev-list, one
// patch-id pipeline for the commits not cached), so a question about many
// releases costs one answer when no pick exists. It answers true when it
// cannot tell cheaply: the union is longer than MaxPickWalk, or the
// mirror lacks one of the commits even after a fetch.
func (c *Client) MayHaveCherryPick(ctx context.Context, repository, commit string, tips []string) (bool, error) {
	if !slipway.IsFullCommit(commit) {
		return false, fmt.Errorf("cherry-pick of %q: %w: give a full commit SHA", commit, ErrRefNotFound)
	}
	var uniq []string
	seen := map[string]bool{commit: true}
	for _, t := range tips {
		if !slipway.IsFullCommit(t) {
			return false, fmt.Errorf("cherry-pick of %s in %q: %w: give full commit SHAs", commit, t, ErrRefNotFound)
		}
		if !seen[t] {
			seen[t] = true
			uniq = append(uniq, t)
		}
	}
	if len(uniq) == 0 {
		return false, nil
	}
	if err := c.checkRepository(ctx, repository); err != nil {
		return false, err
	}
	r, err := c.remoteFor(ctx, repository)
	if err != nil {
		return false, err
	}
	may := true
	err = c.withMirror(ctx, r, func(dir string, fresh bool) error {
		args := append([]string{"rev-list", "--first-parent", "-n", strconv.Itoa(c.pickWalk + 1)}, uniq...)
		args = append(args, "^"+commit, "--")
		if fresh {
			if err := c.fetch(ctx, dir, r); err != nil {
				return err
			}
		}
		out, err := c.run(ctx, runOpts{dir: dir}, args...)
		if exitErr, ok := errors.AsType[*exec.ExitError](err); ok && exitErr.ExitCode() == 128 && !fresh {
			if err := c.fetch(ctx, dir, r); err != nil {
				return err
			}
			out, err = c.run(ctx, runOpts{dir: dir}, args...)
		}
		if exitErr, ok := errors.AsType[*exec.ExitError](err); ok && exitErr.ExitCode() == 128 {
			return nil // a commit is missing: each tip is asked on its own
		}
		if err != nil {
			return err
		}
		union := strings.Fields(string(out))
		if len(union) > c.pickWalk {
			return nil
		}
		ids, err := c.patchIDsOf(ctx, dir, r.mirror, append([]string{commit}, union...), false)
		if err != nil {
			return err
		}
		want := ids[commit]
		may = false
		for _, x := range union {
			may = may || (want != "" && ids[x] == want)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("cherry-picks of %s in %d commits of %s: %w", commit, len(uniq), slipway.RedactURL(repository), err)
	}
	return may, nil
}
