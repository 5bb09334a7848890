package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"slipway.dev/slipway/internal/apiclient"
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
			d, err := env.Deployment()
			if err != nil {
				return err
			}
			qs, qsJSON, err := deploymentQuestions(cmd.Context(), c, tool, d.ID)
			if err != nil {
				return err
			}
			if e.flags.json {
				if qsJSON == nil {
					return printEnvelope(e.stdout, env, false)
				}
				return printJSON(e.stdout, withKey(env.Data, "questions", qsJSON))
			}
			return e.printDeployment(d, qs...)
		},
	}
}

// deploymentQuestions returns the questions of deployment id, newest
// first, decoded and as the API sent them; nil and nil when the server
// has no questions API (404) or the credential may not list them (403: a
// deploy token), so that the deployment is still shown.
func deploymentQuestions(ctx context.Context, c *apiclient.Client, tool, id string) ([]apiclient.Question, json.RawMessage, error) {
	env, err := c.QuestionList(ctx, tool, "", id)
	if se, ok := errors.AsType[*apiclient.StatusError](err); ok && (se.Status == http.StatusNotFound || se.Status == http.StatusForbidden) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list the deployment's questions: %w", err)
	}
	qs, err := env.Questions()
	if err != nil {
		return nil, nil, err
	}
	return qs, env.Data, nil
}

// withKey returns the JSON object obj with key set to val at its end; obj
// as it is when it is not an object.
func withKey(obj json.RawMessage, key string, val json.RawMessage) json.RawMessage {
	b := bytes.TrimSpace(obj)
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return obj
	}
	k, _ := json.Marshal(key) // a string always marshals
	out := bytes.TrimRight(b[:len(b)-1], " \t\r\n")
	out = append([]byte(nil), out...)
	if len(out) > 1 {
		out = append(out, ',')
	}
	out = append(out, k...)
	out = append(out, ':')
	out = append(out, val...)
	return append(out, '}')
}

// printDeployment prints a deployment as `deployment show` does, with its
// questions when there are any.
func (e *env) printDeployment(d slipway.Deployment, qs ...apiclient.Question) error {
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
	if len(qs) > 0 {
		fmt.Fprintln(w, "Questions (newest first):")
		for _, q := range qs {
			fmt.Fprintf(w, "  %s %s (%s): %s\n", q.Id, q.Step, q.State, shorten(q.Question, 60))
			fmt.Fprintf(w, "    %s\n", questionOutcome(q))
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

// questionOutcome says how a question of a deployment stands: who answered
// what, when, with their comment; or until when it waits, and who
// approved so far.
func questionOutcome(q apiclient.Question) string {
	if slipway.QuestionState(q.State) == slipway.QuestionOpen {
		line := "waiting for an answer until " + questionTime(q.Deadline)
		if len(q.Approvals) > 0 {
			line += "; approved so far by " + strings.Join(q.Approvals, ", ")
		}
		return line
	}
	var parts []string
	v := answerValue(q)
	switch {
	case q.AnsweredBy != "":
		parts = append(parts, cmp.Or(v, string(q.State)), "by "+q.AnsweredBy)
	case v != "":
		parts = append(parts, string(q.State)+", took the default", v)
	default:
		parts = append(parts, string(q.State))
	}
	if q.AnsweredAt != nil {
		parts = append(parts, "at "+questionTime(*q.AnsweredAt))
	}
	line := strings.Join(parts, " ")
	if len(q.Approvals) > 1 {
		line += " (approved by " + strings.Join(q.Approvals, ", ") + ")"
	}
	if q.Comment != "" {
		line += ": \"" + q.Comment + "\""
	}
	return line
}

// answerValue is a settled question's value: an option's value, or the
// fields' values as key=value in the order of the fields.
func answerValue(q apiclient.Question) string {
	if len(q.Fields) == 0 || q.Value == "" {
		return q.Value
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(q.Value), &m); err != nil {
		return q.Value
	}
	var kv []string
	for _, f := range q.Fields {
		if v, ok := m[f.Key]; ok {
			kv = append(kv, f.Key+"="+shellWord(v))
		}
	}
	return strings.Join(kv, " ")
}
