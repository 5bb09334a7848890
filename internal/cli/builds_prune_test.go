package cli

import (
	"regexp"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

// Ensure `slipway builds prune` against a real server: with everything
// live nothing goes; a build started on its own and never released is
// listed by --dry-run (removing nothing), then removed with its size and
// gone from `builds show`; the live build stays; a bad --older-than is a
// usage error that sends nothing.
func TestBuildsPrune(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t)
	ctx := t.Context()
	out := jobsRun(t, srv, ctx, "", "builds", "prune", "--dry-run", "--older-than", "0")
	if !strings.Contains(out, "exit 0") || !strings.Contains(out, "Would remove 0 artifacts (0 B); kept 1 successful build, 0 of them for releases.") {
		t.Fatalf("prune --dry-run with everything live:\n%s", out)
	}
	srv.Repo.Commit(t, map[string]string{"index.html": "never released\n"}, "unreleased")
	out = jobsRun(t, srv, ctx, "", "builds", "start", srv.Repo.URL, "--ref", "main", "-i", "web")
	if !strings.Contains(out, "exit 0") {
		t.Fatalf("builds start:\n%s", out)
	}
	id := regexp.MustCompile(`[0-9a-f]{16}-[0-9a-f]{8}`).FindString(out)
	if id == "" {
		t.Fatalf("no build ID in:\n%s", out)
	}
	out = jobsRun(t, srv, ctx, "", "builds", "prune", "--dry-run", "--older-than", "0")
	if !strings.Contains(out, "exit 0") || !strings.Contains(out, "Would remove 1 artifact (") || !strings.Contains(out, id) ||
		!strings.Contains(out, srv.Repo.Head(t)[:12]) {
		t.Fatalf("prune --dry-run with an unreleased build:\n%s", out)
	}
	// The default age (7 days) spares the new build.
	if out := jobsRun(t, srv, ctx, "", "builds", "prune", "--dry-run"); !strings.Contains(out, "Would remove 0 artifacts") {
		t.Errorf("prune --dry-run with the default age:\n%s", out)
	}
	if out := jobsRun(t, srv, ctx, "", "builds", "show", id); !strings.Contains(out, "exit 0") {
		t.Fatalf("the dry run removed build %s:\n%s", id, out)
	}
	out = jobsRun(t, srv, ctx, "", "--json", "builds", "prune", "--older-than", "0", "--yes-im-sure")
	if !strings.Contains(out, "exit 0") || !strings.Contains(out, `"build_id": "`+id+`"`) || !strings.Contains(out, `"dry_run": false`) ||
		regexp.MustCompile(`"size_bytes": [1-9]`).FindString(out) == "" {
		t.Fatalf("prune --json:\n%s", out)
	}
	if out := jobsRun(t, srv, ctx, "", "builds", "show", id); !strings.Contains(out, "exit 1") || !strings.Contains(out, "not found") {
		t.Errorf("build %s after the prune:\n%s", id, out)
	}
	if out := jobsRun(t, srv, ctx, "", "builds", "list"); strings.Count(out, "BUILD_SUCCESS") != 1 {
		t.Errorf("builds after the prune, want the live one only:\n%s", out)
	}
	out = jobsRun(t, srv, ctx, "", "builds", "prune", "--older-than", "a year", "--yes-im-sure")
	if !strings.Contains(out, "exit 2") || !strings.Contains(out, `--older-than: "a year" is not a retention period`) {
		t.Errorf("prune --older-than 'a year':\n%s", out)
	}
	out = jobsRun(t, srv, ctx, "n\n", "builds", "prune")
	if !strings.Contains(out, "Aborting at user's request.") {
		t.Errorf("prune answered no:\n%s", out)
	}
}
