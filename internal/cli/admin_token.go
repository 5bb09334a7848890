package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// newAdminCmd is `admin`: operations that need the admin token.
func newAdminCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Server administration: API tokens (needs the admin token), client certificates, moving the store to PostgreSQL",
	}
	token := &cobra.Command{
		Use:   "token",
		Short: "Manage tool-scoped API tokens",
		Long: `Manage tool-scoped API tokens: bearer tokens that act for one tool only,
on every one of its routes (config, deployments, deploy token), and never on
another tool's or on these admin routes:

  curl --oauth2-bearer "$TOKEN" "$URL/components/v1/tool/$TOOL/deployment"
  slipway --token "$TOKEN" --tool "$TOOL" components deployment list

The server keeps only a hash of each token: it is shown once, when created.`,
	}
	token.AddCommand(newAdminTokenCreateCmd(e), newAdminTokenListCmd(e), newAdminTokenRevokeCmd(e))
	cmd.AddCommand(token, newAdminCertCmd(e), newAdminMigrateStoreCmd(e))
	return cmd
}

func newAdminTokenCreateCmd(e *env) *cobra.Command {
	var description string
	cmd := &cobra.Command{
		Use:   "create --tool TOOL",
		Short: "Create an API token for a tool and print it, once",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.APITokenCreate(cmd.Context(), tool, description)
			if err != nil {
				return err
			}
			if e.flags.json {
				e.printMessages(messagesWarningsOnly(env.Messages), nil)
				return printEnvelope(e.stdout, env, false)
			}
			tok, secret, err := env.APITokenCreated()
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Created API token %s for tool %s.\n", tok.ID, tok.Tool)
			fmt.Fprintf(e.stdout, "Token: %s\n", secret)
			fmt.Fprintln(e.stdout, "Copy it now: it will not be shown again.")
			return nil
		},
	}
	cmd.Flags().StringVar(&description, "description", "", "what the token is for (shown by list)")
	return cmd
}

func newAdminTokenListCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the API tokens, of every tool or of --tool",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := e.apiClient()
			if err != nil {
				return err
			}
			// Only the flag filters: SLIPWAY_TOOL does not, so that a plain
			// `list` shows every token.
			env, err := c.APITokenList(cmd.Context(), e.flags.tool)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, false)
			}
			toks, err := env.APITokens()
			if err != nil {
				return err
			}
			if len(toks) == 0 {
				fmt.Fprintln(e.stdout, "No API tokens.")
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTool\tCreated\tDescription")
			for _, t := range toks {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Tool, t.CreatedAt.UTC().Format("2006-01-02 15:04:05"), t.Description)
			}
			return tw.Flush()
		},
	}
}

func newAdminTokenRevokeCmd(e *env) *cobra.Command {
	var sure bool
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token: it stops working at once",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := e.apiClient()
			if err != nil {
				return err
			}
			if err := e.confirmOrAbort(sure, fmt.Sprintf("Are you sure you want to revoke the API token %s? It stops working. This cannot be undone.", a[0])); err != nil {
				return err
			}
			env, err := c.APITokenRevoke(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			e.printMessages(env.Messages, nil)
			return nil
		},
	}
	cmd.Flags().BoolVar(&sure, "yes-im-sure", false, "do not ask for confirmation")
	return cmd
}
