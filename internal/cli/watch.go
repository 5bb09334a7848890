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
// watcher's credential may answer, it prompts for an option's value and
// sends it; an empty line goes on watching.
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
	prompt := e.isInteractive() && !w.eof && q.MayAnswer != nil && *q.MayAnswer == "" && len(q.Options) > 0
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
		values := optionValues(q)
		for {
			fmt.Fprintf(out, "Answer [%s] (empty: wait): ", strings.Join(values, "/"))
			line, err := w.in.ReadString('\n')
			v := strings.TrimSpace(line)
			if err != nil {
				w.eof = true
				if v == "" {
					fmt.Fprintln(out)
					return
				}
			}
			switch {
			case v == "":
				fmt.Fprintln(out, "Waiting for an answer; watching on.")
				return
			case !slices.Contains(values, v):
				fmt.Fprintf(out, "%q is not one of %s.\n", v, strings.Join(values, ", "))
				if w.eof {
					return
				}
				continue
			}
			// A refused answer says why; the watch goes on either way.
			_ = e.answer(ctx, c, tool, q.Id, apiclient.AnswerRequest{Value: &v, Source: new("cli")})
			return
		}
	})
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
