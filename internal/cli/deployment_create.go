package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"
)

// deployFlags are the flags of `deployment create` and `deploy`.
type deployFlags struct {
	forceBuild  bool
	forceRun    bool
	description string
	environment string
}

func (f *deployFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.forceBuild, "force-build", false, "build every component, even when an identical build exists")
	cmd.Flags().BoolVar(&f.forceRun, "force-run", false, "restart every component, even when unchanged")
	cmd.Flags().StringVar(&f.description, "description", "", "a note about this deployment")
	cmd.Flags().StringVar(&f.environment, "env", "", "the environment to deploy to (default the tool's first; a production environment with an upstream takes promotions only)")
}

func newDeploymentCreateCmd(e *env) *cobra.Command {
	var f deployFlags
	var watch, onlyPlan bool
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Deploy the tool's current config",
		Long: `Deploy the tool's current config. The deployment runs in the background;
--watch follows it until it ends and exits 1 when it did not succeed.

With --only-plan nothing is deployed and nothing changes: prints what a
deployment would do now, one line per step with its reason, e.g.
"build web: commit 3f2a1c7→9b0d44e" or "run worker: unchanged, skipped".`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if onlyPlan && watch {
				return &usageError{errors.New("--only-plan and --watch cannot be used together: a plan deploys nothing to follow")}
			}
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			if onlyPlan {
				env, err := c.DeploymentPlanIn(cmd.Context(), tool, f.environment, f.forceBuild, f.forceRun, f.description)
				if err != nil {
					return err
				}
				return e.printPlan(tool, env, nil)
			}
			env, err := c.DeploymentCreateIn(cmd.Context(), tool, f.environment, f.forceBuild, f.forceRun, f.description)
			if err != nil {
				return err
			}
			return e.printCreated(cmd.Context(), c, tool, env, watch, false)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&watch, "watch", false, "follow the deployment until it ends")
	cmd.Flags().BoolVar(&onlyPlan, "only-plan", false, "show what a deployment would do, with a reason per step, and change nothing")
	return cmd
}

// printCreated prints a deployment just created (env is the answer): with
// watch it follows it until it ends (printing the answer's messages first
// when withMessages), else it prints the answer as JSON or its ID and
// builds and runs.
func (e *env) printCreated(ctx context.Context, c *apiclient.Client, tool string, env apiclient.Envelope, watch, withMessages bool) error {
	d, err := env.Deployment()
	if err != nil {
		return err
	}
	if watch {
		if withMessages {
			e.printMessages(env.Messages, nil)
		}
		return e.watch(ctx, c, tool, d)
	}
	if e.flags.json {
		return printEnvelope(e.stdout, env, true)
	}
	e.printMessages(env.Messages, nil)
	fmt.Fprintf(e.stdout, "Deployment ID: %s\n", d.ID)
	fmt.Fprintf(e.stdout, "Created: %s\n", created(d.CreatedAt))
	printBuildsRuns(e.stdout, d)
	return nil
}
