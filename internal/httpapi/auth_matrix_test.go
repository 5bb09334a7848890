package httpapi

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store/sqlite"
)

// matrixMetricsToken is the matrix server's metrics token: good for
// /metrics, no credential anywhere else.
const matrixMetricsToken = "metrics-token-of-the-matrix"

// authMatrix is a real TLS server over the API with real credentials of
// two tools: tool-a (the one every request targets) and tool-b (the
// foreigner).
type authMatrix struct {
	svc  *countingService
	srv  *httptest.Server
	base *tls.Config
	// clients by credential kind
	certB, certA, otherCA *http.Client
	tokB, revokedA        string
	deployB, deployA      string
	clock                 *testClock
}

func setupAuthMatrix(t *testing.T, trusted []netip.Prefix) *authMatrix {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	clock := &testClock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	deployTokens, err := auth.New(db, testKey, clock.now)
	if err != nil {
		t.Fatal(err)
	}
	apiTokens := auth.NewAPITokens(db, nil)
	svc := &countingService{fakeService: newFakeService()}
	h := NewHandler(svc, Config{
		AdminToken:     testToken,
		DeployTokens:   countingDeployTokens{DeployTokens: deployTokens, calls: &svc.calls},
		APITokens:      apiTokens,
		EnvVars:        countingEnvVars{EnvVars: newEnvVars(t, db), calls: &svc.calls},
		TrustedProxies: trusted,
		ToolRate:       -1,
		PollRate:       -1,
		MetricsToken:   matrixMetricsToken,
	})
	ca, err := auth.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	m := &authMatrix{svc: svc, srv: srv, clock: clock}
	m.base = srv.Client().Transport.(*http.Transport).TLSClientConfig
	m.certA = m.clientWithCert(t, ca, "tool-a")
	m.certB = m.clientWithCert(t, ca, "tool-b")
	other, err := auth.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m.otherCA = m.clientWithCert(t, other, "tool-a")

	ctx := t.Context()
	if _, m.tokB, err = apiTokens.Create(ctx, "tool-b", "B"); err != nil {
		t.Fatal(err)
	}
	revokedID, revoked, err := apiTokens.Create(ctx, "tool-a", "old")
	if err != nil {
		t.Fatal(err)
	}
	if err := apiTokens.Revoke(ctx, revokedID); err != nil {
		t.Fatal(err)
	}
	m.revokedA = revoked
	// tool-a's deploy token is expired by the time tool-b's is made.
	for _, tool := range []string{"tool-a", "tool-b"} {
		dst := map[string]*string{"tool-a": &m.deployA, "tool-b": &m.deployB}[tool]
		tok, err := deployTokens.Create(ctx, tool)
		if err != nil {
			t.Fatal(err)
		}
		*dst = tok.Token
		if tool == "tool-a" {
			clock.add(slipway.DeployTokenLifetime + time.Second)
		}
	}
	svc.calls.Store(0)
	return m
}

// clientWithCert returns a client that trusts the test server and presents
// a certificate for tool signed by ca.
func (m *authMatrix) clientWithCert(t *testing.T, ca *auth.CA, tool string) *http.Client {
	t.Helper()
	certPEM, keyPEM, err := ca.IssueClient(tool, 0)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg := m.base.Clone()
	cfg.Certificates = []tls.Certificate{pair}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
}

// matrixRequest is one request of the matrix.
type matrixRequest struct {
	client *http.Client
	path   string // with its query
	header map[string]string
}

// do sends req with method and returns the status and body; an error
// when the TLS handshake or the connection failed.
func (m *authMatrix) do(t *testing.T, method string, req matrixRequest) (int, string, error) {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost || method == http.MethodPatch || method == http.MethodPut {
		body = strings.NewReader(`{"components": {}}`)
	}
	r, err := http.NewRequestWithContext(t.Context(), method, m.srv.URL+req.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range req.header {
		r.Header.Set(k, v)
	}
	c := req.client
	if c == nil {
		c = m.srv.Client()
	}
	resp, err := c.Do(r)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestHandler_AuthMatrix sends every route of the route table, through a
// real TLS listener, each credential that must not work: none, a foreign
// tool's API token, a foreign tool's client certificate, a certificate
// from another CA, a revoked API token, a foreign tool's deploy token, the
// tool's own expired deploy token, and a forged x-toolforge-tool header
// from an address that is no trusted proxy. Each gets 401 or 403 (or, for
// the foreign CA, a refused handshake), and nothing reaches the service or
// the deploy tokens.
func TestHandler_AuthMatrix(t *testing.T) {
	t.Parallel()
	// 10.0.0.0/8 is trusted; the test client connects from 127.0.0.1.
	m := setupAuthMatrix(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})

	type credential struct {
		name string
		req  func(path string) matrixRequest
		// want is the status on a tool route of tool-a (admin routes: 401
		// for anonymous credentials, 403 for tool identities).
		want, wantAdmin int
		handshake       bool // refused at the TLS handshake
	}
	withQuery := func(path, q string) string {
		if strings.Contains(path, "?") {
			return path + "&" + q
		}
		return path + "?" + q
	}
	creds := []credential{
		{name: "no credentials", req: func(p string) matrixRequest { return matrixRequest{path: p} }, want: 401, wantAdmin: 401},
		{name: "foreign API token", req: func(p string) matrixRequest {
			return matrixRequest{path: p, header: map[string]string{"Authorization": "Bearer " + m.tokB}}
		}, want: 403, wantAdmin: 403},
		{name: "revoked API token", req: func(p string) matrixRequest {
			return matrixRequest{path: p, header: map[string]string{"Authorization": "Bearer " + m.revokedA}}
		}, want: 401, wantAdmin: 401},
		{name: "foreign client certificate", req: func(p string) matrixRequest { return matrixRequest{client: m.certB, path: p} }, want: 403, wantAdmin: 403},
		{name: "certificate of another CA", req: func(p string) matrixRequest { return matrixRequest{client: m.otherCA, path: p} }, handshake: true},
		{name: "foreign deploy token", req: func(p string) matrixRequest { return matrixRequest{path: withQuery(p, "token="+m.deployB)} }, want: 401, wantAdmin: 401},
		{name: "foreign deploy token as bearer", req: func(p string) matrixRequest {
			return matrixRequest{path: p, header: map[string]string{"Authorization": "Bearer " + m.deployB}}
		}, want: 401, wantAdmin: 401},
		{name: "expired deploy token", req: func(p string) matrixRequest { return matrixRequest{path: withQuery(p, "token="+m.deployA)} }, want: 401, wantAdmin: 401},
		{name: "forged x-toolforge-tool header", req: func(p string) matrixRequest {
			return matrixRequest{path: p, header: map[string]string{"X-Toolforge-Tool": "tool-a"}}
		}, want: 401, wantAdmin: 401},
		{name: "the metrics token", req: func(p string) matrixRequest {
			return matrixRequest{path: p, header: map[string]string{"Authorization": "Bearer " + matrixMetricsToken}}
		}, want: 401, wantAdmin: 401},
	}

	cells, routes, jobsSlash := 0, 0, 0
	for _, rt := range (&api{}).routes() {
		if rt.access == public {
			continue
		}
		routes++
		for _, p := range routePaths(rt, "tool-a") {
			if strings.HasPrefix(p, "/jobs/") && strings.HasSuffix(p, "/") {
				jobsSlash++ // the jobs API's trailing-slash form of the route
			}
			for _, c := range creds {
				want := c.want
				if rt.access == adminOnly || rt.access == adminOrMetricsToken {
					want = c.wantAdmin
				}
				if rt.access == adminOrMetricsToken && c.name == "the metrics token" {
					continue // its one route: TestHandler_IdentityThatWorks
				}
				if rt.access == anyTool && strings.HasPrefix(c.name, "foreign") && want == 403 {
					continue // any tool's own credential is welcome there, scoped to its tool: questions_test.go
				}
				status, body, err := m.do(t, rt.method, c.req(p))
				cells++
				switch {
				case c.handshake:
					var certErr *tls.CertificateVerificationError
					if err == nil || (!errors.As(err, &certErr) && !strings.Contains(err.Error(), "certificate")) {
						t.Errorf("%s %s with %s: %d %v, want a refused handshake", rt.method, p, c.name, status, err)
					}
				case err != nil:
					t.Errorf("%s %s with %s: %v", rt.method, p, c.name, err)
				case status != want:
					t.Errorf("%s %s with %s: %d %s, want %d", rt.method, p, c.name, status, body, want)
				case !strings.HasPrefix(body, `{"messages":`) || strings.Contains(body, `"data"`):
					t.Errorf("%s %s with %s: not an error envelope: %s", rt.method, p, c.name, body)
				}
				for _, secret := range []string{m.tokB, m.revokedA, m.deployA, m.deployB, matrixMetricsToken} {
					if strings.Contains(body, secret) {
						t.Errorf("%s %s with %s: the response echoes a secret: %s", rt.method, p, c.name, body)
					}
				}
			}
		}
	}
	if n := m.svc.calls.Load(); n != 0 {
		t.Errorf("%d calls reached the service or the deploy tokens, want none", n)
	}
	if len(m.svc.configs) != 0 || len(m.svc.deployments) != 0 {
		t.Errorf("state changed: configs %v, deployments %v", m.svc.configs, m.svc.deployments)
	}
	t.Logf("auth matrix: %d routes, %d credentials, %d requests", routes, len(creds), cells)
	if routes < 29 {
		t.Errorf("only %d authenticated routes in the table", routes)
	}
	if jobsSlash < 11 {
		t.Errorf("only %d jobs routes in their trailing-slash form, want every one (11)", jobsSlash)
	}
}

// TestHandler_DeployTokenOnlyOnCIRoutes: a tool's own, valid deploy token
// opens exactly the two CI routes (POST …/deployment and GET
// …/deployment/{id}) and nothing else — in particular none of the envvar
// routes, which would give it the tool's secrets. On every other route, as
// ?token= and as a bearer, it is no credential (401), and nothing reaches
// the service, the deploy tokens or the envvars.
func TestHandler_DeployTokenOnlyOnCIRoutes(t *testing.T) {
	t.Parallel()
	m := setupAuthMatrix(t, nil)
	ci, refused := 0, 0
	for _, rt := range (&api{}).routes() {
		switch rt.access {
		case public:
			continue
		case adminOrDeployToken:
			ci++
			continue
		case adminOnly, adminOrToolToken, adminOrMetricsToken, adminOrToolOrAsk, anyTool:
		}
		for _, p := range routePaths(rt, "tool-b") {
			p = strings.ReplaceAll(p, "{name}", "API_KEY")
			for _, req := range []matrixRequest{
				{path: p + "?token=" + m.deployB},
				{path: p, header: map[string]string{"Authorization": "Bearer " + m.deployB}},
			} {
				status, body, err := m.do(t, rt.method, req)
				refused++
				switch {
				case err != nil:
					t.Errorf("%s %s with tool-b's deploy token: %v", rt.method, p, err)
				case status != 401:
					t.Errorf("%s %s with tool-b's own deploy token: %d %s, want 401", rt.method, p, status, body)
				case strings.Contains(body, m.deployB):
					t.Errorf("%s %s: the answer echoes the token: %s", rt.method, p, body)
				}
			}
		}
	}
	if n := m.svc.calls.Load(); n != 0 {
		t.Errorf("%d calls reached the service, the deploy tokens or the envvars, want none", n)
	}
	if ci != 3 { // create, rollback, get by ID
		t.Errorf("%d routes take a deploy token, want exactly 3", ci)
	}
	t.Logf("a valid deploy token: refused %d times, on every route but the %d CI ones", refused, ci)
	// The control: the same token works on the CI route.
	if status, body, err := m.do(t, "POST", matrixRequest{path: "/components/v1/tool/tool-b/deployment?token=" + m.deployB}); err != nil || status != 404 {
		t.Errorf("POST …/deployment with the valid token: %d %s %v, want 404 (past authentication, no config)", status, body, err)
	}
}

// TestHandler_IdentityThatWorks is the matrix's control: the same server
// takes a tool's own certificate, its trusted-proxy header and its own
// valid deploy token, and a trusted proxy naming another tool gets 403.
func TestHandler_IdentityThatWorks(t *testing.T) {
	t.Parallel()
	m := setupAuthMatrix(t, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	cases := []struct {
		name   string
		method string
		req    matrixRequest
		want   int
	}{
		{"own certificate", "GET", matrixRequest{client: m.certA, path: "/components/v1/tool/tool-a/deployment"}, 200},
		{"own certificate, other tool", "GET", matrixRequest{client: m.certA, path: "/components/v1/tool/tool-b/deployment"}, 403},
		{"own certificate, admin route", "GET", matrixRequest{client: m.certA, path: "/v1/admin/tokens"}, 403},
		{"trusted proxy header", "GET", matrixRequest{path: "/components/v1/tool/tool-a/deployment", header: map[string]string{"X-Toolforge-Tool": "tool-a"}}, 200},
		{"trusted proxy header, other tool", "GET", matrixRequest{path: "/components/v1/tool/tool-a/deployment", header: map[string]string{"X-Toolforge-Tool": "tool-b"}}, 403},
		{"trusted proxy header, not a tool name", "GET", matrixRequest{path: "/components/v1/tool/tool-a/deployment", header: map[string]string{"X-Toolforge-Tool": "../x"}}, 401},
		{"valid deploy token", "POST", matrixRequest{path: "/components/v1/tool/tool-b/deployment?token=" + m.deployB}, 404}, // no config: past auth
		{"metrics token on /metrics", "GET", matrixRequest{path: "/metrics", header: map[string]string{"Authorization": "Bearer " + matrixMetricsToken}}, 200},
		{"own certificate on /metrics", "GET", matrixRequest{client: m.certA, path: "/metrics"}, 403},
		{"admin token on /metrics", "GET", matrixRequest{path: "/metrics", header: map[string]string{"Authorization": "Bearer " + testToken}}, 200},
	}
	for _, c := range cases {
		status, body, err := m.do(t, c.method, c.req)
		if err != nil || status != c.want {
			t.Errorf("%s: %d %s %v, want %d", c.name, status, body, err, c.want)
		}
	}
}
