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
		state := slipway.StepState(ev.State)
		line := fmt.Sprintf("[%s] %-*s  %s", stepIcon(state), width, component, firstLine(ev.Message))
		fmt.Fprintln(e.stdout, strings.TrimRight(line, " "))
		if state == slipway.StepFailed || state == slipway.StepTimedOut {
			// The rest of a failure's message is its evidence (the app's
			// last log lines, a compiler's output): show it indented.
			for _, l := range moreLines(ev.Message, maxDetailLines) {
				fmt.Fprintf(e.stdout, "      %s\n", l)
			}
		}
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

// maxDetailLines bounds the lines shown under a failed step.
const maxDetailLines = 15

// moreLines returns the non-empty lines of s after the first, at most the
// last max of them.
func moreLines(s string, max int) []string {
	_, rest, _ := strings.Cut(s, "\n")
	var out []string
	for l := range strings.SplitSeq(rest, "\n") {
		if l = strings.TrimRight(l, " \t\r"); strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return out
}

// firstLine returns s up to its first line break.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}
