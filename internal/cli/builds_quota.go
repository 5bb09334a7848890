package cli

import (
	"github.com/spf13/cobra"
)

func newBuildsQuotaCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "quota",
		Short: "Show the tool's build limits and what it uses of them",
		Long: `Show the tool's build limits and what it uses of them now: the builds
pending or running (starting another is refused at the limit) and those
running at once. With --json, prints the categories as the builds API
sends them.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.BuildQuota(cmd.Context(), tool)
			if err != nil {
				return err
			}
			return e.printQuota(env)
		},
	}
}
