package toolconfig_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/toolconfig"
)

// TestCheckLimits checks each limit with the default limits (Toolforge's)
// or tighter ones, and the positions Locate gives the problems in the
// document.
func TestCheckLimits(t *testing.T) {
	tight := slipway.Limits{Quota: slipway.Quota{MemoryBytes: 4 << 30, Replicas: 6, Continuous: 2, Scheduled: 1, OneOff: 1}}.WithDefaults()
	tests := []struct {
		name  string
		lim   slipway.Limits
		input string
		want  []string // problems; none means the config is within the limits
	}{
		{
			name:  "DefaultsFit",
			input: "components:\n  web: {build: {image: x}, run: {command: x, replicas: 8}}\n",
		},
		{
			name:  "TenReplicasOfTheDefaultCPU",
			input: "components:\n  web: {build: {image: x}, run: {command: x, replicas: 10}}\n",
			want:  []string{"components.web.run.replicas (line 2, column 56): 10 replicas × 500m (the default) = 5 of cpu: over the tool's cpu quota of 4"},
		},
		{
			name:  "ReplicasOverflow",
			input: "components:\n  web:\n    build: {image: x}\n    run: {command: x, replicas: 2147483647}\n",
			want:  []string{"components.web.run.replicas (line 4, column 33): replicas must be at most 10 (the tool's replica quota), got 2147483647"},
		},
		{
			name:  "MemoryOverMax",
			input: "components:\n  web:\n    build: {image: x}\n    run:\n      command: x\n      memory: 5Gi\n      cpu: 1500m\n",
			want: []string{
				`components.web.run.memory (line 6, column 15): memory must be at most 4Gi (this server's maximum for a component), got "5Gi"`,
				`components.web.run.cpu (line 7, column 12): cpu must be at most 1 (this server's maximum for a component), got "1500m"`,
			},
		},
		{
			name:  "UnderMin",
			input: "components:\n  web: {build: {image: x}, run: {command: x, memory: 1Mi, cpu: 10m}}\n",
			want: []string{
				`components.web.run.memory (line 2, column 54): memory must be at least 16Mi (this server's minimum for a component), got "1Mi"`,
				`components.web.run.cpu (line 2, column 64): cpu must be at least 50m (this server's minimum for a component), got "10m"`,
			},
		},
		{
			name: "MemoryQuotaOneComponent",
			lim:  tight,
			input: `components:
  web:
    build: {image: x}
    run:
      command: x
      memory: 2Gi
      replicas: 3
`,
			want: []string{"components.web.run.replicas (line 7, column 17): 3 replicas × 2Gi = 6Gi of memory: over the tool's memory quota of 4Gi"},
		},
		{
			name: "MemoryQuotaWithOthers",
			lim:  tight,
			input: `components:
  web:
    build: {image: x}
    run: {command: x, memory: 1Gi, replicas: 2}
  api:
    build: {image: x}
    run: {command: x, memory: 3Gi}
  cron:
    build: {image: x}
    run: {command: x, memory: 4Gi, schedule: "@daily"}
`,
			want: []string{"components.api.run.memory (line 7, column 31): 1 replica × 3Gi = 3Gi of memory, with the 2Gi for web, makes 5Gi: over the tool's memory quota of 4Gi"},
		},
		{
			name: "CPUQuotaDefaults",
			input: `components:
  a: {build: {image: x}, run: {command: x, replicas: 4}}
  b: {build: {image: x}, run: {command: x, replicas: 4}}
  c: {build: {image: x}, run: {command: x, cpu: "1"}}
`,
			want: []string{`components.c.run.cpu (line 4, column 49): 1 replica × 1 = 1 of cpu, with the 4 for a and b, makes 5: over the tool's cpu quota of 4`},
		},
		{
			name: "DefaultMemoryAtRun",
			lim:  slipway.Limits{Quota: slipway.Quota{MemoryBytes: 1 << 30}}.WithDefaults(),
			input: `components:
  a: {build: {image: x}, run: {command: x}}
  b: {build: {image: x}, run: {command: x}}
  c:
    build: {image: x}
    run:
      command: x
`,
			want: []string{"components.c.run (line 6, column 5): 1 replica × 512Mi (the default) = 512Mi of memory, with the 1Gi for a and b, makes 1536Mi: over the tool's memory quota of 1Gi"},
		},
		{
			name: "ReplicasQuotaInAll",
			lim:  tight,
			input: `components:
  a: {build: {image: x}, run: {command: x, replicas: 5, memory: 100Mi}}
  b: {build: {image: x}, run: {command: x, replicas: 2, memory: 100Mi}}
`,
			want: []string{"components.b.run.replicas (line 3, column 54): 2 replicas, with the 5 for a, makes 7: over the tool's quota of 6 replicas"},
		},
		{
			name: "ComponentCounts",
			lim:  tight,
			input: `components:
  a: {build: {image: x}, run: {command: x, memory: 100Mi}}
  b: {build: {image: x}, run: {command: x, memory: 100Mi}}
  c: {build: {image: x}, run: {command: x, memory: 100Mi}}
  d: {build: {image: x}, run: {command: x, memory: 100Mi}}
  s1: {build: {image: x}, run: {command: x, schedule: "@daily"}}
  s2: {build: {image: x}, run: {command: x, schedule: "@daily"}}
  o1: {component_type: one-off, build: {image: x}, run: {command: x}}
  o2: {component_type: one-off, build: {image: x}, run: {command: x}}
`,
			want: []string{
				"components.c (line 4, column 3): this is the 3rd continuous component, over the tool's quota of 2 continuous components",
				"components.s2 (line 7, column 3): this is the 2nd scheduled component, over the tool's quota of 1 scheduled component",
				"components.o2 (line 9, column 3): this is the 2nd one-off component, over the tool's quota of 1 one-off component",
			},
		},
		{
			name: "PerComponentProblemHidesTotals",
			lim:  tight,
			input: `components:
  a: {build: {image: x}, run: {command: x, replicas: 7, memory: 2Gi}}
`,
			want: []string{"components.a.run.replicas (line 2, column 54): replicas must be at most 6 (the tool's replica quota), got 7"},
		},
		{
			name: "NoOverflowWithHugeLimits",
			lim: slipway.Limits{
				Max:   slipway.Resources{MemoryBytes: 1 << 62, MilliCPU: 1 << 62},
				Quota: slipway.Quota{MemoryBytes: 1 << 62, MilliCPU: 1 << 62, Replicas: 1 << 30},
			}.WithDefaults(),
			input: `components:
  a: {build: {image: x}, run: {command: x, replicas: 1073741824, memory: 4Ei}}
`,
			want: []string{"components.a.run.replicas (line 2, column 54): 1073741824 replicas × 4Ei = 9223372036854775807 of memory: over the tool's memory quota of 4Ei"},
		},
		{
			name:  "YAMLAnchorsLocateWhereWritten",
			input: "x: &r {command: x, replicas: 11}\ncomponents:\n  web: {build: {image: x}, run: *r}\n",
			want:  []string{"components.web.run.replicas (line 1, column 30): replicas must be at most 10 (the tool's replica quota), got 11"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := tt.lim
			if lim == (slipway.Limits{}) {
				lim = slipway.DefaultLimits()
			}
			res, err := toolconfig.Parse([]byte(tt.input))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			err = toolconfig.CheckLimits(res.Config, lim)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("CheckLimits: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("CheckLimits: no error")
			}
			if code := slipway.ErrorCode(err); code != slipway.EInvalid {
				t.Errorf("ErrorCode = %q, want invalid", code)
			}
			for _, p := range problemsOf(t, err) {
				if p.Line != 0 {
					t.Errorf("CheckLimits gave a position: %+v", p)
				}
			}
			located := toolconfig.Locate(err, []byte(tt.input))
			got := problemLines(t, located)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems mismatch (-want +got):\n%s", diff)
			}
			if msg := slipway.ErrorMessage(located); msg != strings.Join(got, "\n") {
				t.Errorf("message = %q, want the problems one a line", msg)
			}
		})
	}
}

func problemsOf(t *testing.T, err error) []toolconfig.Problem {
	t.Helper()
	var pe *toolconfig.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("%v is not a *ParseError", err)
	}
	return pe.Problems
}

func TestLocate_LeavesOtherErrors(t *testing.T) {
	plain := errors.New("boom")
	if got := toolconfig.Locate(plain, []byte("components: {}")); !errors.Is(got, plain) {
		t.Errorf("Locate(plain) = %v", got)
	}
	wrapped := fmt.Errorf("deploy: %w", toolconfig.CheckLimits(mustParse(t, "components:\n  a: {build: {image: x}, run: {command: x, replicas: 11}}\n").Config, slipway.DefaultLimits()))
	if got := toolconfig.Locate(wrapped, []byte("components: {}")); !errors.Is(got, wrapped) {
		t.Errorf("Locate(wrapped) = %v, want it unchanged", got)
	}
	// A document that is not YAML any more gives no positions, and no panic.
	err := toolconfig.CheckLimits(mustParse(t, "components:\n  a: {build: {image: x}, run: {command: x, replicas: 11}}\n").Config, slipway.DefaultLimits())
	got := problemLines(t, toolconfig.Locate(err, []byte("{{{")))
	if want := []string{"components.a.run.replicas: replicas must be at most 10 (the tool's replica quota), got 11"}; !cmp.Equal(want, got) {
		t.Errorf("Locate(not YAML) = %q, want %q", got, want)
	}
}

func mustParse(t *testing.T, s string) toolconfig.Result {
	t.Helper()
	res, err := toolconfig.Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return res
}

// TestParseStored checks that a config an older Slipway stored (control
// characters, the cpu and memory values it took) can still be read, while
// Parse refuses it.
func TestParseStored(t *testing.T) {
	old := `{"components":{"web":{"build":{"repository":"https://example.org/a.git","ref":"main"},"run":{"command":"a\u0000b\u001b[31m","cpu":"0","memory":"512K","filelog_stdout":"x\ty"}}}}`
	if _, err := toolconfig.Parse([]byte(old)); err == nil {
		t.Fatal("Parse accepts the old config")
	}
	res, err := toolconfig.ParseStored([]byte(old))
	if err != nil {
		t.Fatalf("ParseStored: %v", err)
	}
	if string(res.Config.Raw) != old {
		t.Errorf("Raw = %s\nwant  %s", res.Config.Raw, old)
	}
	run := res.Config.Components["web"].Run
	if run.Command != "a\x00b\x1b[31m" || run.CPU != "0" || run.Memory != "512K" {
		t.Errorf("run = %+v", run)
	}
	if got, want := run.Resources(slipway.DefaultLimits().Default), slipway.DefaultLimits().Default; got != want {
		t.Errorf("Resources() = %v, want the defaults %v", got, want)
	}
	// What no Slipway ever accepted is still refused.
	if _, err := toolconfig.ParseStored([]byte(`{"components":{"web":{"build":{"image":"x"},"run":{"command":"x","memory":"lots"}}}}`)); err == nil {
		t.Error("ParseStored accepts memory \"lots\"")
	}
}

func TestProblem_StringEscapes(t *testing.T) {
	p := toolconfig.Problem{Path: "components.a\x1b[2Jb", Line: 1, Column: 2, Message: "x\u202ey\r\nz\u0085"}
	if got, want := p.String(), `components.a\x1b[2Jb (line 1, column 2): x\u202ey\nz\u0085`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
