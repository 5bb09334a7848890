package deploy_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/deploy"
	"slipway.dev/slipway/internal/slipway"
)

const repo = "https://git.example/app.git"

// cfg builds a config from components given in order.
func cfg(cs ...slipway.Component) slipway.ToolConfig {
	c := slipway.ToolConfig{Components: map[string]slipway.Component{}}
	for _, x := range cs {
		c.Components[x.Name] = x
		c.Order = append(c.Order, x.Name)
	}
	return c
}

func src(name string, waitFor ...string) slipway.Component {
	return slipway.Component{
		Name: name, Type: slipway.Continuous,
		Build:   slipway.BuildSpec{Source: &slipway.SourceBuild{Repository: repo, Ref: "main"}},
		Run:     slipway.RunSpec{Command: "web"},
		WaitFor: waitFor,
	}
}

func reuse(name, from string, waitFor ...string) slipway.Component {
	c := src(name, waitFor...)
	c.Build = slipway.BuildSpec{ReuseFrom: from}
	return c
}

const (
	commitA = "aaaaaaa1111111111111111111111111111111111"
	commitB = "bbbbbbb2222222222222222222222222222222222"
)

func keyOf(commit string) string {
	return slipway.BuildKey(repo, commit, "test/1", slipway.SourceBuildSettings(slipway.SourceBuild{Repository: repo, Ref: "main"})...)
}

// live says every component of c runs at commit with its current spec.
func live(c slipway.ToolConfig, commit string) map[string]slipway.LiveRun {
	m := map[string]slipway.LiveRun{}
	for n, comp := range c.Components {
		m[n] = slipway.LiveRun{Component: n, SpecHash: comp.SpecHash(), BuildKey: keyOf(commit), Commit: commit}
	}
	return m
}

// row is the part of a step the table tests compare.
type row struct {
	Key    string
	Action slipway.StepAction
	State  slipway.StepState
	Needs  string
	Reason string
}

func rows(steps []slipway.Step) []row {
	out := make([]row, len(steps))
	for i, s := range steps {
		out[i] = row{s.Key, s.Action, s.State, strings.Join(s.Needs, ","), s.Reason}
	}
	return out
}

func TestPlan(t *testing.T) {
	t.Parallel()
	diamond := cfg(src("a"), reuse("b", "a", "a"), reuse("c", "a", "a"), reuse("d", "a", "b", "c"))
	chain := cfg(reuse("c", "a", "b"), reuse("b", "a", "a"), src("a"))
	changedRun := cfg(src("web"), reuse("worker", "web", "web"))
	changedRunLive := live(changedRun, commitA)
	changedRun.Components["worker"] = func() slipway.Component {
		w := changedRun.Components["worker"]
		w.Run.Command = "worker --fast"
		return w
	}()
	oneOff := src("migrate")
	oneOff.Type = slipway.OneOff

	tests := []struct {
		name  string
		in    deploy.PlanInput
		want  []row
		wantE string
	}{
		{
			name: "FirstDeployDiamond",
			in:   deploy.PlanInput{Config: diamond, Commits: map[deploy.SourceRef]string{{repo, "main"}: commitA}},
			want: []row{
				{"build:a", slipway.ActionBuild, slipway.StepPending, "", "first build of commit aaaaaaa"},
				{"run:a", slipway.ActionApply, slipway.StepPending, "build:a", "not running yet"},
				{"run:b", slipway.ActionApply, slipway.StepPending, "build:a,run:a", "not running yet"},
				{"run:c", slipway.ActionApply, slipway.StepPending, "build:a,run:a", "not running yet"},
				{"run:d", slipway.ActionApply, slipway.StepPending, "build:a,run:b,run:c", "not running yet"},
			},
		},
		{
			name: "ChainRunsInDependencyOrder",
			in:   deploy.PlanInput{Config: chain, Commits: map[deploy.SourceRef]string{{repo, "main"}: commitA}},
			want: []row{
				{"build:a", slipway.ActionBuild, slipway.StepPending, "", "first build of commit aaaaaaa"},
				{"run:a", slipway.ActionApply, slipway.StepPending, "build:a", "not running yet"},
				{"run:b", slipway.ActionApply, slipway.StepPending, "build:a,run:a", "not running yet"},
				{"run:c", slipway.ActionApply, slipway.StepPending, "build:a,run:b", "not running yet"},
			},
		},
		{
			name: "NothingChanged",
			in: deploy.PlanInput{
				Config: diamond, Live: live(diamond, commitA), Built: map[string]bool{keyOf(commitA): true},
				Commits: map[deploy.SourceRef]string{{repo, "main"}: commitA},
			},
			want: []row{
				{"build:a", slipway.ActionReuse, slipway.StepUnchanged, "", "reusing build of commit aaaaaaa (unchanged)"},
				{"run:a", slipway.ActionNone, slipway.StepUnchanged, "build:a", "unchanged"},
				{"run:b", slipway.ActionNone, slipway.StepUnchanged, "build:a,run:a", "unchanged"},
				{"run:c", slipway.ActionNone, slipway.StepUnchanged, "build:a,run:a", "unchanged"},
				{"run:d", slipway.ActionNone, slipway.StepUnchanged, "build:a,run:b,run:c", "unchanged"},
			},
		},
		{
			name: "UnhealthyIsApplied",
			in: deploy.PlanInput{
				Config: diamond, Live: live(diamond, commitA), Built: map[string]bool{keyOf(commitA): true},
				Commits:   map[deploy.SourceRef]string{{repo, "main"}: commitA},
				Unhealthy: map[string]string{"b": "crashloop (0 of 1 replicas up)", "gone": "not running"},
			},
			want: []row{
				{"build:a", slipway.ActionReuse, slipway.StepUnchanged, "", "reusing build of commit aaaaaaa (unchanged)"},
				{"run:a", slipway.ActionNone, slipway.StepUnchanged, "build:a", "unchanged"},
				{"run:b", slipway.ActionApply, slipway.StepPending, "build:a,run:a", "not healthy: crashloop (0 of 1 replicas up)"},
				{"run:c", slipway.ActionNone, slipway.StepUnchanged, "build:a,run:a", "unchanged"},
				{"run:d", slipway.ActionNone, slipway.StepUnchanged, "build:a,run:b,run:c", "unchanged"},
			},
		},
		{
			name: "NewCommitRebuildsAndRestartsReusers",
			in: deploy.PlanInput{
				Config: changedRun, Live: live(cfg(src("web"), reuse("worker", "web", "web")), commitA),
				Built:   map[string]bool{keyOf(commitA): true},
				Commits: map[deploy.SourceRef]string{{repo, "main"}: commitB},
			},
			want: []row{
				{"build:web", slipway.ActionBuild, slipway.StepPending, "", "commit aaaaaaa→bbbbbbb"},
				{"run:web", slipway.ActionApply, slipway.StepPending, "build:web", "new build: commit aaaaaaa→bbbbbbb"},
				{"run:worker", slipway.ActionApply, slipway.StepPending, "build:web,run:web", "new build: commit aaaaaaa→bbbbbbb"},
			},
		},
		{
			name: "ChangedRunFieldReappliesOnlyThatComponent",
			in: deploy.PlanInput{
				Config: changedRun, Live: changedRunLive, Built: map[string]bool{keyOf(commitA): true},
				Commits: map[deploy.SourceRef]string{{repo, "main"}: commitA},
			},
			want: []row{
				{"build:web", slipway.ActionReuse, slipway.StepUnchanged, "", "reusing build of commit aaaaaaa (unchanged)"},
				{"run:web", slipway.ActionNone, slipway.StepUnchanged, "build:web", "unchanged"},
				{"run:worker", slipway.ActionApply, slipway.StepPending, "build:web,run:web", "run settings changed"},
			},
		},
		{
			name: "ForceRunRestartsEverything",
			in: deploy.PlanInput{
				Config: cfg(src("web")), Live: live(cfg(src("web")), commitA), Built: map[string]bool{keyOf(commitA): true},
				Commits: map[deploy.SourceRef]string{{repo, "main"}: commitA}, ForceRun: true,
			},
			want: []row{
				{"build:web", slipway.ActionReuse, slipway.StepUnchanged, "", "reusing build of commit aaaaaaa (unchanged)"},
				{"run:web", slipway.ActionApply, slipway.StepPending, "build:web", "forced (--force-run)"},
			},
		},
		{
			name: "ForceBuildRebuildsAndRestarts",
			in: deploy.PlanInput{
				DeploymentID: "d1",
				Config:       cfg(src("web")), Live: live(cfg(src("web")), commitA), Built: map[string]bool{keyOf(commitA): true},
				Commits: map[deploy.SourceRef]string{{repo, "main"}: commitA}, ForceBuild: true,
			},
			want: []row{
				{"build:web", slipway.ActionBuild, slipway.StepPending, "", "forced (--force-build), commit aaaaaaa"},
				{"run:web", slipway.ActionApply, slipway.StepPending, "build:web", "new build of commit aaaaaaa"},
			},
		},
		{
			name: "DroppedComponentIsPrunedAfterRuns",
			in: deploy.PlanInput{
				Config: cfg(src("web")), Live: live(cfg(src("web"), reuse("old-cron", "web")), commitA),
				Built:   map[string]bool{keyOf(commitA): true},
				Commits: map[deploy.SourceRef]string{{repo, "main"}: commitA},
			},
			want: []row{
				{"build:web", slipway.ActionReuse, slipway.StepUnchanged, "", "reusing build of commit aaaaaaa (unchanged)"},
				{"run:web", slipway.ActionNone, slipway.StepUnchanged, "build:web", "unchanged"},
				{"prune:old-cron", slipway.ActionRemove, slipway.StepPending, "run:web", "not in config"},
			},
		},
		{
			name: "OneOffRunsOnlyWhenChanged",
			in: deploy.PlanInput{
				Config: cfg(oneOff), Live: live(cfg(oneOff), commitA), Built: map[string]bool{keyOf(commitA): true},
				Commits: map[deploy.SourceRef]string{{repo, "main"}: commitA},
			},
			want: []row{
				{"build:migrate", slipway.ActionReuse, slipway.StepUnchanged, "", "reusing build of commit aaaaaaa (unchanged)"},
				{"run:migrate", slipway.ActionNone, slipway.StepUnchanged, "build:migrate", "unchanged"},
			},
		},
		{
			name: "OneOffNeverRun",
			in:   deploy.PlanInput{Config: cfg(oneOff), Commits: map[deploy.SourceRef]string{{repo, "main"}: commitA}},
			want: []row{
				{"build:migrate", slipway.ActionBuild, slipway.StepPending, "", "first build of commit aaaaaaa"},
				{"run:migrate", slipway.ActionRunJob, slipway.StepPending, "build:migrate", "never run"},
			},
		},
		{
			name:  "CycleIsNamed",
			in:    deploy.PlanInput{Config: cfg(src("x"), src("c", "a"), src("a", "b"), src("b", "c")), Commits: map[deploy.SourceRef]string{{repo, "main"}: commitA}},
			wantE: "wait_for cycle: a → b → c → a",
		},
		{
			name:  "UnresolvedRef",
			in:    deploy.PlanInput{Config: cfg(src("web"))},
			wantE: `plan web: ref "main" of https://git.example/app.git is not resolved`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.in.BuilderVersion = "test/1"
			got, err := deploy.Plan(tt.in)
			if tt.wantE != "" {
				if err == nil || err.Error() != tt.wantE {
					t.Fatalf("Plan() error = %v, want %q", err, tt.wantE)
				}
				return
			}
			if err != nil {
				t.Fatalf("Plan() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, rows(got)); diff != "" {
				t.Errorf("Plan() steps (-want +got):\n%s", diff)
			}
		})
	}
}

// Ensure planning is deterministic: the same input gives the same steps.
func TestPlan_Deterministic(t *testing.T) {
	t.Parallel()
	in := bigInput(300, 2)
	first, err := deploy.Plan(in)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		again, err := deploy.Plan(in)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(rows(first), rows(again)); diff != "" {
			t.Fatalf("Plan() not deterministic (-first +again):\n%s", diff)
		}
	}
}

// bigInput makes n components, each waiting for up to `edges` earlier ones,
// a third of them with their own source build, the rest reusing one.
func bigInput(n, edges int) deploy.PlanInput {
	c := slipway.ToolConfig{Components: make(map[string]slipway.Component, n), Order: make([]string, 0, n)}
	for i := range n {
		name := fmt.Sprintf("c%05d", i)
		var comp slipway.Component
		if i%3 == 0 {
			comp = src(name)
		} else {
			comp = reuse(name, fmt.Sprintf("c%05d", i-i%3))
		}
		for e := 1; e <= edges && i-e*7 >= 0; e++ {
			comp.WaitFor = append(comp.WaitFor, fmt.Sprintf("c%05d", i-e*7))
		}
		c.Components[name] = comp
		c.Order = append(c.Order, name)
	}
	return deploy.PlanInput{
		DeploymentID: "bench", Config: c, BuilderVersion: "test/1",
		Commits: map[deploy.SourceRef]string{{repo, "main"}: commitA},
		Live:    live(c, commitB), Built: map[string]bool{keyOf(commitA): true},
	}
}

// BenchmarkPlan plans 1,000 and 10,000 components with two wait_for edges
// each (10,000 components → ~20,000 edges). The bound is 100 ms at
// 10,000 with linear growth.
func BenchmarkPlan(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		in := bigInput(n, 2)
		edgeCount := 0
		for _, c := range in.Config.Components {
			edgeCount += len(c.WaitFor)
		}
		b.Run(fmt.Sprintf("components=%d/edges=%d", n, edgeCount), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := deploy.Plan(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPlan_EnvVars: a changed envvar restarts exactly the components that
// get it (every continuous and scheduled one), with the reason; a one-off
// is not run again and says so; TOOL_DEPLOY_TOKEN alone restarts nothing;
// components whose envvars were never recorded are not compared; other
// reasons to restart come first.
func TestPlan_EnvVars(t *testing.T) {
	t.Parallel()
	web := src("web")
	cron := reuse("cron", "web")
	cron.Type, cron.Run.Schedule = slipway.Scheduled, "@daily"
	migrate := reuse("migrate", "web")
	migrate.Type = slipway.OneOff
	config := cfg(web, cron, migrate)
	commits := map[deploy.SourceRef]string{{repo, "main"}: commitA}
	built := map[string]bool{keyOf(commitA): true}
	got := map[string]string{"API_KEY": "fp-key-1", "OLD_KEY": "fp-old", "TOOL_DEPLOY_TOKEN": "fp-token-1"}
	liveWith := func(c slipway.ToolConfig, env map[string]string) map[string]slipway.LiveRun {
		m := live(c, commitA)
		for n, r := range m {
			r.EnvFingerprints = env
			m[n] = r
		}
		return m
	}
	const build = "reusing build of commit aaaaaaa (unchanged)"
	unchanged := func(reason string) []row {
		return []row{
			{"build:web", slipway.ActionReuse, slipway.StepUnchanged, "", build},
			{"run:web", slipway.ActionNone, slipway.StepUnchanged, "build:web", reason},
			{"run:cron", slipway.ActionNone, slipway.StepUnchanged, "build:web", reason},
			{"run:migrate", slipway.ActionNone, slipway.StepUnchanged, "build:web", "unchanged"},
		}
	}
	restarts := func(list string) []row {
		return []row{
			{"build:web", slipway.ActionReuse, slipway.StepUnchanged, "", build},
			{"run:web", slipway.ActionApply, slipway.StepPending, "build:web", "environment variables changed: " + list},
			{"run:cron", slipway.ActionApply, slipway.StepPending, "build:web", "environment variables changed: " + list},
			{
				"run:migrate", slipway.ActionNone, slipway.StepUnchanged, "build:web",
				"unchanged (environment variables changed: " + list + "; a one-off is not run again for that, --force-run runs it)",
			},
		}
	}
	with := func(changes map[string]string) map[string]string {
		m := maps.Clone(got)
		for k, v := range changes {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	const tokenNote = "unchanged (TOOL_DEPLOY_TOKEN changed, which restarts nothing: running processes keep the value they started with until they restart; --force-run restarts them)"
	tokenOnly := unchanged(tokenNote)
	tokenOnly[3].Reason = "unchanged (environment variables changed: TOOL_DEPLOY_TOKEN; a one-off is not run again for that, --force-run runs it)"

	tests := []struct {
		name string
		live map[string]slipway.LiveRun
		env  map[string]string
		cfg  slipway.ToolConfig
		run  bool
		want []row
	}{
		{name: "Same", live: liveWith(config, got), env: with(nil), want: unchanged("unchanged")},
		{name: "ValueChanged", live: liveWith(config, got), env: with(map[string]string{"API_KEY": "fp-key-2"}), want: restarts("API_KEY")},
		{name: "Added", live: liveWith(config, got), env: with(map[string]string{"DB_URL": "fp-db"}), want: restarts("DB_URL (new)")},
		{name: "Deleted", live: liveWith(config, got), env: with(map[string]string{"OLD_KEY": ""}), want: restarts("OLD_KEY (deleted)")},
		{
			name: "SeveralSorted", live: liveWith(config, got),
			env:  with(map[string]string{"API_KEY": "fp-key-2", "DB_URL": "fp-db", "OLD_KEY": "", "TOOL_DEPLOY_TOKEN": "fp-token-2"}),
			want: restarts("API_KEY, DB_URL (new), OLD_KEY (deleted), TOOL_DEPLOY_TOKEN"),
		},
		{name: "DeployTokenRefreshed", live: liveWith(config, got), env: with(map[string]string{"TOOL_DEPLOY_TOKEN": "fp-token-2"}), want: tokenOnly},
		{name: "DeployTokenDeleted", live: liveWith(config, got), env: with(map[string]string{"TOOL_DEPLOY_TOKEN": ""}), want: func() []row {
			r := unchanged(tokenNote)
			r[3].Reason = "unchanged (environment variables changed: TOOL_DEPLOY_TOKEN (deleted); a one-off is not run again for that, --force-run runs it)"
			return r
		}()},
		{name: "NotRecorded", live: liveWith(config, nil), env: with(map[string]string{"API_KEY": "fp-key-2"}), want: unchanged("unchanged")},
		{name: "RecordedNoneStillNone", live: liveWith(config, map[string]string{}), env: map[string]string{}, want: unchanged("unchanged")},
		{
			name: "FirstEnvVar", live: liveWith(config, map[string]string{}), env: map[string]string{"API_KEY": "fp"},
			want: restarts("API_KEY (new)"),
		},
		{
			name: "RunSettingsComeFirst", live: liveWith(config, got), env: with(map[string]string{"API_KEY": "fp-key-2"}),
			cfg: func() slipway.ToolConfig {
				w := web
				w.Run.Command = "web --fast"
				return cfg(w, cron, migrate)
			}(),
			want: func() []row {
				r := restarts("API_KEY")
				r[1].Reason = "run settings changed"
				return r
			}(),
		},
		{
			name: "ForceRunComesFirst", live: liveWith(config, got), env: with(map[string]string{"API_KEY": "fp-key-2"}), run: true,
			want: []row{
				{"build:web", slipway.ActionReuse, slipway.StepUnchanged, "", build},
				{"run:web", slipway.ActionApply, slipway.StepPending, "build:web", "forced (--force-run)"},
				{"run:cron", slipway.ActionApply, slipway.StepPending, "build:web", "forced (--force-run)"},
				{"run:migrate", slipway.ActionRunJob, slipway.StepPending, "build:web", "forced (--force-run)"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := config
			if tt.cfg.Components != nil {
				c = tt.cfg
			}
			steps, err := deploy.Plan(deploy.PlanInput{
				Config: c, Live: tt.live, Env: tt.env, Commits: commits, Built: built, BuilderVersion: "test/1", ForceRun: tt.run,
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, rows(steps)); diff != "" {
				t.Errorf("Plan() steps (-want +got):\n%s", diff)
			}
			for _, st := range steps {
				if st.State == slipway.StepUnchanged && st.Detail != "unchanged" && st.Kind == slipway.StepRun {
					t.Errorf("%s: detail %q of an unchanged step", st.Key, st.Detail)
				}
				if st.State == slipway.StepPending && st.Detail != "" {
					t.Errorf("%s: detail %q of a pending step", st.Key, st.Detail)
				}
			}
		})
	}
}
