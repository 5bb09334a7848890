package git

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// Between returns the commits that moving what runs from commit from to
// commit to brings in (reachable from to, not from from) and takes out
// (reachable from from, not from to), newest first, at most max of each;
// truncated is true when there were more. Both are full SHAs. The mirror
// is fetched when it lacks one of them.
func (c *Client) Between(ctx context.Context, repository, from, to string, maxCommits int) (added, removed []slipway.CommitInfo, truncated bool, err error) {
	if !slipway.IsFullCommit(from) || !slipway.IsFullCommit(to) {
		return nil, nil, false, fmt.Errorf("commits between %q and %q: %w: give full commit SHAs", from, to, ErrRefNotFound)
	}
	if from == to {
		return nil, nil, false, nil
	}
	if err := c.checkRepository(ctx, repository); err != nil {
		return nil, nil, false, err
	}
	r, err := c.remoteFor(ctx, repository)
	if err != nil {
		return nil, nil, false, err
	}
	err = c.withMirror(ctx, r, func(dir string, fresh bool) error {
		if fresh || len(c.missingCommits(ctx, dir, []string{from, to})) > 0 {
			if err := c.fetch(ctx, dir, r); err != nil {
				return err
			}
		}
		if missing := c.missingCommits(ctx, dir, []string{from, to}); len(missing) > 0 {
			return fmt.Errorf("commit %s in %s: %w: no branch or tag of the repository contains it", missing[0], r.shown, ErrRefNotFound)
		}
		var t1, t2 bool
		if added, t1, err = c.commitLog(ctx, dir, from, to, maxCommits); err != nil {
			return err
		}
		removed, t2, err = c.commitLog(ctx, dir, to, from, maxCommits)
		truncated = t1 || t2
		return err
	})
	if err != nil {
		return nil, nil, false, fmt.Errorf("commits between %s and %s of %s: %w", from, to, slipway.RedactURL(repository), err)
	}
	return added, removed, truncated, nil
}

// commitLog lists the commits of tip that base does not have, newest
// first, at most maxCommits.
func (c *Client) commitLog(ctx context.Context, dir, base, tip string, maxCommits int) ([]slipway.CommitInfo, bool, error) {
	out, err := c.run(ctx, runOpts{dir: dir}, "log", "--max-count="+strconv.Itoa(maxCommits+1),
		"--format=%H%x1f%an%x1f%at%x1f%s%x1e", base+".."+tip, "--")
	if err != nil {
		return nil, false, err
	}
	var cs []slipway.CommitInfo
	for rec := range strings.SplitSeq(string(out), "\x1e") {
		f := strings.Split(strings.TrimLeft(rec, "\n"), "\x1f")
		if len(f) != 4 {
			continue
		}
		sec, _ := strconv.ParseInt(f[2], 10, 64)
		cs = append(cs, slipway.CommitInfo{Commit: f[0], Author: f[1], At: time.Unix(sec, 0).UTC(), Subject: f[3]})
	}
	if len(cs) > maxCommits {
		return cs[:maxCommits], true, nil
	}
	return cs, false, nil
}
