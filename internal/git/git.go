// Package git is Slipway's source adapter: it resolves refs of remote
// repositories to commits and writes the tree of a commit into a directory.
// It drives the git command-line tool (never a Go reimplementation), so
// git's own transports work: http, https, ssh, git, and file when allowed.
//
// # Resolving refs
//
// A ref is a branch, a tag (annotated tags are peeled to their commit), a
// full ref name such as refs/heads/main, or a full or short (at least four
// hex digits) commit SHA. Names follow git's own order: refs/<ref>, then
// refs/tags/<ref>, then refs/heads/<ref>. Names are resolved with a single
// `git ls-remote`, which keeps the no-op redeploy cheap. Only a SHA-looking
// ref that names no ref needs the repository's objects: the local mirror is
// fetched and the SHA looked up there.
//
// # Mirrors
//
// [Config.CacheDir] holds one bare mirror per repository, named by a hash of
// its URL. A mirror is guarded by a mutex inside the process and by a flock
// on a lock file next to it, so two server processes never fetch into one
// mirror at once. A mirror holds the repository's branches and tags, so only
// commits reachable from them can be found by SHA. Credentials in URLs are
// never written to the mirror's config (the URL is passed on each fetch) and
// are redacted from errors.
//
// # Isolation
//
// Git runs with GIT_TERMINAL_PROMPT=0, without system or user config (HOME
// is a directory under CacheDir), without hooks, and with the git
// environment variables of this process removed. Local repositories
// (file:// URLs and absolute paths) are refused unless [Config.AllowLocal]
// is set. Every git command runs in its own process group, killed when its
// context is done; network operations also have [Config.Timeout].
package git

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"slipway.dev/slipway/internal/flock"
)

// DefaultTimeout is the default limit of one git network operation.
const DefaultTimeout = 2 * time.Minute

// Errors returned (wrapped) by [Client] methods. All of them are permanent:
// [IsTransient] reports false for them.
var (
	// ErrRefNotFound means the ref names no branch, tag or commit of the
	// repository. The wrapping message names the ref and the repository.
	ErrRefNotFound = errors.New("ref not found")
	// ErrAmbiguousRef means a short SHA matches several commits; the
	// wrapping message lists them.
	ErrAmbiguousRef = errors.New("short commit SHA is ambiguous")
	// ErrLocalNotAllowed means the repository is a local path or a file://
	// URL and [Config.AllowLocal] is off.
	ErrLocalNotAllowed = errors.New("local repositories are not allowed on this server")
	// ErrInvalidRepository means the repository is not a URL git may use
	// here (an unsupported scheme, a relative path, an option).
	ErrInvalidRepository = errors.New("invalid repository")
)

// Config configures a [Client].
type Config struct {
	// CacheDir holds one bare mirror per repository (named by a hash of the
	// URL), their lock files, and the HOME git runs with. Required.
	CacheDir string
	// AllowLocal permits file:// URLs and absolute local paths as
	// repositories (on in the embedded default, off on shared servers).
	AllowLocal bool
	// Timeout limits each git network operation (ls-remote, fetch).
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// DiskCheck, when set, is asked before each fetch into a mirror (a
	// first fetch can be the whole history): its error (the data
	// directory's filesystem is under its free-space floor) is the
	// fetch's, and nothing is fetched.
	DiskCheck func() error
}

// Client runs git for Slipway. It is safe for concurrent use.
type Client struct {
	cfg  Config
	home string

	mu    sync.Mutex
	locks map[string]chan struct{} // mirror name → 1-slot semaphore
}

// New returns a Client that keeps its mirrors in cfg.CacheDir, creating the
// directory if needed.
func New(cfg Config) (*Client, error) {
	if cfg.CacheDir == "" {
		return nil, errors.New("git: CacheDir is required")
	}
	dir, err := filepath.Abs(cfg.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("git: cache dir: %w", err)
	}
	cfg.CacheDir = dir
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	c := &Client{cfg: cfg, home: filepath.Join(dir, "home"), locks: map[string]chan struct{}{}}
	for _, d := range []string{c.home, filepath.Join(dir, "mirrors")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("git: %w", err)
		}
	}
	return c, nil
}

var (
	shaRE      = regexp.MustCompile(`^[0-9a-fA-F]{4,64}$`)
	fullSHARE  = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
	schemeRE   = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)
	helperRE   = regexp.MustCompile(`^[A-Za-z0-9+.-]+::`)
	scpLikeRE  = regexp.MustCompile(`^[^/]*:`)
	refHintMsg = "a ref is a branch, a tag, a full ref name like refs/heads/main, or a commit SHA of at least 4 hex digits"
)

// checkRepository returns an error when repository may not be used.
func (c *Client) checkRepository(repository string) error {
	local := false
	switch {
	case repository == "", strings.HasPrefix(repository, "-"), strings.ContainsAny(repository, "\x00\n\r"):
		return fmt.Errorf("repository %q: %w", repository, ErrInvalidRepository)
	case schemeRE.MatchString(repository):
		switch scheme := strings.ToLower(schemeRE.FindStringSubmatch(repository)[1]); scheme {
		case "https", "http", "ssh", "git", "git+ssh", "ssh+git":
		case "file":
			local = true
		default:
			return fmt.Errorf("repository %s: %w: scheme %q is not supported", redact(repository), ErrInvalidRepository, scheme)
		}
	case helperRE.MatchString(repository):
		return fmt.Errorf("repository %s: %w: remote helpers are not supported", redact(repository), ErrInvalidRepository)
	case filepath.IsAbs(repository):
		local = true
	case scpLikeRE.MatchString(repository):
		// user@host:path, git's scp-like ssh syntax.
	default:
		return fmt.Errorf("repository %s: %w: want a URL or an absolute path", redact(repository), ErrInvalidRepository)
	}
	if local && !c.cfg.AllowLocal {
		return fmt.Errorf("repository %s: %w", repository, ErrLocalNotAllowed)
	}
	return nil
}

// Resolve returns the full commit SHA that ref names in repository: a
// branch, a tag (annotated tags peeled to their commit), a full ref name
// (refs/heads/x), or a full or short (at least 4 hex digits) commit SHA.
//
// Branches and tags resolve with one `git ls-remote`. A SHA-looking ref that
// names no ref is looked up in the repository's mirror after a fetch.
// Errors wrap [ErrRefNotFound], [ErrAmbiguousRef], [ErrLocalNotAllowed],
// [ErrInvalidRepository], or git's failure (see [IsTransient]).
func (c *Client) Resolve(ctx context.Context, repository, ref string) (string, error) {
	m, err := c.ResolveAll(ctx, repository, []string{ref})
	if err != nil {
		return "", err
	}
	return m[ref], nil
}

// ResolveAll resolves several refs of one repository as [Client.Resolve]
// does, with a single ls-remote and at most one fetch. The map holds the refs
// that resolved; err joins the failures of the others (each names its ref).
func (c *Client) ResolveAll(ctx context.Context, repository string, refs []string) (map[string]string, error) {
	if err := c.checkRepository(repository); err != nil {
		return nil, err
	}
	advertised, err := c.lsRemote(ctx, repository)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(refs))
	var errs []error
	var shas []string // refs to look up in the mirror
	for _, ref := range refs {
		if _, done := out[ref]; done || slices.Contains(shas, ref) {
			continue
		}
		if ref == "" || strings.HasPrefix(ref, "-") || strings.ContainsAny(ref, "\x00\n\r") {
			errs = append(errs, fmt.Errorf("resolve %q in %s: %w: %s", ref, redact(repository), ErrRefNotFound, refHintMsg))
			continue
		}
		if sha, ok := lookupName(advertised, ref); ok {
			out[ref] = sha
			continue
		}
		if !shaRE.MatchString(ref) {
			errs = append(errs, fmt.Errorf("resolve %q in %s: %w: %s", ref, redact(repository), ErrRefNotFound, refHintMsg))
			continue
		}
		lower := strings.ToLower(ref)
		if fullSHARE.MatchString(lower) && slices.Contains(slices.Collect(maps.Values(advertised)), lower) {
			out[ref] = lower // the tip of some ref: no need for objects
			continue
		}
		shas = append(shas, ref)
	}
	if len(shas) > 0 {
		found, err := c.resolveSHAs(ctx, repository, shas)
		if err != nil {
			return nil, err
		}
		for _, ref := range shas {
			sha, candidates := found[ref].sha, found[ref].candidates
			switch {
			case sha != "":
				out[ref] = sha
			case len(candidates) > 1:
				errs = append(errs, fmt.Errorf("resolve %q in %s: %w: candidates are %s", ref, redact(repository), ErrAmbiguousRef, strings.Join(candidates, ", ")))
			default:
				errs = append(errs, fmt.Errorf("resolve %q in %s: %w: %s", ref, redact(repository), ErrRefNotFound, refHintMsg))
			}
		}
	}
	return out, errors.Join(errs...)
}

// lookupName finds ref among the advertised refs the way git's rev-parse
// does, preferring the peeled commit of an annotated tag.
func lookupName(advertised map[string]string, ref string) (string, bool) {
	var candidates []string
	if ref == "HEAD" || strings.HasPrefix(ref, "refs/") {
		candidates = append(candidates, ref)
	}
	candidates = append(candidates, "refs/"+ref, "refs/tags/"+ref, "refs/heads/"+ref)
	for _, name := range candidates {
		if sha, ok := advertised[name+"^{}"]; ok {
			return sha, true
		}
		if sha, ok := advertised[name]; ok {
			return sha, true
		}
	}
	return "", false
}

// lsRemote returns the repository's advertised refs, name → object SHA
// (peeled tags as "name^{}").
func (c *Client) lsRemote(ctx context.Context, repository string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	out, err := c.run(ctx, runOpts{network: true, repo: repository}, "ls-remote", "--", repository)
	if err != nil {
		return nil, fmt.Errorf("ls-remote %s: %w", redact(repository), err)
	}
	refs := map[string]string{}
	for line := range strings.SplitSeq(string(out), "\n") {
		sha, name, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if ok {
			refs[name] = strings.ToLower(sha)
		}
	}
	return refs, nil
}

type shaResult struct {
	sha        string
	candidates []string
}

// resolveSHAs looks up SHA-looking refs in the mirror. Full SHAs already in
// the mirror need no fetch; otherwise the mirror is fetched first.
func (c *Client) resolveSHAs(ctx context.Context, repository string, refs []string) (map[string]shaResult, error) {
	out := map[string]shaResult{}
	err := c.withMirror(ctx, repository, func(dir string, fresh bool) error {
		needFetch := fresh
		for _, ref := range refs {
			lower := strings.ToLower(ref)
			if !fullSHARE.MatchString(lower) || !c.hasCommit(ctx, dir, lower) {
				needFetch = true
			}
		}
		if needFetch {
			if err := c.fetch(ctx, dir, repository); err != nil {
				return err
			}
		}
		for _, ref := range refs {
			candidates, err := c.commitsWithPrefix(ctx, dir, strings.ToLower(ref))
			if err != nil {
				return fmt.Errorf("resolve %q in %s: %w", ref, redact(repository), err)
			}
			r := shaResult{candidates: candidates}
			if len(candidates) == 1 {
				r.sha = candidates[0]
			}
			out[ref] = r
		}
		return nil
	})
	return out, err
}

// commitsWithPrefix returns the commits of the mirror in dir whose SHA
// starts with prefix (annotated tag objects count as their commit).
func (c *Client) commitsWithPrefix(ctx context.Context, dir, prefix string) ([]string, error) {
	if fullSHARE.MatchString(prefix) {
		if c.hasCommit(ctx, dir, prefix) {
			return []string{prefix}, nil
		}
		return nil, nil
	}
	// --disambiguate lists every object with the prefix; keep the commits.
	out, err := c.run(ctx, runOpts{dir: dir}, "rev-parse", "--disambiguate="+prefix)
	if err != nil {
		return nil, fmt.Errorf("git rev-parse: %w", err)
	}
	objects := strings.Fields(string(out))
	if len(objects) == 0 {
		return nil, nil
	}
	var stdin strings.Builder
	for _, o := range objects {
		stdin.WriteString(o + "^{commit}\n")
	}
	out, err = c.run(ctx, runOpts{dir: dir, stdin: stdin.String()}, "cat-file", "--batch-check=%(objectname) %(objecttype)")
	if err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	var commits []string
	for line := range strings.SplitSeq(string(out), "\n") {
		sha, typ, _ := strings.Cut(strings.TrimSpace(line), " ")
		if typ == "commit" && !slices.Contains(commits, sha) {
			commits = append(commits, sha)
		}
	}
	slices.Sort(commits)
	return commits, nil
}

// hasCommit reports whether the mirror in dir has commit.
func (c *Client) hasCommit(ctx context.Context, dir, commit string) bool {
	_, err := c.run(ctx, runOpts{dir: dir}, "cat-file", "-e", commit+"^{commit}")
	return err == nil
}

// mirrorName returns the directory name of repository's mirror.
func mirrorName(repository string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(repository)))
	return hex.EncodeToString(sum[:])[:24]
}

// withMirror runs fn with repository's mirror locked against other
// goroutines and processes. fresh is true when the mirror was just created.
func (c *Client) withMirror(ctx context.Context, repository string, fn func(dir string, fresh bool) error) error {
	name := mirrorName(repository)
	c.mu.Lock()
	sem, ok := c.locks[name]
	if !ok {
		sem = make(chan struct{}, 1)
		c.locks[name] = sem
	}
	c.mu.Unlock()
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("lock mirror of %s: %w", redact(repository), ctx.Err())
	}
	defer func() { <-sem }()

	base := filepath.Join(c.cfg.CacheDir, "mirrors", name)
	unlock, err := flock.Lock(ctx, base+".lock")
	if err != nil {
		return fmt.Errorf("lock mirror of %s: %w", redact(repository), err)
	}
	defer unlock()

	dir := base + ".git"
	fresh := false
	if _, err := os.Stat(filepath.Join(dir, "objects")); err != nil {
		// A crash may have left a half-made directory: init is idempotent.
		if _, err := c.run(ctx, runOpts{}, "init", "-q", "--bare", "--template=", dir); err != nil {
			return fmt.Errorf("create mirror of %s: %w", redact(repository), err)
		}
		fresh = true
	}
	return fn(dir, fresh)
}

// fetch updates the branches and tags of the mirror in dir from repository
// (other refs, such as a forge's refs/pull/*, are left out: they can be
// many). The caller holds the mirror's lock.
func (c *Client) fetch(ctx context.Context, dir, repository string) error {
	if c.cfg.DiskCheck != nil {
		if err := c.cfg.DiskCheck(); err != nil {
			return fmt.Errorf("fetch %s: %w", redact(repository), err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	_, err := c.run(ctx, runOpts{dir: dir, network: true, repo: repository},
		"fetch", "--quiet", "--prune", "--no-tags", "--no-write-fetch-head", "--", repository, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
	if err != nil {
		return fmt.Errorf("fetch %s: %w", redact(repository), err)
	}
	return nil
}

// ensureCommit makes sure the mirror has commit, fetching if it does not.
func (c *Client) ensureCommit(ctx context.Context, repository, commit string) (dir string, err error) {
	err = c.withMirror(ctx, repository, func(d string, fresh bool) error {
		dir = d
		if !fresh && c.hasCommit(ctx, d, commit) {
			return nil
		}
		if err := c.fetch(ctx, d, repository); err != nil {
			return err
		}
		if !c.hasCommit(ctx, d, commit) {
			return fmt.Errorf("commit %s in %s: %w: no branch or tag of the repository contains it", commit, redact(repository), ErrRefNotFound)
		}
		return nil
	})
	return dir, err
}
