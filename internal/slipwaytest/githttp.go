package slipwaytest

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/http/cgi" //nolint:gosec // G504: httpoxy was fixed in Go 1.6.3; this runs git http-backend for tests
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// GitHTTP serves git repositories over git's smart HTTP protocol: the
// real `git http-backend` as a CGI program behind a Go handler that asks
// for HTTP basic authentication, as a forge serving private repositories
// does (401 with WWW-Authenticate until the right user and password come).
type GitHTTP struct {
	root       string
	user, pass string
	backend    *cgi.Handler
	// Push, when true, accepts pushes (git-receive-pack), which run the
	// repository's hooks as a forge runs its own; a repository must also
	// set http.receivepack (git http-backend asks for an authenticated
	// user otherwise). False: read-only, as a mirror.
	Push bool
	// Requests counts the requests, Authorized those that carried the
	// right credential.
	Requests, Authorized atomic.Int64
}

// NewGitHTTP returns a handler serving the repositories under root (a
// repository at root/name is at /name) to clients that authenticate as
// user:pass; with user "", to anybody. home is the HOME git runs with.
func NewGitHTTP(root, home, user, pass string) (*GitHTTP, error) {
	out, err := exec.Command("git", "--exec-path").Output() //nolint:noctx // a quick local query
	if err != nil {
		return nil, fmt.Errorf("git --exec-path: %w", err)
	}
	return &GitHTTP{
		root: root, user: user, pass: pass,
		backend: &cgi.Handler{
			Path: filepath.Join(strings.TrimSpace(string(out)), "git-http-backend"),
			Dir:  root,
			Env: []string{
				"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1",
				"HOME=" + home, "XDG_CONFIG_HOME=" + home, "GIT_CONFIG_NOSYSTEM=1",
			},
			InheritEnv: []string{"PATH"},
		},
	}, nil
}

// ServeHTTP checks the credential and passes the request to git.
func (g *GitHTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.Requests.Add(1)
	if g.user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(g.user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(g.pass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="slipwaytest"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		g.Authorized.Add(1)
	}
	if !g.Push && (strings.Contains(r.URL.RawQuery, "git-receive-pack") || strings.HasSuffix(r.URL.Path, "/git-receive-pack")) {
		http.Error(w, "read-only", http.StatusForbidden)
		return
	}
	g.backend.ServeHTTP(w, r)
}

// ServeGitHTTP serves repo's repository over HTTP on 127.0.0.1 until the
// test ends, asking for user:pass (nobody when user is ""), and returns its
// URL without credentials: http://127.0.0.1:<port>/<name>.
func ServeGitHTTP(tb testing.TB, repo *Repo, user, pass string) (string, *GitHTTP) {
	tb.Helper()
	g, err := NewGitHTTP(filepath.Dir(repo.Dir), tb.TempDir(), user, pass)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(g)
	tb.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(repo.Dir), g
}
