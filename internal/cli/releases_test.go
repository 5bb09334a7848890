package cli

import (
	"strings"
	"testing"

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
