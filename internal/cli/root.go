package cli

import (
	"github.com/spf13/cobra"
)

// newRootCmd builds the whole command tree. Every command is added here,
// in one place; `slipway server` and friends come from addServerCommands
// (server_run.go).
func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "slipway",
		Short:         "Push-to-deploy for tools, compatible with Toolforge's components API",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&e.flags.url, "url", "", "server URL (default $SLIPWAY_URL, else the running server's from the data directory)")
	pf.StringVar(&e.flags.tool, "tool", "", "tool to act on (default $SLIPWAY_TOOL)")
	pf.StringVar(&e.flags.token, "token", "", "API token (default $SLIPWAY_TOKEN, else the admin token in the data directory)")
	pf.StringVar(&e.flags.data, "data", "", "data directory (default $SLIPWAY_DATA, $XDG_DATA_HOME/slipway or ~/.local/share/slipway)")
	pf.BoolVar(&e.flags.json, "json", false, "print JSON instead of text")
	pf.BoolVar(&e.flags.raw, "raw", false, `print what the server sends as it is: without it, control characters in logs, statuses and messages are shown escaped (ESC as \x1b, U+009B as \u009b) so that they cannot drive the terminal`)
	pf.BoolVarP(&e.flags.verbose, "verbose", "v", false, "print each HTTP request to stderr")
	pf.StringVar(&e.flags.config, "config", "", "CLI config file with url, tool, token, ca, cert, key (default $SLIPWAY_CONFIG or ~/.config/slipway/config.yaml)")
	pf.StringVar(&e.flags.ca, "ca", "", "CA certificate that signed the server's TLS certificate (default $SLIPWAY_CA, else the local server's)")
	pf.StringVar(&e.flags.cert, "cert", "", "client certificate whose CN names the tool (default $SLIPWAY_CERT)")
	pf.StringVar(&e.flags.key, "key", "", "private key of --cert (default $SLIPWAY_KEY)")

	components := &cobra.Command{
		Use:   "components",
		Short: "Manage a tool's config and deployments",
	}
	config := &cobra.Command{
		Use:   "config",
		Short: "Manage the tool's config",
	}
	config.AddCommand(newConfigCreateCmd(e), newConfigShowCmd(e), newConfigGenerateCmd(e), newConfigDeleteCmd(e))
	deployment := &cobra.Command{
		Use:   "deployment",
		Short: "Create, inspect and cancel deployments",
	}
	deployment.AddCommand(newDeploymentCreateCmd(e), newDeploymentListCmd(e), newDeploymentShowCmd(e), newDeploymentCancelCmd(e), newDeploymentDeleteCmd(e))
	components.AddCommand(config, deployment, newDeployTokenCmd(e), newComponentsDeployCmd(e))
	root.AddCommand(components, newJobsCmd(e), newBuildsCmd(e), newEnvVarsCmd(e), newAdminCmd(e))

	addServerCommands(root, e)
	return root
}

// args wraps a cobra argument check so that its failure is a usage error.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return &usageError{err}
		}
		return nil
	}
}
