package cli

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"slipway.dev/slipway/internal/slipway"
)

// progress renders a deployment's steps as they go, for watch.
//
// Finished steps are printed once, a line each, under a header per step
// kind; the sections come in plan order (builds, runs, removals) and never
// interleave: the lines of a later section wait until every step of the
// earlier ones has finished. Running steps are shown with their elapsed
// time and, for a build, the last line of its log: on a terminal in a
// live area under the finished lines, redrawn in place; elsewhere (a pipe,
// a CI log) as plain lines appended every appendEvery, only for the
// section being printed, so that nothing is ever overwritten or
// interleaved.
type progress struct {
	w     io.Writer
	tty   bool
	ctl   func(seq string) // writes the terminal's control sequences (w escapes them)
	width int              // of the component column
	now   func() time.Time

	mu       sync.Mutex
	order    []string          // step keys in plan order, once known
	steps    map[string]*pstep // by step key
	printed  map[string]bool   // finished steps already printed
	headers  map[string]bool   // section headers printed
	live     int               // lines of the live area on the terminal
	lastLive time.Time         // when progress lines were last appended (not a terminal)
}

// pstep is what progress knows of one step.
type pstep struct {
	kind, component string
	state           slipway.StepState
	message         string
	buildKey        string
	started         time.Time // when it was seen running
	logLine         string    // the last line of a running build's log
}

// appendEvery is how often progress lines are appended when the output
// is not a terminal.
const appendEvery = 10 * time.Second

// newProgress returns a progress writing to w; ctl, on a terminal, writes
// its cursor moves past w's escaping (nil: not a terminal).
func newProgress(w io.Writer, ctl func(string), width int, now func() time.Time) *progress {
	return &progress{w: w, tty: ctl != nil, ctl: ctl, width: width, now: now, steps: map[string]*pstep{}, printed: map[string]bool{}, headers: map[string]bool{}}
}

// plan records the steps of the plan, in its order.
func (p *progress) plan(steps []slipway.Step) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(steps) == 0 {
		return
	}
	p.order = []string{}
	for _, st := range steps {
		p.order = append(p.order, st.Key)
		s := p.step(st.Key)
		s.buildKey = st.BuildKey
		// The record tells what no event told yet: a step first seen, or
		// one whose final event was missed (the last plan, after the end).
		if s.state == "" || (st.State.Final() && !s.state.Final()) {
			s.state, s.message = st.State, cmp.Or(st.Detail, st.Reason)
			if st.State == slipway.StepRunning {
				s.started = p.now() // running before the first event seen
			}
		}
		p.width = max(p.width, utf8.RuneCountInString(st.Component))
	}
	p.render()
}

// step returns the step of key, made on first sight; p.mu is held.
func (p *progress) step(key string) *pstep {
	s := p.steps[key]
	if s == nil {
		kind, component, _ := strings.Cut(key, ":")
		s = &pstep{kind: kind, component: component}
		p.steps[key] = s
	}
	return s
}

// event records a step's new state.
func (p *progress) event(key string, state slipway.StepState, message string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.step(key)
	if state == slipway.StepRunning && s.state != slipway.StepRunning {
		s.started = p.now()
	}
	s.state, s.message = state, message
	p.width = max(p.width, utf8.RuneCountInString(s.component))
	p.render()
}

// logLine records the last log line of a running build step.
func (p *progress) logLine(key, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.steps[key]; s != nil {
		s.logLine = strings.TrimSpace(line)
	}
}

// runningBuilds returns the keys and build keys of the builds running now.
func (p *progress) runningBuilds() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]string{}
	for key, s := range p.steps {
		if s.state == slipway.StepRunning && s.kind == string(slipway.StepBuild) && s.buildKey != "" {
			out[key] = s.buildKey
		}
	}
	return out
}

// aside prints what fn writes apart from the steps: the live area is
// cleared first and redrawn after, and nothing redraws while fn runs (a
// prompt there waits for its answer undisturbed).
func (p *progress) aside(fn func(w io.Writer)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLive()
	fn(p.w)
	p.render()
}

// tick redraws the running steps (their elapsed times move on).
func (p *progress) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.render()
}

// done finishes the output: the live area is cleared and every finished
// step not printed yet is printed, section by section.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLive()
	for _, kind := range sectionOrder {
		for _, key := range p.keys() {
			if s := p.steps[key]; s.kind == kind && s.state.Final() {
				p.printFinal(key, s)
			}
		}
	}
}

// sectionOrder is the order of the sections, by step kind.
var sectionOrder = []string{string(slipway.StepBuild), string(slipway.StepRun), string(slipway.StepPrune)}

// keys returns the step keys in plan order, then those the plan does not
// name (all of them before it is known), sorted; p.mu is held.
func (p *progress) keys() []string {
	keys := slices.Clone(p.order)
	var extra []string
	for k := range p.steps {
		if !slices.Contains(p.order, k) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	return append(keys, extra...)
}

// render prints what can be printed now and redraws the live area; p.mu
// is held.
func (p *progress) render() {
	p.clearLive()
	current := ""
	for _, kind := range sectionOrder {
		current = kind
		open := false
		for _, key := range p.keys() {
			s := p.steps[key]
			if s.kind != kind {
				continue
			}
			if s.state.Final() {
				p.printFinal(key, s)
			} else {
				open = true
			}
		}
		if open || p.order == nil {
			// Later sections wait for this one (or for the plan).
			break
		}
	}
	var running []string
	for _, key := range p.keys() {
		if s := p.steps[key]; s.state == slipway.StepRunning {
			running = append(running, key)
		}
	}
	if p.tty {
		for _, key := range running {
			fmt.Fprintln(p.w, p.runningLine(p.steps[key]))
			p.live++
		}
		return
	}
	if len(running) == 0 || p.now().Sub(p.lastLive) < appendEvery {
		return
	}
	appended := false
	for _, key := range running {
		s := p.steps[key]
		if s.kind != current || p.now().Sub(s.started) < appendEvery {
			continue
		}
		p.header(s.kind)
		fmt.Fprintln(p.w, p.runningLine(s))
		appended = true
	}
	if appended {
		p.lastLive = p.now()
	}
}

// runningLine is the line of a running step: what it does, for how long,
// and a build's last log line.
func (p *progress) runningLine(s *pstep) string {
	line := fmt.Sprintf("[⏳] %-*s  %s %s", p.width, s.component, firstLine(s.message), p.now().Sub(s.started).Truncate(time.Second))
	if s.logLine != "" {
		line += ": " + s.logLine
	}
	if p.tty {
		// One screen line each, so that the live area can be redrawn.
		line = clipRunes(line, 120)
	}
	return line
}

// clipRunes cuts s to n runes, marking the cut.
func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// clearLive erases the live area of the terminal; p.mu is held.
func (p *progress) clearLive() {
	if p.live > 0 {
		// Up to the area's first line, then erase to the end of the screen.
		p.ctl(fmt.Sprintf("\x1b[%dF\x1b[J", p.live))
		p.live = 0
	}
}

// header prints a section's header once; p.mu is held.
func (p *progress) header(kind string) {
	if h, ok := stepSections[kind]; ok && !p.headers[kind] {
		p.headers[kind] = true
		fmt.Fprintln(p.w, h)
	}
}

// printFinal prints a finished step once, with a failure's evidence under
// it; p.mu is held.
func (p *progress) printFinal(key string, s *pstep) {
	if p.printed[key] {
		return
	}
	p.printed[key] = true
	p.header(s.kind)
	fmt.Fprintln(p.w, strings.TrimRight(fmt.Sprintf("[%s] %-*s  %s", stepIcon(s.state), p.width, s.component, firstLine(s.message)), " "))
	if s.state == slipway.StepFailed || s.state == slipway.StepTimedOut {
		// The rest of a failure's message is its evidence (the app's last
		// log lines, a compiler's output): show it indented, never cut.
		for _, l := range moreLines(s.message, maxDetailLines) {
			fmt.Fprintf(p.w, "      %s\n", l)
		}
	}
}

// failed returns "component (kind)" of every failed or timed-out step.
func (p *progress) failed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, key := range p.keys() {
		if s := p.steps[key]; s.state == slipway.StepFailed || s.state == slipway.StepTimedOut {
			out = append(out, s.component+" ("+s.kind+")")
		}
	}
	return out
}
