package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newDeploymentDeleteCmd(e *env) *cobra.Command {
	var sure bool
	cmd := &cobra.Command{
		Use:               "delete ID",
		ValidArgsFunction: completeDeploymentIDs(e, false),
		Short:             "Delete a deployment's record",
		Long: `Delete a deployment's record, with its steps and events. Builds and the
components it deployed stay as they are. An unfinished deployment is
stopped first (as by cancel), and a deployment queued behind it starts.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			if _, err := c.DeploymentGet(cmd.Context(), tool, a[0]); err != nil {
				return err // no question about a deployment that does not exist
			}
			if err := e.confirmOrAbort(sure, fmt.Sprintf("Are you sure you want to delete the deployment %s? This cannot be undone.", a[0])); err != nil {
				return err
			}
			env, err := c.DeploymentDelete(cmd.Context(), tool, a[0])
			if err != nil {
				return err
			}
			if e.flags.json {
				e.printMessages(messagesWarningsOnly(env.Messages), nil)
				return printEnvelope(e.stdout, env, false)
			}
			d, err := env.Deployment()
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "Deleted deployment:")
			if err := e.printDeployment(d); err != nil {
				return err
			}
			e.printMessages(env.Messages, nil)
			return nil
		},
	}
	cmd.Flags().BoolVar(&sure, "yes-im-sure", false, "do not ask for confirmation")
	return cmd
}
