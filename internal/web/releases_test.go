package web_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// Ensure the releases page answers both questions for a commit: a
// cherry-pick names its pick, a reverted one says absent and names the
// revert, a commit never released says never; deployments pruned since
// are shown without a link; and the overview links to the page.
func TestReleases_Answers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(e.toolToken)
	if body := wantStatus(t, "overview", get(e, "/ui/t/one/", c), http.StatusOK); !strings.Contains(body, `href="/ui/t/one/releases"`) {
		t.Errorf("the overview does not link to the releases page:\n%s", body)
	}
	for _, tc := range []struct {
		name, query string
		says        []string
	}{
		{"cherry-picked", "live=" + fixCommit, []string{"cherry-picked", "as " + pickCommit[:10], "release #2", `href="/ui/t/one/d/20250601-100000-finishedbb"`}},
		{"pick reverted", "live=" + revertedCommit, []string{"absent", "cherry-picked as " + pickCommit[:10] + ", reverted by " + revertCommit[:10]}},
		{"included, deployment pruned", "live=" + oldCommit, []string{"included", "20250501-090000-prunedaaaa <span class=\"small\">(record pruned)</span>"}},
		{"when, cherry-picked", "when=" + fixCommit, []string{"cherry-picked as " + pickCommit[:10], "#2, <a href=\"/ui/t/one/d/20250601-100000-finishedbb\">", "never"}},
		{"when, never", "when=" + strings.Repeat("0", 40), []string{"<td>never</td>"}},
		{"uppercase and spaces are read as the SHA", "live=+" + strings.ToUpper(fixCommit) + "+", []string{"as " + pickCommit[:10]}},
	} {
		body := wantStatus(t, tc.name, get(e, "/ui/t/one/releases?"+tc.query, c), http.StatusOK)
		for _, want := range tc.says {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the page lacks %q:\n%s", tc.name, want, body)
			}
		}
	}
}

// Ensure the history pages back by release number, 50 a page, newest
// first, with links both ways, and says when there are no older ones.
func TestReleases_Paging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var rs []slipway.Release
	for seq := int64(120); seq >= 1; seq-- {
		rs = append(rs, slipway.Release{
			Seq: seq, Tool: "two", Environment: slipway.DefaultEnvironment, Component: "web", DeploymentID: "20250601-000000-aaaaaaaaaa",
			Commit: strings.Repeat("c", 40), AppliedAt: t0.Add(time.Duration(seq) * time.Minute), Outcome: slipway.ReleaseApplied, Actor: "admin",
		})
	}
	e.svc.mu.Lock()
	e.svc.releases["two"] = rs
	e.svc.mu.Unlock()
	admin := e.signin(adminToken)
	rows := func(body string) []int {
		var seqs []int
		for _, part := range strings.Split(body, `<tr><th scope="row">`)[1:] {
			n, err := strconv.Atoi(part[:strings.IndexByte(part, '<')])
			if err != nil {
				t.Fatalf("row %q: %v", part[:20], err)
			}
			seqs = append(seqs, n)
		}
		return seqs
	}
	for _, tc := range []struct {
		path        string
		first, last int
		older       string
	}{
		{"/ui/t/two/releases", 120, 71, "?before=71"},
		{"/ui/t/two/releases?before=71", 70, 21, "?before=21"},
		{"/ui/t/two/releases?before=21", 20, 1, ""},
	} {
		body := wantStatus(t, tc.path, get(e, tc.path, admin), http.StatusOK)
		got := rows(body)
		if len(got) == 0 || got[0] != tc.first || got[len(got)-1] != tc.last || len(got) != tc.first-tc.last+1 {
			t.Errorf("%s: releases %v, want %d down to %d", tc.path, got, tc.first, tc.last)
		}
		hasOlder := strings.Contains(body, "Older releases")
		if (tc.older != "") != hasOlder || (tc.older != "" && !strings.Contains(body, `href="/ui/t/two/releases`+tc.older+`"`)) {
			t.Errorf("%s: older link %v, want %q", tc.path, hasOlder, tc.older)
		}
		if newest := strings.Contains(body, "Newest releases"); newest != strings.Contains(tc.path, "before") {
			t.Errorf("%s: newest link %v", tc.path, newest)
		}
	}
	if body := wantStatus(t, "past the end", get(e, "/ui/t/two/releases?before=1", admin), http.StatusOK); !strings.Contains(body, "No older releases.") {
		t.Errorf("past the end:\n%s", body)
	}
}
