package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// listLongStatus is how much of a long status fits a table cell.
const listLongStatus = 45

func newDeploymentListCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the tool's deployments, oldest first",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.DeploymentList(cmd.Context(), tool)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			ds, err := env.Deployments()
			if err != nil {
				return err
			}
			if len(ds) == 0 {
				fmt.Fprintf(e.stdout, "No deployments found for tool: %s\n", tool)
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCreation time\tStatus\tBuilds\tRuns")
			for _, d := range ds {
				builds, runs := sortedKeys(d.Builds), sortedKeys(d.Runs)
				for i := range max(len(builds), len(runs), 1) {
					id, when, status, b, r := "", "", "", "", ""
					if i == 0 {
						id, when, status = d.ID, created(d.CreatedAt), string(d.Status)
					}
					if i < len(builds) {
						b = buildLine(builds[i], d.Builds[builds[i]], listLongStatus)
					}
					if i < len(runs) {
						r = runLine(runs[i], d.Runs[runs[i]], listLongStatus)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, when, status, b, r)
				}
			}
			return tw.Flush()
		},
	}
}
