package edge

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/store"
)

// Challenge types the ACME manager answers.
const (
	ChallengeTLSALPN01 = "tls-alpn-01"
	ChallengeHTTP01    = "http-01"
)

// accountName is the store name of the sealed ACME account key.
const accountName = "acme-account"

// ACMEConfig is what an [ACME] manager needs.
type ACMEConfig struct {
	// Directory is the ACME server's directory URL.
	Directory string
	// Email is the account's contact, optional.
	Email string
	// HTTPClient talks to the ACME server; default http.DefaultClient.
	HTTPClient *http.Client
	// Challenges are the challenge types to use, in order of preference;
	// default tls-alpn-01 then http-01.
	Challenges []string
	// RenewBefore renews a certificate that expires within this long;
	// default a third of its lifetime.
	RenewBefore time.Duration
	// Store keeps the sealed certificates and account key, shared by every
	// server of the store.
	Store  store.Store
	Sealer *auth.Sealer
	// Now is the clock that decides when a certificate is due; default
	// time.Now. Tests move it.
	Now    func() time.Time
	Logger *slog.Logger
}

// ACME obtains certificates for the names the proxy serves from an ACME
// CA (Let's Encrypt), answering its HTTP-01 and TLS-ALPN-01 challenges on
// the proxy's own ports; keeps them sealed in the store, where every
// server of a shared store finds them; and renews them before they expire.
// A name gets its certificate at its first HTTPS request (a handshake
// waits for it) and is renewed by [ACME.RenewDue].
type ACME struct {
	cfg ACMEConfig

	acctMu sync.Mutex
	client *acme.Client // set once the account is registered

	mu    sync.Mutex
	certs map[string]*tls.Certificate
	// obtaining is the call in flight per name: one order at a time.
	obtaining map[string]*obtainCall

	chMu   sync.Mutex
	http01 map[string]string           // token → key authorization
	alpn   map[string]*tls.Certificate // name → challenge certificate
}

type obtainCall struct {
	done chan struct{}
	cert *tls.Certificate
	err  error
}

// NewACME returns a manager over cfg.
func NewACME(cfg ACMEConfig) *ACME {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if len(cfg.Challenges) == 0 {
		cfg.Challenges = []string{ChallengeTLSALPN01, ChallengeHTTP01}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &ACME{
		cfg: cfg, certs: map[string]*tls.Certificate{}, obtaining: map[string]*obtainCall{},
		http01: map[string]string{}, alpn: map[string]*tls.Certificate{},
	}
}

// Certificate returns name's certificate: the one in memory or in the
// store while it is valid (by the manager's clock), else a new one from
// the CA. Concurrent calls for a name share one order.
func (m *ACME) Certificate(ctx context.Context, name string) (*tls.Certificate, error) {
	now := m.cfg.Now()
	m.mu.Lock()
	if c := m.certs[name]; c != nil && now.Before(c.Leaf.NotAfter) {
		m.mu.Unlock()
		return c, nil
	}
	m.mu.Unlock()
	if c, err := m.load(ctx, name); err == nil && now.Before(c.Leaf.NotAfter) {
		m.remember(name, c)
		return c, nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		m.cfg.Logger.WarnContext(ctx, "stored certificate unusable; obtaining a new one", "name", name, "err", err)
	}
	return m.obtainShared(ctx, name)
}

// obtainShared runs one order per name at a time; others wait for it.
func (m *ACME) obtainShared(ctx context.Context, name string) (*tls.Certificate, error) {
	m.mu.Lock()
	if call, ok := m.obtaining[name]; ok {
		m.mu.Unlock()
		select {
		case <-call.done:
			return call.cert, call.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	call := &obtainCall{done: make(chan struct{})}
	m.obtaining[name] = call
	m.mu.Unlock()

	// The order outlives a handshake that gives up: the next one finds it.
	call.cert, call.err = m.obtain(context.WithoutCancel(ctx), name)
	m.mu.Lock()
	delete(m.obtaining, name)
	if call.err == nil {
		m.certs[name] = call.cert
	}
	m.mu.Unlock()
	close(call.done)
	return call.cert, call.err
}

func (m *ACME) remember(name string, c *tls.Certificate) {
	m.mu.Lock()
	m.certs[name] = c
	m.mu.Unlock()
}

// due reports whether c is to be renewed at now.
func (m *ACME) due(c *tls.Certificate, now time.Time) bool {
	before := m.cfg.RenewBefore
	if before == 0 {
		before = c.Leaf.NotAfter.Sub(c.Leaf.NotBefore) / 3
	}
	return !now.Before(c.Leaf.NotAfter.Add(-before))
}

// RenewDue renews every certificate this server holds that is due by the
// manager's clock, unless another server of the store already did, and
// returns the names it renewed. Errors are logged and joined; a failed
// name keeps its certificate and is tried at the next call.
func (m *ACME) RenewDue(ctx context.Context, serves func(name string) bool) ([]string, error) {
	now := m.cfg.Now()
	m.mu.Lock()
	var names []string
	for name, c := range m.certs {
		if m.due(c, now) {
			names = append(names, name)
		}
	}
	m.mu.Unlock()
	slices.Sort(names)
	var renewed []string
	var errs []error
	for _, name := range names {
		if !serves(name) {
			m.mu.Lock()
			delete(m.certs, name)
			m.mu.Unlock()
			continue
		}
		if c, err := m.load(ctx, name); err == nil && !m.due(c, now) {
			m.remember(name, c) // another server renewed it
			continue
		}
		if _, err := m.obtainShared(ctx, name); err != nil {
			m.cfg.Logger.WarnContext(ctx, "certificate renewal failed", "name", name, "err", err)
			errs = append(errs, err)
			continue
		}
		renewed = append(renewed, name)
	}
	return renewed, errors.Join(errs...)
}

// Run renews due certificates every interval until ctx ends.
func (m *ACME) Run(ctx context.Context, interval time.Duration, serves func(name string) bool) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = m.RenewDue(ctx, serves) // logged there
		}
	}
}

// load returns name's certificate from the store.
func (m *ACME) load(ctx context.Context, name string) (*tls.Certificate, error) {
	sc, err := m.cfg.Store.CertificateGet(ctx, name)
	if err != nil {
		return nil, err
	}
	b, err := m.cfg.Sealer.OpenCertificate(name, sc.Sealed)
	if err != nil {
		return nil, err
	}
	c, err := tls.X509KeyPair(b, b)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", name, err)
	}
	return &c, nil
}

// obtain orders a certificate for name, answers the challenge, and stores
// the result sealed.
func (m *ACME) obtain(ctx context.Context, name string) (*tls.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	client, err := m.account(ctx)
	if err != nil {
		return nil, err
	}
	order, err := client.AuthorizeOrder(ctx, acme.DomainIDs(name))
	if err != nil {
		return nil, fmt.Errorf("edge: acme order for %s: %w", name, err)
	}
	for _, u := range order.AuthzURLs {
		if err := m.authorize(ctx, client, u); err != nil {
			return nil, fmt.Errorf("edge: acme authorization of %s: %w", name, err)
		}
	}
	// The order as WaitOrder returns it may lack the finalize URL.
	if _, err := client.WaitOrder(ctx, order.URI); err != nil {
		return nil, fmt.Errorf("edge: acme order for %s: %w", name, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("edge: key for %s: %w", name, err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}}, key)
	if err != nil {
		return nil, fmt.Errorf("edge: request for %s: %w", name, err)
	}
	der, _, err := client.CreateCertFromOrder(ctx, order, csr, true)
	if err != nil {
		return nil, fmt.Errorf("edge: acme certificate for %s: %w", name, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("edge: key for %s: %w", name, err)
	}
	var b strings.Builder
	_ = pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}) // a Builder does not fail
	for _, c := range der {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c})
	}
	c, err := tls.X509KeyPair([]byte(b.String()), []byte(b.String()))
	if err != nil {
		return nil, fmt.Errorf("edge: certificate for %s: %w", name, err)
	}
	if err := m.cfg.Store.CertificatePut(ctx, store.Certificate{
		Name: name, Sealed: m.cfg.Sealer.SealCertificate(name, []byte(b.String())), UpdatedAt: m.cfg.Now().UTC(),
	}); err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	m.cfg.Logger.InfoContext(ctx, "certificate obtained", "name", name, "not_after", c.Leaf.NotAfter)
	return &c, nil
}

// authorize answers one authorization's challenge of the preferred type
// the CA offers, and waits until the CA validated it.
func (m *ACME) authorize(ctx context.Context, client *acme.Client, url string) error {
	z, err := client.GetAuthorization(ctx, url)
	if err != nil {
		return err
	}
	if z.Status == acme.StatusValid {
		return nil
	}
	var ch *acme.Challenge
	for _, typ := range m.cfg.Challenges {
		for _, c := range z.Challenges {
			if c.Type == typ && ch == nil {
				ch = c
			}
		}
	}
	if ch == nil {
		return fmt.Errorf("no challenge of the types %v offered", m.cfg.Challenges)
	}
	name := z.Identifier.Value
	switch ch.Type {
	case ChallengeTLSALPN01:
		cert, err := client.TLSALPN01ChallengeCert(ch.Token, name)
		if err != nil {
			return err
		}
		m.chMu.Lock()
		m.alpn[name] = &cert
		m.chMu.Unlock()
		defer func() { m.chMu.Lock(); delete(m.alpn, name); m.chMu.Unlock() }()
	case ChallengeHTTP01:
		body, err := client.HTTP01ChallengeResponse(ch.Token)
		if err != nil {
			return err
		}
		m.chMu.Lock()
		m.http01[client.HTTP01ChallengePath(ch.Token)] = body
		m.chMu.Unlock()
		defer func() { m.chMu.Lock(); delete(m.http01, client.HTTP01ChallengePath(ch.Token)); m.chMu.Unlock() }()
	}
	if _, err := client.Accept(ctx, ch); err != nil {
		return err
	}
	_, err = client.WaitAuthorization(ctx, z.URI)
	return err
}

// account returns the client of the registered account, creating its key
// (sealed in the store) and registering it the first time.
func (m *ACME) account(ctx context.Context) (*acme.Client, error) {
	m.acctMu.Lock()
	defer m.acctMu.Unlock()
	if m.client != nil {
		return m.client, nil
	}
	key, err := m.accountKey(ctx)
	if err != nil {
		return nil, err
	}
	client := &acme.Client{Key: key, DirectoryURL: m.cfg.Directory, HTTPClient: m.cfg.HTTPClient, UserAgent: "slipway"}
	acct := &acme.Account{}
	if m.cfg.Email != "" {
		acct.Contact = []string{"mailto:" + m.cfg.Email}
	}
	if _, err := client.Register(ctx, acct, acme.AcceptTOS); err != nil && !errors.Is(err, acme.ErrAccountAlreadyExists) {
		return nil, fmt.Errorf("edge: acme account at %s: %w", m.cfg.Directory, err)
	}
	m.client = client
	return client, nil
}

// accountKey returns the account key from the store, or a new one it
// stores.
func (m *ACME) accountKey(ctx context.Context) (crypto.Signer, error) {
	if sc, err := m.cfg.Store.CertificateGet(ctx, accountName); err == nil {
		b, err := m.cfg.Sealer.OpenCertificate(accountName, sc.Sealed)
		if err != nil {
			return nil, fmt.Errorf("edge: acme account key: %w", err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, errors.New("edge: acme account key: no PEM block")
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("edge: acme account key: %w", err)
		}
		signer, ok := k.(crypto.Signer)
		if !ok {
			return nil, errors.New("edge: acme account key: not a signing key")
		}
		return signer, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("edge: acme account key: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("edge: acme account key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("edge: acme account key: %w", err)
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := m.cfg.Store.CertificatePut(ctx, store.Certificate{Name: accountName, Sealed: m.cfg.Sealer.SealCertificate(accountName, b), UpdatedAt: m.cfg.Now().UTC()}); err != nil {
		return nil, fmt.Errorf("edge: acme account key: %w", err)
	}
	return key, nil
}

// challengeCert answers a TLS-ALPN-01 validation handshake for name.
func (m *ACME) challengeCert(name string) (*tls.Certificate, error) {
	m.chMu.Lock()
	defer m.chMu.Unlock()
	if c := m.alpn[name]; c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("edge: no acme challenge pending for %q", name)
}

// serveHTTP01 answers an HTTP-01 validation request.
func (m *ACME) serveHTTP01(w http.ResponseWriter, r *http.Request) {
	m.chMu.Lock()
	body, ok := m.http01[r.URL.Path]
	m.chMu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(body))
}
