package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func planOf(keys ...string) []slipway.Step {
	var out []slipway.Step
	for _, k := range keys {
		kind, comp, _ := strings.Cut(k, ":")
		out = append(out, slipway.Step{Key: k, Kind: slipway.StepKind(kind), Component: comp, State: slipway.StepPending, BuildKey: "key-" + comp})
	}
	return out
}

// Ensure sections never interleave: a run that finishes while a build
// still runs is printed only once every build has finished, under its
// own header (then the section's steps as they finish), and a failed
// step's lines are never cut.
func TestProgress_SectionsInOrder(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	clock := &fakeClock{t: time.Unix(0, 0)}
	p := newProgress(&b, nil, 6, clock.now)
	p.plan(planOf("build:api", "build:web", "run:api", "run:web"))
	p.event("build:api", slipway.StepRunning, "building")
	p.event("build:web", slipway.StepDone, "built 1a2b3c4 in 2s")
	p.event("run:web", slipway.StepFailed, "not healthy: crash loop\nlast log lines:\n"+strings.Repeat("x", 300))
	if strings.Contains(b.String(), "Deploying components:") {
		t.Fatalf("a run was printed while a build still runs:\n%s", b.String())
	}
	p.event("build:api", slipway.StepDone, "built 5d6e7f8 in 9s")
	p.event("run:api", slipway.StepDone, "healthy after 120ms")
	p.done()
	want := "Building images:\n" +
		"[✅] web     built 1a2b3c4 in 2s\n" +
		"[✅] api     built 5d6e7f8 in 9s\n" +
		"Deploying components:\n" +
		"[❌] web     not healthy: crash loop\n" +
		"      last log lines:\n" +
		"      " + strings.Repeat("x", 300) + "\n" +
		"[✅] api     healthy after 120ms\n"
	if b.String() != want {
		t.Errorf("output =\n%s\nwant\n%s", b.String(), want)
	}
	if got := p.failed(); len(got) != 1 || got[0] != "web (run)" {
		t.Errorf("failed() = %v", got)
	}
}

// Ensure a running build is shown with its elapsed time and last log
// line: redrawn in place on a terminal (the live area erased before
// each redraw and at the end), appended every appendEvery otherwise.
func TestProgress_Running(t *testing.T) {
	t.Parallel()
	t.Run("terminal", func(t *testing.T) {
		t.Parallel()
		var b bytes.Buffer
		clock := &fakeClock{t: time.Unix(0, 0)}
		p := newProgress(&b, func(seq string) { b.WriteString(seq) }, 6, clock.now)
		p.plan(planOf("build:web", "run:web"))
		p.event("build:web", slipway.StepRunning, "building")
		clock.t = clock.t.Add(12 * time.Second)
		p.logLine("build:web", "  go: downloading example.com/x v1.2.3  ")
		b.Reset()
		p.tick()
		if want := "\x1b[1F\x1b[J[⏳] web     building 12s: go: downloading example.com/x v1.2.3\n"; b.String() != want {
			t.Errorf("redraw = %q, want %q", b.String(), want)
		}
		b.Reset()
		p.event("build:web", slipway.StepDone, "built 1a2b3c4 in 13s")
		if want := "\x1b[1F\x1b[JBuilding images:\n[✅] web     built 1a2b3c4 in 13s\n"; b.String() != want {
			t.Errorf("after the build = %q, want %q", b.String(), want)
		}
	})
	t.Run("pipe", func(t *testing.T) {
		t.Parallel()
		var b bytes.Buffer
		clock := &fakeClock{t: time.Unix(0, 0)}
		p := newProgress(&b, nil, 6, clock.now)
		p.plan(planOf("build:web"))
		p.event("build:web", slipway.StepRunning, "building")
		clock.t = clock.t.Add(5 * time.Second)
		p.tick()
		if b.Len() != 0 {
			t.Errorf("a line before appendEvery: %q", b.String())
		}
		clock.t = clock.t.Add(6 * time.Second)
		p.logLine("build:web", "compiling")
		p.tick()
		p.tick() // no second line at once
		if want := "Building images:\n[⏳] web     building 11s: compiling\n"; b.String() != want {
			t.Errorf("appended = %q, want %q", b.String(), want)
		}
		if strings.Contains(b.String(), "\x1b") {
			t.Errorf("control codes in a pipe: %q", b.String())
		}
	})
}

// Ensure the final record completes what the events left out: a step
// whose final event was never seen (the stream ended first) is printed
// with the record's state and counted as failed.
func TestProgress_FinalRecordCompletes(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	p := newProgress(&b, nil, 6, (&fakeClock{t: time.Unix(0, 0)}).now)
	steps := planOf("build:web", "run:web")
	p.plan(steps)
	p.event("build:web", slipway.StepDone, "reused 1a2b3c4 (unchanged)")
	p.event("run:web", slipway.StepRunning, "starting")
	steps[0].State, steps[0].Detail = slipway.StepDone, "reused 1a2b3c4 (unchanged)"
	steps[1].State, steps[1].Detail = slipway.StepFailed, "not healthy: crash loop"
	p.plan(steps)
	p.done()
	want := "Building images:\n" +
		"[✅] web     reused 1a2b3c4 (unchanged)\n" +
		"Deploying components:\n" +
		"[❌] web     not healthy: crash loop\n"
	if b.String() != want {
		t.Errorf("output =\n%s\nwant\n%s", b.String(), want)
	}
	if got := p.failed(); len(got) != 1 || got[0] != "web (run)" {
		t.Errorf("failed() = %v", got)
	}
}
