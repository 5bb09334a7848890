package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"
)

func newEnvironmentsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "environments",
		Aliases: []string{"envs"},
		Short:   "List the tool's environments and what runs in each",
		Long: `List the tool's environments in promotion order (declared in the config's
x-slipway.environments; a tool that declares none has one, production),
each with its kind, its upstream, and what every component runs there:
build, commit, since when, and whether it is healthy.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.EnvironmentList(cmd.Context(), tool)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			envs, err := env.Environments()
			if err != nil {
				return err
			}
			for i, es := range envs {
				if i > 0 {
					fmt.Fprintln(e.stdout)
				}
				head := fmt.Sprintf("%s (%s, runs as %s)", es.Name, es.Kind, es.Instance)
				if es.Upstream != "" {
					head += ", promoted from " + es.Upstream
				}
				if es.LatestDeployment != "" {
					head += fmt.Sprintf("; latest deployment %s %s", es.LatestDeployment, es.LatestStatus)
				}
				fmt.Fprintln(e.stdout, head)
				if len(es.Live) == 0 {
					fmt.Fprintln(e.stdout, "  nothing runs here yet")
					continue
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "  Component\tCommit\tBuild\tSince\tHealth")
				for _, l := range es.Live {
					health := "healthy"
					if l.Unhealthy != "" {
						health = l.Unhealthy
					}
					fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", l.Component, shortCommit(l.Commit, 12), shortCommit(l.BuildKey, 12), created(l.AppliedAt), health)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			return nil
		},
	}
	return cmd
}

func newPromoteCmd(e *env) *cobra.Command {
	var watch, dryRun, yes bool
	var description string
	cmd := &cobra.Command{
		Use:   "promote ENVIRONMENT",
		Short: "Deploy to ENVIRONMENT exactly the builds live and healthy in its upstream",
		Long: `Promote: deploy to ENVIRONMENT exactly the builds (build keys) that are live
and healthy in its upstream environment, with the config version the
upstream's latest successful deployment ran (ENVIRONMENT's overrides
applied). Nothing is rebuilt and no ref is resolved.

First prints what would change: per component the commits that come and go,
the config differences and the plan; then asks for confirmation (--yes does
not ask). --dry-run prints it and changes nothing. --watch follows the
deployment until it ends and exits 1 when it did not succeed.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			target := a[0]
			pv, err := c.PromotionPreview(cmd.Context(), tool, target)
			if err != nil {
				return err
			}
			if dryRun && e.flags.json {
				return printEnvelope(e.stdout, pv, true)
			}
			p, err := pv.Promotion()
			if err != nil {
				return err
			}
			if !e.flags.json {
				e.printPromotion(p)
			}
			if dryRun {
				return nil
			}
			if err := e.confirmOrAbort(yes, fmt.Sprintf("Promote %s to %s?", p.From, p.To)); err != nil {
				return err
			}
			env, err := c.Promote(cmd.Context(), tool, target, description)
			if err != nil {
				return err
			}
			return e.printCreated(cmd.Context(), c, tool, env, watch, true)
		},
	}
	cmd.Flags().BoolVar(&watch, "watch", false, "follow the promotion until it ends")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what the promotion would change, and change nothing")
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	cmd.Flags().StringVar(&description, "description", "", "a note about this deployment (default \"Promotion of ID from ENV\")")
	return cmd
}

// printPromotion prints what a promotion would change.
func (e *env) printPromotion(p apiclient.Promotion) {
	fmt.Fprintf(e.stdout, "Promotion of %s to %s (the builds and config of %s):\n", p.From, p.To, p.Source)
	for _, c := range p.Changes {
		switch {
		case c.FromCommit == c.ToCommit && c.FromBuild == c.ToBuild:
			fmt.Fprintf(e.stdout, "  %s: %s, unchanged\n", c.Component, shortCommit(c.ToCommit, 12))
			continue
		case c.FromCommit == "":
			fmt.Fprintf(e.stdout, "  %s: new, %s\n", c.Component, shortCommit(c.ToCommit, 12))
			continue
		}
		fmt.Fprintf(e.stdout, "  %s: %s → %s (%d new, %d removed commits)\n", c.Component, shortCommit(c.FromCommit, 12), shortCommit(c.ToCommit, 12), len(c.New), len(c.Removed))
		for _, cm := range c.New {
			fmt.Fprintf(e.stdout, "    + %s %s (%s)\n", shortCommit(cm.Commit, 12), cm.Subject, cm.Author)
		}
		for _, cm := range c.Removed {
			fmt.Fprintf(e.stdout, "    - %s %s (%s)\n", shortCommit(cm.Commit, 12), cm.Subject, cm.Author)
		}
		if c.Truncated {
			fmt.Fprintln(e.stdout, "    … and more (the list is cut)")
		}
	}
	for _, cc := range p.ConfigChanges {
		fmt.Fprintf(e.stdout, "  config of %s: %s\n", cc.Component, cc.Change)
		for _, f := range cc.Fields {
			fmt.Fprintf(e.stdout, "    %s\n", f)
		}
	}
	fmt.Fprintln(e.stdout, "Plan:")
	for _, st := range p.Plan.Steps {
		fmt.Fprintf(e.stdout, "  %s: %s\n", st.Key, st.Reason)
	}
}
