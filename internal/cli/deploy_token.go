package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/slipway"
)

// newDeployTokenCmd is `components deploy-token`, with Toolforge's
// subcommands and output: plain Token/Created lines, or with --json the
// data only (so that `jq -r .token` works).
func newDeployTokenCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deploy-token",
		Short: "Manage the tool's deploy token, for CI",
		Long: `Manage the tool's deploy token: a secret that CI sends to create a
deployment of this tool and to follow it, and that opens nothing else:

  curl -X POST "$URL/components/v1/tool/$TOOL/deployment?token=$TOKEN"
  curl "$URL/components/v1/tool/$TOOL/deployment/$ID?token=$TOKEN"

A token is valid for a year after its creation; refresh makes a new one.`,
	}
	cmd.AddCommand(newDeployTokenCreateCmd(e), newDeployTokenShowCmd(e), newDeployTokenRefreshCmd(e), newDeployTokenDeleteCmd(e))
	return cmd
}

func newDeployTokenCreateCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "create",
		Short: "Create the tool's deploy token",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.DeployTokenCreate(cmd.Context(), tool)
			if slipway.ErrorCode(err) == slipway.EConflict {
				fmt.Fprint(e.stderr, `A valid deployment token already exists. You can:
  - show it:    slipway components deploy-token show
  - refresh it: slipway components deploy-token refresh (the old one stops working)
  - delete it:  slipway components deploy-token delete
`)
				return &exitError{1}
			}
			if err != nil {
				return err
			}
			return e.printDeployToken(env, "")
		},
	}
}

func newDeployTokenShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Show the tool's deploy token",
		Long: `Show the tool's deploy token. A tool without one is not an error: the
command prints how to create one (with --json: {}) and exits 0.

Slipway keeps only a hash of the token; show reads the token from the
tool's TOOL_DEPLOY_TOKEN envvar. When that envvar was deleted, the token
still works but cannot be shown: refresh makes a new one.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.DeployTokenGet(cmd.Context(), tool)
			if slipway.ErrorCode(err) == slipway.ENotFound {
				if e.flags.json {
					fmt.Fprintln(e.stdout, "{}")
				} else {
					fmt.Fprintf(e.stdout, "No deploy token for %s; create one with: slipway components deploy-token create\n", tool)
				}
				return nil
			}
			if err != nil {
				return err
			}
			return e.printDeployToken(env, "")
		},
	}
}

func newDeployTokenRefreshCmd(e *env) *cobra.Command {
	var sure bool
	cmd := &cobra.Command{
		Use:   "refresh",
		Short: "Replace the tool's deploy token with a new one",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			if err := e.confirmToken(cmd.Context(), c, tool, sure,
				fmt.Sprintf("Are you sure you want to refresh the deploy token of %s? The old one stops working.", tool)); err != nil {
				return err
			}
			env, err := c.DeployTokenRefresh(cmd.Context(), tool)
			if err != nil {
				return err
			}
			return e.printDeployToken(env, "New deployment token:")
		},
	}
	cmd.Flags().BoolVar(&sure, "yes-im-sure", false, "do not ask for confirmation")
	return cmd
}

func newDeployTokenDeleteCmd(e *env) *cobra.Command {
	var sure bool
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete the tool's deploy token",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			if err := e.confirmToken(cmd.Context(), c, tool, sure,
				fmt.Sprintf("Are you sure you want to delete the deploy token of %s? It stops working. This cannot be undone.", tool)); err != nil {
				return err
			}
			env, err := c.DeployTokenDelete(cmd.Context(), tool)
			if err != nil {
				return err
			}
			if err := e.printDeployToken(env, "Deleted deployment token:"); err != nil {
				return err
			}
			if !e.flags.json {
				e.printMessages(env.Messages, env.Messages.Warning) // the warnings are printed already
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&sure, "yes-im-sure", false, "do not ask for confirmation")
	return cmd
}

// confirmToken checks that the tool has a token (so that nobody is asked
// about one that does not exist), then asks question unless sure. A token
// that exists but cannot be shown (409: its TOOL_DEPLOY_TOKEN envvar was
// deleted) exists: refresh and delete are what to do about it.
func (e *env) confirmToken(ctx context.Context, c *apiclient.Client, tool string, sure bool, question string) error {
	if _, err := c.DeployTokenGet(ctx, tool); err != nil && slipway.ErrorCode(err) != slipway.EConflict {
		return err
	}
	return e.confirmOrAbort(sure, question)
}

// printDeployToken prints a token response: with --json the data only (and
// warnings on stderr), else title (when not empty) and the Token and
// Created lines.
func (e *env) printDeployToken(env apiclient.Envelope, title string) error {
	if e.flags.json {
		e.printMessages(messagesWarningsOnly(env.Messages), nil)
		return printEnvelope(e.stdout, env, false)
	}
	tok, err := env.DeployToken()
	if err != nil {
		return err
	}
	if title != "" {
		fmt.Fprintln(e.stdout, title)
	}
	if tok.Token != "" { // empty: deleted without being shown; a warning says why
		fmt.Fprintf(e.stdout, "Token: %s\n", tok.Token)
	}
	fmt.Fprintf(e.stdout, "Created: %s\n", tok.CreatedAt.UTC().Format("2006-01-02T15:04:05.000000Z"))
	for _, w := range env.Messages.Warning {
		fmt.Fprintf(e.stderr, "Warning: %s\n", w)
	}
	return nil
}
