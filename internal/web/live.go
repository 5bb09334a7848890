package web

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"strings"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/sse"
)

// maxLogLine bounds one line of a followed log, in bytes.
const maxLogLine = 8 << 10

// deploymentLive serves GET /ui/t/{tool}/d/{id}/live: the deployment's
// events as Server-Sent Events, numbered as the API's events route numbers
// them. Each event carries HTML fragments of what it changed, rendered
// from the deployment as it is now, with the ids of the page's elements:
// a step event its step's row, a deployment event the header, a plan
// event the header and every row. Replaying events therefore converges on
// the current page. A last "done" event ends the stream once the
// deployment is final.
func (h *handler) deploymentLive(w http.ResponseWriter, r *http.Request) {
	ctx, tool, id := r.Context(), r.PathValue("tool"), r.PathValue("id")
	if !validDeploymentID(id) {
		h.badDeploymentID(w, r, id)
		return
	}
	after, _, ok := sse.After(r)
	if !ok {
		h.errorPage(w, r, http.StatusBadRequest, "Last-Event-ID and after must be event numbers (0 or more).")
		return
	}
	d, err := h.cfg.Deployments.DeploymentGet(ctx, tool, id)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	sess, _ := sessionOf(ctx)
	s := sse.Start(w, h.cfg.KeepAlive)
	defer s.Close()
	err = h.cfg.Deployments.DeploymentEvents(ctx, tool, d.ID, after, func(ev slipway.Event) error {
		cur, err := h.cfg.Deployments.DeploymentGet(ctx, tool, d.ID)
		if err != nil {
			return err
		}
		frag, err := h.fragment(ctx, cur, ev, sess.CSRFSecret)
		if err != nil {
			return err
		}
		return s.Write(sse.Message(strconv.FormatInt(ev.Seq, 10), "", frag))
	})
	if err != nil {
		if ctx.Err() == nil {
			h.log.ErrorContext(ctx, "web: deployment events", "tool", tool, "deployment", d.ID, "err", err)
		}
		return // the client reconnects with Last-Event-ID
	}
	_ = s.Write(sse.Message("", "done", "final"))
}

// fragment renders what ev changed on the deployment page, from d as it
// is now: a step event its row (which carries the state app.js gives the
// step's node in the graph), a plan event the header, the graph and the
// steps, a question event the header and the question cards (read from
// the store), any other the header.
func (h *handler) fragment(ctx context.Context, d slipway.Deployment, ev slipway.Event, csrf string) (string, error) {
	var b bytes.Buffer
	v := newDeploymentView(d, csrf)
	t := h.pages.fragments
	var err error
	switch ev.Kind {
	case "step":
		for _, st := range v.Steps {
			if st.S.Key == ev.Step {
				st.Announce = true
				err = t.ExecuteTemplate(&b, "step_row", st)
				break
			}
		}
		if b.Len() == 0 && err == nil { // a step the page does not have yet
			v.DAG = h.dag(d)
			err = execAll(&b, t, []string{"dag", "steps_body"}, []any{v.DAG, v})
		}
	case "plan":
		v.DAG = h.dag(d)
		err = execAll(&b, t, []string{"deployment_header", "dag", "steps_body"}, []any{v.Header, v.DAG, v})
	case "question":
		var cards cardsView
		if cards, err = h.questionCards(ctx, d.Tool, d.ID, nil); err == nil {
			_, text, _ := strings.Cut(ev.Message, ": ")
			if ev.State == string(slipway.QuestionOpen) {
				cards.Announce = "Question waiting: " + clip(firstLine(text), 200)
			} else {
				cards.Announce = "Question " + clip(firstLine(text), 200)
			}
			err = execAll(&b, t, []string{"deployment_header", "questions_top", "questions_bottom", "questions_settled"},
				[]any{v.Header, cards, cards, cards})
		}
	default:
		err = t.ExecuteTemplate(&b, "deployment_header", v.Header)
	}
	if err != nil {
		return "", fmt.Errorf("web: render fragment of event %d: %w", ev.Seq, err)
	}
	return b.String(), nil
}

// fragmentSep separates the fragments of one message: app.js parses
// each on its own, since the HTML parser drops a <tbody> that follows a
// <section> in one template.
const fragmentSep = "\n<!--fragment-->\n"

// execAll renders the templates names with their data, fragmentSep
// apart.
func execAll(b *bytes.Buffer, t *template.Template, names []string, data []any) error {
	for i, name := range names {
		if i > 0 {
			b.WriteString(fragmentSep)
		}
		if err := t.ExecuteTemplate(b, name, data[i]); err != nil {
			return err
		}
	}
	return nil
}

// buildLogsLive serves GET /ui/t/{tool}/b/{id}/logs/live.
func (h *handler) buildLogsLive(w http.ResponseWriter, r *http.Request) {
	tool, id := r.PathValue("tool"), r.PathValue("id")
	h.logLive(w, r, func(ctx context.Context, lines int, out io.Writer) error {
		return h.cfg.Builds.BuildLogs(ctx, tool, id, true, lines, out)
	})
}

// jobLogsLive serves GET /ui/t/{tool}/j/{name}/logs/live.
func (h *handler) jobLogsLive(w http.ResponseWriter, r *http.Request) {
	tool, name := r.PathValue("tool"), r.PathValue("name")
	h.logLive(w, r, func(ctx context.Context, lines int, out io.Writer) error {
		return h.cfg.Jobs.JobLogs(ctx, tool, name, true, lines, out)
	})
}

// logLive streams a log's last lines and then what is appended, one SSE
// message per line (numbered from 1; a reconnecting client starts over,
// app.js clears what it had), then "done" when the log ends (a finished
// build). Lines are text: app.js appends them as text, never HTML.
func (h *handler) logLive(w http.ResponseWriter, r *http.Request, follow func(ctx context.Context, lines int, out io.Writer) error) {
	lines, ok := h.logLines(w, r)
	if !ok {
		return
	}
	var s *sse.Stream
	lw := &lineWriter{emit: func(n int, line string) error {
		return s.Write(sse.Message(strconv.Itoa(n), "", printable(line)))
	}}
	// The stream starts with the first write, so that an error before it
	// (an unknown build) is still a page with a status.
	sw := writerFunc(func(p []byte) (int, error) {
		if s == nil {
			s = sse.Start(w, h.cfg.KeepAlive)
		}
		return lw.Write(p)
	})
	err := follow(r.Context(), lines, sw)
	if s == nil {
		if err != nil {
			h.serviceError(w, r, err)
			return
		}
		s = sse.Start(w, h.cfg.KeepAlive)
	}
	defer s.Close()
	if err != nil {
		if r.Context().Err() == nil {
			h.log.ErrorContext(r.Context(), "web: follow log", "path", r.URL.Path, "err", err)
		}
		return
	}
	_ = lw.flush()
	_ = s.Write(sse.Message("", "done", "final"))
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// lineWriter calls emit for each complete line written to it (cut at
// maxLogLine bytes).
type lineWriter struct {
	buf  []byte
	n    int
	emit func(n int, line string) error
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 && len(l.buf) < maxLogLine {
			return len(p), nil
		}
		end, next := i, i+1
		if i < 0 || i > maxLogLine {
			end, next = maxLogLine, maxLogLine
		}
		l.n++
		if err := l.emit(l.n, string(l.buf[:end])); err != nil {
			return 0, err
		}
		l.buf = l.buf[next:]
	}
}

// flush emits a last line without its newline.
func (l *lineWriter) flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	l.n++
	err := l.emit(l.n, string(l.buf))
	l.buf = nil
	return err
}
