package cli

import (
	"github.com/spf13/cobra"
)

func newBuildsShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show [ID]",
		Short: "Show one build (default: the newest)",
		Args:  args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			id := ""
			if len(a) == 1 {
				id = a[0]
			}
			env, err := c.BuildGet(cmd.Context(), tool, id)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printBuildJSON(e.stdout, env)
			}
			b, err := env.Build()
			if err != nil {
				return err
			}
			printBuild(e.stdout, b)
			return nil
		},
	}
}
