package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/slipway"
)

// `slipway flows`: a tool's flows (x-slipway.flows) and their runs. A run
// is a deployment: `deployment show|cancel` and the web UI take its ID.

func newFlowsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "flows",
		Short: "The tool's flows: list them, run one",
		Long: "The tool's flows, declared in its config (x-slipway.flows): steps (deploy, run, ask, promote,\n" +
			"notify) and what starts them. A run is a deployment of its own kind: `deployment show ID`,\n" +
			"`deployment cancel ID` and `--watch` follow it as they follow any deployment.",
		Args: args(cobra.NoArgs),
	}
	cmd.AddCommand(newFlowsListCmd(e), newFlowsRunCmd(e))
	return cmd
}

func newFlowsListCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the tool's flows with their triggers, steps and latest run",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.FlowList(cmd.Context(), tool)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			flows, err := env.Flows()
			if err != nil {
				return err
			}
			if len(flows) == 0 {
				fmt.Fprintf(e.stdout, "Tool %s declares no flows (x-slipway.flows in its config).\n", tool)
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "FLOW\tON\tSTEPS\tLAST RUN")
			for _, f := range flows {
				on := make([]string, len(f.On))
				for i, t := range f.On {
					on[i] = slipway.FlowTrigger{Kind: slipway.FlowTriggerKind(t.Kind), Branch: deref(t.Branch), Schedule: deref(t.Schedule)}.String()
				}
				steps := make([]string, len(f.Steps))
				for i, s := range f.Steps {
					steps[i] = flowStepText(s)
				}
				last := "never"
				if len(f.Runs) > 0 {
					r := f.Runs[0]
					last = fmt.Sprintf("%s %s (%s)", r.DeployId, r.Status, deref(r.Trigger))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Name, strings.Join(on, ", "), strings.Join(steps, " → "), last)
			}
			return tw.Flush()
		},
	}
}

// flowStepText is a flow step as the list shows it: "deploy staging".
func flowStepText(s apiclient.FlowStepInfo) string {
	switch {
	case s.Component != nil && s.Environment != nil:
		return fmt.Sprintf("%s %s in %s", s.Kind, *s.Component, *s.Environment)
	case s.Environment != nil:
		return fmt.Sprintf("%s %s", s.Kind, *s.Environment)
	}
	return string(s.Kind)
}

func newFlowsRunCmd(e *env) *cobra.Command {
	var (
		watch       bool
		description string
	)
	cmd := &cobra.Command{
		Use:   "run NAME",
		Short: "Start a run of the tool's flow NAME",
		Long: "Start a run of the tool's flow NAME with its current config. --watch follows it: a line per\n" +
			"step as it ends (✅ done, ❌ failed, ⏭️ skipped or cancelled) with its time, the questions it\n" +
			"asks with the command that answers them, and exit status 1 when the run did not succeed.",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.FlowRun(cmd.Context(), tool, a[0], description)
			if err != nil {
				return err
			}
			d, err := env.Deployment()
			if err != nil {
				return err
			}
			if !watch {
				if e.flags.json {
					return printEnvelope(e.stdout, env, true)
				}
				e.printMessages(env.Messages, nil)
				fmt.Fprintf(e.stdout, "Run ID: %s\n", d.ID)
				return nil
			}
			return e.watchFlow(cmd.Context(), c, tool, d)
		},
	}
	cmd.Flags().BoolVar(&watch, "watch", false, "follow the run until it ends")
	cmd.Flags().StringVar(&description, "description", "", "a note about this run (default \"Run of flow NAME\")")
	return cmd
}

// watchFlow follows flow run d to its end: a line per step when it
// starts waiting (for its deployment or an answer) and when it ends, with
// the time it took, the questions it asks, then the outcome. With --json
// only the final run's envelope. An exitError 1 when it did not succeed.
func (e *env) watchFlow(ctx context.Context, c *apiclient.Client, tool string, d slipway.Deployment) error {
	if !e.flags.json {
		fmt.Fprintf(e.stdout, "Starting flow %s for %s (%s)...\n", d.Flow, tool, d.ID)
	}
	started := map[string]time.Time{}
	err := c.DeploymentEvents(ctx, tool, d.ID, 0, func(ev apiclient.Event) error {
		if e.flags.json {
			return nil
		}
		switch ev.Kind {
		case "step":
			st := slipway.StepState(ev.State)
			if _, ok := started[ev.Step]; !ok && !st.Final() {
				started[ev.Step] = ev.Time
			}
			switch {
			case st == slipway.StepWaiting && strings.HasSuffix(ev.Step, "-"+string(slipway.FlowAsk)):
				// Its question says it.
			case st == slipway.StepWaiting:
				fmt.Fprintf(e.stdout, "[⏳] %-12s %s\n", ev.Step, firstLine(ev.Message))
			case st.Final():
				took := ""
				if s, ok := started[ev.Step]; ok {
					took = fmt.Sprintf(" (%s)", ev.Time.Sub(s).Round(100*time.Millisecond))
				}
				fmt.Fprintf(e.stdout, "[%s] %-12s %s%s\n", stepIcon(st), ev.Step, firstLine(ev.Message), took)
			}
		case "question":
			if slipway.QuestionState(ev.State) == slipway.QuestionOpen {
				id, prompt, _ := strings.Cut(ev.Message, ": ")
				fmt.Fprintf(e.stdout, "[❓] %-12s %s\n      answer: slipway questions answer %s --value VALUE\n", ev.Step, firstLine(prompt), id)
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
		fmt.Fprintln(e.stdout, firstLine(final.LongStatus))
	default:
		fmt.Fprintf(e.stdout, "Flow run %s: %s\n", final.Status, firstLine(final.LongStatus))
	}
	if final.Status != slipway.DeploymentSuccessful {
		return &exitError{1}
	}
	return nil
}
