package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// deployFlags are the flags of `deployment create` and `deploy`.
type deployFlags struct {
	forceBuild  bool
	forceRun    bool
	description string
}

func (f *deployFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.forceBuild, "force-build", false, "build every component, even when an identical build exists")
	cmd.Flags().BoolVar(&f.forceRun, "force-run", false, "restart every component, even when unchanged")
	cmd.Flags().StringVar(&f.description, "description", "", "a note about this deployment")
}

func newDeploymentCreateCmd(e *env) *cobra.Command {
	var f deployFlags
	var watch bool
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Deploy the tool's current config",
		Long: `Deploy the tool's current config. The deployment runs in the background;
--watch follows it until it ends and exits 1 when it did not succeed.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.DeploymentCreate(cmd.Context(), tool, f.forceBuild, f.forceRun, f.description)
			if err != nil {
				return err
			}
			d, err := env.Deployment()
			if err != nil {
				return err
			}
			if watch {
				return e.watch(cmd.Context(), c, tool, d)
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			e.printMessages(env.Messages, nil)
			fmt.Fprintf(e.stdout, "Deployment ID: %s\n", d.ID)
			fmt.Fprintf(e.stdout, "Created: %s\n", created(d.CreatedAt))
			printBuildsRuns(e.stdout, d)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&watch, "watch", false, "follow the deployment until it ends")
	return cmd
}
