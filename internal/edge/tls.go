package edge

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// acmeTLSProto is the ALPN protocol of ACME's TLS-ALPN-01 challenge (RFC
// 8737).
const acmeTLSProto = "acme-tls/1"

// TLS is HTTPS on the proxy: for each name a client asks for (SNI), the
// provided certificate when it covers the name (a wildcard for the apps
// domain, say), else one obtained over ACME when that is on.
type TLS struct {
	provided *tls.Certificate
	acme     *ACME
	hosts    Hosts
	hsts     int
	redirect bool
}

// NewTLS loads cfg's provided certificate, if any; acme (nil for none)
// obtains the others, for the names hosts serves.
func NewTLS(cfg DomainConfig, hosts Hosts, acme *ACME) (*TLS, error) {
	t := &TLS{acme: acme, hosts: hosts, hsts: cfg.HSTSMaxAge, redirect: cfg.RedirectHTTPS}
	if cfg.TLSCert != "" {
		c, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("edge: proxy TLS certificate: %w", err)
		}
		if c.Leaf == nil {
			if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
				return nil, fmt.Errorf("edge: proxy TLS certificate: %w", err)
			}
		}
		t.provided = &c
	}
	return t, nil
}

// Config returns the TLS settings of the HTTPS listener: HTTP/2 and
// HTTP/1.1, and ACME's TLS-ALPN-01 challenge when ACME is on.
func (t *TLS) Config() *tls.Config {
	protos := []string{"h2", "http/1.1"}
	if t.acme != nil {
		protos = append(protos, acmeTLSProto)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: protos, GetCertificate: t.getCertificate}
}

func (t *TLS) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := NormalizeHost(hello.ServerName)
	if t.acme != nil && slices.Equal(hello.SupportedProtos, []string{acmeTLSProto}) {
		return t.acme.challengeCert(name)
	}
	if t.provided != nil && (name == "" || t.provided.Leaf.VerifyHostname(name) == nil) {
		return t.provided, nil
	}
	if t.acme != nil && name != "" {
		if _, ok := t.hosts.Lookup(name); ok {
			return t.acme.Certificate(hello.Context(), name)
		}
	}
	if t.provided != nil {
		return t.provided, nil
	}
	return nil, fmt.Errorf("edge: no certificate for %q", name)
}

// HTTPHandler wraps the proxy's plain-HTTP handler: ACME's HTTP-01
// challenges are answered, and with the redirect on every other request
// gets a permanent redirect to HTTPS on httpsPort.
func (t *TLS) HTTPHandler(next http.Handler, httpsPort int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t.acme != nil && strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			t.acme.serveHTTP01(w, r)
			return
		}
		if !t.redirect {
			next.ServeHTTP(w, r)
			return
		}
		host := NormalizeHost(r.Host)
		if _, ok := t.hosts.Lookup(host); !ok {
			http.Error(w, "404 Not Found: no such app here.", http.StatusNotFound)
			return
		}
		if httpsPort != 443 {
			host = net.JoinHostPort(host, strconv.Itoa(httpsPort))
		}
		// The same host (one the proxy serves), on HTTPS: not an open redirect.
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect) //nolint:gosec // G710: the host is one Hosts serves, the target this very request over HTTPS
	})
}

// HTTPSHandler wraps the proxy's handler over HTTPS: the
// Strict-Transport-Security header when HSTS is on.
func (t *TLS) HTTPSHandler(next http.Handler) http.Handler {
	if t.hsts == 0 {
		return next
	}
	v := "max-age=" + strconv.Itoa(t.hsts)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", v)
		next.ServeHTTP(w, r)
	})
}
