package edge_test

import (
	"crypto/rand"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/edge"
	"slipway.dev/slipway/internal/slipway"
)

// clock is a test clock that the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time   { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)  { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func newClock() *clock            { return &clock{t: time.Now()} }
func serveApp(host string) string { return "served " + host }
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// Ensure a tool gets a certificate for its custom domain from a real ACME
// CA (Pebble) over each challenge type, is served over HTTPS with a chain
// valid against the CA's root (HSTS sent, plain HTTP redirected), keeps it
// sealed in the store where another server finds it, renews it when the
// clock reaches the renewal window, and that a second tool cannot claim
// the name.
func TestACME_Pebble(t *testing.T) {
	t.Parallel()
	for _, challenge := range []string{edge.ChallengeHTTP01, edge.ChallengeTLSALPN01} {
		t.Run(challenge, func(t *testing.T) {
			t.Parallel()
			testACME(t, challenge)
		})
	}
}

func testACME(t *testing.T, challenge string) {
	ctx := t.Context()
	st := openStore(t)
	key := make([]byte, auth.KeySize)
	_, _ = rand.Read(key)
	sealer, err := auth.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	domains := newDomains(t, st, "example.org")
	if _, err := domains.Add(as(t, "alpha"), "alpha", "www.example.org"); err != nil {
		t.Fatal(err)
	}

	httpLn, httpsLn := listen(t), listen(t)
	httpsPort := httpsLn.Addr().(*net.TCPAddr).Port
	p := startPebble(t, httpLn.Addr().(*net.TCPAddr).Port, httpsPort)
	clk := newClock()
	newManager := func() *edge.ACME {
		return edge.NewACME(edge.ACMEConfig{
			Directory: p.directory, HTTPClient: p.client, Challenges: []string{challenge},
			Store: st, Sealer: sealer, Now: clk.Now,
		})
	}
	acme := newManager()
	cfg := edge.DomainConfig{AppsDomain: "apps.test", HTTPSListen: "set", ACMEDirectory: p.directory, RedirectHTTPS: true, HSTSMaxAge: 3600}
	tlsE, err := edge.NewTLS(cfg, domains, acme)
	if err != nil {
		t.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inst, _ := domains.Lookup(r.Host)
		_, _ = w.Write([]byte(serveApp(inst)))
	})
	plain := &http.Server{Handler: tlsE.HTTPHandler(app, httpsPort), ReadHeaderTimeout: 5 * time.Second}
	secure := &http.Server{Handler: tlsE.HTTPSHandler(app), TLSConfig: tlsE.Config(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = plain.Serve(httpLn) }()
	go func() { _ = secure.ServeTLS(httpsLn, "", "") }()
	t.Cleanup(func() { _ = plain.Close(); _ = secure.Close() })

	roots := p.roots(t)
	client := dialTo(httpsLn.Addr().String(), roots)
	start := time.Now()
	a := getTLS(t, client, "https://www.example.org/")
	t.Logf("%s: first HTTPS request, certificate obtained, in %s", challenge, time.Since(start).Round(time.Millisecond))
	if a.status != 200 || a.body != "served alpha" {
		t.Fatalf("GET https://www.example.org/ = %d %q", a.status, a.body)
	}
	if len(a.tls.VerifiedChains) == 0 {
		t.Fatal("no verified chain")
	}
	first := a.tls.PeerCertificates[0]
	if err := first.VerifyHostname("www.example.org"); err != nil {
		t.Errorf("certificate: %v", err)
	}
	if got := a.header.Get("Strict-Transport-Security"); got != "max-age=3600" {
		t.Errorf("HSTS = %q", got)
	}

	// Plain HTTP: a permanent redirect to HTTPS, path and query kept.
	a = getTLS(t, dialTo(httpLn.Addr().String(), nil), "http://www.example.org/a/b?c=d")
	if want := "https://www.example.org:" + strconv.Itoa(httpsPort) + "/a/b?c=d"; a.status != http.StatusPermanentRedirect || a.header.Get("Location") != want {
		t.Errorf("plain HTTP = %d Location %q, want 308 to %s", a.status, a.header.Get("Location"), want)
	}

	// Sealed in the store; another server of the store serves it as is.
	sc, err := st.CertificateGet(ctx, "www.example.org")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sc.Sealed, "PRIVATE KEY") || strings.Contains(sc.Sealed, "CERTIFICATE") {
		t.Error("the certificate is stored in the clear")
	}
	if _, err := sealer.OpenCertificate("other.example.org", sc.Sealed); err == nil {
		t.Error("a sealed certificate opens under another name")
	}
	replica, err := newManager().Certificate(ctx, "www.example.org")
	if err != nil {
		t.Fatal(err)
	}
	if replica.Leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Error("another server of the store obtained a certificate of its own")
	}

	// Not yet due: nothing renewed. In the renewal window: renewed, and
	// served from the next handshake.
	serves := func(name string) bool { _, ok := domains.Lookup(name); return ok }
	if renewed, err := acme.RenewDue(ctx, serves); err != nil || len(renewed) != 0 {
		t.Errorf("RenewDue before the window = %v, %v", renewed, err)
	}
	clk.Set(first.NotAfter.Add(-time.Hour))
	start = time.Now()
	renewed, err := acme.RenewDue(ctx, serves)
	if err != nil || len(renewed) != 1 || renewed[0] != "www.example.org" {
		t.Fatalf("RenewDue in the window = %v, %v", renewed, err)
	}
	t.Logf("%s: renewed in %s", challenge, time.Since(start).Round(time.Millisecond))
	client.CloseIdleConnections()
	a = getTLS(t, client, "https://www.example.org/")
	if a.status != 200 || a.body != "served alpha" {
		t.Fatalf("after renewal: %d %q", a.status, a.body)
	}
	if a.tls.PeerCertificates[0].SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Error("the renewed certificate is not the one served")
	}

	// A second tool cannot claim the name; a host nobody serves gets no
	// certificate.
	if _, err := domains.Add(as(t, "beta"), "beta", "www.example.org"); slipway.ErrorCode(err) != slipway.EConflict {
		t.Errorf("beta's claim = %v, want a conflict", err)
	}
	if resp, err := client.Get("https://nobody.example.com/"); err == nil {
		_ = resp.Body.Close()
		t.Error("a host nobody serves got a certificate")
	}
}
