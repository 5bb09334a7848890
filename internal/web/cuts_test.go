package web_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// Ensure the named releases pages list the cuts, show one with its
// change requests (escaped, each linked to the question that decides it),
// the notes from another cut, and never the repository's credentials.
func TestCuts_ListAndChangeRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(e.toolToken)
	if body := wantStatus(t, "overview", get(e, "/ui/t/one/", c), http.StatusOK); !strings.Contains(body, `href="/ui/t/one/cuts"`) {
		t.Errorf("the overview does not link to the named releases")
	}
	list := wantStatus(t, "list", get(e, "/ui/t/one/cuts", c), http.StatusOK)
	for _, want := range []string{`href="/ui/t/one/cuts/2026.12.1"`, `href="/ui/t/one/cuts/2026.12.2"`, "release/2026.12.1", "mutable", "frozen"} {
		if !strings.Contains(list, want) {
			t.Errorf("the list lacks %q:\n%s", want, list)
		}
	}
	page := wantStatus(t, "cut", get(e, "/ui/t/one/cuts/2026.12.1", c), http.StatusOK)
	for _, want := range []string{
		"ref: release/2026.12.1", "https://***@example.org/one.git",
		"fix the &lt;script&gt;alert(1)&lt;/script&gt; login", `href="/ui/t/one/q/q-open00003">Approve or refuse`,
		`href="/ui/t/one/q/q-applied01">The question`, crPick[:10], "a feature waits for the next release", "hotfix",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the cut's page lacks %q:\n%s", want, page)
		}
	}
	for _, bad := range []string{"<script>alert", "secret@"} {
		if strings.Contains(page, bad) {
			t.Errorf("the cut's page shows %q", bad)
		}
	}
	notes := wantStatus(t, "notes", get(e, "/ui/t/one/cuts/2026.12.1?from=2026.12.2", c), http.StatusOK)
	for _, want := range []string{"diverged", "feat: &lt;b&gt;dark&lt;/b&gt; mode", "picked into 2026.12.2 as", "In 2026.12.2, not in 2026.12.1"} {
		if !strings.Contains(notes, want) {
			t.Errorf("the notes lack %q:\n%s", want, notes)
		}
	}
}

// Ensure bad input and failures on the named releases pages say what is
// wrong, never a 500: a name that cannot be a cut's, an unknown cut, a bad
// or unknown from (next to its field), a git failure reading a mutable
// cut's branch (the stored head, said so) or making notes.
func TestCuts_BadInputAndFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(adminToken)
	for _, tc := range []struct {
		name, path string
		status     int
		says       string
	}{
		{"bad name", "/ui/t/one/cuts/Bad..Name", 404, "There is no named release"},
		{"unknown", "/ui/t/one/cuts/2027.1.1", 404, "has no named release 2027.1.1"},
		{"bad from", "/ui/t/one/cuts/2026.12.1?from=%3Cscript%3E", 422, "from: &#34;&lt;script&gt;&#34; may hold only"},
		{"unknown from", "/ui/t/one/cuts/2026.12.1?from=2027.1.1", 422, "Release 2027.1.1 not found"},
		{"unknown tool", "/ui/t/nosuchtool/cuts", 404, "There is no tool named"},
	} {
		body := wantStatus(t, tc.name, get(e, tc.path, c), tc.status)
		if !strings.Contains(body, tc.says) {
			t.Errorf("%s: the page lacks %q:\n%s", tc.name, tc.says, body)
		}
	}
	e.cuts.mu.Lock()
	e.cuts.branchErr = errors.New("git ls-remote: exit status 128")
	e.cuts.notesErr = errors.New("git log: exit status 128")
	e.cuts.mu.Unlock()
	if body := wantStatus(t, "branch unreadable", get(e, "/ui/t/one/cuts/2026.12.2", c), http.StatusOK); !strings.Contains(body, "could not be read now: the head shown is the last one recorded") || strings.Contains(body, "exit status") {
		t.Errorf("an unreadable branch:\n%s", body)
	}
	if body := wantStatus(t, "notes failed", get(e, "/ui/t/one/cuts/2026.12.1?from=2026.12.2", c), http.StatusBadGateway); !strings.Contains(body, "The notes could not be read from the repository now") {
		t.Errorf("failed notes:\n%s", body)
	}
}
