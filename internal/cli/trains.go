package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"slipway.dev/slipway/internal/apiclient"
)

// Release plans over many tools and their trains: `slipway plans
// create|list|show|delete` and `slipway train start|show|list|answer|cancel`.
// Admin commands: a plan spans tools.

func newPlansCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "plans", Short: "Release plans: one procedure (deploy, ask, promote) over many tools (admin)"}
	var file string
	create := &cobra.Command{
		Use:   "create NAME --file plan.yaml",
		Short: "Create or replace a release plan from a YAML or JSON file (members, stages, max_parallel)",
		Long: "The file has members (tool names), stages (each one of deploy: ENV, ask: QUESTION, promote: ENV)\n" +
			"and optionally max_parallel, e.g.\n\n  members: [t1, t2]\n  max_parallel: 4\n  stages:\n" +
			"    - deploy: staging\n    - ask: Staging looks fine. Promote all?\n    - promote: production\n",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			raw, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			var req apiclient.ReleasePlanRequest
			if err := yaml.UnmarshalStrict(raw, &req); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			req.Name = argv[0]
			c, err := e.apiClient()
			if err != nil {
				return err
			}
			start := time.Now()
			env, err := c.PlanPut(cmd.Context(), req)
			if err != nil {
				return err
			}
			return e.printDone(env, start)
		},
	}
	create.Flags().StringVarP(&file, "file", "f", "", "the plan (YAML or JSON; required)")
	_ = create.MarkFlagRequired("file")
	list := &cobra.Command{
		Use: "list", Short: "List the release plans", Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := e.apiClient()
			if err != nil {
				return err
			}
			env, err := c.PlanList(cmd.Context())
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			ps, err := env.Plans()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "Name\tMembers\tStages\tMax parallel\tBy")
			for _, p := range ps {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", p.Name, len(p.Members), stagesText(p.Stages), p.MaxParallel, p.CreatedBy)
			}
			return tw.Flush()
		},
	}
	show := &cobra.Command{
		Use: "show NAME", Short: "Show a release plan", Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, err := e.apiClient()
			if err != nil {
				return err
			}
			env, err := c.PlanGet(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			p, err := env.Plan()
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Plan %s: %s\nMembers (%d): %s\nMax parallel: %d\n", p.Name, stagesText(p.Stages), len(p.Members), strings.Join(p.Members, ", "), p.MaxParallel)
			return nil
		},
	}
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a release plan (its trains stay)", Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, err := e.apiClient()
			if err != nil {
				return err
			}
			start := time.Now()
			env, err := c.PlanDelete(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			return e.printDone(env, start)
		},
	}
	cmd.AddCommand(create, list, show, del)
	return cmd
}

// stagesText is "deploy to staging → ask → promote to production".
func stagesText(ss []apiclient.PlanStage) string {
	var out []string
	for _, s := range ss {
		switch {
		case s.Deploy != nil:
			out = append(out, "deploy to "+*s.Deploy)
		case s.Ask != nil:
			out = append(out, "ask")
		case s.Promote != nil:
			out = append(out, "promote to "+*s.Promote)
		}
	}
	return strings.Join(out, " → ")
}

func newTrainCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "train", Short: "Trains: runs of a release plan over its tools (admin)"}
	var dryRun, allOrNothing, yes, watch bool
	start := &cobra.Command{
		Use:   "start PLAN",
		Short: "Start a train of PLAN: its preflight, then (after a yes) the members that can run",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, err := e.apiClient()
			if err != nil {
				return err
			}
			mode := "eligible"
			if allOrNothing {
				mode = "all_or_nothing"
			}
			env, err := c.TrainStart(cmd.Context(), argv[0], mode, true)
			if err != nil {
				return err
			}
			pre, err := env.Train()
			if err != nil {
				return err
			}
			if dryRun && e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			n, bad := len(pre.Members), map[string]string{}
			if pre.Ineligible != nil {
				bad = *pre.Ineligible
			}
			fmt.Fprintf(e.stdout, "%d of %d can %s.", n-len(bad), n, stagesText(pre.Stages))
			if len(bad) > 0 {
				var why []string
				for _, m := range pre.Members {
					if r, ok := bad[m]; ok {
						why = append(why, m+" ("+r+")")
					}
				}
				fmt.Fprintf(e.stdout, " Can't: %s.", strings.Join(why, ", "))
			}
			fmt.Fprintln(e.stdout)
			if dryRun {
				return nil
			}
			if len(bad) > 0 && !allOrNothing {
				if err := e.confirmOrAbort(yes, fmt.Sprintf("Run the other %d?", n-len(bad))); err != nil {
					return err
				}
			} else if err := e.confirmOrAbort(yes, fmt.Sprintf("Run all %d?", n)); err != nil {
				return err
			}
			begin := time.Now()
			env, err = c.TrainStart(cmd.Context(), argv[0], mode, false)
			if err != nil {
				return err
			}
			t, err := env.Train()
			if err != nil {
				return err
			}
			if !watch {
				if e.flags.json {
					return printEnvelope(e.stdout, env, true)
				}
				return e.printDone(env, begin)
			}
			return e.watchTrain(cmd.Context(), c, t.Id, begin)
		},
	}
	f := start.Flags()
	f.BoolVar(&dryRun, "dry-run", false, "show the preflight only")
	f.BoolVar(&allOrNothing, "all-or-nothing", false, "refuse to start when any member cannot run")
	f.BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	f.BoolVar(&watch, "watch", false, "follow the train until it ends")

	var showWatch bool
	show := &cobra.Command{
		Use: "show ID", Short: "Show a train: one line per member per stage", Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, err := e.apiClient()
			if err != nil {
				return err
			}
			if showWatch {
				return e.watchTrain(cmd.Context(), c, argv[0], time.Now())
			}
			env, err := c.TrainGet(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			t, err := env.Train()
			if err != nil {
				return err
			}
			e.printTrain(t)
			return nil
		},
	}
	show.Flags().BoolVar(&showWatch, "watch", false, "follow the train until it ends")
	list := &cobra.Command{
		Use: "list", Short: "List the newest trains", Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := e.apiClient()
			if err != nil {
				return err
			}
			env, err := c.TrainList(cmd.Context())
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			ts, err := env.Trains()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPlan\tState\tStage\tCreated\tBy")
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\n", t.Id, t.Plan, t.State, min(t.Stage+1, len(t.Stages)), len(t.Stages), created(t.Created), t.CreatedBy)
			}
			return tw.Flush()
		},
	}
	var comment string
	answer := &cobra.Command{
		Use: "answer ID yes|no", Short: "Answer the question a train waits at", Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, err := e.apiClient()
			if err != nil {
				return err
			}
			begin := time.Now()
			env, err := c.TrainAnswer(cmd.Context(), argv[0], argv[1], comment)
			if err != nil {
				return err
			}
			return e.printDone(env, begin)
		},
	}
	answer.Flags().StringVar(&comment, "comment", "", "a comment recorded with the answer")
	cancel := &cobra.Command{
		Use: "cancel ID", Short: "Cancel a running train and its members' running deployments", Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			c, err := e.apiClient()
			if err != nil {
				return err
			}
			begin := time.Now()
			env, err := c.TrainCancel(cmd.Context(), argv[0])
			if err != nil {
				return err
			}
			return e.printDone(env, begin)
		},
	}
	cmd.AddCommand(start, show, list, answer, cancel)
	return cmd
}

// cellMark is a cell's state as a mark.
func cellMark(state string) string {
	switch state {
	case "succeeded":
		return "✅"
	case "failed":
		return "❌"
	case "skipped":
		return "⏭️"
	case "running":
		return "⏳"
	}
	return "…"
}

// printTrain prints a train: a header, then per stage one line per
// member with its mark, elapsed time, deployment and reason.
func (e *env) printTrain(t apiclient.Train) {
	fmt.Fprintf(e.stdout, "Train %s of plan %s: %s", t.Id, t.Plan, t.State)
	if t.Reason != "" {
		fmt.Fprintf(e.stdout, " (%s)", t.Reason)
	}
	fmt.Fprintln(e.stdout)
	for i, s := range t.Stages {
		if s.Ask != nil {
			line := "waiting"
			for _, a := range t.Answers {
				if a.Stage == i {
					line = fmt.Sprintf("%s by %s", a.Value, a.By)
				}
			}
			if i > t.Stage && string(t.State) == "running" {
				line = "not yet"
			}
			fmt.Fprintf(e.stdout, "Stage %d: ask %q: %s\n", i+1, *s.Ask, line)
			continue
		}
		fmt.Fprintf(e.stdout, "Stage %d: %s\n", i+1, stagesText([]apiclient.PlanStage{s}))
		for _, c := range t.Cells {
			if c.Stage != i {
				continue
			}
			elapsed := ""
			if c.Started != nil {
				end := time.Now()
				if c.Finished != nil {
					end = *c.Finished
				}
				elapsed = " (" + end.Sub(*c.Started).Round(100*time.Millisecond).String() + ")"
			}
			fmt.Fprintf(e.stdout, "  %s %s %s%s %s\n", cellMark(string(c.State)), c.Tool, c.State, elapsed, c.Reason)
		}
	}
}

// watchTrain prints a train's cells as they end and its question when it
// waits, polling once a second, until it ends; then the whole train.
func (e *env) watchTrain(ctx context.Context, c *apiclient.Client, id string, begin time.Time) error {
	seen := map[string]bool{}
	asked := map[int]bool{}
	for {
		env, err := c.TrainGet(ctx, id)
		if err != nil {
			return err
		}
		t, err := env.Train()
		if err != nil {
			return err
		}
		for _, cell := range t.Cells {
			key := fmt.Sprintf("%d/%s/%s", cell.Stage, cell.Tool, cell.State)
			if seen[key] || cell.State == "pending" {
				continue
			}
			seen[key] = true
			fmt.Fprintf(e.stdout, "%s %s: %s %s (%s) %s\n", cellMark(string(cell.State)), cell.Tool,
				stagesText(t.Stages[cell.Stage:cell.Stage+1]), cell.State, time.Since(begin).Round(100*time.Millisecond), cell.Reason)
		}
		if string(t.State) == "running" && t.Stage < len(t.Stages) && t.Stages[t.Stage].Ask != nil && !asked[t.Stage] {
			asked[t.Stage] = true
			fmt.Fprintf(e.stdout, "❓ %s  Answer: slipway train answer %s yes|no\n", *t.Stages[t.Stage].Ask, t.Id)
		}
		if string(t.State) != "running" {
			if e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			e.printTrain(t)
			if t.State != "completed" {
				return &exitError{1}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
