package cli

import (
	"context"
	"fmt"
	"strings"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/slipway"
)

// minComponentWidth is the narrowest component column of the progress lines.
const minComponentWidth = 18

// stepSections are the progress section headers, by step kind.
var stepSections = map[string]string{
	string(slipway.StepBuild): "Building images:",
	string(slipway.StepRun):   "Deploying components:",
	string(slipway.StepPrune): "Removing components:",
}

// watch follows deployment d to its end. In text mode it prints one line per
// step that finishes, under a header per step kind, then the outcome; with
// --json it prints only the final deployment's envelope. It returns an
// exitError 1 when the deployment did not succeed. It prints no control
// codes, so its output reads the same in a terminal, a pipe or a CI log.
func (e *env) watch(ctx context.Context, c *apiclient.Client, tool string, d slipway.Deployment) error {
	width := minComponentWidth
	for _, names := range [][]string{sortedKeys(d.Builds), sortedKeys(d.Runs)} {
		for _, n := range names {
			width = max(width, len(n))
		}
	}
	for _, s := range d.Steps {
		width = max(width, len(s.Component))
	}
	if !e.flags.json {
		fmt.Fprintf(e.stdout, "Starting deploy for %s (%s)...\n", tool, d.ID)
	}
	printed := map[string]bool{}
	err := c.DeploymentEvents(ctx, tool, d.ID, 0, func(ev apiclient.Event) error {
		if e.flags.json || ev.Kind != "step" || !slipway.StepState(ev.State).Final() {
			return nil
		}
		kind, component, _ := strings.Cut(ev.Step, ":")
		if h, ok := stepSections[kind]; ok && !printed[kind] {
			printed[kind] = true
			fmt.Fprintln(e.stdout, h)
		}
		line := fmt.Sprintf("[%s] %-*s  %s", stepIcon(slipway.StepState(ev.State)), width, component, firstLine(ev.Message))
		fmt.Fprintln(e.stdout, strings.TrimRight(line, " "))
		return nil
	})
	if err != nil {
		return err
	}
	env, err := c.DeploymentGet(ctx, tool, d.ID)
	if err != nil {
		return err
	}
	final, err := env.Deployment()
	if err != nil {
		return err
	}
	switch {
	case e.flags.json:
		if err := printEnvelope(e.stdout, env, true); err != nil {
			return err
		}
	case final.Status == slipway.DeploymentSuccessful:
		fmt.Fprintln(e.stdout, "All components deployed")
	default:
		fmt.Fprintf(e.stdout, "Deployment %s: %s\n", final.Status, firstLine(final.LongStatus))
	}
	if final.Status != slipway.DeploymentSuccessful {
		return &exitError{1}
	}
	return nil
}

// stepIcon is the mark of a finished step.
func stepIcon(s slipway.StepState) string {
	switch s {
	case slipway.StepDone, slipway.StepUnchanged:
		return "✅"
	case slipway.StepSkipped, slipway.StepCancelled:
		return "⏭️"
	default: // failed or timed out; a pending or running step is not finished
		return "❌"
	}
}

// firstLine returns s up to its first line break.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}
