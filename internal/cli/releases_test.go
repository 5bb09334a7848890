package cli

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

// Ensure `slipway releases list` shows the demo tool's releases from a
// real server (its deployment made each of its components live), narrows
// by component, and refuses a short commit with the server's reason.
func TestReleasesList(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t)
	head := srv.Repo.Head(t)
	out := jobsRun(t, srv, t.Context(), "", "releases", "list")
	for _, want := range []string{"exit 0", "Environment", "production", "web", "applied", head[:12], "admin"} {
		if !strings.Contains(out, want) {
			t.Errorf("releases list lacks %q:\n%s", want, out)
		}
	}
	out = jobsRun(t, srv, t.Context(), "", "releases", "list", "--component", "web", "--json")
	if !strings.Contains(out, `"component": "web"`) || strings.Contains(out, `"component": "migrate"`) {
		t.Errorf("releases list --component web --json:\n%s", out)
	}
	out = jobsRun(t, srv, t.Context(), "", "releases", "list", "--commit", head[:7])
	if !strings.Contains(out, "exit 1") || !strings.Contains(out, "is not a full commit SHA") {
		t.Errorf("releases list --commit <short>:\n%s", out)
	}
	out = jobsRun(t, srv, t.Context(), "", "releases", "list", "--commit", head)
	if !strings.Contains(out, "exit 0") || !strings.Contains(out, head[:12]) {
		t.Errorf("releases list --commit <full>:\n%s", out)
	}
	// A job deleted through the jobs API is a release that no deployment
	// made: its row says so.
	if out := jobsRun(t, srv, t.Context(), "", "jobs", "delete", "web"); !strings.Contains(out, "exit 0") {
		t.Fatalf("jobs delete web:\n%s", out)
	}
	out = jobsRun(t, srv, t.Context(), "", "releases", "list", "--component", "web", "--limit", "1")
	if !strings.Contains(out, "removed") || !strings.Contains(out, "jobs API") {
		t.Errorf("releases list after jobs delete web lacks a removed row by the jobs API:\n%s", out)
	}
}

// Ensure `slipway releases is-live` answers for the demo tool's commit
// (exit 0, every component has it) and for a commit of no branch (exit
// 3, absent), and refuses a short SHA.
func TestReleasesIsLive(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t)
	head := srv.Repo.Head(t)
	out := jobsRun(t, srv, t.Context(), "", "releases", "is-live", head)
	for _, want := range []string{"exit 0", "web", "exact", head[:12]} {
		if !strings.Contains(out, want) {
			t.Errorf("is-live HEAD lacks %q:\n%s", want, out)
		}
	}
	out = jobsRun(t, srv, t.Context(), "", "releases", "is-live", strings.Repeat("ab", 20))
	if !strings.Contains(out, "exit 3") || !strings.Contains(out, "absent") {
		t.Errorf("is-live of an unknown commit:\n%s", out)
	}
	out = jobsRun(t, srv, t.Context(), "", "releases", "is-live", head[:7])
	if !strings.Contains(out, "exit 1") || !strings.Contains(out, "is not a full commit SHA") {
		t.Errorf("is-live of a short SHA:\n%s", out)
	}
}

// Ensure `slipway releases when` names the demo deployment for its
// commit, and "never" (exit 3) for a commit of no release.
func TestReleasesWhen(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t)
	head := srv.Repo.Head(t)
	out := jobsRun(t, srv, t.Context(), "", "releases", "when", head)
	for _, want := range []string{"exit 0", "web", "exact", "admin"} {
		if !strings.Contains(out, want) {
			t.Errorf("when HEAD lacks %q:\n%s", want, out)
		}
	}
	out = jobsRun(t, srv, t.Context(), "", "releases", "when", strings.Repeat("cd", 20))
	if !strings.Contains(out, "exit 3") || !strings.Contains(out, "never") {
		t.Errorf("when of an unknown commit:\n%s", out)
	}
}

// notesHistory is a fast-import stream of a history with fixed dates (so
// fixed SHAs) on branch main: first, a root commit; then a feature branch
// merged by a pull request (whose own commits first-parent history does
// not list), a fix with a Changelog trailer, a breaking change, a revert
// and a plain commit.
func notesHistory(second bool) []byte {
	commit := func(mark int, from string, merge, msg string) string {
		s := fmt.Sprintf("commit refs/heads/%s\nmark :%d\nauthor Ada Lovelace <ada@example.org> %d +0000\ncommitter Ada Lovelace <ada@example.org> %d +0000\ndata %d\n%s\n",
			map[bool]string{true: "feature", false: "main"}[strings.HasPrefix(msg, "feat(ui): dark")], mark, 1700000000+mark, 1700000000+mark, len(msg), msg)
		if from != "" {
			s += "from " + from + "\n"
		}
		if merge != "" {
			s += "merge " + merge + "\n"
		}
		return s + fmt.Sprintf("M 644 inline index.html\ndata %d\n%d\n\n", len(strconv.Itoa(mark))+1, mark)
	}
	if !second {
		return []byte("reset refs/heads/main\n" + commit(1, "", "", "initial commit"))
	}
	return []byte(commit(2, "refs/heads/main^0", "", "feat(ui): dark mode") +
		commit(3, "refs/heads/main^0", "", "fix: crash on empty input\n\nChangelog: fixed") +
		commit(4, "", ":2", "Merge pull request #12 from ada/dark-mode\n\nfeat(ui): dark mode") +
		commit(5, "", "", "feat(api)!: drop the v1 routes") +
		commit(6, "", "", "Revert \"fix: crash on empty input\"") +
		commit(7, "", "", "update the README"))
}

// Ensure `slipway releases notes` prints a real server's notes of a real
// history as Markdown (golden): a merge, a breaking change, a revert; a
// force push that rewrote the branch; a rollback. It answers --json, and
// refuses bad numbers with the field.
func TestReleasesNotes(t *testing.T) {
	t.Parallel()
	srv := servertest.StartEmpty(t, nil)
	repo := slipwaytest.GitRepo(t, map[string]string{"index.html": "0\n"})
	repo.GitInput(t, notesHistory(false), "fast-import", "--quiet", "--force")
	cfg := `{"config_version": "v1beta1", "components": {"job": {"component_type": "one-off",
		"build": {"repository": "` + repo.URL + `", "ref": "main"}, "run": {"command": "echo ran", "timeout": 60}}}}`
	if _, err := srv.Client.ConfigCreate(t.Context(), servertest.Tool, []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	srv.Deploy(t)
	repo.GitInput(t, notesHistory(true), "fast-import", "--quiet")
	srv.Deploy(t)

	// A force push: main rewritten from the merge (main~3) on.
	merge := repo.Git(t, "rev-parse", "main~3")
	rewrite := "commit refs/heads/main\ncommitter Ada Lovelace <ada@example.org> 1700000100 +0000\ndata 29\nfix(api): keep the v1 routes\nfrom " + merge + "\n\n"
	repo.GitInput(t, []byte(rewrite), "fast-import", "--quiet", "--force")
	srv.Deploy(t)
	// A rollback: main back to the merge.
	repo.Git(t, "update-ref", "refs/heads/main", merge)
	srv.Deploy(t)

	run := func(args ...string) string {
		t.Helper()
		out := jobsRun(t, srv, t.Context(), "", args...)
		return strings.ReplaceAll(out, repo.URL, "file://REPO")
	}
	golden(t, "ReleasesNotes", run("releases", "notes", "1", "2"))
	golden(t, "ReleasesNotesRewritten", run("releases", "notes", "2", "3", "--component", "job"))
	golden(t, "ReleasesNotesRolledBack", run("releases", "notes"))
	golden(t, "ReleasesNotesBackwards", run("releases", "notes", "2", "1"))
	golden(t, "ReleasesNotesUnknown", run("releases", "notes", "1", "99"))
	golden(t, "ReleasesNotesNotANumber", run("releases", "notes", "one"))
	out := run("releases", "notes", "1", "2", "--json")
	for _, want := range []string{"exit 0", `"change": "changed"`, `"section": "breaking"`, `"section": "revert"`, `"title": "dark mode"`} {
		if !strings.Contains(out, want) {
			t.Errorf("releases notes --json lacks %q:\n%s", want, out)
		}
	}
}

// Ensure is-live and when show a fix cherry-picked onto the deployed
// branch (exit 0, naming the pick), and after the pick is reverted and
// deployed, absent naming both (exit 3) while when still names the pick.
func TestReleasesCherryPicked(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t)
	repo := srv.Repo
	repo.Git(t, "checkout", "-q", "-b", "fixes")
	fix := repo.Commit(t, map[string]string{"fix.txt": "fixed\n"}, "fix")
	repo.Git(t, "checkout", "-q", "main")
	repo.Git(t, "cherry-pick", "-x", fix)
	picked := repo.Head(t)
	srv.Deploy(t)
	out := jobsRun(t, srv, t.Context(), "", "releases", "is-live", fix)
	for _, want := range []string{"exit 0", "Cherry-pick", "cherry-picked", "as " + picked[:12]} {
		if !strings.Contains(out, want) {
			t.Errorf("is-live of a cherry-picked fix lacks %q:\n%s", want, out)
		}
	}
	out = jobsRun(t, srv, t.Context(), "", "releases", "is-live", fix, "--json")
	for _, want := range []string{`"state": "cherry-picked"`, `"cherry_pick": {`, `"commit": "` + picked + `"`, `"partial": false`} {
		if !strings.Contains(out, want) {
			t.Errorf("is-live --json of a cherry-picked fix lacks %q:\n%s", want, out)
		}
	}
	out = jobsRun(t, srv, t.Context(), "", "releases", "when", fix)
	if !strings.Contains(out, "exit 0") || !strings.Contains(out, "cherry-picked as "+picked[:12]) {
		t.Errorf("when of a cherry-picked fix:\n%s", out)
	}
	out = jobsRun(t, srv, t.Context(), "", "releases", "when", fix, "--json")
	if !strings.Contains(out, `"how": "cherry-picked"`) || !strings.Contains(out, `"cherry_pick": "`+picked+`"`) || !strings.Contains(out, `"exact": false`) {
		t.Errorf("when --json of a cherry-picked fix:\n%s", out)
	}
	repo.Git(t, "revert", "--no-edit", picked)
	reverted := repo.Head(t)
	srv.Deploy(t)
	out = jobsRun(t, srv, t.Context(), "", "releases", "is-live", fix)
	for _, want := range []string{"exit 3", "absent", "as " + picked[:12] + ", reverted by " + reverted[:12]} {
		if !strings.Contains(out, want) {
			t.Errorf("is-live of a reverted cherry-pick lacks %q:\n%s", want, out)
		}
	}
	out = jobsRun(t, srv, t.Context(), "", "releases", "when", fix)
	if !strings.Contains(out, "exit 0") || !strings.Contains(out, "cherry-picked as "+picked[:12]) {
		t.Errorf("when of a reverted cherry-pick (it was live once):\n%s", out)
	}
}
