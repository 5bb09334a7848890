package cli

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/server"
)

// edgeFlags are the settings of the apps domain, custom domains and TLS on
// the proxy.
type edgeFlags struct {
	appsDomain, allowedDomains, httpsListen, tlsCert, tlsKey, redirect, hsts string
	acmeDirectory, acmeEmail, acmeRoots, renewBefore                         string
}

func (f *edgeFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.appsDomain, "apps-domain", "", "serve each tool's published component at <tool>.DOMAIN and its environments at <tool>--<env>.DOMAIN (default $SLIPWAY_APPS_DOMAIN or localhost)")
	fl.StringVar(&f.allowedDomains, "allowed-domains", "", "comma-separated domains under which a tool may claim custom domains itself (the admin may add any) (default $SLIPWAY_ALLOWED_DOMAINS or none)")
	fl.StringVar(&f.httpsListen, "proxy-https-listen", "", "address serving published components over HTTPS, e.g. :443 (default $SLIPWAY_PROXY_HTTPS_LISTEN or none)")
	fl.StringVar(&f.tlsCert, "proxy-tls-cert", "", "PEM certificate chain for HTTPS on the proxy, e.g. a wildcard for the apps domain (default $SLIPWAY_PROXY_TLS_CERT)")
	fl.StringVar(&f.tlsKey, "proxy-tls-key", "", "PEM private key of --proxy-tls-cert (default $SLIPWAY_PROXY_TLS_KEY)")
	fl.StringVar(&f.redirect, "proxy-https-redirect", "", "redirect plain HTTP requests to HTTPS: true or false (default $SLIPWAY_PROXY_HTTPS_REDIRECT or false)")
	fl.Lookup("proxy-https-redirect").NoOptDefVal = "true"
	fl.StringVar(&f.hsts, "proxy-hsts", "", "max-age of the Strict-Transport-Security header over HTTPS, e.g. 8760h; 0 sends none (default $SLIPWAY_PROXY_HSTS or 0)")
	fl.StringVar(&f.acmeDirectory, "acme-directory", "", "ACME directory URL to obtain certificates from for the apps' names, e.g. https://acme-v02.api.letsencrypt.org/directory (default $SLIPWAY_ACME_DIRECTORY or none)")
	fl.StringVar(&f.acmeEmail, "acme-email", "", "contact address of the ACME account (default $SLIPWAY_ACME_EMAIL or none)")
	fl.StringVar(&f.acmeRoots, "acme-ca", "", "PEM file of the CAs that sign the ACME server's own HTTPS, for a private ACME server (default $SLIPWAY_ACME_CA or the system's)")
	fl.StringVar(&f.renewBefore, "acme-renew-before", "", "renew a certificate when it expires within this long, e.g. 720h (default $SLIPWAY_ACME_RENEW_BEFORE or a third of its lifetime)")
}

// apply adds the flags, the environment's values or the defaults to cfg.
func (f *edgeFlags) apply(e *env, cfg *server.Config) error {
	d := &cfg.Domains
	d.AppsDomain = strings.TrimSuffix(cmp.Or(f.appsDomain, e.getenv("SLIPWAY_APPS_DOMAIN")), ".")
	if v := cmp.Or(f.allowedDomains, e.getenv("SLIPWAY_ALLOWED_DOMAINS")); v != "" {
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				d.AllowedDomains = append(d.AllowedDomains, s)
			}
		}
	}
	d.HTTPSListen = cmp.Or(f.httpsListen, e.getenv("SLIPWAY_PROXY_HTTPS_LISTEN"))
	d.TLSCert = cmp.Or(f.tlsCert, e.getenv("SLIPWAY_PROXY_TLS_CERT"))
	d.TLSKey = cmp.Or(f.tlsKey, e.getenv("SLIPWAY_PROXY_TLS_KEY"))
	d.ACMEDirectory = cmp.Or(f.acmeDirectory, e.getenv("SLIPWAY_ACME_DIRECTORY"))
	d.ACMEEmail = cmp.Or(f.acmeEmail, e.getenv("SLIPWAY_ACME_EMAIL"))
	d.ACMERoots = cmp.Or(f.acmeRoots, e.getenv("SLIPWAY_ACME_CA"))
	if v := cmp.Or(f.redirect, e.getenv("SLIPWAY_PROXY_HTTPS_REDIRECT")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return &usageError{fmt.Errorf("--proxy-https-redirect: want true or false, got %q", v)}
		}
		d.RedirectHTTPS = b
	}
	if v := cmp.Or(f.hsts, e.getenv("SLIPWAY_PROXY_HSTS")); v != "" && v != "0" {
		t, err := time.ParseDuration(v)
		if err != nil || t < time.Second {
			return &usageError{fmt.Errorf("--proxy-hsts: want a duration of a second or more such as 8760h, or 0, got %q", v)}
		}
		d.HSTSMaxAge = int(t / time.Second)
	}
	if err := parseDurations(e, "720h", []durationFlag{{"acme-renew-before", f.renewBefore, &d.RenewBefore}}); err != nil {
		return err
	}
	if err := d.Validate(); err != nil {
		return &usageError{err}
	}
	return nil
}
