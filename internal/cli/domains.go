package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"
)

// newDomainsCmd is `domains`: the tool's custom domains.
func newDomainsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "domains",
		Short: "Serve the tool's published component at custom domains",
		Long: `Custom domains of the tool, besides <tool>.<apps domain>:

  slipway domains add NAME      serve the tool at NAME too
  slipway domains list          the tool's custom domains and their URLs
  slipway domains remove NAME   stop serving it there

NAME is written as served: lowercase ASCII (an internationalized name in
its xn-- form), no trailing dot, no wildcard. With its own credential a
tool claims names under the server's allowed domains (--allowed-domains)
and under its own <tool>.<apps domain>; the admin may add others. A name
another tool has, or one under or above it, is refused. Point the name's
DNS at the server's proxy; with ACME on, its certificate is obtained at
the first HTTPS request.`,
	}
	cmd.AddCommand(newDomainsAddCmd(e), newDomainsListCmd(e), newDomainsRemoveCmd(e))
	return cmd
}

func newDomainsAddCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "add NAME",
		Short: "Serve the tool at a custom domain",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.DomainAdd(cmd.Context(), tool, a[0])
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, false)
			}
			d, err := env.Domain()
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "✅ %s serves tool %s: %s\n", d.Name, d.Tool, d.Url)
			e.printMessages(env.Messages, nil)
			return nil
		},
	}
}

func newDomainsListCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the tool's custom domains",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.DomainList(cmd.Context(), tool)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, false)
			}
			ds, err := env.Domains()
			if err != nil {
				return err
			}
			return printDomains(e.stdout, ds)
		},
	}
}

func printDomains(w io.Writer, ds []apiclient.Domain) error {
	if len(ds) == 0 {
		fmt.Fprintln(w, "No custom domains. Add one with: slipway domains add NAME")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "name\turl\tadded")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Name, d.Url, d.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func newDomainsRemoveCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Stop serving the tool at a custom domain",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.DomainRemove(cmd.Context(), tool, a[0])
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, false)
			}
			e.printMessages(env.Messages, nil)
			return nil
		},
	}
}
