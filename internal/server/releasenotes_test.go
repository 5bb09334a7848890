package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

// Ensure GET …/releases/notes on a real server answers Markdown when
// asked, refuses bad input with the field (a number that is not one, a
// release that does not exist, from after to, an unknown format) as 422,
// and refuses another tool's token.
func TestReleaseNotes_HTTP(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t)
	srv.Repo.Commit(t, map[string]string{"index.html": "v2\n"}, "feat: a second page")
	srv.Deploy(t)
	env, err := srv.Client.APITokenCreate(t.Context(), "other", "notes test")
	if err != nil {
		t.Fatal(err)
	}
	_, otherToken, err := env.APITokenCreated()
	if err != nil {
		t.Fatal(err)
	}
	get := func(token, query string) (int, string, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL()+"/components/v1/tool/"+servertest.Tool+"/releases/notes"+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	status, ctype, body := get(srv.AdminToken(), "?format=markdown")
	if status != 200 || !strings.HasPrefix(ctype, "text/markdown") || !strings.Contains(body, "### Features\n\n- a second page (`") {
		t.Errorf("markdown: %d %s\n%s", status, ctype, body)
	}
	status, ctype, body = get(srv.AdminToken(), "")
	if status != 200 || ctype != "application/json" || !strings.Contains(body, `"section":"feat"`) {
		t.Errorf("json: %d %s\n%s", status, ctype, body)
	}
	for _, tt := range []struct{ query, want string }{
		{"?from=abc", "from: \\\"abc\\\" is not a release number"},
		{"?to=1.5", "to: \\\"1.5\\\" is not a release number"},
		{"?to=99999", "to: tool demo has no release 99999"},
		{"?from=99999", "from: tool demo has no release 99999"},
		{"?from=6&to=2", "from: release 6 comes after to (release 2)"},
		{"?from=-3", "from: -3 is not a release number"},
		{"?format=html", "format: \\\"html\\\" is not json or markdown"},
		{"?component=nope", "component: nope has no releases"},
	} {
		if status, _, body := get(srv.AdminToken(), tt.query); status != 422 || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %s, want 422 with %q", tt.query, status, body, tt.want)
		}
	}
	if status, _, body := get(otherToken, ""); status != 403 || strings.Contains(body, "second page") {
		t.Errorf("another tool's token: %d %s, want 403", status, body)
	}
}
