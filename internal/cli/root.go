package cli

import (
	"fmt"
	"strconv"
	"strings"

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
	deployment.AddCommand(newDeploymentCreateCmd(e), newDeploymentListCmd(e), newDeploymentShowCmd(e), newDeploymentCancelCmd(e), newDeploymentRollbackCmd(e), newDeploymentDeleteCmd(e))
	components.AddCommand(config, deployment, newDeployTokenCmd(e), newComponentsDeployCmd(e))
	root.AddCommand(components, newJobsCmd(e), newBuildsCmd(e), newEnvVarsCmd(e), newAdminCmd(e), newAskCmd(e), newQuestionsCmd(e), newReleasesCmd(e), newEnvironmentsCmd(e), newPromoteCmd(e), newFlowsCmd(e), newWebhookCmd(e), newNotifyCmd(e), newPlansCmd(e), newTrainCmd(e), newLogsCmd(e), newDomainsCmd(e))

	addServerCommands(root, e)
	root.AddCommand(newStacksHelpTopic())
	rejectUnknownCommands(root)
	return root
}

// rejectUnknownCommands makes a mistyped command name an error at every
// level of the tree, with the nearest names (cobra's Levenshtein distance,
// at most 2, or a prefix): every command that only groups others (it has
// no Run) fails on an argument that names none of them, and still prints
// its help without one. (cobra does this for the root alone, and prints a
// group's help with exit status 0.) `slipway help <mistyped>` fails alike.
func rejectUnknownCommands(root *cobra.Command) {
	root.InitDefaultHelpCmd()       // added by Execute otherwise, after this walk
	root.InitDefaultCompletionCmd() // likewise
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasSubCommands() && !c.Runnable() {
			c.Args = unknownCommand
			c.SuggestionsMinimumDistance = 2 // what cobra uses for the root
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for _, c := range root.Commands() {
		if c.Name() != "help" || c.Run == nil {
			continue
		}
		help := c.Run
		c.Run = nil
		c.RunE = func(cmd *cobra.Command, a []string) error {
			if found, rest, err := cmd.Root().Find(a); err == nil && found.HasSubCommands() && len(rest) > 0 {
				if err := unknownCommand(found, rest); err != nil {
					return err
				}
			}
			help(cmd, a)
			return nil
		}
	}
}

// unknownCommand is the argument check of a command that groups others:
// it takes no argument, and a first one that names no command of it is
// an unknownCommandError.
func unknownCommand(cmd *cobra.Command, a []string) error {
	if len(a) == 0 {
		return nil
	}
	return &unknownCommandError{name: a[0], parent: cmd.CommandPath(), suggestions: cmd.SuggestionsFor(a[0])}
}

// unknownCommandError is a command name that is not one of the commands
// of parent (a command path such as "slipway jobs").
type unknownCommandError struct {
	name, parent string
	suggestions  []string // the names of parent's commands it may mean
}

func (e *unknownCommandError) Error() string {
	msg := fmt.Sprintf("unknown command %q for %q", e.name, e.parent)
	if len(e.suggestions) == 0 {
		return msg
	}
	quoted := make([]string, len(e.suggestions))
	for i, s := range e.suggestions {
		quoted[i] = strconv.Quote(s)
	}
	if n := len(quoted); n > 1 {
		quoted = append(quoted[:n-2], quoted[n-2]+" or "+quoted[n-1])
	}
	return msg + "; did you mean " + strings.Join(quoted, ", ") + "?"
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
