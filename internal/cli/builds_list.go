package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newBuildsListCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the tool's builds, newest first",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.BuildList(cmd.Context(), tool)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			bs, err := env.Builds()
			if err != nil {
				return err
			}
			if len(bs) == 0 {
				fmt.Fprintf(e.stdout, "No builds found for tool: %s\n", tool)
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tComponent\tStatus\tStarted\tEnded\tCommit\tRef")
			for _, b := range bs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.BuildId, b.Component, b.Status,
					buildTime(b.StartTime), buildTime(b.EndTime), shortCommit(b.Commit, 7), b.Parameters.Ref)
			}
			return tw.Flush()
		},
	}
}
