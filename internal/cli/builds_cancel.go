package cli

import (
	"github.com/spf13/cobra"
)

func newBuildsCancelCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Kill a running build",
		Long: `Kill a running build: the deployment step that runs it is cancelled, the
steps that need it are skipped, and its deployment ends failed once its
other steps are done. A build that is already final cannot be cancelled.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.BuildCancel(cmd.Context(), tool, a[0])
			if err != nil {
				return err
			}
			return e.printBuildAnswer(env, "")
		},
	}
}
