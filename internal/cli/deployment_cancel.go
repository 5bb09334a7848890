package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/slipway"
)

func newDeploymentCancelCmd(e *env) *cobra.Command {
	var wait bool
	cmd := &cobra.Command{
		Use:               "cancel [ID|latest]",
		ValidArgsFunction: completeDeploymentIDs(e, true),
		Short:             "Cancel a pending or running deployment (the latest by default)",
		Long: `Cancel a pending or running deployment (the latest by default): steps not
started are cancelled, running builds are killed, health waits and one-off
runs stop. Components already applied stay as they are.

The deployment is flagged at once and ends cancelled once its running steps
have stopped, typically within a second; --wait follows it until it is final
and exits 1 unless it ended cancelled.`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			id := slipway.DeploymentIDLatest
			if len(a) > 0 {
				id = a[0]
			}
			env, err := c.DeploymentCancel(cmd.Context(), tool, id)
			if err != nil {
				return err
			}
			d, err := env.Deployment()
			if err != nil {
				return err
			}
			if wait {
				return e.waitCancelled(cmd.Context(), c, tool, env, d)
			}
			if e.flags.json {
				e.printMessages(messagesWarningsOnly(env.Messages), nil)
				return printEnvelope(e.stdout, env, false)
			}
			e.printMessages(env.Messages, nil)
			return e.printDeployment(d)
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the deployment has stopped; exit 1 unless it ended cancelled")
	return cmd
}

// waitCancelled follows deployment d, just flagged for cancellation (env is
// the cancel response), until it is final. In text mode it prints the
// cancel's messages, then the outcome as watch does; with --json only the
// final deployment's data. It returns an exitError 1 unless the deployment
// ended cancelled.
func (e *env) waitCancelled(ctx context.Context, c *apiclient.Client, tool string, env apiclient.Envelope, d slipway.Deployment) error {
	if e.flags.json {
		e.printMessages(messagesWarningsOnly(env.Messages), nil)
	} else {
		e.printMessages(env.Messages, nil)
		fmt.Fprintf(e.stdout, "Waiting for deployment %s to stop...\n", d.ID)
	}
	if !d.Status.Final() {
		if err := c.DeploymentEvents(ctx, tool, d.ID, 0, func(apiclient.Event) error { return nil }); err != nil {
			return err
		}
	}
	final, err := c.DeploymentGet(ctx, tool, d.ID)
	if err != nil {
		return err
	}
	fd, err := final.Deployment()
	if err != nil {
		return err
	}
	if e.flags.json {
		if err := printEnvelope(e.stdout, final, false); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "Deployment %s: %s\n", fd.Status, firstLine(fd.LongStatus))
	}
	if fd.Status != slipway.DeploymentCancelled {
		return &exitError{1}
	}
	return nil
}
