package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// bigDeployment is a running deployment of n components: a build and a
// run each, every tenth run waiting for the one ten before (wait_for),
// and a waiting gate before the last run, with its open question.
func bigDeployment(e *env, id string, n int) {
	d := slipway.Deployment{ID: id, Tool: "one", CreatedAt: t0, Status: slipway.DeploymentRunning, LongStatus: "Waiting for an answer: go on?", Trigger: "cli", Actor: "tool-token:ci"}
	for i := range n {
		c := fmt.Sprintf("c%03d", i)
		d.Steps = append(d.Steps, slipway.Step{Key: "build:" + c, Kind: slipway.StepBuild, Component: c, Action: slipway.ActionBuild, Reason: "commit 3f2a1c→9b0d44", State: slipway.StepDone, Detail: "built in 12s", Attempt: 1, StartedAt: t0, FinishedAt: t0})
		run := slipway.Step{Key: "run:" + c, Kind: slipway.StepRun, Component: c, Action: slipway.ActionApply, Needs: []string{"build:" + c}, Reason: "new build", State: slipway.StepDone, Detail: "healthy", Attempt: 1, StartedAt: t0}
		if i >= 10 && i%10 == 0 {
			run.Needs = append(run.Needs, fmt.Sprintf("run:c%03d", i-10))
		}
		if i == n-1 {
			d.Steps = append(d.Steps, slipway.Step{Key: "gate:" + c, Kind: slipway.StepGate, Component: c, Action: slipway.ActionAsk, Needs: []string{"build:" + c}, Reason: "asks before run", State: slipway.StepWaiting})
			run.Needs, run.State = append(run.Needs, "gate:"+c), slipway.StepPending
		}
		d.Steps = append(d.Steps, run)
	}
	last := fmt.Sprintf("c%03d", n-1)
	e.svc.deployments["one"] = append(e.svc.deployments["one"], d)
	qid := fmt.Sprintf("q-%016x", n)
	e.svc.questions[qid] = &slipway.Question{
		ID: qid, Seq: int64(100 + n), Tool: "one", DeploymentID: id, StepKey: "gate:" + last, Origin: slipway.OriginGate,
		Prompt: "All built. Deploy **" + last + "**?", Options: slipway.DefaultGateOptions, CreatedAt: t0, DeadlineAt: t0.Add(time.Hour),
		OnDeadline: slipway.DeadlineFail, State: slipway.QuestionOpen,
	}
	e.svc.events[id] = []slipway.Event{{Seq: 1, DeploymentID: id, Kind: "step", Step: "run:c007", State: "done"}}
}

// BenchmarkDeploymentPage renders the deployment page of a 200-component
// tool (401 steps: the table, the graph left out past 150 steps) and of
// a 75-component one (151 steps… 150 with the graph drawn), against the
// JSON API's GET …/deployment/{id} of the same deployment, through the
// same handler; and the live message of one step change.
func BenchmarkDeploymentPage(b *testing.B) {
	e := newEnv(b)
	bigDeployment(e, "20250601-120000-twohundred", 200)
	bigDeployment(e, "20250601-120000-seventyfiv", 74) // 149 steps: the graph is drawn
	admin := e.signin(adminToken)
	for _, bc := range []struct{ name, path string }{
		{"ui-200-components", "/ui/t/one/d/20250601-120000-twohundred"},
		{"api-200-components", "/components/v1/tool/one/deployment/20250601-120000-twohundred"},
		{"ui-74-components-graph", "/ui/t/one/d/20250601-120000-seventyfiv"},
		{"api-74-components", "/components/v1/tool/one/deployment/20250601-120000-seventyfiv"},
		{"live-step-200-components", "/ui/t/one/d/20250601-120000-twohundred/live"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := req{method: "GET", path: bc.path, cookies: []*http.Cookie{admin}}
			if strings.HasPrefix(bc.path, "/components/") {
				r = req{method: "GET", path: bc.path, header: map[string]string{"Authorization": "Bearer " + adminToken}}
			}
			var size int
			for b.Loop() {
				res := e.do(r)
				if res.StatusCode != http.StatusOK {
					b.Fatalf("%s: status %d: %.300s", bc.path, res.StatusCode, res.Body)
				}
				size = len(res.Body)
			}
			if strings.HasSuffix(bc.path, "/live") {
				msgs := parseSSE(b, e.do(r).Body)
				size = msgs[0].size
			}
			b.ReportMetric(float64(size), "bytes")
		})
	}
}
