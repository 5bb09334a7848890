package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newConfigShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Print the tool's config as YAML",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.ConfigGet(cmd.Context(), tool)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, false)
			}
			y, err := yamlFromJSON(env.Data)
			if err != nil {
				return err
			}
			fmt.Fprint(e.stdout, y)
			return nil
		},
	}
}
