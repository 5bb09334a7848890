package cli

import (
	"github.com/spf13/cobra"
)

func newComponentsDeployCmd(e *env) *cobra.Command {
	var f deployFlags
	cmd := &cobra.Command{
		Use:   "deploy FILE|-",
		Short: "Set the tool's config from FILE, deploy it and follow the deployment",
		Long: `Set the tool's config from FILE (or stdin for -), deploy it, and follow the
deployment with one line per build and run until it ends. Exits 1 when the
deployment did not succeed. With --json, prints the final deployment's
envelope.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			res, err := e.readConfig(a)
			if err != nil {
				return err
			}
			cfgEnv, err := c.ConfigCreate(cmd.Context(), tool, res.Config.Raw)
			if err != nil {
				return err
			}
			e.printMessages(messagesWarningsOnly(cfgEnv.Messages), res.Warnings)
			env, err := c.DeploymentCreate(cmd.Context(), tool, f.forceBuild, f.forceRun, f.description)
			if err != nil {
				return err
			}
			d, err := env.Deployment()
			if err != nil {
				return err
			}
			return e.watch(cmd.Context(), c, tool, d)
		},
	}
	f.register(cmd)
	return cmd
}
