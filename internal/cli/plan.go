package cli

import (
	"fmt"
	"strings"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/slipway"
)

// planPrefix starts the long status of a plan; the rest is its summary.
const planPrefix = "Plan only, nothing was changed: "

// planVerbs are the words of the plan lines, by step kind.
var planVerbs = map[slipway.StepKind]string{
	slipway.StepBuild: "build",
	slipway.StepRun:   "run",
	slipway.StepPrune: "remove",
}

// printPlan prints the plan in env (the answer to a dry run): with --json
// the full envelope, else a header, one line per step in plan order with
// its reason, and the summary. The envelope's warnings go to stderr, except
// those in skip (printed already).
func (e *env) printPlan(tool string, env apiclient.Envelope, skip []string) error {
	e.printMessages(messagesWarningsOnly(env.Messages), skip)
	if e.flags.json {
		return printEnvelope(e.stdout, env, true)
	}
	d, err := env.Deployment()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Plan for %s (nothing was changed):\n", tool)
	for _, s := range d.Steps {
		fmt.Fprintf(e.stdout, "  %s\n", planLine(s))
	}
	if len(d.Steps) == 0 {
		fmt.Fprintln(e.stdout, "  nothing to do")
	}
	if summary := firstLine(strings.TrimPrefix(d.LongStatus, planPrefix)); summary != "" {
		fmt.Fprintln(e.stdout, summary)
	}
	return nil
}

// planLine is "VERB COMPONENT: REASON", e.g. "build web: commit
// 3f2a1c7→9b0d44e"; a step left unchanged says it is skipped, unless its
// reason already says "(unchanged)".
func planLine(s slipway.Step) string {
	verb, ok := planVerbs[s.Kind]
	if !ok {
		verb = string(s.Kind)
	}
	reason := firstLine(s.Reason)
	if reason == "" {
		reason = string(s.State)
	}
	if s.State == slipway.StepUnchanged && !strings.Contains(reason, "(unchanged)") {
		reason += ", skipped"
	}
	return fmt.Sprintf("%s %s: %s", verb, s.Component, reason)
}
