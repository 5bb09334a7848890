package cli

import (
	"github.com/spf13/cobra"
)

func newComponentsDeployCmd(e *env) *cobra.Command {
	var f deployFlags
	var onlyPlan bool
	cmd := &cobra.Command{
		Use:   "deploy FILE|-",
		Short: "Set the tool's config from FILE, deploy it and follow the deployment",
		Long: `Set the tool's config from FILE (or stdin for -), deploy it, and follow the
deployment with one line per build and run until it ends. Exits 1 when the
deployment did not succeed. With --json, prints the final deployment's
envelope.

With --only-plan, FILE is checked and sent with the plan request but not
stored: the tool's config stays as it is, nothing is deployed, and the
output is what deploying FILE would do, one line per step with its reason,
e.g. "build web: commit 3f2a1c7→9b0d44e" or "remove old-cron: not in
config". With --json, prints the plan's envelope.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			file, err := e.readConfig(a)
			if err != nil {
				return err
			}
			res := file.res
			if onlyPlan {
				env, err := c.DeploymentPlanConfigIn(cmd.Context(), tool, f.environment, res.Config.Raw, f.forceBuild, f.forceRun, f.description)
				if err != nil {
					return e.serverProblems(file, env, err)
				}
				return e.printPlan(tool, env, res.Warnings)
			}
			cfgEnv, err := c.ConfigCreateFile(cmd.Context(), tool, file.data)
			if err != nil {
				return e.serverProblems(file, cfgEnv, err)
			}
			e.printMessages(messagesWarningsOnly(cfgEnv.Messages), res.Warnings)
			env, err := c.DeploymentCreateIn(cmd.Context(), tool, f.environment, f.forceBuild, f.forceRun, f.description)
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
	cmd.Flags().BoolVar(&onlyPlan, "only-plan", false, "show what deploying FILE would do, with a reason per step; store and change nothing")
	return cmd
}
