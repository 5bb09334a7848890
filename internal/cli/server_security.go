package cli

import (
	"cmp"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/server"
)

// securityFlags are the server's TLS, client-certificate, proxy and token
// settings.
type securityFlags struct {
	tls                 string
	tlsCert, tlsKey     string
	tlsHosts            string
	clientCA            string
	trustedProxies      string
	deployTokenLifetime string
}

func (f *securityFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.tls, "tls", "", "serve the API over HTTPS and accept client certificates whose CN names a tool: true or false (default $SLIPWAY_TLS or false)")
	fl.Lookup("tls").NoOptDefVal = "true" // --tls alone turns it on
	fl.StringVar(&f.tlsCert, "tls-cert", "", "server certificate file for --tls (default $SLIPWAY_TLS_CERT, else one issued by the data directory's CA)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "private key file of --tls-cert (default $SLIPWAY_TLS_KEY)")
	fl.StringVar(&f.tlsHosts, "tls-hosts", "", "comma-separated extra names and addresses of the issued server certificate (default $SLIPWAY_TLS_HOSTS; localhost, 127.0.0.1 and ::1 are always in it)")
	fl.StringVar(&f.clientCA, "client-ca", "", "comma-separated PEM files of further CAs whose client certificates are accepted (default $SLIPWAY_CLIENT_CA; the data directory's CA always is)")
	fl.StringVar(&f.trustedProxies, "trusted-proxies", "", "comma-separated addresses or CIDR ranges whose x-toolforge-tool header names the tool they authenticated (default $SLIPWAY_TRUSTED_PROXIES or none)")
	fl.StringVar(&f.deployTokenLifetime, "deploy-token-lifetime", "", "how long a deploy token is accepted after it is created or refreshed, e.g. 720h (default $SLIPWAY_DEPLOY_TOKEN_LIFETIME or 8760h, 365 days)")
}

// apply adds the flags, the environment's values or the defaults to cfg.
func (f *securityFlags) apply(e *env, cfg *server.Config) error {
	if v := cmp.Or(f.tls, e.getenv("SLIPWAY_TLS")); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return &usageError{fmt.Errorf("--tls: want true or false, got %q", v)}
		}
		cfg.TLS = on
	}
	cfg.TLSCertFile = cmp.Or(f.tlsCert, e.getenv("SLIPWAY_TLS_CERT"))
	cfg.TLSKeyFile = cmp.Or(f.tlsKey, e.getenv("SLIPWAY_TLS_KEY"))
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return &usageError{fmt.Errorf("--tls-cert and --tls-key go together: give both or neither")}
	}
	if cfg.TLSCertFile != "" && !cfg.TLS {
		return &usageError{fmt.Errorf("--tls-cert needs --tls")}
	}
	cfg.TLSHosts = splitList(cmp.Or(f.tlsHosts, e.getenv("SLIPWAY_TLS_HOSTS")))
	cfg.ClientCAFiles = splitList(cmp.Or(f.clientCA, e.getenv("SLIPWAY_CLIENT_CA")))
	if len(cfg.ClientCAFiles) > 0 && !cfg.TLS {
		return &usageError{fmt.Errorf("--client-ca needs --tls: client certificates come with TLS")}
	}
	for _, p := range splitList(cmp.Or(f.trustedProxies, e.getenv("SLIPWAY_TRUSTED_PROXIES"))) {
		prefix, err := parsePrefix(p)
		if err != nil {
			return &usageError{fmt.Errorf("--trusted-proxies: %q is neither an IP address nor a CIDR range such as 10.0.0.0/8", p)}
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, prefix)
	}
	return parseDurations(e, "720h", []durationFlag{
		{"deploy-token-lifetime", f.deployTokenLifetime, &cfg.DeployTokenLifetime},
	})
}

// parsePrefix parses a CIDR range or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// splitList splits a comma-separated list, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
