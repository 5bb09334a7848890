// Package slipwaytest holds shared test helpers; never imported by production
// code.
package slipwaytest

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Repo is a real git repository made by [GitRepo] in a test's temporary
// directory, with a worktree checked out on branch main.
type Repo struct {
	// Dir is the repository's worktree.
	Dir string
	// URL is the file:// URL of the repository.
	URL string
	// env is the environment git runs with: no system or global config.
	env []string
}

// GitRepo creates a repository with `git init -b main` in tb.TempDir(),
// commits files (path → content; parent directories are made, and a file
// whose content starts with "#!" is made executable) and returns it. The
// committer identity is set in the repository's own config, and signing is
// off, so the user's git config plays no part.
func GitRepo(tb testing.TB, files map[string]string) *Repo {
	tb.Helper()
	dir := tb.TempDir()
	home := tb.TempDir()
	r := &Repo{
		Dir: dir,
		URL: "file://" + filepath.ToSlash(dir),
		env: append(gitEnviron(),
			"HOME="+home,
			"XDG_CONFIG_HOME="+home,
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_TERMINAL_PROMPT=0",
		),
	}
	r.Git(tb, "init", "-q", "-b", "main")
	r.Git(tb, "config", "user.name", "Slipway Test")
	r.Git(tb, "config", "user.email", "test@slipway.invalid")
	r.Git(tb, "config", "commit.gpgSign", "false")
	r.Git(tb, "config", "tag.gpgSign", "false")
	r.Commit(tb, files, "initial commit")
	return r
}

// Commit writes files into the worktree (as [GitRepo] does), commits
// everything and returns the new commit's SHA. The commit is allowed to be
// empty.
func (r *Repo) Commit(tb testing.TB, files map[string]string, msg string) string {
	tb.Helper()
	for _, name := range slices.Sorted(maps.Keys(files)) {
		content := files[name]
		p := filepath.Join(r.Dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			tb.Fatal(err)
		}
		// WriteFile keeps the mode of an existing file.
		if err := os.Chmod(p, mode); err != nil {
			tb.Fatal(err)
		}
	}
	r.Git(tb, "add", "-A")
	r.Git(tb, "commit", "-q", "--allow-empty", "-m", msg)
	return r.Head(tb)
}

// Head returns the SHA of the commit checked out.
func (r *Repo) Head(tb testing.TB) string {
	tb.Helper()
	return r.Git(tb, "rev-parse", "HEAD")
}

// Tag creates the lightweight tag name at HEAD.
func (r *Repo) Tag(tb testing.TB, name string) {
	tb.Helper()
	r.Git(tb, "tag", name)
}

// AnnotatedTag creates the annotated tag name at HEAD with message msg.
func (r *Repo) AnnotatedTag(tb testing.TB, name, msg string) {
	tb.Helper()
	r.Git(tb, "tag", "-a", "-m", msg, name)
}

// Branch creates the branch name at HEAD, without checking it out.
func (r *Repo) Branch(tb testing.TB, name string) {
	tb.Helper()
	r.Git(tb, "branch", name)
}

// Git runs git with args in the repository and returns its standard output,
// trimmed. It fails the test when git fails.
func (r *Repo) Git(tb testing.TB, args ...string) string {
	tb.Helper()
	return r.GitInput(tb, nil, args...)
}

// GitInput is [Repo.Git] with stdin as git's standard input.
func (r *Repo) GitInput(tb testing.TB, stdin []byte, args ...string) string {
	tb.Helper()
	cmd := exec.CommandContext(tb.Context(), "git", args...)
	cmd.Dir = r.Dir
	cmd.Env = r.env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String())
}

// gitEnviron returns this process's environment without git's own variables
// (a test run from a git hook must not act on the outer repository).
func gitEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	return env
}

// GitOK runs git with args in the repository and reports whether it
// exited 0 (a question git answers by its exit status, such as
// `merge-base --is-ancestor`). It fails the test when git cannot run or
// exits with a status other than 0 or 1.
func (r *Repo) GitOK(tb testing.TB, args ...string) bool {
	tb.Helper()
	cmd := exec.CommandContext(tb.Context(), "git", args...)
	cmd.Dir, cmd.Env = r.Dir, r.env
	err := cmd.Run()
	if exitErr, ok := errors.AsType[*exec.ExitError](err); ok && exitErr.ExitCode() == 1 {
		return false
	}
	if err != nil {
		tb.Fatalf("git %v: %v", args, err)
	}
	return true
}
