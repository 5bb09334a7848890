package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newConfigGenerateCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "generate",
		Short: "Print a config generated from what is live, as YAML",
		Long: "Print a config generated from the tool's live components, each as it was last\n" +
			"applied, as YAML; deploying it again changes nothing. When nothing is live it\n" +
			"is a sample config. Nothing on the server changes.",
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.ConfigGenerate(cmd.Context(), tool)
			if err != nil {
				return err
			}
			if e.flags.json {
				e.printMessages(messagesWarningsOnly(env.Messages), nil)
				return printEnvelope(e.stdout, env, false)
			}
			y, err := yamlFromJSON(env.Data)
			if err != nil {
				return err
			}
			fmt.Fprint(e.stdout, y)
			e.printMessages(env.Messages, nil)
			return nil
		},
	}
}
