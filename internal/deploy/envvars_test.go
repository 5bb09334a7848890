package deploy

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/envvars"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/store"
)

// TestDeployments_EnvVars runs real deployments whose envvars come from real
// sealed envvars over the harness's store: the processes get them, the
// live records hold their fingerprints (never the values), a changed
// value restarts exactly the continuous and scheduled components (the
// one-off is not run again), a job restart records what it gave, and
// envvars that cannot be opened fail the deployment with the reason
// instead of starting processes without them.
func TestDeployments_EnvVars(t *testing.T) {
	t.Parallel()
	const tool = "secrets"
	var vars *envvars.Vars
	h := newHarness(t, Config{ToolEnv: func(ctx context.Context, tool string) (slipway.ToolEnv, error) {
		return vars.Environ(ctx, tool)
	}}, true)
	sealer, err := auth.NewSealer(bytes.Repeat([]byte{5}, auth.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	vars = envvars.New(h.db, sealer, envvars.Config{})
	ctx := t.Context()
	repo := slipwaytest.GitRepo(t, map[string]string{"README": "nothing to build\n"})
	cfg := mustParse(t, "components:\n"+
		"  web:\n    component_type: continuous\n    build: {repository: "+repo.Dir+", ref: main}\n"+
		"    run: {command: 'echo web got $API_KEY; exec sleep 600'}\n"+
		"  cron:\n    component_type: scheduled\n    build: {reuse_from: web}\n    run: {command: 'echo tick', schedule: '@daily'}\n"+
		"  migrate:\n    component_type: one-off\n    build: {reuse_from: web}\n    run: {command: 'echo migrate got $API_KEY'}\n")
	if _, _, err := h.deploys.ConfigPut(ctx, tool, cfg); err != nil {
		t.Fatal(err)
	}
	deployOK := func(t *testing.T) slipway.Deployment {
		t.Helper()
		d, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{Trigger: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
			t.Fatalf("deployment %s: %s", d.Status, d.LongStatus)
		}
		return d
	}
	logs := func(t *testing.T, job string) string {
		t.Helper()
		var b bytes.Buffer
		if err := h.jobs.JobLogs(ctx, tool, job, false, 0, &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	liveEnv := func(t *testing.T) map[string]map[string]string {
		t.Helper()
		rs, err := h.db.LiveRunList(ctx, tool)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]map[string]string{}
		for _, r := range rs {
			out[r.Component] = r.EnvFingerprints
		}
		return out
	}
	reasons := func(steps []slipway.Step) string {
		var b strings.Builder
		for _, s := range steps {
			if s.Kind == slipway.StepRun {
				b.WriteString(s.Key + ": " + s.Reason + "\n")
			}
		}
		return b.String()
	}
	put := func(t *testing.T, name, value string) {
		t.Helper()
		if _, _, err := vars.Put(ctx, tool, name, value); err != nil {
			t.Fatal(err)
		}
	}

	put(t, "API_KEY", "first-value")
	deployOK(t)
	if got := logs(t, "web"); strings.Count(got, "web got first-value") != 1 {
		t.Errorf("web's log:\n%s\nwant it to have got first-value once", got)
	}
	if got := logs(t, "migrate"); !strings.Contains(got, "migrate got first-value") {
		t.Errorf("migrate's log:\n%s", got)
	}
	first := liveEnv(t)
	for c, fp := range first {
		if len(fp) != 1 || len(fp["API_KEY"]) != 64 || strings.Contains(fp["API_KEY"], "first-value") {
			t.Errorf("live %s records %v, want API_KEY's fingerprint only", c, fp)
		}
	}

	// A changed value: the plan says which components restart and why.
	put(t, "API_KEY", "second-value")
	plan, err := h.deploys.DeploymentPlan(ctx, tool, slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "run:web: environment variables changed: API_KEY\n" +
		"run:cron: environment variables changed: API_KEY\n" +
		"run:migrate: unchanged (environment variables changed: API_KEY; a one-off is not run again for that, --force-run runs it)\n"
	if got := reasons(plan.Steps); got != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}
	d := deployOK(t)
	if got := reasons(d.Steps); got != want {
		t.Errorf("deployment:\n%s\nwant:\n%s", got, want)
	}
	if got := logs(t, "web"); !strings.Contains(got, "web got second-value") || strings.Count(got, "web got") != 2 {
		t.Errorf("web's log after the change:\n%s\nwant one more start, with second-value", got)
	}
	if got := logs(t, "migrate"); strings.Contains(got, "second-value") {
		t.Errorf("the one-off ran again:\n%s", got)
	}
	second := liveEnv(t)
	if second["web"]["API_KEY"] == first["web"]["API_KEY"] || second["cron"]["API_KEY"] == first["cron"]["API_KEY"] {
		t.Errorf("web and cron still record the first value: %v", second)
	}
	if second["migrate"]["API_KEY"] != first["migrate"]["API_KEY"] {
		t.Errorf("the one-off's record changed without a run: %v", second["migrate"])
	}

	// Nothing changed since: nothing restarts.
	plan, err = h.deploys.DeploymentPlan(ctx, tool, slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range plan.Steps {
		if st.Kind == slipway.StepRun && st.State != slipway.StepUnchanged {
			t.Errorf("%s after deploying the change: %s (%s)", st.Key, st.State, st.Reason)
		}
	}

	// A job restart gives the processes the envvars of now and records
	// it, so the next plan does not restart web again for them.
	put(t, "API_KEY", "third-value")
	if _, err := h.jobs.JobRestart(ctx, tool, "web"); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string {
		if got := logs(t, "web"); !strings.Contains(got, "web got third-value") {
			return "web has not restarted with third-value yet:\n" + got
		}
		return ""
	})
	plan, err = h.deploys.DeploymentPlan(ctx, tool, slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := reasons(plan.Steps); !strings.HasPrefix(got, "run:web: unchanged\nrun:cron: environment variables changed: API_KEY\n") {
		t.Errorf("plan after restarting web:\n%s", got)
	}

	// Envvars that cannot be opened stop the deployment, with the reason.
	if err := h.db.EnvVarPut(ctx, store.EnvVar{Tool: tool, Name: "BROKEN_ONE", Sealed: "bm90IHNlYWxlZA", UpdatedAt: h.eng.now()}); err != nil {
		t.Fatal(err)
	}
	bad, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad = h.waitFinal(t, tool, bad.ID)
	if bad.Status != slipway.DeploymentFailed || !strings.Contains(bad.LongStatus, "environment variables: envvar BROKEN_ONE of secrets") {
		t.Errorf("deployment with a broken envvar: %s: %s", bad.Status, bad.LongStatus)
	}
	if _, err := h.jobs.JobRunStart(ctx, tool, slipway.JobRun{Name: "adhoc", Command: "true", ImageName: "web"}); err == nil ||
		!strings.Contains(err.Error(), "BROKEN_ONE") {
		t.Errorf("ad-hoc job with a broken envvar: %v, want it refused naming BROKEN_ONE", err)
	}
}

// eventually calls check every 50ms until it returns "", and fails the
// test with its last answer after a minute (a process writing its log).
func eventually(t *testing.T, check func() string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(50 * time.Millisecond) // polling a real process's log, bounded by the deadline
	}
}
