package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// Ensure the release notes page groups a component's commits by section
// (breaking changes first), links a commit to its forge page, escapes
// what commits say, and shows a bad or refused release number next to
// the form (422), never a 500; the releases page links to it.
func TestReleaseNotes_Page(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signin(e.toolToken)
	if body := wantStatus(t, "releases", get(e, "/ui/t/one/releases", c), http.StatusOK); !strings.Contains(body, `href="/ui/t/one/releases/notes"`) {
		t.Errorf("the releases page does not link to the notes:\n%s", body)
	}
	body := wantStatus(t, "notes form", get(e, "/ui/t/one/releases/notes", c), http.StatusOK)
	if strings.Contains(body, "Changes in") {
		t.Errorf("notes shown before they were asked for:\n%s", body)
	}
	body = wantStatus(t, "notes", get(e, "/ui/t/one/releases/notes?from=1&to=2", c), http.StatusOK)
	breaking, fixes := strings.Index(body, "<h4>Breaking changes</h4>"), strings.Index(body, "<h4>Fixes</h4>")
	if breaking < 0 || fixes < breaking {
		t.Errorf("sections missing or out of order (breaking %d, fixes %d):\n%s", breaking, fixes, body)
	}
	for _, want := range []string{"crash on &lt;empty&gt; input &amp; more", `<a href="https://example.org/one/commit/` + fixCommit + `">`, "web: changed from #1"} {
		if !strings.Contains(body, want) {
			t.Errorf("the notes lack %q:\n%s", want, body)
		}
	}
	for _, tc := range []struct{ name, query, says string }{
		{"not a number", "from=one", `from: &#34;one&#34; is not a release number`},
		{"negative", "to=-2", `to: &#34;-2&#34; is not a release number`},
		{"another environment's", "from=3", "release 3 is of environment staging"},
		{"no such release", "to=99", "99 is no release of tool one"},
		{"markup", "from=%3Cscript%3E", "&lt;script&gt;"},
	} {
		body := wantStatus(t, tc.name, get(e, "/ui/t/one/releases/notes?"+tc.query, c), http.StatusUnprocessableEntity)
		if !strings.Contains(body, tc.says) || strings.Contains(body, "<script>") {
			t.Errorf("%s: the page lacks %q or carries the markup:\n%s", tc.name, tc.says, body)
		}
	}
	other := e.signin(e.toolToken)
	wantStatus(t, "another tool's notes", get(e, "/ui/t/two/releases/notes?from=1", other), http.StatusForbidden)
}
