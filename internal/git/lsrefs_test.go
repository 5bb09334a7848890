package git_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/git"
	"slipway.dev/slipway/internal/slipwaytest"
)

// refsRepo is a repository with what a ref listing must get right: a
// branch, a symbolic ref, an annotated tag (peeled), a tag of that tag, a
// lightweight tag.
func refsRepo(t *testing.T) *slipwaytest.Repo {
	t.Helper()
	repo := slipwaytest.GitRepo(t, map[string]string{"a": "a\n"})
	repo.Git(t, "tag", "-a", "-m", "release", "v1")
	repo.Git(t, "tag", "-a", "-m", "of a tag", "v1-signed", "v1")
	repo.Git(t, "tag", "light")
	repo.Git(t, "checkout", "-q", "-b", "feature")
	repo.Commit(t, map[string]string{"b": "b\n"}, "feature")
	repo.Git(t, "checkout", "-q", "main")
	repo.Git(t, "symbolic-ref", "refs/heads/alias", "refs/heads/main")
	return repo
}

// gitProtocolServer serves repo over smart HTTP with git http-backend;
// with v0 it drops the Git-Protocol header, so the server answers with
// the v0 advertisement. posts counts the upload-pack requests.
func gitProtocolServer(t *testing.T, repo *slipwaytest.Repo, v0 bool) (url string, posts *atomic.Int64) {
	t.Helper()
	g, err := slipwaytest.NewGitHTTP(filepath.Dir(repo.Dir), t.TempDir(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	posts = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v0 {
			r.Header.Del("Git-Protocol")
		}
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		g.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(repo.Dir), posts
}

// lsRemoteRefs is what git ls-remote lists for repository.
func lsRemoteRefs(t *testing.T, repository string) map[string]string {
	t.Helper()
	c, err := git.New(git.Config{CacheDir: t.TempDir(), AllowLocal: true, LsRemoteOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	refs, err := git.ListRefs(t.Context(), c, repository, nil)
	if err != nil {
		t.Fatal(err)
	}
	return refs
}

// Ensure the native smart-HTTP listing lists what git ls-remote does, in
// protocol v2 (ls-refs, only the prefixes asked) and v0.
func TestListRefs_SmartHTTP(t *testing.T) {
	t.Parallel()
	repo := refsRepo(t)
	for _, v0 := range []bool{false, true} {
		t.Run(fmt.Sprintf("v0=%v", v0), func(t *testing.T) {
			t.Parallel()
			url, posts := gitProtocolServer(t, repo, v0)
			c := newClient(t, false)
			got, err := git.ListRefs(t.Context(), c, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := lsRemoteRefs(t, url)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("refs (-git ls-remote +native):\n%s", diff)
			}
			if got["refs/tags/v1^{}"] != repo.Head(t) || got["refs/tags/v1-signed^{}"] != repo.Head(t) || got["refs/heads/alias"] != repo.Head(t) {
				t.Errorf("peeled tags or symbolic ref not at %s: %v", repo.Head(t), got)
			}
			if n := posts.Load(); (n == 0) != v0 {
				t.Errorf("%d upload-pack requests with v0=%v", n, v0)
			}
			// Only the refs a resolve needs.
			got, err = git.ListRefs(t.Context(), c, url, []string{"refs/tags/v1"})
			if err != nil {
				t.Fatal(err)
			}
			if !v0 && got["refs/heads/main"] != "" {
				t.Errorf("v2 with ref-prefix refs/tags/v1 listed refs/heads/main: %v", got)
			}
			for ref, want := range map[string]string{"v1": repo.Head(t), "HEAD": repo.Head(t), "alias": repo.Head(t), "light": repo.Head(t), "feature": want["refs/heads/feature"]} {
				if sha, err := c.Resolve(t.Context(), url, ref); err != nil || sha != want {
					t.Errorf("Resolve(%s) = %s, %v; want %s", ref, sha, err, want)
				}
			}
		})
	}
}

// Ensure a local repository's refs are read without git, loose and
// packed, as git ls-remote lists them.
func TestListRefs_Local(t *testing.T) {
	repo := refsRepo(t)
	loose := lsRemoteRefs(t, repo.URL)
	repo.Git(t, "pack-refs", "--all")
	repo.Git(t, "tag", "-a", "-m", "loose", "v2", "feature") // a loose ref besides packed ones
	packed := lsRemoteRefs(t, repo.URL)
	if packed["refs/tags/v2^{}"] == "" || loose["refs/tags/v1^{}"] == "" {
		t.Fatalf("the fixture lacks peeled tags: %v", packed)
	}
	t.Setenv("PATH", "") // no git to run: read natively or fail
	c := newClient(t, true)
	got, err := git.ListRefs(t.Context(), c, repo.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(packed, got); diff != "" {
		t.Errorf("refs (-git ls-remote +native):\n%s", diff)
	}
	got, err = git.ListRefs(t.Context(), c, repo.Dir, []string{"HEAD", "refs/tags/v2"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"HEAD": packed["HEAD"], "refs/tags/v2": packed["refs/tags/v2"], "refs/tags/v2^{}": packed["refs/tags/v2^{}"]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("refs under HEAD, refs/tags/v2 (-want +got):\n%s", diff)
	}
}

// Ensure a remote that asks for a credential fails clearly and for good,
// with none and with a wrong one, without showing the password; a
// redirect to another host gets no credential.
func TestListRefs_Auth(t *testing.T) {
	t.Parallel()
	repo, plain, stored, srv := privateRepo(t)
	c, err := git.New(git.Config{CacheDir: t.TempDir(), Credentials: storedCredentials(stored)})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Resolve(scope("tool-a"), stored, "main"); err != nil || got != repo.Head(t) {
		t.Fatalf("Resolve with the stored credential = %s, %v", got, err)
	}
	if srv.Authorized.Load() == 0 {
		t.Error("the server never saw the credential")
	}
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain+strings.TrimPrefix(r.URL.RequestURI(), "/x"), http.StatusFound)
	}))
	t.Cleanup(redirect.Close)
	wrong := strings.Replace(plain, "http://", "http://alice:wrong-password@", 1)
	for _, tt := range []struct{ name, repo, want string }{
		{"None", plain, "ls-remote " + plain + ": authentication required (HTTP 401): the remote asks for a credential"},
		{"Wrong", wrong, "ls-remote http://***@" + strings.TrimPrefix(plain, "http://") + ": authentication failed (HTTP 401): the remote refused the credential"},
		{"RedirectElsewhere", strings.Replace(redirect.URL, "http://", "http://alice:"+password+"@", 1) + "/x", "authentication failed (HTTP 401)"},
	} {
		before := srv.Authorized.Load()
		_, err := c.Resolve(scope("tool-b"), tt.repo, "main")
		switch {
		case err == nil || !strings.Contains(err.Error(), tt.want):
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.want)
		case git.IsTransient(err):
			t.Errorf("%s: error %v is transient", tt.name, err)
		case strings.Contains(err.Error(), password) || strings.Contains(err.Error(), "wrong-password"):
			t.Errorf("%s: error shows a password: %v", tt.name, err)
		}
		if n := srv.Authorized.Load(); n != before {
			t.Errorf("%s: the server got the right credential", tt.name)
		}
	}
}

// Ensure a remote that sends a little and then nothing fails after the
// low-speed time, naming the host.
func TestListRefs_Stalled(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		_, _ = w.Write([]byte("001e# service=git-upload-pack\n0000"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	c, err := git.New(git.Config{CacheDir: t.TempDir(), LowSpeedTime: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Resolve(t.Context(), srv.URL+"/x.git", "main")
	te, ok := errors.AsType[*git.TimeoutError](err)
	if !ok || te.Kind != git.TimeoutLowSpeed || te.Host != "127.0.0.1" {
		t.Fatalf("Resolve error = %v, want a low-speed TimeoutError naming 127.0.0.1", err)
	}
	if want := "no answer from 127.0.0.1 within 1s (low-speed timeout: less than 1 bytes/s)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s", took)
	}
}

// Ensure a listing that is too large or not pkt-lines fails for good,
// saying so and naming the repository.
func TestListRefs_BadAnswers(t *testing.T) {
	t.Parallel()
	endless := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		_, _ = w.Write([]byte("001e# service=git-upload-pack\n0000"))
		for i := 0; ; i++ {
			ref := fmt.Sprintf("%040x refs/heads/b%d\n", i, i)
			if _, err := fmt.Fprintf(w, "%04x%s", len(ref)+4, ref); err != nil {
				return
			}
		}
	}
	for _, tt := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"Endless", endless, ": ref advertisement too large: more than 1048576 bytes"},
		{"Garbage", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
			_, _ = w.Write([]byte("<html>\x1b[31mnot git</html>"))
		}, `: bad ref advertisement: invalid pkt-line length "<htm"`},
		{"BadRefLine", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
			_, _ = w.Write([]byte("0014not-a-sha main\x1b\n0000"))
		}, `: bad ref advertisement: malformed ref line "not-a-sha main\x1b"`},
		{"RemoteError", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
			_, _ = w.Write([]byte("0011ERR go away\x07\n"))
		}, `: the remote says: go away\a`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			c := newClient(t, false)
			git.SetMaxAdvertisement(c, 1<<20)
			url := srv.URL + "/x.git"
			_, err := c.Resolve(t.Context(), url, "main")
			if err == nil || !strings.Contains(err.Error(), "ls-remote "+url+tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
			if git.IsTransient(err) {
				t.Errorf("error %v is transient", err)
			}
		})
	}
}

// FuzzParseAdvertisement: no input makes the pkt-line parsers panic, and
// what they return is well formed.
func FuzzParseAdvertisement(f *testing.F) {
	f.Add([]byte("003f0123456789012345678901234567890123456789 refs/heads/main\x00caps\n0000"), false)
	f.Add([]byte("00460123456789012345678901234567890123456789 refs/tags/v1 peeled:"+strings.Repeat("a", 40)+"\n0000"), true)
	f.Add([]byte("0000"), true)
	f.Add([]byte("0001fffff"), false)
	f.Add([]byte("000aERR x\n"), true)
	f.Fuzz(func(t *testing.T, b []byte, v2 bool) {
		refs, err := git.ParseAdvertisement(b, v2)
		if err != nil {
			return
		}
		for name, oid := range refs {
			if name == "" || strings.ContainsAny(name, "\x00\n\t ") || (len(oid) != 40 && len(oid) != 64) {
				t.Errorf("bad ref %q → %q", name, oid)
			}
		}
	})
}

// Ensure a server that does not speak the smart protocol (another
// Content-Type: dumb HTTP, or not git) is left to git ls-remote, which
// says what it makes of it: here a dumb info/refs without refs.
func TestListRefs_NotSmartFallsBackToGit(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>a login page</html>"))
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, false)
	_, err := c.Resolve(t.Context(), srv.URL+"/x.git", "main")
	if !errors.Is(err, git.ErrRefNotFound) {
		t.Errorf("error = %v, want ErrRefNotFound", err)
	}
	if n := calls.Load(); n < 2 {
		t.Errorf("%d requests, want the native one and git's", n)
	}
}

// Ensure a redirected info/refs is followed, and ls-refs goes where it
// led (as git follows the first request's redirects).
func TestListRefs_Redirect(t *testing.T) {
	t.Parallel()
	repo := refsRepo(t)
	url, posts := gitProtocolServer(t, repo, false)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, url+strings.TrimPrefix(r.URL.RequestURI(), "/moved"), http.StatusMovedPermanently)
	}))
	t.Cleanup(redirect.Close)
	c := newClient(t, false)
	if got, err := c.Resolve(t.Context(), redirect.URL+"/moved", "v1"); err != nil || got != repo.Head(t) {
		t.Errorf("Resolve(v1) through a redirect = %s, %v; want %s", got, err, repo.Head(t))
	}
	if posts.Load() != 1 {
		t.Errorf("%d ls-refs requests at the redirect's target, want 1", posts.Load())
	}
}
