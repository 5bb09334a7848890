package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/slipway"
)

func newDeploymentShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:               "show [ID|latest]",
		ValidArgsFunction: completeDeploymentIDs(e, true),
		Short:             "Show one deployment (the latest by default)",
		Args:              args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			id := slipway.DeploymentIDLatest
			if len(a) > 0 {
				id = a[0]
			}
			env, err := c.DeploymentGet(cmd.Context(), tool, id)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, false)
			}
			d, err := env.Deployment()
			if err != nil {
				return err
			}
			return e.printDeployment(d)
		},
	}
}

// printDeployment prints a deployment as `deployment show` does.
func (e *env) printDeployment(d slipway.Deployment) error {
	w := e.stdout
	fmt.Fprintf(w, "Deployment ID: %s\n", d.ID)
	fmt.Fprintf(w, "Created: %s\n", created(d.CreatedAt))
	if d.Description != "" {
		fmt.Fprintf(w, "Description: %s\n", d.Description)
	}
	if d.RollbackOf != "" {
		fmt.Fprintf(w, "Rollback of: %s\n", d.RollbackOf)
	}
	if d.Environment != "" && d.Environment != slipway.DefaultEnvironment || d.PromotedFrom != "" {
		fmt.Fprintf(w, "Environment: %s\n", d.Environment)
	}
	if d.PromotedFrom != "" {
		fmt.Fprintf(w, "Promoted from: %s\n", d.PromotedFrom)
	}
	if d.RollbackRelease != 0 {
		fmt.Fprintf(w, "Rollback to release: %d\n", d.RollbackRelease)
	}
	if d.RolledBackBy != "" {
		fmt.Fprintf(w, "Rolled back by: %s\n", d.RolledBackBy)
	}
	fmt.Fprintf(w, "Status: %s\n", d.Status)
	fmt.Fprintln(w, "Long status:")
	if d.LongStatus != "" {
		fmt.Fprint(w, indent(d.LongStatus, "  "))
	}
	if d.ForceBuild || d.ForceRun {
		fmt.Fprintf(w, "Forced: build %v, run %v\n", d.ForceBuild, d.ForceRun)
	}
	printBuildsRuns(w, d)
	if len(d.Steps) > 0 {
		fmt.Fprintln(w, "Plan:")
		for _, s := range d.Steps {
			parts := []string{string(s.Action)}
			if s.Reason != "" {
				parts = append(parts, s.Reason)
			}
			line := fmt.Sprintf("  %s (%s): %s", s.Key, s.State, strings.Join(parts, ", "))
			if s.Detail != "" {
				line += "; " + s.Detail
			}
			if len(s.Needs) > 0 {
				line += " [after " + strings.Join(s.Needs, ", ") + "]"
			}
			fmt.Fprintln(w, line)
		}
	}
	fmt.Fprintln(w, "Tool config:")
	if len(d.ToolConfig) > 0 && string(d.ToolConfig) != "{}" {
		y, err := yamlFromJSON(d.ToolConfig)
		if err != nil {
			return err
		}
		fmt.Fprint(w, indent(y, "  "))
	}
	return nil
}
