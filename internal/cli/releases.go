package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"
)

// newReleasesCmd is `slipway releases`: a tool's release history.
func newReleasesCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "releases",
		Short: "What was live when: the tool's releases, kept when deployments are pruned",
		Args:  args(cobra.NoArgs),
	}
	cmd.AddCommand(newReleasesListCmd(e))
	return cmd
}

func newReleasesListCmd(e *env) *cobra.Command {
	var q apiclient.ReleaseQuery
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the component versions the tool's deployments made live, newest first",
		Long: "List the component versions the tool's deployments made live (or removed), newest first. Every one is\n" +
			"recorded when it goes live and kept when its deployment record is pruned.",
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.ReleaseList(cmd.Context(), tool, q)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			rs, err := env.Releases()
			if err != nil {
				return err
			}
			if len(rs) == 0 {
				fmt.Fprintf(e.stdout, "No releases found for tool: %s\n", tool)
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "#\tApplied\tEnvironment\tComponent\tOutcome\tCommit\tDeployment\tBy")
			for _, r := range rs {
				commit := r.Commit
				if len(commit) > 12 {
					commit = commit[:12]
				}
				// e.stdout escapes what the server sent (escape.go).
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, created(r.AppliedAt), r.Environment, r.Component,
					r.Outcome, commit, r.DeployId, r.Actor)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Component, "component", "", "only this component's releases")
	f.StringVar(&q.Commit, "commit", "", "only the releases of this commit (its full SHA)")
	f.StringVar(&q.Environment, "env", "", "only this environment's releases")
	f.StringVar(&q.Deployment, "deployment", "", "only the releases this deployment made")
	f.IntVar(&q.Limit, "limit", 0, "at most this many (default 100, at most 1000)")
	return cmd
}
