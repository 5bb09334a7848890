package cli

import (
	"github.com/spf13/cobra"
)

func newDeploymentRollbackCmd(e *env) *cobra.Command {
	var watch bool
	var description, environment string
	cmd := &cobra.Command{
		Use:               "rollback [ID]",
		ValidArgsFunction: completeDeploymentIDs(e, false),
		Short:             "Deploy again the config and builds of an earlier successful deployment",
		Long: `Deploy again exactly the config and the builds of an earlier successful
deployment: ID, or by default the successful deployment before the latest
successful one. Nothing is rebuilt and no ref is resolved: the builds it ran
are reused. When one of them was deleted (pruned) since, nothing is deployed
and the error names it.

The tool's stored config is not changed: the next ordinary deployment
deploys it again. --watch follows the rollback until it ends and exits 1
when it did not succeed.`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			to := ""
			if len(a) > 0 {
				to = a[0]
			}
			env, err := c.DeploymentRollbackIn(cmd.Context(), tool, environment, to, description)
			if err != nil {
				return err
			}
			return e.printCreated(cmd.Context(), c, tool, env, watch, true)
		},
	}
	cmd.Flags().BoolVar(&watch, "watch", false, "follow the rollback until it ends")
	cmd.Flags().StringVar(&environment, "env", "", "without ID, roll back this environment (default production)")
	cmd.Flags().StringVar(&description, "description", "", "a note about this deployment (default \"Rollback to ID\")")
	return cmd
}
