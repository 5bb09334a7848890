package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/toolconfig"
)

// tightLimits are small quotas for the tests: 2 continuous components, 3
// replicas, 1Gi of memory, 2 one-offs at once.
var tightLimits = slipway.Limits{Quota: slipway.Quota{
	MemoryBytes: 1 << 30, Replicas: 3, Continuous: 2, OneOff: 2, ConcurrentOneOffs: 2,
}}

// storeRaw stores a config version as it is, past every check: what an
// older Slipway, or this one with other limits, stored.
func storeRaw(t *testing.T, h *harness, tool, raw string) {
	t.Helper()
	err := h.db.InTx(t.Context(), func(tx store.Tx) error {
		if err := tx.ToolEnsure(t.Context(), tool, time.Now()); err != nil {
			return err
		}
		_, err := tx.ConfigCreate(t.Context(), tool, []byte(raw), time.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeployments_ConfigPutLimits checks that a config over the limits is
// refused with its problems (paths, no positions: the HTTP layer adds them)
// and that nothing is stored.
func TestDeployments_ConfigPutLimits(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{Limits: tightLimits, AllowImages: true}, false)
	ctx := t.Context()
	over := mustParse(t, `components:
  web: {build: {image: x}, run: {command: x, memory: 512Mi, replicas: 2}}
  api: {build: {image: x}, run: {command: x, memory: 512Mi}}
  extra: {build: {image: x}, run: {command: x}}
`)
	_, _, err := h.deploys.ConfigPut(ctx, "demo", over)
	if code := slipway.ErrorCode(err); code != slipway.EInvalid {
		t.Fatalf("ConfigPut = %v, want EInvalid", err)
	}
	var pe *toolconfig.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("ConfigPut error %v has no problems", err)
	}
	var got []string
	for _, p := range pe.Problems {
		got = append(got, p.String())
	}
	want := []string{
		"components.extra: this is the 3rd continuous component, over the tool's quota of 2 continuous components",
		"components.api.run.memory: 1 replica × 512Mi = 512Mi of memory, with the 1Gi for web, makes 1536Mi: over the tool's memory quota of 1Gi",
		"components.extra.run: 1 replica, with the 3 for web and api, makes 4: over the tool's quota of 3 replicas",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems mismatch (-want +got):\n%s", diff)
	}
	if _, err := h.deploys.ConfigGet(ctx, "demo"); slipway.ErrorCode(err) != slipway.ENotFound {
		t.Errorf("ConfigGet after a refused create = %v, want not found", err)
	}
	// Within the limits, it is stored.
	if _, _, err := h.deploys.ConfigPut(ctx, "demo", mustParse(t, "components:\n  web: {build: {image: x}, run: {command: x, replicas: 2, memory: 256Mi}}\n")); err != nil {
		t.Fatalf("ConfigPut within the limits: %v", err)
	}
	// A plan of a posted config is checked the same way.
	if _, err := h.deploys.DeploymentPlanConfig(ctx, "demo", over, slipway.DeployOptions{}); !errors.As(err, &pe) {
		t.Errorf("DeploymentPlanConfig over the limits = %v, want its problems", err)
	}
}

// TestDeployments_DeployStoredOverLimits checks that a stored config that a
// lowered quota or a newer rule no longer allows is still shown, but
// neither deployed nor planned, and that the refusal creates nothing.
func TestDeployments_DeployStoredOverLimits(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{Limits: tightLimits, AllowImages: true}, false)
	ctx := t.Context()
	tests := []struct {
		name, raw, want string
	}{
		{
			name: "QuotaLowered",
			raw:  `{"components":{"web":{"build":{"image":"x"},"run":{"command":"x","replicas":5}}}}`,
			want: "The tool's config (version 1) cannot be deployed: it breaks a rule or a limit of this server that is newer than the config. Fix it and create it again (slipway config create):\ncomponents.web.run.replicas: replicas must be at most 3 (the tool's replica quota), got 5",
		},
		{
			name: "RuleAdded",
			raw:  `{"components":{"web":{"build":{"image":"x"},"run":{"command":"x\u0000y","memory":"512K"}}}}`,
			want: "components.web.run.command: command must not contain control characters (tab and newline are fine): character 2 is U+0000\ncomponents.web.run.memory: memory must be a Kubernetes quantity",
		},
	}
	for _, tt := range tests {
		tool := strings.ToLower(tt.name)
		storeRaw(t, h, tool, tt.raw)
		if cfg, err := h.deploys.ConfigGet(ctx, tool); err != nil || string(cfg.Raw) != tt.raw {
			t.Errorf("%s: ConfigGet = %s, %v, want the stored config", tt.name, cfg.Raw, err)
		}
		_, err := h.deploys.DeploymentCreate(ctx, tool, slipway.DeployOptions{})
		if slipway.ErrorCode(err) != slipway.EInvalid || !strings.Contains(slipway.ErrorMessage(err), tt.want) {
			t.Errorf("%s: DeploymentCreate = %q, want EInvalid containing %q", tt.name, slipway.ErrorMessage(err), tt.want)
		}
		if ds, err := h.deploys.DeploymentList(ctx, tool); err != nil || len(ds) != 0 {
			t.Errorf("%s: DeploymentList after a refused deployment = %d deployments, %v", tt.name, len(ds), err)
		}
		if _, err := h.deploys.DeploymentPlan(ctx, tool, slipway.DeployOptions{}); !strings.Contains(slipway.ErrorMessage(err), tt.want) {
			t.Errorf("%s: DeploymentPlan = %q, want %q", tt.name, slipway.ErrorMessage(err), tt.want)
		}
	}
}

// TestJobs_JobLimits checks the jobs API against the limits: what would
// run after the change (the live jobs with the new definition) must fit.
func TestJobs_JobLimits(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{Limits: tightLimits, AllowImages: true}, false)
	ctx := t.Context()
	if err := h.db.InTx(ctx, func(tx store.Tx) error { return tx.ToolEnsure(ctx, "demo", time.Now()) }); err != nil {
		t.Fatal(err)
	}
	for _, c := range []slipway.Component{
		{Name: "web", Type: slipway.Continuous, Run: slipway.RunSpec{Command: "web", Memory: "256Mi", Replicas: 2}},
		{Name: "cron", Type: slipway.Scheduled, Run: slipway.RunSpec{Command: "x", Schedule: "@daily", Memory: "4Gi"}},
	} {
		if err := h.eng.store.LiveRunPut(ctx, slipway.LiveRun{Tool: "demo", Component: c.Name, Type: c.Type, SpecHash: c.SpecHash(), Spec: c, AppliedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	job := func(name string, typ slipway.ComponentType, run slipway.RunSpec) slipway.Job {
		return slipway.Job{Component: slipway.Component{Name: name, Type: typ, Run: run}, ImageName: "web"}
	}
	tests := []struct {
		name string
		def  slipway.Job
		want string // "" for none
	}{
		{"NewWithinQuota", job("worker", slipway.Continuous, slipway.RunSpec{Command: "w", Memory: "256Mi"}), ""},
		{"ReplaceWithinQuota", job("web", slipway.Continuous, slipway.RunSpec{Command: "web", Memory: "256Mi", Replicas: 3}), ""},
		{
			"NewOverMemory", job("worker", slipway.Continuous, slipway.RunSpec{Command: "w", Memory: "768Mi"}),
			"1 replica × 768Mi = 768Mi of memory, with the 512Mi for web, makes 1280Mi: over the tool's memory quota of 1Gi",
		},
		{
			"ReplaceOverReplicas", job("web", slipway.Continuous, slipway.RunSpec{Command: "web", Memory: "100Mi", Replicas: 4}),
			"replicas must be at most 3 (the tool's replica quota), got 4",
		},
		{
			"OverMaximum", job("cron", slipway.Scheduled, slipway.RunSpec{Command: "x", Schedule: "@daily", Memory: "5Gi"}),
			`memory must be at most 4Gi (this server's maximum for a job), got "5Gi"`,
		},
	}
	for _, tt := range tests {
		err := h.jobs.checkJobLimits(ctx, "demo", tt.def)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: checkJobLimits = %v", tt.name, err)
		case tt.want != "" && (slipway.ErrorCode(err) != slipway.EInvalid || slipway.ErrorMessage(err) != tt.want):
			t.Errorf("%s: checkJobLimits = %q, want EInvalid %q", tt.name, slipway.ErrorMessage(err), tt.want)
		}
	}
	// A third continuous job is over the count quota, and the message says
	// "job"; a total another job takes over names that job.
	third := slipway.LiveRun{Tool: "demo", Component: "api", Type: slipway.Continuous, Spec: slipway.Component{Name: "api", Type: slipway.Continuous, Run: slipway.RunSpec{Command: "a", Memory: "768Mi"}}}
	if err := h.eng.store.LiveRunPut(ctx, third); err != nil {
		t.Fatal(err)
	}
	err := h.jobs.checkJobLimits(ctx, "demo", job("zzz", slipway.Continuous, slipway.RunSpec{Command: "z", Memory: "100Mi"}))
	want := "this is the 3rd continuous job, over the tool's quota of 2 continuous jobs\n" +
		"job web: 2 replicas × 256Mi = 512Mi of memory, with the 768Mi for api, makes 1280Mi: over the tool's memory quota of 1Gi\n" +
		"1 replica, with the 3 for api and web, makes 4: over the tool's quota of 3 replicas"
	if got := slipway.ErrorMessage(err); got != want {
		t.Errorf("checkJobLimits = %q, want %q", got, want)
	}
}

// TestJobs_AdHocCount checks that a tool lists at most its one-off
// quota of ad-hoc jobs; one of the same name is replaced and not counted.
func TestJobs_AdHocCount(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{Limits: tightLimits, AllowImages: true}, false)
	ctx := t.Context()
	if err := h.db.InTx(ctx, func(tx store.Tx) error { return tx.ToolEnsure(ctx, "demo", time.Now()) }); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if err := h.jobs.checkAdHocCount(ctx, h.db, "demo", name); err != nil {
			t.Fatalf("checkAdHocCount(%s) = %v", name, err)
		}
		if err := h.eng.store.JobRunPut(ctx, slipway.JobRun{Tool: "demo", Name: name, Command: "x", ImageName: "web", RunID: name + "-1", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.jobs.checkAdHocCount(ctx, h.db, "demo", "a"); err != nil {
		t.Errorf("checkAdHocCount of a listed name = %v, want nil (it is replaced)", err)
	}
	err := h.jobs.checkAdHocCount(ctx, h.db, "demo", "c")
	want := "Tool demo already has 2 ad-hoc one-off jobs, the limit is 2: delete the finished ones (slipway jobs delete NAME) and run c again."
	if slipway.ErrorCode(err) != slipway.EConflict || slipway.ErrorMessage(err) != want {
		t.Errorf("checkAdHocCount(c) = %q, want EConflict %q", slipway.ErrorMessage(err), want)
	}
}

func TestOneOffSlots(t *testing.T) {
	t.Parallel()
	o := newOneOffSlots(2)
	r1, ok1 := o.tryTake("a")
	r2, ok2 := o.tryTake("a")
	if !ok1 || !ok2 {
		t.Fatal("the first two slots are not free")
	}
	if _, ok := o.tryTake("a"); ok {
		t.Error("a third slot of a is free")
	}
	if r, ok := o.tryTake("b"); !ok {
		t.Error("tool b shares tool a's slots")
	} else {
		r()
	}

	// take waits, says so once, and gets the slot that is released.
	waited := make(chan int, 1)
	got := make(chan error, 1)
	go func() {
		release, err := o.take(t.Context(), "a", func(n int) { waited <- n })
		if err == nil {
			release()
		}
		got <- err
	}()
	if n := <-waited; n != 2 {
		t.Errorf("waiting(%d), want 2", n)
	}
	r1()
	r1() // releasing twice gives back one slot only
	if err := <-got; err != nil {
		t.Errorf("take = %v", err)
	}
	if _, ok := o.tryTake("a"); !ok {
		t.Error("no slot is free after the release")
	}
	// All taken again: take ends with its context, with the cause.
	ctx, cancel := context.WithCancelCause(t.Context())
	cause := errors.New("deployment cancelled")
	go cancel(cause)
	if _, err := o.take(ctx, "a", func(int) {}); !errors.Is(err, cause) {
		t.Errorf("take with a cancelled context = %v, want %v", err, cause)
	}
	r2()
}

// TestEngine_DeploymentOneOffWaitsForSlot checks that a deployment's
// one-off waits, saying so in its step, while the tool's one-off slots are
// taken, and runs once one is free.
func TestEngine_DeploymentOneOffWaitsForSlot(t *testing.T) {
	t.Parallel()
	const tool = "busy"
	h := newHarness(t, Config{Limits: slipway.Limits{Quota: slipway.Quota{ConcurrentOneOffs: 1}}}, true)
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: true\n"})
	cfg := mustParse(t, "components:\n  job:\n    component_type: one-off\n"+
		"    build: {repository: "+repo.Dir+", ref: main}\n    run: {command: job}\n")
	if _, _, err := h.deploys.ConfigPut(t.Context(), tool, cfg); err != nil {
		t.Fatal(err)
	}
	release, ok := h.eng.oneOffs.tryTake(tool) // an ad-hoc job runs
	if !ok {
		t.Fatal("no one-off slot free")
	}
	d, err := h.deploys.DeploymentCreate(t.Context(), tool, slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errSeen := errors.New("seen")
	const note = "waiting: the tool runs 1 one-off job at once, its limit"
	err = h.deploys.DeploymentEvents(t.Context(), tool, d.ID, 0, func(e slipway.Event) error {
		if e.Kind == "step" && strings.Contains(e.Message, note) {
			return errSeen
		}
		return nil
	})
	if !errors.Is(err, errSeen) {
		t.Fatalf("events ended (%v) without the step saying %q", err, note)
	}
	release()
	if d = h.waitFinal(t, tool, d.ID); d.Status != slipway.DeploymentSuccessful {
		t.Fatalf("deployment %s: %s", d.Status, d.LongStatus)
	}
	// The deployment gave its slot back.
	if r, ok := h.eng.oneOffs.tryTake(tool); !ok {
		t.Error("the one-off slot is still taken after the deployment")
	} else {
		r()
	}
}

// TestEngine_ImageComponentNeedsNoBuild checks that a component naming a
// prebuilt image is planned and run without the builder: its artifact is
// the image. The local target cannot run images, and says so.
func TestEngine_ImageComponentNeedsNoBuild(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{AllowImages: true}, true)
	ctx := t.Context()
	if _, _, err := h.deploys.ConfigPut(ctx, "imgtool", mustParse(t, "components:\n  web: {build: {image: registry.example/web@sha256:0123}, run: {command: serve}}\n")); err != nil {
		t.Fatal(err)
	}
	d, err := h.deploys.DeploymentCreate(ctx, "imgtool", slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d = h.waitFinal(t, "imgtool", d.ID)
	if d.Status != slipway.DeploymentFailed {
		t.Fatalf("deployment %s, want failed on the local target", d.Status)
	}
	var run slipway.Step
	for _, st := range d.Steps {
		if st.Kind == slipway.StepBuild {
			t.Errorf("an image component got a build step: %+v", st)
		}
		if st.Kind == slipway.StepRun {
			run = st
		}
	}
	if run.BuildKey != slipway.ImageKey("registry.example/web@sha256:0123") || !strings.Contains(run.Detail, "runs the image registry.example/web@sha256:0123") || strings.Contains(run.Detail, "missing") {
		t.Errorf("run step = key %q, detail %q: want the image's key, and the target's refusal of images", run.BuildKey, run.Detail)
	}
}
