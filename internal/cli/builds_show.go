package cli

import (
	"github.com/spf13/cobra"
)

func newBuildsShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show one build",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.BuildGet(cmd.Context(), tool, a[0])
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, false)
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
