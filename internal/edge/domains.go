// Package edge is the front door of published apps: which host names reach
// which tool (the apps domain and tools' custom domains), who may claim a
// name, and TLS on the proxy (a provided certificate, or certificates
// obtained over ACME and kept sealed in the store).
package edge

import (
	"net"
	"strconv"
	"strings"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// DefaultAppsDomain is the apps domain when none is set: every tool at
// <tool>.localhost, which browsers and curl resolve to loopback.
const DefaultAppsDomain = "localhost"

// NormalizeHost returns a request's Host as names are stored: without the
// port, lowercase, without a trailing dot.
func NormalizeHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// AppsHosts serves each tool at <tool>.<Domain> and each of its
// environments' instances at <tool>--<env>.<Domain>.
type AppsHosts struct{ Domain string }

// Lookup returns the instance a host under the apps domain names.
func (a AppsHosts) Lookup(host string) (string, bool) {
	inst, ok := strings.CutSuffix(NormalizeHost(host), "."+a.Domain)
	if !ok || !ValidInstance(inst) {
		return "", false
	}
	return inst, true
}

// ValidInstance reports whether s is an instance name: a tool's name, or
// <tool>--<env> (slipway.InstanceName).
func ValidInstance(s string) bool {
	if !slipway.ValidName(s) {
		return false
	}
	tool, env, ok := strings.Cut(s, "--")
	if !ok {
		return true
	}
	return slipway.ValidateToolName(tool) == nil && slipway.ValidEnvironmentName(env)
}

// PublicURL returns scheme://host[:port]/, the port left out when it is
// the scheme's default: where an app answers at host.
func PublicURL(scheme, host string, port int) string {
	defaultPort := scheme == "http" && port == 80 || scheme == "https" && port == 443
	if !defaultPort {
		host = net.JoinHostPort(host, strconv.Itoa(port))
	}
	return scheme + "://" + host + "/"
}

// DomainConfig holds the settings of the apps domain, custom domains and
// TLS on the proxy. Zero values mean the defaults: tools at
// http://<tool>.localhost:<port>/, no HTTPS.
type DomainConfig struct {
	// AppsDomain serves each tool at <tool>.AppsDomain; default
	// DefaultAppsDomain.
	AppsDomain string
	// AllowedDomains are the suffixes under which a tool may claim custom
	// domains with its own token (a name equal to or under one); the admin
	// may claim any name for a tool.
	AllowedDomains []string
	// HTTPSListen is where the proxy serves HTTPS; "" serves none.
	HTTPSListen string
	// TLSCert and TLSKey are a provided certificate (PEM files), e.g. a
	// wildcard for the apps domain; names it does not cover get one over
	// ACME when ACMEDirectory is set.
	TLSCert, TLSKey string
	// RedirectHTTPS answers plain HTTP requests with a permanent redirect
	// to HTTPS (ACME's HTTP-01 challenges excepted).
	RedirectHTTPS bool
	// HSTS is the max-age of the Strict-Transport-Security header sent over
	// HTTPS; 0 sends none.
	HSTSMaxAge int
	// ACMEDirectory is an ACME server's directory URL (Let's Encrypt:
	// https://acme-v02.api.letsencrypt.org/directory); "" obtains no
	// certificates.
	ACMEDirectory string
	// ACMEEmail is the account's contact, optional.
	ACMEEmail string
	// ACMERoots is a PEM file of CAs trusted for the ACME server's own TLS
	// (a private ACME server such as Pebble); "" trusts the system's.
	ACMERoots string
	// RenewBefore renews a certificate when it expires within this long;
	// default a third of its lifetime.
	RenewBefore time.Duration
}

// Validate checks the settings, naming the server's flag at fault.
func (c DomainConfig) Validate() error {
	if c.AppsDomain != "" && c.AppsDomain != DefaultAppsDomain {
		if err := slipway.ValidateDomainName("--apps-domain", c.AppsDomain); err != nil {
			return err
		}
	}
	for _, d := range c.AllowedDomains {
		if err := slipway.ValidateDomainName("--allowed-domains", d); err != nil {
			return err
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return slipway.Errorf(slipway.EInvalid, "--proxy-tls-cert and --proxy-tls-key: give both, or neither")
	}
	if c.HTTPSListen == "" && (c.TLSCert != "" || c.ACMEDirectory != "" || c.RedirectHTTPS || c.HSTSMaxAge != 0) {
		return slipway.Errorf(slipway.EInvalid, "--proxy-tls-cert, --acme-directory, --proxy-https-redirect and --proxy-hsts need an HTTPS address (--proxy-https-listen)")
	}
	if c.HTTPSListen != "" && c.TLSCert == "" && c.ACMEDirectory == "" {
		return slipway.Errorf(slipway.EInvalid, "--proxy-https-listen: give a certificate (--proxy-tls-cert and --proxy-tls-key) or an ACME directory to get them from (--acme-directory)")
	}
	if c.HSTSMaxAge < 0 || c.RenewBefore < 0 {
		return slipway.Errorf(slipway.EInvalid, "--proxy-hsts and --acme-renew-before may not be negative")
	}
	return nil
}

// Apps returns the apps domain, DefaultAppsDomain when none is set.
func (c DomainConfig) Apps() string {
	if c.AppsDomain == "" {
		return DefaultAppsDomain
	}
	return c.AppsDomain
}
