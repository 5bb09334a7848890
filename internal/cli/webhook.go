package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// newWebhookCmd is `webhook`: the tool's push webhook, which deploys the
// tool when a forge reports a push to a branch a component follows.
func newWebhookCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Deploy on push: the tool's push webhook",
		Long: `Deploy on push. A forge (GitHub, GitLab, Gitea, Forgejo, or a script)
posts each push to the tool's webhook URL, signed with the webhook's secret;
a push to the ref a component builds from, of its repository, creates a
deployment of the tool (trigger "push", the pusher as its actor).

  slipway webhook create     make the secret (shown once) and print the URL
  slipway webhook show       the URL, and what became of the last deliveries
  slipway webhook delete     refuse pushes from now on

In the forge: GitHub and Gitea/Forgejo take the URL, content type
application/json and the secret; GitLab takes the URL and the secret as
its "secret token". A delivery seen before (a replay), a bad signature,
another ref or event are refused with the reason.`,
	}
	cmd.AddCommand(newWebhookShowCmd(e), newWebhookCreateCmd(e), newWebhookDeleteCmd(e))
	return cmd
}

func newWebhookShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Show the webhook's URL and its last deliveries",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.WebhookGet(cmd.Context(), tool)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, false)
			}
			w, err := env.Webhook()
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "URL: %s\n", strings.TrimSuffix(c.BaseURL(), "/")+w.Path)
			if !w.Configured {
				fmt.Fprintf(e.stdout, "No secret: pushes are refused. Make one with: slipway webhook create\n")
			} else if w.CreatedAt != nil {
				fmt.Fprintf(e.stdout, "Secret made: %s\n", w.CreatedAt.UTC().Format(time.RFC3339))
			}
			if len(w.Deliveries) == 0 {
				fmt.Fprintln(e.stdout, "No deliveries yet.")
				return nil
			}
			fmt.Fprintln(e.stdout)
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "received\tprovider\tdelivery\tref\tcommit\tpusher\toutcome\tmessage")
			for _, d := range w.Deliveries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ReceivedAt.UTC().Format(time.RFC3339), d.Provider, d.Id,
					strings.TrimPrefix(deref(d.Ref), "refs/heads/"), shortSHA(deref(d.Commit)), deref(d.Pusher), d.Outcome, deref(d.Message))
			}
			return tw.Flush()
		},
	}
}

func newWebhookCreateCmd(e *env) *cobra.Command {
	var sure bool
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Make the webhook's secret (replacing any old one) and print it once",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			cur, err := c.WebhookGet(cmd.Context(), tool)
			if err != nil {
				return err
			}
			if w, err := cur.Webhook(); err != nil {
				return err
			} else if w.Configured {
				if err := e.confirmOrAbort(sure, fmt.Sprintf("Tool %s's webhook has a secret: make a new one? Forges that send the old one are refused until given the new one.", tool)); err != nil {
					return err
				}
			}
			env, err := c.WebhookRotate(cmd.Context(), tool)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, false)
			}
			w, secret, err := env.WebhookSecret()
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "URL: %s\nSecret: %s\n", strings.TrimSuffix(c.BaseURL(), "/")+w.Path, secret)
			fmt.Fprintln(e.stdout, "The secret is shown this once. Give both to the forge (GitHub: content type application/json; GitLab: as the secret token).")
			return nil
		},
	}
	cmd.Flags().BoolVar(&sure, "yes-im-sure", false, "do not ask for confirmation")
	return cmd
}

func newWebhookDeleteCmd(e *env) *cobra.Command {
	var sure bool
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete the webhook's secret: pushes are refused from now on",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			if err := e.confirmOrAbort(sure, fmt.Sprintf("Delete tool %s's webhook secret? Pushes are refused from then on.", tool)); err != nil {
				return err
			}
			env, err := c.WebhookDelete(cmd.Context(), tool)
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
	cmd.Flags().BoolVar(&sure, "yes-im-sure", false, "do not ask for confirmation")
	return cmd
}

// shortSHA is a commit's first 12 hex digits.
func shortSHA(c string) string { return c[:min(12, len(c))] }
