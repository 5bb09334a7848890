package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newBuildsDeleteCmd(e *env) *cobra.Command {
	var sure bool
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a finished build, and its artifact and log when unused",
		Long: `Delete a finished build's record, and its artifact and log unless another
build record, a live component or a deployment still uses them. A running
build, or the one a live component runs, cannot be deleted.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			id := a[0]
			if _, err := c.BuildGet(cmd.Context(), tool, id); err != nil {
				return err
			}
			if err := e.confirmOrAbort(sure, fmt.Sprintf("Are you sure you want to delete build %s? This cannot be undone.", id)); err != nil {
				return err
			}
			env, err := c.BuildDelete(cmd.Context(), tool, id)
			if err != nil {
				return err
			}
			return e.printBuildAnswer(env, "Deleted build:")
		},
	}
	cmd.Flags().BoolVar(&sure, "yes-im-sure", false, "do not ask for confirmation")
	return cmd
}
