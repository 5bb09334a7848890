package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

func newDeploymentRollbackCmd(e *env) *cobra.Command {
	var watch bool
	var description, environment string
	var release int64
	cmd := &cobra.Command{
		Use:               "rollback [ID | --release SEQ]",
		ValidArgsFunction: completeDeploymentIDs(e, false),
		Short:             "Deploy again the builds of an earlier deployment, or of a release",
		Long: `Deploy again exactly the config and the builds of an earlier successful
deployment: ID, or by default the successful deployment before the latest
successful one. Nothing is rebuilt and no ref is resolved: the builds it ran
are reused. When one of them was deleted (pruned) since, nothing is deployed
and the error names it.

With --release SEQ (a release number from "slipway releases list"), bring
back the live state right after that release instead: each component's
latest release up to it (its build, commit and spec), the components
removed by then removed. It works when the deployments of that time were
pruned: releases are kept.

The tool's stored config is not changed: the next ordinary deployment
deploys it again. --watch follows the rollback until it ends and exits 1
when it did not succeed.`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			byRelease := cmd.Flags().Changed("release")
			switch {
			case byRelease && len(a) > 0:
				return &usageError{errors.New("give a deployment ID or --release SEQ, not both")}
			case byRelease && release < 1:
				return &usageError{fmt.Errorf("--release: %d is not a release number (slipway releases list shows them)", release)}
			}
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			to := ""
			if len(a) > 0 {
				to = a[0]
			}
			env, err := c.DeploymentRollbackIn(cmd.Context(), tool, environment, to, release, description)
			if err != nil {
				return err
			}
			return e.printCreated(cmd.Context(), c, tool, env, watch, true)
		},
	}
	cmd.Flags().BoolVar(&watch, "watch", false, "follow the rollback until it ends")
	cmd.Flags().StringVar(&environment, "env", "", "without ID, roll back this environment (default production)")
	cmd.Flags().Int64Var(&release, "release", 0, "bring back the live state right after this release (its seq) instead")
	cmd.Flags().StringVar(&description, "description", "", "a note about this deployment (default \"Rollback to ID\")")
	return cmd
}
