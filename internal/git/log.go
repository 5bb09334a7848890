package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// MaxLogCommits bounds the commits one [Client.FirstParentLog] returns:
// release notes of a longer span list the newest ones and say so.
const MaxLogCommits = 10_000

// maxCommitBody bounds the message body kept per commit (the subject and
// the trailers are kept whole): notes show subjects, and look in the body
// only for a BREAKING CHANGE footer and the commit a revert reverts.
const maxCommitBody = 8 << 10

// logFormat is one commit of `git log -z`: NUL-separated fields, and with
// -z a NUL after the record. git refuses a NUL inside a commit message, so
// no field holds one; the parser checks the shape all the same.
const logFormat = "%H%x00%P%x00%an%x00%ae%x00%at%x00%s%x00%b%x00%(trailers:only,unfold)"

// logFields is how many fields logFormat has.
const logFields = 8

// FirstParentLog returns the commits that `git log --first-parent to
// ^from` lists: to and its first parents back to, and without, the first
// one that from's first-parent history has (from "" excludes nothing),
// newest first, at most limit of them (limit ≤ 0 or over
// [MaxLogCommits]: MaxLogCommits); Truncated says there were more. On a
// merge workflow that is the merges, not the merged branches' commits.
// Both commits are full SHAs; the mirror is fetched when it lacks one, and
// a commit the repository does not have (a branch rewritten and its old
// commits gone, or another repository's commit) is named in Missing, with
// no commits listed. Answers are cached by (mirror, from, to, limit): the
// history behind two commits never changes. The returned log is shared:
// callers must not modify it.
func (c *Client) FirstParentLog(ctx context.Context, repository, from, to string, limit int) (slipway.CommitLog, error) {
	if limit <= 0 || limit > MaxLogCommits {
		limit = MaxLogCommits
	}
	if !slipway.IsFullCommit(to) || (from != "" && !slipway.IsFullCommit(from)) {
		return slipway.CommitLog{}, fmt.Errorf("log %q..%q: %w: give full commit SHAs", from, to, ErrRefNotFound)
	}
	if err := c.checkRepository(ctx, repository); err != nil {
		return slipway.CommitLog{}, err
	}
	r, err := c.remoteFor(ctx, repository)
	if err != nil {
		return slipway.CommitLog{}, err
	}
	key := r.mirror + " " + from + " " + to + " " + strconv.Itoa(limit)
	if l, ok := c.logs.get(key); ok {
		return l, nil
	}
	var out slipway.CommitLog
	err = c.withMirror(ctx, r, func(dir string, fresh bool) error {
		if !fresh {
			l, err := c.log(ctx, dir, from, to, limit)
			exitErr, exited := errors.AsType[*exec.ExitError](err)
			if err == nil || !exited || exitErr.ExitCode() != 128 {
				out = l
				return err
			}
			// 128: a commit the mirror lacks (or worse: the fetch tells).
		}
		if err := c.fetch(ctx, dir, r); err != nil {
			return err
		}
		want := []string{to}
		if from != "" {
			want = append(want, from)
		}
		if out.Missing = c.missingCommits(ctx, dir, want); len(out.Missing) > 0 {
			return nil
		}
		out, err = c.log(ctx, dir, from, to, limit)
		return err
	})
	if err != nil {
		return slipway.CommitLog{}, fmt.Errorf("log %s of %s: %w", logRange(from, to), slipway.RedactURL(repository), err)
	}
	if len(out.Missing) == 0 {
		c.logs.put(key, out)
	}
	return out, nil
}

// logRange names a range as git writes it, with short SHAs.
func logRange(from, to string) string {
	if from == "" {
		return to[:12]
	}
	return from[:12] + ".." + to[:12]
}

// missingCommits returns those of commits the mirror in dir lacks.
func (c *Client) missingCommits(ctx context.Context, dir string, commits []string) []string {
	var missing []string
	for _, commit := range commits {
		if !c.hasCommit(ctx, dir, commit) {
			missing = append(missing, commit)
		}
	}
	return missing
}

// log runs the first-parent log of from..to in the mirror in dir.
func (c *Client) log(ctx context.Context, dir, from, to string, limit int) (slipway.CommitLog, error) {
	args := []string{
		"log", "--first-parent", "-z", "--no-color", "--no-notes", "--format=" + logFormat,
		"-n", strconv.Itoa(limit + 1), to,
	}
	if from != "" {
		args = append(args, "^"+from)
	}
	out, err := c.run(ctx, runOpts{dir: dir}, append(args, "--")...)
	if err != nil {
		return slipway.CommitLog{}, err
	}
	commits, err := parseLog(out)
	if err != nil {
		return slipway.CommitLog{}, err
	}
	l := slipway.CommitLog{Commits: commits}
	if len(commits) > limit {
		l.Commits, l.Truncated = commits[:limit], true
	}
	return l, nil
}

// parseLog reads the output of `git log -z --format=<logFormat>`.
func parseLog(out []byte) ([]slipway.Commit, error) {
	fields := bytes.Split(out, []byte{0})
	if n := len(fields); n > 0 && len(fields[n-1]) == 0 {
		fields = fields[:n-1] // after the last record's NUL
	}
	if len(fields)%logFields != 0 {
		return nil, fmt.Errorf("git log: %d fields, not records of %d", len(fields), logFields)
	}
	commits := make([]slipway.Commit, 0, len(fields)/logFields)
	for i := 0; i < len(fields); i += logFields {
		f := fields[i : i+logFields]
		hash := strings.TrimLeft(string(f[0]), "\n") // -z puts no newline between records; be lenient
		if !slipway.IsFullCommit(hash) {
			return nil, fmt.Errorf("git log: record %d: %q is not a commit SHA", i/logFields, hash)
		}
		at, err := strconv.ParseInt(string(f[4]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("git log: commit %s: author time %q: %w", hash, f[4], err)
		}
		body := strings.TrimRight(string(f[6]), "\n")
		if len(body) > maxCommitBody {
			body = strings.ToValidUTF8(body[:maxCommitBody], "") + "…"
		}
		commits = append(commits, slipway.Commit{
			Hash:        hash,
			Parents:     strings.Fields(string(f[1])),
			Author:      string(f[2]),
			AuthorEmail: string(f[3]),
			AuthoredAt:  time.Unix(at, 0).UTC(),
			Subject:     string(f[5]),
			Body:        body,
			Trailers:    parseTrailers(string(f[7])),
		})
	}
	return commits, nil
}

// parseTrailers reads `%(trailers:only,unfold)`: one "Key: value" a line.
func parseTrailers(s string) []slipway.Trailer {
	var out []slipway.Trailer
	for line := range strings.Lines(s) {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\n"), ":")
		if !ok || k == "" {
			continue
		}
		out = append(out, slipway.Trailer{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
	}
	return out
}

// maxLogCache bounds the commits all cached logs hold together (a few
// hundred bytes each, with their bodies capped at maxCommitBody).
const maxLogCache = 200_000

// logCache keeps first-parent logs by (mirror, from, to, limit): the
// commits behind two commits never change (a rewritten branch makes new
// commits), so it needs no invalidation, only a bound.
type logCache struct {
	mu      sync.Mutex
	m       map[string]slipway.CommitLog
	commits int
}

func (l *logCache) get(key string) (slipway.CommitLog, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.m[key]
	return v, ok
}

func (l *logCache) put(key string, v slipway.CommitLog) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(v.Commits) + 1
	if l.m == nil || l.commits+n > maxLogCache {
		l.m, l.commits = make(map[string]slipway.CommitLog), 0 // start over: a bound, not an LRU
	}
	l.m[key] = v
	l.commits += n
}
