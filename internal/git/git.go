// Package git is Slipway's source adapter: it resolves refs of remote
// repositories to commits and writes the tree of a commit into a directory.
// It drives the git command-line tool, so git's own transports work:
// http, https, ssh, git, and file when allowed. One operation is done
// natively, because polling does it for every repository every minute and
// a git process costs ~30 ms of CPU: listing a repository's refs (what
// `git ls-remote` prints) over smart HTTP (protocol v2's ls-refs with only
// the ref prefixes a resolve needs, else the v0/v1 advertisement; see
// httprefs.go) and from a plain local repository's files (localrefs.go).
// Everything else, and whatever those do not read themselves (ssh, git://,
// a proxy, dumb HTTP, reftable, a packed tag object…), is git's.
//
// # Resolving refs
//
// A ref is a branch, a tag (annotated tags are peeled to their commit), a
// full ref name such as refs/heads/main, or a full or short (at least four
// hex digits) commit SHA. Names follow git's own order: refs/<ref>, then
// refs/tags/<ref>, then refs/heads/<ref>. Names are resolved with a single ref
// listing (what `git ls-remote` prints, read natively where it can be),
// which keeps the no-op redeploy cheap. Only a SHA-looking
// ref that names no ref needs the repository's objects: the local mirror is
// fetched and the SHA looked up there.
//
// # Mirrors
//
// [Config.CacheDir] holds one bare mirror per repository, named by a hash of
// its URL. A mirror is guarded by a mutex inside the process and by a flock
// on a lock file next to it, so two server processes never fetch into one
// mirror at once. A mirror holds the repository's branches and tags, so only
// commits reachable from them can be found by SHA. The URL is passed on each
// fetch, never written to the mirror's config.
//
// # Credentials
//
// A repository URL with a credential is https://***@host/path: the
// credential is the tool's, stored apart ([Config.Credentials] finds it by
// the tool of the context's [slipway.SourceScope] and that URL), or, for a
// config that is planned without being stored, in the scope itself. A URL
// that still carries user:pass works the same way. Git is given the URL
// without user info and reads the credential from a credential helper
// scoped to the URL's scheme, host and port, which prints what git's
// environment holds: the credential is never in git's arguments, in a file,
// or in git's output. What a credential fetches goes into a mirror of the
// tool's own, so another tool naming the same repository without that
// credential (or with its own) never resolves or checks out a commit that
// only the first tool's credential could read: every resolve and checkout of
// a private repository goes through the tool's own credential.
//
// # Isolation
//
// Git runs with GIT_TERMINAL_PROMPT=0, without system or user config (HOME
// is a directory under CacheDir), without hooks, and with the git
// environment variables of this process removed. Local repositories
// (file:// URLs and absolute paths) are refused unless [Config.AllowLocal]
// is set; when the context's [slipway.SourceScope] is not the admin's, they
// must also lie inside [Config.LocalDirs] (see internal/localrepo). Every
// git command runs in its own process group, killed when its context is
// done.
//
// # Timeouts
//
// Every network operation (ls-remote, fetch) has three limits, each
// reported as a [*TimeoutError] naming the host and the limit: a connect
// timeout ([Config.ConnectTimeout], checked with a TCP connect to the
// remote just before git runs: git has no connect timeout of its own for
// http), a low-speed limit for http(s) transfers ([Config.LowSpeedLimit]
// bytes a second for [Config.LowSpeedTime]: a remote that accepts and
// then says nothing), and an overall timeout ([Config.Timeout]). ssh gets
// ConnectTimeout and keepalives through GIT_SSH_COMMAND. The native
// smart-HTTP listing enforces the same three itself, with the same errors.
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
	"unicode"

	"slipway.dev/slipway/internal/flock"
	"slipway.dev/slipway/internal/localrepo"
	"slipway.dev/slipway/internal/slipway"
)

// DefaultTimeout is the default overall limit of one git network operation.
const DefaultTimeout = 10 * time.Minute

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
	// LocalDirs are the directories (resolved by localrepo.ResolveDirs) a
	// tool's config may name local repositories in; an operation whose
	// source scope is the admin's may read any local repository.
	LocalDirs []string
	// Credentials returns the stored credential of a tool's repository
	// URL (the redacted one, https://***@host/…), or an ENotFound
	// [slipway.Error] when there is none. Nil: URLs naming a stored
	// credential cannot be used.
	Credentials func(ctx context.Context, tool, repository string) (slipway.Credential, error)
	// Timeout limits each git network operation (ls-remote, fetch) as a
	// whole. Zero means DefaultTimeout.
	Timeout time.Duration
	// ConnectTimeout limits connecting to a remote; zero means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// LowSpeedLimit (bytes a second) and LowSpeedTime: an http(s)
	// transfer slower than the limit for that long is aborted. Zero means
	// DefaultLowSpeedLimit and DefaultLowSpeedTime.
	LowSpeedLimit int
	LowSpeedTime  time.Duration
	// DiskCheck, when set, is asked before each fetch into a mirror (a
	// first fetch can be the whole history): its error (the data
	// directory's filesystem is under its free-space floor) is the
	// fetch's, and nothing is fetched.
	DiskCheck func() error
	// LsRemoteOnly lists refs with `git ls-remote` for every transport,
	// instead of reading http(s) and local repositories natively (what
	// BenchmarkPoll compares with).
	LsRemoteOnly bool
}

// Client runs git for Slipway. It is safe for concurrent use.
type Client struct {
	cfg  Config
	home string

	mu    sync.Mutex
	locks map[string]chan struct{} // mirror name → 1-slot semaphore

	// logs caches FirstParentLog's answers (see log.go).
	logs logCache
	// ancestry caches Contains' answers (see contains.go); patchIDs
	// commits' patch-ids and picks CherryPick's answers (cherrypick.go).
	ancestry factCache[bool]
	patchIDs factCache[string]
	picks    factCache[slipway.CherryPick]
	pickWalk int // MaxPickWalk; smaller in tests
	// maxAdvertisement is MaxRefAdvertisement; smaller in tests.
	maxAdvertisement int64
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
	cfg.ConnectTimeout = cmp.Or(cfg.ConnectTimeout, DefaultConnectTimeout)
	cfg.LowSpeedLimit = cmp.Or(cfg.LowSpeedLimit, DefaultLowSpeedLimit)
	cfg.LowSpeedTime = cmp.Or(cfg.LowSpeedTime, DefaultLowSpeedTime)
	c := &Client{cfg: cfg, home: filepath.Join(dir, "home"), locks: map[string]chan struct{}{}}
	c.ancestry.max, c.patchIDs.max, c.picks.max, c.pickWalk = maxAncestry, maxPatchIDs, maxPicks, MaxPickWalk
	c.maxAdvertisement = MaxRefAdvertisement
	for _, d := range []string{c.home, filepath.Join(dir, "mirrors")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("git: %w", err)
		}
	}
	return c, nil
}

var (
	shaRE      = regexp.MustCompile(`^[0-9a-fA-F]{4,64}$`)
	schemeRE   = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)
	helperRE   = regexp.MustCompile(`^[A-Za-z0-9+.-]+::`)
	scpLikeRE  = regexp.MustCompile(`^[^/]*:`)
	refHintMsg = "a ref is a branch, a tag, a full ref name like refs/heads/main, or a commit SHA of at least 4 hex digits"
)

// checkRepository returns an error when repository may not be used (for
// the source scope of ctx).
func (c *Client) checkRepository(ctx context.Context, repository string) error {
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
			return fmt.Errorf("repository %s: %w: scheme %q is not supported", slipway.RedactURL(repository), ErrInvalidRepository, scheme)
		}
	case helperRE.MatchString(repository):
		return fmt.Errorf("repository %s: %w: remote helpers are not supported", slipway.RedactURL(repository), ErrInvalidRepository)
	case filepath.IsAbs(repository):
		local = true
	case scpLikeRE.MatchString(repository):
		// user@host:path, git's scp-like ssh syntax.
	default:
		return fmt.Errorf("repository %s: %w: want a URL or an absolute path", slipway.RedactURL(repository), ErrInvalidRepository)
	}
	if local && !c.cfg.AllowLocal {
		return fmt.Errorf("repository %s: %w", repository, ErrLocalNotAllowed)
	}
	if local {
		if err := c.checkLocal(ctx, repository); err != nil {
			return fmt.Errorf("repository %s: %w", repository, err)
		}
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
	if err := c.checkRepository(ctx, repository); err != nil {
		return nil, err
	}
	r, err := c.remoteFor(ctx, repository)
	if err != nil {
		return nil, err
	}
	advertised, err := c.lsRemote(ctx, r, refPrefixes(refs))
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
			errs = append(errs, fmt.Errorf("resolve %q in %s: %w: %s", ref, slipway.RedactURL(repository), ErrRefNotFound, refHintMsg))
			continue
		}
		if sha, ok := lookupName(advertised, ref); ok {
			out[ref] = sha
			continue
		}
		if !shaRE.MatchString(ref) {
			errs = append(errs, fmt.Errorf("resolve %q in %s: %w: %s", ref, slipway.RedactURL(repository), ErrRefNotFound, refHintMsg))
			continue
		}
		lower := strings.ToLower(ref)
		if slipway.IsFullCommit(lower) && slices.Contains(slices.Collect(maps.Values(advertised)), lower) {
			out[ref] = lower // the tip of some ref: no need for objects
			continue
		}
		shas = append(shas, ref)
	}
	if len(shas) > 0 {
		found, err := c.resolveSHAs(ctx, r, shas)
		if err != nil {
			return nil, err
		}
		for _, ref := range shas {
			sha, candidates := found[ref].sha, found[ref].candidates
			switch {
			case sha != "":
				out[ref] = sha
			case len(candidates) > 1:
				errs = append(errs, fmt.Errorf("resolve %q in %s: %w: candidates are %s", ref, slipway.RedactURL(repository), ErrAmbiguousRef, strings.Join(candidates, ", ")))
			default:
				errs = append(errs, fmt.Errorf("resolve %q in %s: %w: %s", ref, slipway.RedactURL(repository), ErrRefNotFound, refHintMsg))
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
// (peeled tags as "name^{}"): at least those under prefixes (nil: all).
// http(s) remotes and plain local repositories are read natively
// (httpRefs, localRefs); other transports, and what those leave to git,
// with `git ls-remote`.
func (c *Client) lsRemote(ctx context.Context, r *remote, prefixes []string) (map[string]string, error) {
	ctx, cancel := c.networkContext(ctx, r)
	defer cancel()
	refs, err := c.nativeRefs(ctx, r, prefixes)
	if errors.Is(err, errNotNative) {
		refs, err = c.gitLsRemote(ctx, r)
	}
	if _, timedOut := errors.AsType[*TimeoutError](err); timedOut {
		return nil, err // it names the host; the caller names the repository
	} else if err != nil {
		return nil, fmt.Errorf("ls-remote %s: %w", r.shown, err)
	}
	return refs, nil
}

// nativeRefs lists r's refs without git, or returns errNotNative.
func (c *Client) nativeRefs(ctx context.Context, r *remote, prefixes []string) (map[string]string, error) {
	if c.cfg.LsRemoteOnly {
		return nil, errNotNative
	}
	if path, local := localrepo.Path(r.url); local {
		return localRefs(path, prefixes)
	}
	return c.httpRefs(ctx, r, prefixes)
}

// gitLsRemote lists r's refs with `git ls-remote`.
func (c *Client) gitLsRemote(ctx context.Context, r *remote) (map[string]string, error) {
	out, err := []byte(nil), c.checkConnect(ctx, r)
	if err == nil {
		out, err = c.run(ctx, runOpts{remote: r}, "ls-remote", "--", r.url)
	}
	if err != nil {
		return nil, err
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

// refPrefixes returns the ref prefixes a listing needs to resolve refs:
// the names lookupName tries, or nil (all refs) when a ref looks like a
// SHA, which may be the tip of any ref.
func refPrefixes(refs []string) []string {
	var out []string
	for _, ref := range refs {
		if shaRE.MatchString(ref) {
			return nil
		}
		if ref == "" || strings.HasPrefix(ref, "-") || strings.ContainsFunc(ref, unicode.IsControl) {
			continue // refused by ResolveAll
		}
		if ref == "HEAD" || strings.HasPrefix(ref, "refs/") {
			out = append(out, ref)
		}
		out = append(out, "refs/"+ref, "refs/tags/"+ref, "refs/heads/"+ref)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

type shaResult struct {
	sha        string
	candidates []string
}

// resolveSHAs looks up SHA-looking refs in the mirror. Full SHAs already in
// the mirror need no fetch; otherwise the mirror is fetched first.
func (c *Client) resolveSHAs(ctx context.Context, r *remote, refs []string) (map[string]shaResult, error) {
	out := map[string]shaResult{}
	err := c.withMirror(ctx, r, func(dir string, fresh bool) error {
		needFetch := fresh
		for _, ref := range refs {
			lower := strings.ToLower(ref)
			if !slipway.IsFullCommit(lower) || !c.hasCommit(ctx, dir, lower) {
				needFetch = true
			}
		}
		if needFetch {
			if err := c.fetch(ctx, dir, r); err != nil {
				return err
			}
		}
		for _, ref := range refs {
			candidates, err := c.commitsWithPrefix(ctx, dir, strings.ToLower(ref))
			if err != nil {
				return fmt.Errorf("resolve %q in %s: %w", ref, r.shown, err)
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
	if slipway.IsFullCommit(prefix) {
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

// withMirror runs fn with r's mirror locked against other goroutines and
// processes. fresh is true when the mirror was just created.
func (c *Client) withMirror(ctx context.Context, r *remote, fn func(dir string, fresh bool) error) error {
	name := r.mirror
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
		return fmt.Errorf("lock mirror of %s: %w", r.shown, ctx.Err())
	}
	defer func() { <-sem }()

	base := filepath.Join(c.cfg.CacheDir, "mirrors", name)
	unlock, err := flock.Lock(ctx, base+".lock")
	if err != nil {
		return fmt.Errorf("lock mirror of %s: %w", r.shown, err)
	}
	defer unlock()

	dir := base + ".git"
	fresh := false
	if _, err := os.Stat(filepath.Join(dir, "objects")); err != nil {
		// A crash may have left a half-made directory: init is idempotent.
		if _, err := c.run(ctx, runOpts{}, "init", "-q", "--bare", "--template=", dir); err != nil {
			return fmt.Errorf("create mirror of %s: %w", r.shown, err)
		}
		fresh = true
	}
	return fn(dir, fresh)
}

// fetch updates the branches and tags of the mirror in dir from r (other
// refs, such as a forge's refs/pull/*, are left out: they can be many). The
// caller holds the mirror's lock.
func (c *Client) fetch(ctx context.Context, dir string, r *remote) error {
	if c.cfg.DiskCheck != nil {
		if err := c.cfg.DiskCheck(); err != nil {
			return fmt.Errorf("fetch %s: %w", r.shown, err)
		}
	}
	ctx, cancel := c.networkContext(ctx, r)
	defer cancel()
	if err := c.checkConnect(ctx, r); err != nil {
		return fmt.Errorf("fetch %s: %w", r.shown, err)
	}
	// The commit-graph (written incrementally after each fetch) gives git
	// the generation numbers that make "is X an ancestor of Y?" answer
	// without walking the whole history (release tracking asks it).
	_, err := c.run(ctx, runOpts{dir: dir, remote: r},
		"-c", "fetch.writeCommitGraph=true",
		"fetch", "--quiet", "--prune", "--no-tags", "--no-write-fetch-head", "--", r.url, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
	if err != nil {
		return fmt.Errorf("fetch %s: %w", r.shown, err)
	}
	return nil
}

// networkContext bounds one network operation with the overall timeout,
// whose end is a [*TimeoutError] naming the host.
func (c *Client) networkContext(ctx context.Context, r *remote) (context.Context, context.CancelFunc) {
	host := hostOnly(r.host)
	if host == "" {
		host = r.shown
	}
	return context.WithTimeoutCause(ctx, c.cfg.Timeout, &TimeoutError{Host: host, Timeout: c.cfg.Timeout, Kind: TimeoutOverall})
}

// ensureCommit makes sure r's mirror has commit, fetching if it does not.
func (c *Client) ensureCommit(ctx context.Context, r *remote, commit string) (dir string, err error) {
	err = c.withMirror(ctx, r, func(d string, fresh bool) error {
		dir = d
		if !fresh && c.hasCommit(ctx, d, commit) {
			return nil
		}
		if err := c.fetch(ctx, d, r); err != nil {
			return err
		}
		if !c.hasCommit(ctx, d, commit) {
			return fmt.Errorf("commit %s in %s: %w: no branch or tag of the repository contains it", commit, r.shown, ErrRefNotFound)
		}
		return nil
	})
	return dir, err
}
