package cli

import (
	"slices"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/slipway"
)

// completeDeploymentIDs completes a deployment ID argument with the
// selected tool's deployments, newest first, each with its status; latest
// too when withLatest. Without a server or a tool it completes nothing.
func completeDeploymentIDs(e *env, withLatest bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, a []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(a) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		if withLatest {
			out = append(out, cobra.CompletionWithDesc(slipway.DeploymentIDLatest, "the newest deployment"))
		}
		c, tool, err := e.target()
		if err != nil {
			return out, cobra.ShellCompDirectiveNoFileComp
		}
		env, err := c.DeploymentList(cmd.Context(), tool)
		if err != nil {
			return out, cobra.ShellCompDirectiveNoFileComp
		}
		ds, err := env.Deployments()
		if err != nil {
			return out, cobra.ShellCompDirectiveNoFileComp
		}
		for _, d := range slices.Backward(ds) {
			out = append(out, cobra.CompletionWithDesc(d.ID, string(d.Status)))
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	}
}
