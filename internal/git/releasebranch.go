package git

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"slipway.dev/slipway/internal/slipway"
)

// Release branches: a frozen cut of a tool (slipway.Cut) is a branch of
// the tool's repository, release/<name>, that Slipway itself writes. It
// creates the branch at the cut's commit, and moves it only by a
// cherry-pick it makes (an approved change request): the pick commit is
// made in a temporary worktree of the server's mirror, so it shares the
// mirror's objects, and pushed without force, so a branch moved meanwhile
// by someone else is refused, not overwritten.

// ErrPickConflict means a cherry-pick does not apply cleanly; the wrapping
// message names the conflicting paths.
var ErrPickConflict = slipway.ErrPickConflict

// ErrBranchMoved means a release branch is not where Slipway left it (a
// push from elsewhere), so Slipway does not overwrite it.
var ErrBranchMoved = slipway.ErrBranchMoved

// committer is who the server's commits name as committer; the author
// stays the picked commit's.
var committer = []string{"-c", "user.name=Slipway", "-c", "user.email=slipway@localhost", "-c", "commit.gpgsign=false"}

// PushBranch makes branch (a name under refs/heads/) point at commit in
// repository. old is where the branch must be now: "" when it must not
// exist yet (a branch already at commit is fine: a retried push), else a
// full SHA. It never forces: a branch elsewhere fails with
// [ErrBranchMoved].
func (c *Client) PushBranch(ctx context.Context, repository, branch, commit, old string) error {
	if err := checkBranchName(branch); err != nil {
		return err
	}
	if !slipway.IsFullCommit(commit) || (old != "" && !slipway.IsFullCommit(old)) {
		return fmt.Errorf("push %s: %w: give full commit SHAs", branch, ErrRefNotFound)
	}
	if err := c.checkRepository(ctx, repository); err != nil {
		return err
	}
	r, err := c.remoteFor(ctx, repository)
	if err != nil {
		return err
	}
	dir, err := c.ensureCommit(ctx, r, commit)
	if err != nil {
		return err
	}
	return c.withMirror(ctx, r, func(string, bool) error { return c.push(ctx, dir, r, branch, commit, old) })
}

// push pushes commit to branch of r with a lease on old ("" : absent),
// from the mirror in dir (locked by the caller).
func (c *Client) push(ctx context.Context, dir string, r *remote, branch, commit, old string) error {
	ref := "refs/heads/" + branch
	nctx, cancel := c.networkContext(ctx, r)
	defer cancel()
	if err := c.checkConnect(nctx, r); err != nil {
		return fmt.Errorf("push %s to %s: %w", branch, r.shown, err)
	}
	cur, err := c.lsRemote(nctx, r, []string{ref})
	if err != nil {
		return fmt.Errorf("push %s to %s: %w", branch, r.shown, err)
	}
	switch now, exists := cur[ref]; {
	case exists && now == commit:
		return nil // pushed before (a retry)
	case exists && now != old, !exists && old != "":
		return fmt.Errorf("push %s to %s: %w: it is at %s, Slipway left it at %s", branch, r.shown, ErrBranchMoved, short(cur[ref]), short(old))
	}
	// --force-with-lease with an expected value refuses a branch moved
	// between the ls-remote above and the push; an empty one, a branch
	// created meanwhile.
	if _, err := c.run(nctx, runOpts{dir: dir, remote: r}, "push", "--quiet", "--no-verify", "--force-with-lease="+ref+":"+old,
		"--", r.url, commit+":"+ref); err != nil {
		return fmt.Errorf("push %s to %s: %w", branch, r.shown, err)
	}
	return nil
}

// CherryPickOnto makes a commit that applies commit's change onto onto
// (`git cherry-pick -x`: the message gains "(cherry picked from commit
// …)"), pushes it to branch (which must be at onto), and returns it.
// A pick that does not apply cleanly fails with [ErrPickConflict] and
// changes nothing; a merge commit is refused.
func (c *Client) CherryPickOnto(ctx context.Context, repository, branch, commit, onto string) (string, error) {
	if err := checkBranchName(branch); err != nil {
		return "", err
	}
	if !slipway.IsFullCommit(commit) || !slipway.IsFullCommit(onto) {
		return "", fmt.Errorf("cherry-pick %q onto %q: %w: give full commit SHAs", commit, onto, ErrRefNotFound)
	}
	if err := c.checkRepository(ctx, repository); err != nil {
		return "", err
	}
	r, err := c.remoteFor(ctx, repository)
	if err != nil {
		return "", err
	}
	if _, err := c.ensureCommit(ctx, r, onto); err != nil {
		return "", err
	}
	dir, err := c.ensureCommit(ctx, r, commit)
	if err != nil {
		return "", err
	}
	var picked string
	err = c.withMirror(ctx, r, func(string, bool) error {
		parents, err := c.run(ctx, runOpts{dir: dir}, "rev-list", "--parents", "-n", "1", commit)
		if err != nil {
			return err
		}
		if len(strings.Fields(string(parents))) > 2 {
			return fmt.Errorf("%s is a merge commit: pick the commits it merges, one change request each", short(commit))
		}
		wt, err := os.MkdirTemp(c.cfg.CacheDir, "pick-")
		if err != nil {
			return err
		}
		defer func() {
			_, _ = c.run(context.WithoutCancel(ctx), runOpts{dir: dir}, "worktree", "remove", "--force", wt)
			_ = os.RemoveAll(wt)
			_, _ = c.run(context.WithoutCancel(ctx), runOpts{dir: dir}, "worktree", "prune")
		}()
		if _, err := c.run(ctx, runOpts{dir: dir}, "worktree", "add", "--quiet", "--detach", wt, onto); err != nil {
			return fmt.Errorf("check out %s: %w", short(onto), err)
		}
		args := append(append([]string{}, committer...), "cherry-pick", "-x", "--allow-empty", commit)
		if _, err := c.run(ctx, runOpts{dir: wt}, args...); err != nil {
			files, _ := c.run(ctx, runOpts{dir: wt}, "diff", "--name-only", "--diff-filter=U")
			_, _ = c.run(ctx, runOpts{dir: wt}, "cherry-pick", "--abort")
			if names := strings.Fields(string(files)); len(names) > 0 {
				return fmt.Errorf("%s onto %s: %w: conflicts in %s", short(commit), short(onto), ErrPickConflict, strings.Join(names, ", "))
			}
			return fmt.Errorf("cherry-pick %s onto %s: %w", short(commit), short(onto), err)
		}
		out, err := c.run(ctx, runOpts{dir: wt}, "rev-parse", "HEAD")
		if err != nil {
			return err
		}
		picked = strings.TrimSpace(string(out))
		return c.push(ctx, dir, r, branch, picked, onto)
	})
	if err != nil {
		return "", fmt.Errorf("cherry-pick %s onto %s of %s: %w", short(commit), branch, slipway.RedactURL(repository), err)
	}
	return picked, nil
}

// checkBranchName refuses a branch name git would not take or that could
// be read as an option.
func checkBranchName(branch string) error {
	if branch == "" || strings.HasPrefix(branch, "-") || strings.ContainsAny(branch, " ~^:?*[\\\x00\n\r\t") ||
		strings.Contains(branch, "..") || strings.HasSuffix(branch, ".lock") || strings.HasSuffix(branch, "/") ||
		filepath.Clean(branch) != branch {
		return fmt.Errorf("branch %q: %w: not a branch name", branch, ErrRefNotFound)
	}
	return nil
}

// short returns a commit's first 12 hex digits.
func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}
