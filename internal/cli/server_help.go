package cli

import (
	"fmt"
	"maps"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// serverFlagTypes name what each flag of `slipway server` and `slipway
// demo` takes, for their help: "--build-memory SIZE", "--build-timeout
// DURATION", not "string" (the flags are strings so that one not given
// falls back to its environment variable, then to its default). "bool" is
// a flag that --flag alone turns on. The limit flags take theirs from
// their kind (limitFlagList). TestServerHelp checks that every flag has
// one.
var serverFlagTypes = map[string]string{
	"database": "URL", "listen": "ADDR", "proxy-listen": "ADDR", "debug-listen": "ADDR",
	"allow-local-repos": "BOOL", "allow-private-source-urls": "bool", "queue": "BOOL",
	"deployment-timeout": "DURATION", "build-timeout": "DURATION", "health-timeout": "DURATION", "stop-timeout": "DURATION",
	"git-connect-timeout": "DURATION", "git-low-speed-time": "DURATION", "git-timeout": "DURATION",
	"deploy-token-lifetime": "DURATION", "release-retention": "PERIOD", "artifact-retention": "PERIOD",
	"keep-deployments": "N", "build-slots": "N", "tool-build-slots": "N", "envvars-quota": "N",
	"git-low-speed-limit": "N", "log-max-files": "N", "build-log-max-files": "N",
	"unsandboxed": "bool", "sandbox-limits": "MODE", "sandbox-network": "MODE", "sandbox-uid-base": "UID",
	"sandbox-ro-paths": "DIRS", "local-repo-dirs": "DIRS",
	"build-memory": "SIZE", "build-cpu": "CPU", "poll-floor": "DURATION",
	"log-max-size": "SIZE", "build-log-max-size": "SIZE", "min-free-disk": "SIZE|PERCENT",
	"tls": "bool", "tls-cert": "FILE", "tls-key": "FILE", "tls-hosts": "NAMES", "client-ca": "FILES",
	"trusted-proxies": "ADDRS", "metrics-token-file": "FILE", "admin-token-file": "FILE", "secret-key-file": "FILE",
	"public-url": "URL", "smtp-addr": "ADDR", "smtp-from": "ADDRESS", "smtp-auth-file": "FILE",
	"allow-private-notification-urls": "bool", "notify-retry-base": "DURATION",
	"keep":        "DIR",
	"apps-domain": "DOMAIN", "allowed-domains": "DOMAINS", "proxy-https-listen": "ADDR", "proxy-tls-cert": "FILE", "proxy-tls-key": "FILE",
	"proxy-https-redirect": "bool", "proxy-hsts": "DURATION", "acme-directory": "URL", "acme-email": "ADDRESS", "acme-ca": "FILE", "acme-renew-before": "DURATION",
	"target": "TARGET", "kubeconfig": "FILE", "kube-namespace": "TEMPLATE", "kube-ingress-host": "TEMPLATE", "kube-ingress-class": "CLASS", "kube-ingress-namespace": "NAMESPACE",
	"kube-registry": "REGISTRY", "kube-registry-secret": "SECRET", "kube-build-namespace": "TEMPLATE", "kube-builder-image": "IMAGE",
}

// limitKindTypes are the help types of the limit flags, by kind.
var limitKindTypes = map[string]string{"memory": "SIZE", "cpu": "CPU", "count": "N"}

// globalFlagHelp is how a global flag that applies to a server command
// shows in its help.
type globalFlagHelp struct {
	typ   string // its value's type; "" keeps the flag's
	usage string // "" keeps the flag's
}

// setServerHelp gives the flags of a command that runs a server their
// types (serverFlagTypes), and makes its help and usage list its own flags
// and, of the global ones, only those in globals: the client's (--url,
// --tool, --json…) do nothing there.
func setServerHelp(cmd *cobra.Command, globals map[string]globalFlagHelp) {
	types := map[string]string{}
	for _, l := range limitFlagList() {
		types[l.name] = limitKindTypes[l.kind]
	}
	maps.Copy(types, proxyFlagTypes)
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		typ := types[f.Name]
		if typ == "" {
			typ = serverFlagTypes[f.Name]
		}
		if typ != "" {
			f.Value = &typedValue{Value: f.Value, typ: typ}
		}
	})
	cmd.SetUsageFunc(func(c *cobra.Command) error {
		fs := pflag.NewFlagSet(c.Name(), pflag.ContinueOnError)
		fs.AddFlagSet(c.LocalFlags())
		c.InheritedFlags().VisitAll(func(f *pflag.Flag) {
			h, ok := globals[f.Name]
			if !ok {
				return
			}
			shown := *f
			if h.typ != "" {
				shown.Value = &typedValue{Value: f.Value, typ: h.typ}
			}
			if h.usage != "" {
				shown.Usage = h.usage
			}
			fs.AddFlag(&shown)
		})
		_, err := fmt.Fprintf(c.OutOrStderr(), "Usage:\n  %s\n\nFlags:\n%s", c.UseLine(), fs.FlagUsagesWrapped(120))
		return err
	})
}

// typedValue is a flag value whose type, which help shows, says what it
// takes.
type typedValue struct {
	pflag.Value
	typ string
}

func (v *typedValue) Type() string { return v.typ }
