package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/slipway"
)

func newQuestionsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "questions",
		Short: "List, show and answer what deployments ask (gates and `slipway ask`)",
	}
	cmd.AddCommand(newQuestionsListCmd(e), newQuestionsShowCmd(e), newQuestionsAnswerCmd(e))
	return cmd
}

// questionStates are the states --state takes ("all": every one).
var questionStates = []string{"open", "answered", "rejected", "expired", "cancelled", "all"}

func newQuestionsListCmd(e *env) *cobra.Command {
	var all bool
	var state, deployment string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the tool's open questions (--all: of every tool you may see)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(questionStates, state) {
				return &usageError{fmt.Errorf("--state %q: want one of %s", state, strings.Join(questionStates, ", "))}
			}
			if all && deployment != "" {
				return &usageError{errors.New("--deployment names one tool's deployment: not with --all")}
			}
			var c *apiclient.Client
			tool := ""
			var err error
			if all {
				c, err = e.apiClient()
			} else {
				c, tool, err = e.target()
			}
			if err != nil {
				return err
			}
			s := state
			if s == "all" {
				s = ""
			}
			env, err := c.QuestionList(cmd.Context(), tool, s, deployment)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, true)
			}
			qs, err := env.Questions()
			if err != nil {
				return err
			}
			if len(qs) == 0 {
				what := "questions"
				if state != "all" {
					what = state + " questions"
				}
				if all {
					fmt.Fprintf(e.stdout, "No %s.\n", what)
				} else {
					fmt.Fprintf(e.stdout, "No %s for tool: %s\n", what, tool)
				}
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			head := "ID\tDeployment\tStep\tState\tDeadline\tQuestion"
			if all {
				head = "ID\tTool\tDeployment\tStep\tState\tDeadline\tQuestion"
			}
			fmt.Fprintln(tw, head)
			for _, q := range qs {
				row := []string{q.Id, cmp.Or(q.DeployId, "-"), q.Step, string(q.State), questionTime(q.Deadline), shorten(q.Question, 60)}
				if all {
					row = slices.Insert(row, 1, q.Tool)
				}
				fmt.Fprintln(tw, strings.Join(row, "\t"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "questions of every tool your credential may see, not only --tool's")
	cmd.Flags().StringVar(&state, "state", "open", "only questions in this state: "+strings.Join(questionStates, ", "))
	cmd.Flags().StringVar(&deployment, "deployment", "", "only this deployment's questions")
	return cmd
}

func newQuestionsShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a question: what it asks, who may answer, the answers so far",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			env, err := c.QuestionGet(cmd.Context(), tool, a[0], 0)
			if err != nil {
				return err
			}
			if e.flags.json {
				return printEnvelope(e.stdout, env, false)
			}
			q, err := env.Question()
			if err != nil {
				return err
			}
			logEnv, err := c.QuestionLog(cmd.Context(), tool, q.Id)
			if err != nil {
				return err
			}
			log, err := logEnv.QuestionLogEntries()
			if err != nil {
				return err
			}
			e.printQuestion(q, log)
			return nil
		},
	}
}

// printQuestion prints a question as `questions show` does.
func (e *env) printQuestion(q apiclient.Question, log []apiclient.QuestionLogEntry) {
	w := e.stdout
	fmt.Fprintf(w, "Question: %s\n", q.Id)
	fmt.Fprintf(w, "Tool: %s\n", q.Tool)
	none := "none (a scheduled run asks)"
	origin := "asked by its process"
	switch q.Origin {
	case "gate":
		origin = "a gate of the config"
	case "change-request":
		none, origin = "none (a change request of a named release)", "approve or refuse the cherry-pick"
	case "ask":
	}
	fmt.Fprintf(w, "Deployment: %s\n", cmp.Or(q.DeployId, none))
	fmt.Fprintf(w, "Step: %s (%s)\n", q.Step, origin)
	fmt.Fprintf(w, "State: %s\n", q.State)
	fmt.Fprintf(w, "Asked: %s\n", questionTime(q.Created))
	fmt.Fprintf(w, "Deadline: %s%s\n", questionTime(q.Deadline), deadlineNote(q))
	fmt.Fprintln(w, "Prompt:")
	fmt.Fprint(w, indent(q.Question, "  "))
	if len(q.Options) > 0 {
		fmt.Fprintln(w, "Answers:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, o := range q.Options {
			note := ""
			if o.Stop != nil && *o.Stop {
				note = "stops the deployment"
			}
			if o.Value == q.Default && q.Default != "" {
				note = strings.TrimPrefix(note+", default", ", ")
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", o.Value, o.Label, note)
		}
		_ = tw.Flush() // w's errors show where it writes
	}
	for _, f := range q.Fields {
		fmt.Fprintf(w, "Field: %s\n", fieldLine(f))
	}
	if p := q.Policy; p.RequiredAnswers != nil && *p.RequiredAnswers > 1 {
		fmt.Fprintf(w, "Needs: %d answers from different identities (so far: %s)\n", *p.RequiredAnswers, strings.Join(q.Approvals, ", "))
	}
	if q.MayAnswer != nil && slipway.QuestionState(q.State) == slipway.QuestionOpen {
		if *q.MayAnswer == "" {
			fmt.Fprintf(w, "You may answer: %s\n", answerCommand(q))
		} else {
			fmt.Fprintf(w, "You may not answer: %s\n", *q.MayAnswer)
		}
	}
	if q.AnsweredBy != "" {
		line := fmt.Sprintf("Settled: %s by %s", cmp.Or(q.Value, string(q.State)), q.AnsweredBy)
		if q.AnsweredAt != nil {
			line += " at " + questionTime(*q.AnsweredAt)
		}
		fmt.Fprintln(w, line)
		if q.Comment != "" {
			fmt.Fprintf(w, "Comment: %s\n", q.Comment)
		}
	}
	if len(log) > 0 {
		fmt.Fprintln(w, "Log:")
		for _, l := range log {
			parts := []string{questionTime(l.Time), string(l.Kind)}
			if l.Actor != "" {
				parts = append(parts, "by "+l.Actor)
			}
			if l.Value != "" {
				parts = append(parts, l.Value)
			}
			if l.Source != "" {
				parts = append(parts, "("+l.Source+")")
			}
			if l.Reason != "" {
				parts = append(parts, "- "+l.Reason)
			}
			if l.Comment != "" {
				parts = append(parts, "\""+l.Comment+"\"")
			}
			fmt.Fprintf(w, "  %s\n", strings.Join(parts, " "))
		}
	}
}

func newQuestionsAnswerCmd(e *env) *cobra.Command {
	var value, comment string
	var fields []string
	cmd := &cobra.Command{
		Use:   "answer ID --value VALUE | --field KEY=VALUE…",
		Short: "Answer a question: an option's value, or the values of its fields",
		Long: `Answer a question with one of its options' values (--value), or with the
values of its fields (--field KEY=VALUE, repeated; fields left out take
their defaults). The first valid answer settles the question; a later one,
or one from a credential the question does not accept, is refused with the
reason.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if (value == "") == (len(fields) == 0) {
				return &usageError{errors.New("answer with --value VALUE or with --field KEY=VALUE (one or more), not both")}
			}
			req := apiclient.AnswerRequest{Source: new("cli")}
			if value != "" {
				req.Value = &value
			}
			if len(fields) > 0 {
				m := map[string]string{}
				for _, f := range fields {
					k, v, ok := strings.Cut(f, "=")
					if !ok || k == "" {
						return &usageError{fmt.Errorf("--field %q: want KEY=VALUE", f)}
					}
					if _, dup := m[k]; dup {
						return &usageError{fmt.Errorf("--field %s is given twice", k)}
					}
					m[k] = v
				}
				req.Fields = &m
			}
			if comment != "" {
				req.Comment = &comment
			}
			c, tool, err := e.target()
			if err != nil {
				return err
			}
			return e.answer(cmd.Context(), c, tool, a[0], req)
		},
	}
	cmd.Flags().StringVar(&value, "value", "", "the value of the option you choose")
	cmd.Flags().StringArrayVar(&fields, "field", nil, "KEY=VALUE of a field (repeat it)")
	cmd.Flags().StringVar(&comment, "comment", "", "a note kept with your answer in the question's log")
	return cmd
}

// answer sends an answer and prints the outcome: a ✅ line with what it
// did, or a ❌ line with the server's reason when the question refused it
// (settled already, not yours to answer, not a valid answer).
func (e *env) answer(ctx context.Context, c *apiclient.Client, tool, id string, req apiclient.AnswerRequest) error {
	env, err := c.QuestionAnswer(ctx, tool, id, req)
	if err != nil {
		if se, ok := errors.AsType[*apiclient.StatusError](err); ok {
			switch se.Status {
			case http.StatusConflict, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusBadRequest:
				fmt.Fprintf(e.stderr, "❌ %s\n", slipway.ErrorMessage(err))
				return &exitError{1}
			}
		}
		return err
	}
	if e.flags.json {
		return printEnvelope(e.stdout, env, true)
	}
	for _, m := range env.Messages.Info {
		fmt.Fprintf(e.stdout, "✅ %s\n", m)
	}
	for _, m := range env.Messages.Warning {
		fmt.Fprintf(e.stderr, "Warning: %s\n", m)
	}
	return nil
}

// questionTime formats a question's times.
func questionTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 MST")
}

// optionValues are a question's option values, for prompts.
func optionValues(q apiclient.Question) []string {
	vs := make([]string, len(q.Options))
	for i, o := range q.Options {
		vs[i] = o.Value
	}
	return vs
}
