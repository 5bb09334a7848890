package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

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

// watch follows deployment d to its end. In text mode it shows each step
// as it goes (see progress: finished steps a line each under a header per
// step kind; running ones with their elapsed time and a build's last log
// line, redrawn in place on a terminal, appended now and then elsewhere),
// then the outcome, naming every failed component; with --json it prints
// only the final deployment's envelope. It returns an exitError 1 when
// the deployment did not succeed.
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
	var ctl func(string) // on a terminal, running steps are redrawn in place
	if esc, ok := e.stdout.(*escaper); ok && esc.terminal() && !e.flags.json {
		ctl = func(seq string) { _ = esc.control(seq) } // a failed write shows on the terminal itself
	}
	p := newProgress(e.stdout, ctl, width, time.Now)
	asked := &questionWatch{seen: map[string]bool{}, in: bufio.NewReader(e.stdin)}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if !e.flags.json {
		wg.Go(func() { e.followRunning(ctx, c, tool, p, stop) })
	}
	err := c.DeploymentEvents(ctx, tool, d.ID, 0, func(ev apiclient.Event) error {
		if e.flags.json {
			return nil
		}
		switch ev.Kind {
		case "plan":
			// The whole plan, so that the sections keep its order.
			if env, err := c.DeploymentGet(ctx, tool, d.ID); err == nil {
				if pd, err := env.Deployment(); err == nil {
					p.plan(pd.Steps)
				}
			}
		case "step":
			p.event(ev.Step, slipway.StepState(ev.State), ev.Message)
		case "question":
			if slipway.QuestionState(ev.State) == slipway.QuestionOpen {
				e.questionOpened(ctx, c, tool, ev.Message, p, asked)
			}
		}
		return nil
	})
	close(stop)
	wg.Wait()
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
	if !e.flags.json {
		p.plan(final.Steps) // what a missed event left out
		p.done()
	}
	switch {
	case e.flags.json:
		if err := printEnvelope(e.stdout, env, true); err != nil {
			return err
		}
	case final.Status == slipway.DeploymentSuccessful:
		fmt.Fprintln(e.stdout, "All components deployed")
		if final.Environment == "" || final.Environment == slipway.DefaultEnvironment {
			e.printPublished(ctx, c, tool)
		}
	default:
		fmt.Fprintf(e.stdout, "Deployment %s: %s\n", final.Status, firstLine(final.LongStatus))
		if failed := p.failed(); len(failed) > 0 {
			fmt.Fprintf(e.stdout, "Failed: %s\n", strings.Join(failed, ", "))
		}
	}
	if final.Status != slipway.DeploymentSuccessful {
		return &exitError{1}
	}
	return nil
}

// questionWatch is what watch knows of the questions it showed.
type questionWatch struct {
	seen map[string]bool
	in   *bufio.Reader // stdin, for answers typed at the prompt
	eof  bool          // stdin ended: prompt no more
}

// questionOpened shows a question that opened during the watch (msg is
// its event's message, "<id>: <prompt>"): what it asks, until when, and
// the command that answers it. When a person sits at the terminal and the
// watcher's credential may answer, it prompts for the answer and sends it:
// an option's value (an empty line goes on watching), or the question's
// fields one by one (see promptFields).
func (e *env) questionOpened(ctx context.Context, c *apiclient.Client, tool, msg string, p *progress, w *questionWatch) {
	id, _, _ := strings.Cut(msg, ":")
	if !strings.HasPrefix(id, "q-") || w.seen[id] {
		return
	}
	w.seen[id] = true
	env, err := c.QuestionGet(ctx, tool, id, 0)
	var q apiclient.Question
	if err == nil {
		q, err = env.Question()
	}
	if err != nil {
		p.aside(func(out io.Writer) {
			fmt.Fprintf(out, "[❓] %s (could not read it: %s)\n", msg, slipway.ErrorMessage(err))
		})
		return
	}
	if slipway.QuestionState(q.State).Final() {
		return // answered already: the steps show what followed
	}
	prompt := e.isInteractive() && !w.eof && q.MayAnswer != nil && *q.MayAnswer == "" && (len(q.Options) > 0 || len(q.Fields) > 0)
	p.aside(func(out io.Writer) {
		fmt.Fprintf(out, "[❓] %s asks (%s):\n", q.Step, q.Id)
		fmt.Fprint(out, indent(q.Question, "     "))
		if len(q.Options) > 0 {
			fmt.Fprintf(out, "     Answers: %s\n", optionList(q.Options))
		}
		for _, f := range q.Fields {
			fmt.Fprintf(out, "     Field: %s\n", fieldLine(f))
		}
		fmt.Fprintf(out, "     Deadline: %s%s\n", questionTime(q.Deadline), deadlineNote(q))
		fmt.Fprintf(out, "     Answer with: %s\n", answerCommand(q))
		if q.MayAnswer != nil && *q.MayAnswer != "" {
			fmt.Fprintf(out, "     (You may not answer it: %s)\n", *q.MayAnswer)
		}
		if !prompt {
			return
		}
		var req *apiclient.AnswerRequest
		if len(q.Fields) > 0 {
			req = w.promptFields(out, q)
		} else {
			req = w.promptOption(out, q)
		}
		if req == nil {
			return
		}
		req.Source = new("cli")
		// A refused answer says why; the watch goes on either way.
		_ = e.answer(ctx, c, tool, q.Id, *req)
	})
}

// readLine prints prompt and reads a line from the terminal, trimmed; ok
// is false when stdin ended before anything was typed.
func (w *questionWatch) readLine(out io.Writer, prompt string) (line string, ok bool) {
	fmt.Fprint(out, prompt)
	s, err := w.in.ReadString('\n')
	line = strings.TrimSpace(s)
	if err != nil {
		w.eof = true
		if line == "" {
			fmt.Fprintln(out)
			return "", false
		}
	}
	return line, true
}

// promptOption asks for one of q's options until it gets one; nil when
// the person goes on watching (an empty line) or stdin ends.
func (w *questionWatch) promptOption(out io.Writer, q apiclient.Question) *apiclient.AnswerRequest {
	values := optionValues(q)
	for {
		v, ok := w.readLine(out, fmt.Sprintf("Answer [%s] (empty: wait): ", strings.Join(values, "/")))
		switch {
		case !ok:
			return nil
		case v == "":
			fmt.Fprintln(out, "Waiting for an answer; watching on.")
			return nil
		case !slices.Contains(values, v):
			fmt.Fprintf(out, "%q is not one of %s.\n", v, strings.Join(values, ", "))
			if w.eof {
				return nil
			}
			continue
		}
		return &apiclient.AnswerRequest{Value: &v}
	}
}

// promptFields asks whether to answer q's fields now (a gate may also be
// stopped there), then for each field in turn: an empty line takes its
// default, a boolean takes y/n too, and a value the server would refuse
// (a missing required one, one not among a select's options, a boolean
// that is not true or false) is asked again, with the server's reason.
// Only the values typed are sent; the server fills in the defaults. nil
// when the person goes on watching or stdin ends.
func (w *questionWatch) promptFields(out io.Writer, q apiclient.Question) *apiclient.AnswerRequest {
	choices := "y/n"
	if string(q.Origin) == string(slipway.OriginGate) {
		choices = "y/n/stop"
	}
	for {
		fields := "fields"
		if len(q.Fields) == 1 {
			fields = "field"
		}
		v, ok := w.readLine(out, fmt.Sprintf("Answer its %d %s now? [%s] (empty: wait): ", len(q.Fields), fields, choices))
		switch {
		case !ok:
			return nil
		case v == "stop" && strings.HasSuffix(choices, "/stop"):
			return &apiclient.AnswerRequest{Value: &v}
		case v == "" || v == "n" || v == "no":
			fmt.Fprintln(out, "Waiting for an answer; watching on.")
			return nil
		case v != "y" && v != "yes":
			fmt.Fprintf(out, "%q is not one of %s.\n", v, strings.ReplaceAll(choices, "/", ", "))
			if w.eof {
				return nil
			}
			continue
		}
		break
	}
	values := map[string]string{}
	for _, f := range q.Fields {
		df := domainField(f)
		for {
			hint := ""
			if df.Type == slipway.FieldBoolean {
				hint = " [y/n]"
			}
			v, ok := w.readLine(out, fmt.Sprintf("  %s%s: ", fieldLine(f), hint))
			if !ok {
				return nil
			}
			if df.Type == slipway.FieldBoolean {
				v = yesNo(v)
			}
			if _, problem := df.CheckValue(v); problem != "" {
				fmt.Fprintf(out, "  %s: %s\n", f.Key, problem)
				if w.eof {
					return nil
				}
				continue
			}
			if v != "" {
				values[f.Key] = v
			}
			break
		}
	}
	return &apiclient.AnswerRequest{Fields: &values}
}

// yesNo reads the y/yes/n/no a person types for a boolean field as true or
// false; anything else is left for the field's check.
func yesNo(v string) string {
	switch strings.ToLower(v) {
	case "y", "yes":
		return "true"
	case "n", "no":
		return "false"
	}
	return v
}

// domainField is the domain's form of a question's field, to check a value
// as the server does.
func domainField(f apiclient.QuestionField) slipway.QuestionField {
	df := slipway.QuestionField{Key: f.Key, Type: slipway.FieldType(f.Type)}
	if f.Label != nil {
		df.Label = *f.Label
	}
	if f.Options != nil {
		df.Options = *f.Options
	}
	if f.Required != nil {
		df.Required = *f.Required
	}
	if f.Default != nil {
		df.Default = *f.Default
	}
	return df
}

// followRunning keeps the running steps' lines fresh until stop: it
// redraws them every half second on a terminal, and fetches the last log
// line of each running build (every second on a terminal, before each
// appended progress line elsewhere).
func (e *env) followRunning(ctx context.Context, c *apiclient.Client, tool string, p *progress, stop <-chan struct{}) {
	redraw, fetch := 500*time.Millisecond, time.Second
	if !p.tty {
		redraw, fetch = time.Second, appendEvery
	}
	t := time.NewTicker(redraw)
	defer t.Stop()
	var fetched time.Time
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(fetched) >= fetch-redraw/2 {
			fetched = time.Now()
			for key, build := range p.runningBuilds() {
				last := ""
				// Best effort: a log not there yet shows nothing.
				_ = c.BuildLogs(ctx, tool, build, false, 1, func(l string) error { last = l; return nil })
				if last != "" {
					p.logLine(key, last)
				}
			}
		}
		p.tick()
	}
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

// printPublished prints where the tool's published components answer
// (the full public URL, as the jobs API gives it), one line each. It is a
// courtesy after a deployment: when the jobs cannot be read it prints
// nothing, and the deployment's outcome stands.
func (e *env) printPublished(ctx context.Context, c *apiclient.Client, tool string) {
	env, err := c.JobList(ctx, tool, true)
	if err != nil {
		return
	}
	jobs, err := env.Jobs()
	if err != nil {
		return
	}
	for _, j := range jobs {
		if j.Status != nil && j.Status.Url != nil && *j.Status.Url != "" {
			fmt.Fprintf(e.stdout, "%s: %s\n", j.Name, *j.Status.Url)
		}
	}
}
