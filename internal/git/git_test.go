package git_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/git"
	"slipway.dev/slipway/internal/slipwaytest"
)

func newClient(t testing.TB, allowLocal bool) *git.Client {
	t.Helper()
	c, err := git.New(git.Config{CacheDir: t.TempDir(), AllowLocal: allowLocal})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClient_Resolve(t *testing.T) {
	t.Parallel()
	repo := slipwaytest.GitRepo(t, map[string]string{"README": "one\n"})
	first := repo.Head(t)
	repo.Tag(t, "v1")
	repo.Branch(t, "feature")
	second := repo.Commit(t, map[string]string{"README": "two\n"}, "second")
	repo.AnnotatedTag(t, "v2", "release two")
	third := repo.Commit(t, map[string]string{"README": "three\n"}, "third")

	c := newClient(t, true)
	tests := []struct {
		name string
		ref  string
		want string
	}{
		{"Branch", "main", third},
		{"OtherBranch", "feature", first},
		{"FullRefName", "refs/heads/feature", first},
		{"LightweightTag", "v1", first},
		{"AnnotatedTagPeeled", "v2", second},
		{"FullTagRefName", "refs/tags/v2", second},
		{"HEAD", "HEAD", third},
		{"FullSHAOfTip", third, third},
		{"FullSHANotATip", second, second},
		{"ShortSHA", first[:7], first},
		{"ShortSHAFourDigits", second[:4], second},
		{"UppercaseShortSHA", strings.ToUpper(first[:10]), first},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Resolve(t.Context(), repo.URL, tt.ref)
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.ref, err)
			}
			if got != tt.want {
				t.Errorf("Resolve(%q) = %s, want %s", tt.ref, got, tt.want)
			}
		})
	}

	t.Run("AbsolutePath", func(t *testing.T) {
		t.Parallel()
		got, err := c.Resolve(t.Context(), repo.Dir, "main")
		if err != nil || got != third {
			t.Errorf("Resolve(%s, main) = %s, %v; want %s", repo.Dir, got, err, third)
		}
	})

	t.Run("SeesNewCommits", func(t *testing.T) {
		t.Parallel()
		// A repository of its own, as the new commit would move main under
		// the other subtests.
		repo := slipwaytest.GitRepo(t, map[string]string{"README": "one\n"})
		first := repo.Head(t)
		c := newClient(t, true)
		// The short-SHA path fetches the mirror; a new commit must still
		// be found after it, by name and by SHA.
		if got, err := c.Resolve(t.Context(), repo.URL, first[:7]); err != nil || got != first {
			t.Fatalf("Resolve(%q) = %s, %v; want %s", first[:7], got, err, first)
		}
		fourth := repo.Commit(t, map[string]string{"README": "four\n"}, "fourth")
		for _, ref := range []string{"main", fourth[:8]} {
			got, err := c.Resolve(t.Context(), repo.URL, ref)
			if err != nil || got != fourth {
				t.Errorf("Resolve(%q) = %s, %v; want %s", ref, got, err, fourth)
			}
		}
	})
}

func TestClient_Resolve_NotFound(t *testing.T) {
	t.Parallel()
	repo := slipwaytest.GitRepo(t, map[string]string{"README": "one\n"})
	c := newClient(t, true)
	for _, ref := range []string{"nope", "refs/heads/nope", "deadbeef", "0000000000000000000000000000000000000000", "", "--upload-pack=evil"} {
		_, err := c.Resolve(t.Context(), repo.URL, ref)
		if !errors.Is(err, git.ErrRefNotFound) {
			t.Errorf("Resolve(%q) error = %v, want ErrRefNotFound", ref, err)
			continue
		}
		if git.IsTransient(err) {
			t.Errorf("IsTransient(Resolve(%q) error) = true, want false", ref)
		}
		if ref != "" && !strings.Contains(err.Error(), fmt.Sprintf("%q", ref)) || !strings.Contains(err.Error(), repo.URL) {
			t.Errorf("Resolve(%q) error %q does not name the ref and the repository", ref, err)
		}
	}
}

// ambiguousCommits writes commits on top of HEAD, without git, until two of
// them share a 4-hex-digit prefix, and points branches at both. About 300
// SHA-1 computations are needed on average.
func ambiguousCommits(t *testing.T, repo *slipwaytest.Repo) (prefix string, shas []string) {
	t.Helper()
	tree := repo.Git(t, "rev-parse", "HEAD^{tree}")
	parent := repo.Head(t)
	seen := map[string]string{} // prefix → body
	for i := 0; ; i++ {
		body := fmt.Sprintf("tree %s\nparent %s\nauthor A <a@example.org> 1700000000 +0000\ncommitter A <a@example.org> 1700000000 +0000\n\nattempt %d\n", tree, parent, i)
		sum := sha1.Sum([]byte(fmt.Sprintf("commit %d\x00%s", len(body), body)))
		sha := hex.EncodeToString(sum[:])
		if other, ok := seen[sha[:4]]; ok {
			for j, b := range []string{other, body} {
				got := repo.GitInput(t, []byte(b), "hash-object", "-t", "commit", "-w", "--stdin")
				repo.Git(t, "update-ref", fmt.Sprintf("refs/heads/amb%d", j), got)
				shas = append(shas, got)
			}
			if shas[1] != sha {
				t.Fatalf("git hashed the commit as %s, computed %s", shas[1], sha)
			}
			return sha[:4], shas
		}
		seen[sha[:4]] = body
	}
}

func TestClient_Resolve_AmbiguousShortSHA(t *testing.T) {
	t.Parallel()
	repo := slipwaytest.GitRepo(t, map[string]string{"README": "one\n"})
	prefix, shas := ambiguousCommits(t, repo)
	c := newClient(t, true)

	_, err := c.Resolve(t.Context(), repo.URL, prefix)
	if !errors.Is(err, git.ErrAmbiguousRef) {
		t.Fatalf("Resolve(%q) error = %v, want ErrAmbiguousRef", prefix, err)
	}
	if git.IsTransient(err) {
		t.Error("IsTransient(ambiguous) = true, want false")
	}
	for _, sha := range shas {
		if !strings.Contains(err.Error(), sha) {
			t.Errorf("error %q does not name candidate %s", err, sha)
		}
	}
	// A longer prefix is unambiguous.
	for _, sha := range shas {
		if sha[:12] == shas[0][:12] && sha != shas[0] {
			continue
		}
		got, err := c.Resolve(t.Context(), repo.URL, sha[:12])
		if err != nil || got != sha {
			t.Errorf("Resolve(%q) = %s, %v; want %s", sha[:12], got, err, sha)
		}
	}
}

func TestClient_ResolveAll(t *testing.T) {
	t.Parallel()
	repo := slipwaytest.GitRepo(t, map[string]string{"README": "one\n"})
	first := repo.Head(t)
	repo.Tag(t, "v1")
	second := repo.Commit(t, map[string]string{"README": "two\n"}, "second")
	c := newClient(t, true)

	got, err := c.ResolveAll(t.Context(), repo.URL, []string{"main", "v1", first[:6], "main", "missing"})
	if !errors.Is(err, git.ErrRefNotFound) || !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("ResolveAll error = %v, want ErrRefNotFound naming \"missing\"", err)
	}
	want := map[string]string{"main": second, "v1": first, first[:6]: first}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ResolveAll (-want +got):\n%s", diff)
	}
}

func TestClient_LocalNotAllowed(t *testing.T) {
	t.Parallel()
	repo := slipwaytest.GitRepo(t, map[string]string{"README": "one\n"})
	c := newClient(t, false)
	for _, r := range []string{repo.URL, repo.Dir} {
		_, err := c.Resolve(t.Context(), r, "main")
		if !errors.Is(err, git.ErrLocalNotAllowed) || git.IsTransient(err) {
			t.Errorf("Resolve(%s) error = %v, want permanent ErrLocalNotAllowed", r, err)
		}
		err = c.Checkout(t.Context(), r, repo.Head(t), filepath.Join(t.TempDir(), "out"))
		if !errors.Is(err, git.ErrLocalNotAllowed) {
			t.Errorf("Checkout(%s) error = %v, want ErrLocalNotAllowed", r, err)
		}
	}
}

func TestClient_InvalidRepository(t *testing.T) {
	t.Parallel()
	c := newClient(t, true)
	for _, r := range []string{"", "relative/path", "ext::sh -c touch% /tmp/pwned", "-oProxyCommand=x", "ftp://example.org/x.git"} {
		_, err := c.Resolve(t.Context(), r, "main")
		if !errors.Is(err, git.ErrInvalidRepository) || git.IsTransient(err) {
			t.Errorf("Resolve(%q) error = %v, want permanent ErrInvalidRepository", r, err)
		}
	}
}

func TestClient_Unreachable(t *testing.T) {
	t.Parallel()
	c := newClient(t, true)
	tests := []struct {
		name      string
		repo      string
		transient bool
		want      string // in the error
	}{
		// git says what is wrong with a local path; http is read natively.
		{"MissingLocalPath", "file://" + filepath.Join(t.TempDir(), "nope"), false, "exit status 128"},
		{"ConnectionRefused", "http://127.0.0.1:1/x.git", true, "dial tcp 127.0.0.1:1: connect: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.Resolve(t.Context(), tt.repo, "main")
			if err == nil {
				t.Fatal("Resolve succeeded, want error")
			}
			if errors.Is(err, git.ErrRefNotFound) {
				t.Errorf("Resolve error = %v, must not be ErrRefNotFound", err)
			}
			if got := git.IsTransient(err); got != tt.transient {
				t.Errorf("IsTransient(%v) = %v, want %v", err, got, tt.transient)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "ls-remote "+tt.repo+": ") {
				t.Errorf("error %q lacks %q or the repository", err, tt.want)
			}
		})
	}
}

func TestClient_Checkout(t *testing.T) {
	t.Parallel()
	repo := slipwaytest.GitRepo(t, map[string]string{
		"README.md":        "hello\n",
		"bin/run.sh":       "#!/bin/sh\necho run\n",
		"sub/dir/file.txt": "deep\n",
	})
	if err := os.Symlink("sub/dir/file.txt", filepath.Join(repo.Dir, "link")); err != nil {
		t.Fatal(err)
	}
	commit := repo.Commit(t, nil, "add link")
	c := newClient(t, true)

	dst := filepath.Join(t.TempDir(), "app")
	if err := c.Checkout(t.Context(), repo.URL, commit, dst); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	err := filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dst, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			got[rel] = "symlink -> " + target
			return err
		}
		b, err := os.ReadFile(p)
		got[rel] = fmt.Sprintf("%v %s", info.Mode().Perm(), b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"README.md":        "-rw-r--r-- hello\n",
		"bin/run.sh":       "-rwxr-xr-x #!/bin/sh\necho run\n",
		"sub/dir/file.txt": "-rw-r--r-- deep\n",
		"link":             "symlink -> sub/dir/file.txt",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("checkout (-want +got):\n%s", diff)
	}

	t.Run("NotEmpty", func(t *testing.T) {
		t.Parallel()
		if err := c.Checkout(t.Context(), repo.URL, commit, dst); err == nil {
			t.Error("Checkout into a non-empty directory succeeded")
		}
	})
	t.Run("EmptyExisting", func(t *testing.T) {
		t.Parallel()
		if err := c.Checkout(t.Context(), repo.URL, commit, t.TempDir()); err != nil {
			t.Error(err)
		}
	})
	t.Run("FetchesNewCommit", func(t *testing.T) {
		t.Parallel()
		// A repository and client of their own, so that the new commit
		// does not race with the other subtests. The first checkout makes
		// the mirror; the second must fetch into it.
		repo := slipwaytest.GitRepo(t, map[string]string{"README.md": "hello\n"})
		c := newClient(t, true)
		if err := c.Checkout(t.Context(), repo.URL, repo.Head(t), filepath.Join(t.TempDir(), "app")); err != nil {
			t.Fatal(err)
		}
		next := repo.Commit(t, map[string]string{"README.md": "bye\n"}, "next")
		dst := filepath.Join(t.TempDir(), "app")
		if err := c.Checkout(t.Context(), repo.URL, next, dst); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(dst, "README.md")); string(b) != "bye\n" {
			t.Errorf("README.md = %q, want %q", b, "bye\n")
		}
	})
	t.Run("UnknownCommit", func(t *testing.T) {
		t.Parallel()
		dst := filepath.Join(t.TempDir(), "app")
		err := c.Checkout(t.Context(), repo.URL, strings.Repeat("ab", 20), dst)
		if !errors.Is(err, git.ErrRefNotFound) {
			t.Errorf("Checkout error = %v, want ErrRefNotFound", err)
		}
		if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("failed Checkout left %s: %v", dst, err)
		}
	})
}

func TestClient_Checkout_SymlinkEscape(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"/etc/passwd", "../../outside", "f/../../.."} {
		repo := slipwaytest.GitRepo(t, map[string]string{"README": "x\n", "sub/f": "y\n"})
		if err := os.Symlink(target, filepath.Join(repo.Dir, "sub", "evil")); err != nil {
			t.Fatal(err)
		}
		commit := repo.Commit(t, nil, "evil link")
		c := newClient(t, true)
		dst := filepath.Join(t.TempDir(), "app")
		err := c.Checkout(t.Context(), repo.URL, commit, dst)
		if err == nil || !strings.Contains(err.Error(), "outside the checkout") {
			t.Errorf("Checkout with symlink to %s: error = %v, want one about the symlink", target, err)
		}
		if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("failed Checkout left %s", dst)
		}
	}
}

func TestClient_Concurrent(t *testing.T) {
	t.Parallel()
	repo := slipwaytest.GitRepo(t, map[string]string{"README": "one\n"})
	first := repo.Head(t)
	head := repo.Commit(t, map[string]string{"README": "two\n"}, "second")
	cache := t.TempDir()
	// Two clients on one cache stand for two server processes: only the
	// flock keeps them apart.
	var clients []*git.Client
	for range 2 {
		c, err := git.New(git.Config{CacheDir: cache, AllowLocal: true})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 16 {
		c := clients[i%2]
		wg.Go(func() {
			sha, err := c.Resolve(t.Context(), repo.URL, first[:7])
			if err == nil && sha != first {
				err = fmt.Errorf("Resolve = %s, want %s", sha, first)
			}
			if err != nil {
				errs <- err
				return
			}
			dst := filepath.Join(t.TempDir(), "app")
			if err := c.Checkout(t.Context(), repo.URL, head, dst); err != nil {
				errs <- err
				return
			}
			b, err := os.ReadFile(filepath.Join(dst, "README"))
			if err != nil {
				errs <- fmt.Errorf("read README: %w", err)
			} else if string(b) != "two\n" {
				errs <- fmt.Errorf("README = %q, want %q", b, "two\n")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// hangingServer accepts connections and never answers. Each accepted
// connection is sent on the returned channel.
func hangingServer(t *testing.T) (url string, conns <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan net.Conn, 16)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
			ch <- conn
		}
	}()
	return "http://" + ln.Addr().String() + "/repo.git", ch
}

func TestClient_CancelKillsGit(t *testing.T) {
	t.Parallel()
	url, conns := hangingServer(t)
	c := newClient(t, false)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Resolve(ctx, url, "main")
		errc <- err
	}()
	var conn net.Conn
	select {
	case conn = <-conns:
	case err := <-errc:
		t.Fatalf("Resolve returned before connecting: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("git did not connect")
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Resolve error = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Resolve did not return after cancel")
	}
	// The connection belongs to git-remote-http, a child of git: it closes
	// only when the whole process group is dead.
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Errorf("connection not closed by git's death: %v", err)
	}
}

func TestClient_Timeout(t *testing.T) {
	t.Parallel()
	url, _ := hangingServer(t)
	c, err := git.New(git.Config{CacheDir: t.TempDir(), Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve(t.Context(), url, "main")
	te, ok := errors.AsType[*git.TimeoutError](err)
	if !ok || te.Kind != git.TimeoutOverall || te.Timeout != 300*time.Millisecond || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Resolve error = %v, want an overall TimeoutError (a DeadlineExceeded)", err)
	}
	if git.IsTransient(err) {
		t.Errorf("IsTransient(%v) = true: a timeout is not retried", err)
	}
}

func TestIsTransient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"Nil", nil, false},
		{"Plain", errors.New("boom"), false},
		{"NotFound", fmt.Errorf("x: %w", git.ErrRefNotFound), false},
		{"Deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), true},
		{"JoinedWithPermanent", errors.Join(context.DeadlineExceeded, git.ErrRefNotFound), false},
	}
	for _, tt := range tests {
		if got := git.IsTransient(tt.err); got != tt.want {
			t.Errorf("%s: IsTransient(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
