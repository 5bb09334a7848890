package git_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/git"
	"slipway.dev/slipway/internal/localrepo"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

// password is distinctive, so that finding it anywhere is a finding.
const password = "pw-Zq7hunter2-secret"

// privateRepo serves a repository over HTTP that asks for alice:password
// and returns it with its URL without credentials and the URL that names
// a stored credential (http://***@host/…).
func privateRepo(t *testing.T) (repo *slipwaytest.Repo, plain, stored string, srv *slipwaytest.GitHTTP) {
	t.Helper()
	repo = slipwaytest.GitRepo(t, map[string]string{"README.md": "private\n"})
	plain, srv = slipwaytest.ServeGitHTTP(t, repo, "alice", password)
	return repo, plain, strings.Replace(plain, "http://", "http://***@", 1), srv
}

// storedCredentials is a Config.Credentials that knows one credential:
// tool-a's for url.
func storedCredentials(url string) func(ctx context.Context, tool, repository string) (slipway.Credential, error) {
	return func(_ context.Context, tool, repository string) (slipway.Credential, error) {
		if tool == "tool-a" && repository == url {
			return slipway.Credential{Username: "alice", Password: password}, nil
		}
		return slipway.Credential{}, slipway.Errorf(slipway.ENotFound, "none")
	}
}

func scope(tool string) context.Context {
	return slipway.WithSourceScope(context.Background(), slipway.SourceScope{Tool: tool})
}

func TestClient_StoredCredential(t *testing.T) {
	t.Parallel()
	repo, _, stored, srv := privateRepo(t)
	cache := t.TempDir()
	c, err := git.New(git.Config{CacheDir: cache, Credentials: storedCredentials(stored)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := scope("tool-a")
	head := repo.Head(t)
	got, err := c.Resolve(ctx, stored, "main")
	if err != nil || got != head {
		t.Fatalf("Resolve(main) = %q, %v; want %s", got, err, head)
	}
	// A SHA that is no ref's tip needs the mirror: a fetch with the
	// credential.
	old := head
	repo.Commit(t, map[string]string{"b": "b\n"}, "second")
	if got, err := c.Resolve(ctx, stored, old[:7]); err != nil || got != old {
		t.Fatalf("Resolve(short SHA) = %q, %v; want %s", got, err, old)
	}
	dst := filepath.Join(t.TempDir(), "out")
	if err := c.Checkout(ctx, stored, old, dst); err != nil {
		t.Fatalf("Checkout: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "README.md")); err != nil || string(b) != "private\n" {
		t.Errorf("README.md = %q, %v", b, err)
	}
	if srv.Authorized.Load() == 0 {
		t.Error("the server never saw the credential")
	}
	// Nothing git wrote holds the password: mirrors, their config, HOME.
	grepTree(t, cache, password)
}

// grepTree fails the test when a file under dir contains s.
func grepTree(t *testing.T, dir, s string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), s) {
			t.Errorf("%s contains the secret", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Errorf("no files under %s", dir)
	}
}

// TestClient_CredentialIsolation: what tool A fetched with its credential
// is never reachable by tool B, which names the same repository without a
// credential, with the stored-credential URL but none stored, or with a
// wrong one — not even by a full commit SHA that only A's mirror has.
func TestClient_CredentialIsolation(t *testing.T) {
	t.Parallel()
	repo, plain, stored, _ := privateRepo(t)
	c, err := git.New(git.Config{CacheDir: t.TempDir(), Credentials: storedCredentials(stored)})
	if err != nil {
		t.Fatal(err)
	}
	// A commit that no branch holds any more, but A's mirror has.
	repo.Git(t, "checkout", "-q", "-b", "feature")
	secret := repo.Commit(t, map[string]string{"secret.txt": "only A\n"}, "feature")
	if got, err := c.Resolve(scope("tool-a"), stored, secret); err != nil || got != secret {
		t.Fatalf("tool-a Resolve(%s) = %q, %v", secret, got, err)
	}
	if err := c.Checkout(scope("tool-a"), stored, secret, filepath.Join(t.TempDir(), "a")); err != nil {
		t.Fatalf("tool-a Checkout: %v", err)
	}
	repo.Git(t, "checkout", "-q", "main")
	repo.Git(t, "branch", "-q", "-D", "feature")
	// A's mirror still has it: A checks it out again without the branch.
	if err := c.Checkout(scope("tool-a"), stored, secret, filepath.Join(t.TempDir(), "a2")); err != nil {
		t.Fatalf("tool-a Checkout of a commit its mirror has: %v", err)
	}

	wrong := strings.Replace(plain, "http://", "http://alice:wrong-password@", 1)
	for _, tt := range []struct {
		name, tool, repo string
		want             error // nil: any permanent failure
	}{
		{"NoCredential", "tool-b", plain, nil},
		{"StoredButNotB", "tool-b", stored, git.ErrNoCredential},
		{"WrongCredential", "tool-b", wrong, nil},
		{"NoTool", "", stored, git.ErrNoCredential},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := scope(tt.tool)
			for op, run := range map[string]func() error{
				"Resolve(main)": func() error { _, err := c.Resolve(ctx, tt.repo, "main"); return err },
				"Resolve(sha)":  func() error { _, err := c.Resolve(ctx, tt.repo, secret); return err },
				"Checkout(sha)": func() error { return c.Checkout(ctx, tt.repo, secret, filepath.Join(t.TempDir(), "b")) },
			} {
				err := run()
				switch {
				case err == nil:
					t.Errorf("%s succeeded for %s", op, tt.name)
				case tt.want != nil && !errors.Is(err, tt.want):
					t.Errorf("%s error = %v, want %v", op, err, tt.want)
				case git.IsTransient(err):
					t.Errorf("%s error = %v is transient, want permanent", op, err)
				case strings.Contains(err.Error(), password) || strings.Contains(err.Error(), "wrong-password"):
					t.Errorf("%s error shows a password: %v", op, err)
				}
			}
		})
	}
}

// TestClient_CredentialNeverInArgs runs git through a shim that records
// every command line: the password is in none of them (any user of the
// machine can read a process's arguments), and git's own failure output
// for a wrong password does not show it either.
func TestClient_CredentialNeverInArgs(t *testing.T) {
	real, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	shimDir, log := t.TempDir(), filepath.Join(t.TempDir(), "argv.log")
	shim := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '" + log + "'\nexec '" + real + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(shimDir, "git"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", shimDir+string(os.PathListSeparator)+os.Getenv("PATH"))

	_, plain, stored, _ := privateRepo(t)
	// Refs listed with git ls-remote (not natively), so that its
	// command lines are the ones checked.
	c, err := git.New(git.Config{CacheDir: t.TempDir(), Credentials: storedCredentials(stored), LsRemoteOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := scope("tool-a")
	if _, err := c.Resolve(ctx, stored, "main"); err != nil {
		t.Fatal(err)
	}
	inline := strings.Replace(plain, "http://", "http://alice:"+password+"@", 1)
	if _, err := c.Resolve(ctx, inline, "main"); err != nil {
		t.Fatalf("URL with an inline credential: %v", err)
	}
	badPass := password + "-wrong"
	_, err = c.Resolve(ctx, strings.Replace(plain, "http://", "http://alice:"+badPass+"@", 1), "main")
	if err == nil {
		t.Fatal("wrong password: resolved")
	}
	if strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), "***@") {
		t.Errorf("wrong password: error %q shows the password or no redacted URL", err)
	}
	argv, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(argv), "ls-remote") {
		t.Fatalf("the shim saw no ls-remote:\n%s", argv)
	}
	if strings.Contains(string(argv), password) || strings.Contains(string(argv), "***") {
		t.Errorf("a git command line holds the password or the redacted URL:\n%s", argv)
	}
}

func TestClient_ConnectTimeout(t *testing.T) {
	t.Parallel()
	addr := slipwaytest.Blackhole(t)
	c, err := git.New(git.Config{CacheDir: t.TempDir(), ConnectTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Resolve(t.Context(), "http://"+addr+"/x.git", "main")
	te, ok := errors.AsType[*git.TimeoutError](err)
	if !ok || te.Kind != git.TimeoutConnect || te.Host != "127.0.0.1" {
		t.Fatalf("Resolve error = %v, want a connect TimeoutError for 127.0.0.1", err)
	}
	if want := "no answer from 127.0.0.1 within 300ms (connect timeout)"; !strings.HasSuffix(err.Error(), want) {
		t.Errorf("error %q does not end with %q", err, want)
	}
	if git.IsTransient(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("connect timeout: transient %v, DeadlineExceeded %v; want permanent and true", git.IsTransient(err), errors.Is(err, context.DeadlineExceeded))
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("took %s", took) // the default overall timeout would be minutes
	}
}

func TestClient_LowSpeedTimeout(t *testing.T) {
	t.Parallel()
	addr := slipwaytest.Silent(t)
	c, err := git.New(git.Config{CacheDir: t.TempDir(), LowSpeedTime: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"resolve", "checkout"} {
		var err error
		if op == "resolve" {
			_, err = c.Resolve(t.Context(), "http://"+addr+"/x.git", "main")
		} else {
			err = c.Checkout(t.Context(), "http://"+addr+"/x.git", strings.Repeat("a", 40), filepath.Join(t.TempDir(), "x"))
		}
		te, ok := errors.AsType[*git.TimeoutError](err)
		if !ok || te.Kind != git.TimeoutLowSpeed || te.Host != "127.0.0.1" || te.Timeout != time.Second {
			t.Fatalf("%s error = %v, want a 1s low-speed TimeoutError for 127.0.0.1", op, err)
		}
		if want := "no answer from 127.0.0.1 within 1s (low-speed timeout: less than 1 bytes/s)"; !strings.HasSuffix(err.Error(), want) {
			t.Errorf("%s error %q does not end with %q", op, err, want)
		}
	}
}

func TestClient_LocalDirs(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	allowed := filepath.Join(root, "allowed")
	if err := os.Mkdir(allowed, 0o755); err != nil {
		t.Fatal(err)
	}
	inside := slipwaytest.GitRepo(t, map[string]string{"a": "a\n"})
	outside := slipwaytest.GitRepo(t, map[string]string{"b": "b\n"})
	// inside's worktree moves into the allowed directory; a symlink there
	// points outside.
	in, sib := filepath.Join(allowed, "repo"), filepath.Join(root, "sib")
	if err := os.Rename(inside.Dir, in); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(outside.Dir, sib); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(allowed, "link")
	if err := os.Symlink(sib, link); err != nil {
		t.Fatal(err)
	}
	dirs, err := localrepo.ResolveDirs([]string{allowed})
	if err != nil {
		t.Fatal(err)
	}
	c, err := git.New(git.Config{CacheDir: t.TempDir(), AllowLocal: true, LocalDirs: dirs})
	if err != nil {
		t.Fatal(err)
	}
	tool := scope("tool-a")
	admin := slipway.WithSourceScope(context.Background(), slipway.SourceScope{Tool: "tool-a", Admin: true})
	for _, tt := range []struct {
		name string
		ctx  context.Context
		repo string
		ok   bool
	}{
		{"ToolInside", tool, "file://" + in, true},
		{"ToolInsideDotDot", tool, filepath.Join(allowed, "x", "..", "repo"), true},
		{"ToolOutside", tool, "file://" + sib, false},
		{"ToolSymlinkOut", tool, link, false},
		{"ToolDotDotOut", tool, allowed + "/../sib", false},
		{"ToolTheDirItself", tool, allowed, false},
		{"AdminOutside", admin, "file://" + sib, true},
		{"NoScopeOutside", context.Background(), sib, true},
	} {
		_, err := c.Resolve(tt.ctx, tt.repo, "main")
		switch {
		case tt.ok && err != nil:
			t.Errorf("%s: Resolve(%s) = %v, want success", tt.name, tt.repo, err)
		case !tt.ok && (!errors.Is(err, git.ErrLocalNotAllowed) || git.IsTransient(err)):
			t.Errorf("%s: Resolve(%s) = %v, want permanent ErrLocalNotAllowed", tt.name, tt.repo, err)
		case !tt.ok && !strings.Contains(err.Error(), "--local-repo-dirs"):
			t.Errorf("%s: error %q does not name --local-repo-dirs", tt.name, err)
		}
	}
}
