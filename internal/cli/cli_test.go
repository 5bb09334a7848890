package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	depID       = "20261122-130049-x5ucaa3ign"
	msgs        = `"messages":{"error":[],"info":[],"warning":[]}`
	toolConfig  = `{"config_version":"v1beta1","components":{"web":{"component_type":"continuous","build":{"repository":"https://example.org/app.git","ref":"main"},"run":{"command":"web","port":8000,"health_check_http":"/healthz"}},"cleanup":{"component_type":"scheduled","build":{"reuse_from":"web"},"run":{"command":"cleanup --all","schedule":"@daily"}}}}`
	pendingDep  = `{"builds":{"cleanup":{"build_id":"no-build-needed","build_image":"no-image-yet","build_long_status":"","build_status":"pending"},"web":{"build_id":"no-id-yet","build_image":"no-image-yet","build_long_status":"","build_status":"pending"}},"creation_time":"20261122-130049","deploy_id":"` + depID + `","description":"","force_build":false,"force_run":false,"long_status":"","runs":{"cleanup":{"run_long_status":"","run_status":"pending"},"web":{"run_long_status":"","run_status":"pending"}},"status":"pending","steps":[],"tool_config":` + toolConfig + `}`
	doneDep     = `{"builds":{"cleanup":{"build_id":"no-build-needed","build_image":"/data/builds/9b0d44","build_long_status":"reused build of web","build_status":"skipped"},"web":{"build_id":"b-3f2a1c","build_image":"/data/builds/3f2a1c","build_long_status":"built 3f2a1c in 12.4s; the detected stack is python with a very long explanation","build_status":"successful"}},"creation_time":"20261122-130049","deploy_id":"` + depID + `","description":"release 1.2","force_build":true,"force_run":false,"long_status":"All components deployed","runs":{"cleanup":{"run_long_status":"scheduled \"@daily\"","run_status":"successful"},"web":{"run_long_status":"healthy after 1.2s","run_status":"successful"}},"status":"successful","steps":[{"key":"build:web","kind":"build","component":"web","action":"build","needs":[],"reason":"commit 3f2a1c→9b0d44","state":"done","detail":"built 3f2a1c in 12.4s","attempt":1},{"key":"run:web","kind":"run","component":"web","action":"apply","needs":["build:web"],"reason":"new build","state":"done","detail":"healthy after 1.2s","attempt":1}],"tool_config":` + toolConfig + `}`
	failedDep   = `{"builds":{"web":{"build_id":"b-1","build_image":"no-image-yet","build_long_status":"exit status 1","build_status":"failed"}},"creation_time":"20261122-130049","deploy_id":"` + depID + `","description":"","force_build":false,"force_run":false,"long_status":"build:web failed: exit status 1\nsee the build log","runs":{"web":{"run_long_status":"skipped: build:web failed","run_status":"skipped"}},"status":"failed","steps":[],"tool_config":{}}`
	notFoundCfg = `{"messages":{"error":["No configuration found for tool: other"],"info":[],"warning":[]}}`
)

// cancellingDep is a deployment just flagged for cancellation, and
// cancelledDep the same once its running build has stopped.
const (
	cancellingDep = `{"builds":{"web":{"build_id":"b-3f2a1c","build_image":"no-image-yet","build_long_status":"building","build_status":"running"}},"creation_time":"20261122-130049","deploy_id":"` + depID + `","description":"","force_build":false,"force_run":false,"long_status":"Cancelling: stopping the running steps","runs":{"web":{"run_long_status":"","run_status":"pending"}},"status":"cancelling","steps":[{"key":"build:web","kind":"build","component":"web","action":"build","needs":[],"reason":"commit 3f2a1c→9b0d44","state":"running","detail":"","attempt":1},{"key":"run:web","kind":"run","component":"web","action":"apply","needs":["build:web"],"reason":"new build","state":"cancelled","detail":"The deployment was cancelled","attempt":0}],"tool_config":` + toolConfig + `}`
	cancelledDep  = `{"builds":{"web":{"build_id":"b-3f2a1c","build_image":"no-image-yet","build_long_status":"the deployment was cancelled","build_status":"cancelled"}},"creation_time":"20261122-130049","deploy_id":"` + depID + `","description":"","force_build":false,"force_run":false,"long_status":"Deployment was cancelled: 2 steps cancelled, 0 done before the cancel (what they applied stays)","runs":{"web":{"run_long_status":"The deployment was cancelled","run_status":"skipped"}},"status":"cancelled","steps":[{"key":"build:web","kind":"build","component":"web","action":"build","needs":[],"reason":"commit 3f2a1c→9b0d44","state":"cancelled","detail":"the deployment was cancelled","attempt":1},{"key":"run:web","kind":"run","component":"web","action":"apply","needs":["build:web"],"reason":"new build","state":"cancelled","detail":"The deployment was cancelled","attempt":0}],"tool_config":` + toolConfig + `}`
	cancelInfo    = "Deployment flagged for cancellation, might take a moment to cancel."
)

var cancelEvents = sse(1, "deployment", "", "running", "Deploying") +
	sse(2, "step", "build:web", "running", "building") +
	sse(3, "deployment", "", "cancelling", "Cancelling: stopping the running steps") +
	sse(4, "step", "run:web", "cancelled", "The deployment was cancelled") +
	sse(5, "step", "build:web", "cancelled", "the deployment was cancelled") +
	sse(6, "deployment", "", "cancelled", "Deployment was cancelled: 2 steps cancelled, 0 done before the cancel (what they applied stays)")

// planDep is the answer to a dry run: a plan, with a reason per step.
const planDep = `{"builds":{"api":{"build_id":"no-id-yet","build_image":"no-image-yet","build_long_status":"","build_status":"pending"},"web":{"build_id":"no-id-yet","build_image":"no-image-yet","build_long_status":"","build_status":"pending"},"worker":{"build_id":"no-build-needed","build_image":"no-image-yet","build_long_status":"","build_status":"pending"}},"creation_time":"20261122-130049","deploy_id":"","description":"","force_build":false,"force_run":false,"long_status":"Plan only, nothing was changed: 1 to build, 1 to run, 1 to remove, 2 unchanged","runs":{"api":{"run_long_status":"","run_status":"pending"},"web":{"run_long_status":"","run_status":"pending"},"worker":{"run_long_status":"","run_status":"pending"}},"status":"pending","steps":[` +
	`{"key":"build:web","kind":"build","component":"web","action":"build","needs":[],"reason":"commit 3f2a1c7→9b0d44e","state":"pending","detail":"","attempt":0},` +
	`{"key":"build:api","kind":"build","component":"api","action":"reuse","needs":[],"reason":"reusing build of commit 1a2b3c4 (unchanged)","state":"unchanged","detail":"","attempt":0},` +
	`{"key":"run:web","kind":"run","component":"web","action":"apply","needs":["build:web"],"reason":"new build: commit 3f2a1c7→9b0d44e","state":"pending","detail":"","attempt":0},` +
	`{"key":"run:worker","kind":"run","component":"worker","action":"none","needs":["build:web"],"reason":"unchanged","state":"unchanged","detail":"","attempt":0},` +
	`{"key":"prune:old-cron","kind":"prune","component":"old-cron","action":"remove","needs":[],"reason":"not in config","state":"pending","detail":"","attempt":0}` +
	`],"tool_config":` + toolConfig + `}`

// sse returns an event frame.
func sse(seq int, kind, step, state, msg string) string {
	return fmt.Sprintf("id: %d\nevent: %s\ndata: {\"seq\":%d,\"deploy_id\":%q,\"time\":\"2026-11-22T13:00:49Z\",\"kind\":%q,\"step\":%q,\"state\":%q,\"message\":%q}\n\n", seq, kind, seq, depID, kind, step, state, msg)
}

var successEvents = sse(1, "deployment", "", "running", "Deploying") +
	sse(2, "step", "build:web", "running", "building") +
	sse(3, "step", "build:web", "done", "built 3f2a1c in 12.4s") +
	sse(4, "step", "build:cleanup", "unchanged", "reused 9b0d44 (unchanged)") +
	sse(5, "step", "run:web", "done", "healthy after 1.2s") +
	sse(6, "step", "run:cleanup", "done", `scheduled "@daily" (waited for web)`) +
	sse(7, "step", "prune:old-worker", "done", "removed") +
	sse(8, "deployment", "", "successful", "All components deployed")

var failureEvents = sse(1, "step", "build:web", "failed", "build failed: exit status 1\nlog: ...") +
	sse(2, "step", "run:web", "skipped", "skipped: build:web failed") +
	sse(3, "deployment", "", "failed", "build:web failed")

// fakeServer serves canned envelopes: tool "mytool" has a config and a
// successful deployment, "failing" a failed one, "other" nothing, and
// "broken" answers 500. "stopping" has a running deployment that a cancel
// stops; "stubborn" one that fails while being cancelled.
type fakeServer struct {
	mu   sync.Mutex
	reqs []string // "METHOD path?query body"
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, strings.TrimSpace(fmt.Sprintf("%s %s %s", r.Method, r.URL.RequestURI(), body)))
	f.mu.Unlock()
	w.Header().Set("X-Request-Id", "rid-7")
	if r.Header.Get("Authorization") != "Bearer tok" {
		reply(w, 401, `{"messages":{"error":["Authentication required: send 'Authorization: Bearer <token>' (the server's admin token is in its data directory)"],"info":[],"warning":[]}}`)
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/components/v1/tool/"), "/")
	tool, rest := parts[0], strings.Join(parts[1:], "/")
	if tool == "broken" {
		reply(w, 500, `{"messages":{"error":["Internal error."],"info":[],"warning":[]}}`)
		return
	}
	final, events := doneDep, successEvents
	switch tool {
	case "failing", "stubborn":
		final, events = failedDep, failureEvents
	case "stopping":
		final, events = cancelledDep, cancelEvents
	}
	switch r.Method + " " + rest {
	case "GET config":
		if tool == "other" {
			reply(w, 404, notFoundCfg)
			return
		}
		reply(w, 200, `{"data":`+toolConfig+`,`+msgs+`}`)
	case "POST config":
		reply(w, 200, `{"data":`+string(body)+`,"messages":{"error":[],"info":["Configuration for `+tool+` updated successfully."],"warning":["Unknown field components.web.run.colour, skipped"]}}`)
	case "DELETE config":
		reply(w, 200, `{"data":`+toolConfig+`,`+msgs+`}`)
	case "POST deployment":
		switch {
		case r.URL.Query().Has("dry_run") && strings.Contains(string(body), `"tool_config"`):
			reply(w, 200, `{"data":`+planDep+`,"messages":{"error":[],"info":["Plan for `+tool+`: nothing was changed."],"warning":["Unknown field components.web.run.colour, skipped"]}}`)
			return
		case tool == "other":
			reply(w, 404, notFoundCfg)
			return
		case r.URL.Query().Has("dry_run"):
			reply(w, 200, `{"data":`+planDep+`,"messages":{"error":[],"info":["Plan for `+tool+`: nothing was changed."],"warning":[]}}`)
			return
		}
		reply(w, 200, `{"data":`+pendingDep+`,"messages":{"error":[],"info":["Deployment for `+tool+` created successfully."],"warning":[]}}`)
	case "GET deployment":
		if tool == "other" {
			reply(w, 200, `{"data":{"deployments":[]},`+msgs+`}`)
			return
		}
		reply(w, 200, `{"data":{"deployments":[`+failedDep+`,`+doneDep+`]},`+msgs+`}`)
	case "GET deployment/latest", "GET deployment/" + depID:
		if tool == "other" {
			reply(w, 404, `{"messages":{"error":["No deployments found for tool: other"],"info":[],"warning":[]}}`)
			return
		}
		reply(w, 200, `{"data":`+final+`,`+msgs+`}`)
	case "PUT deployment/latest/cancel", "PUT deployment/" + depID + "/cancel":
		switch tool {
		case "other":
			reply(w, 404, `{"messages":{"error":["No deployments found for tool: other"],"info":[],"warning":[]}}`)
		case "stopping", "stubborn":
			reply(w, 200, `{"data":`+cancellingDep+`,"messages":{"error":[],"info":["`+cancelInfo+`"],"warning":[]}}`)
		default:
			status := map[string]string{"mytool": "successful", "failing": "failed"}[tool]
			reply(w, 409, `{"messages":{"error":["Deployment can't be cancelled, its status is `+status+`"],"info":[],"warning":[]}}`)
		}
	case "GET deployment/token", "POST deployment/token", "PUT deployment/token", "DELETE deployment/token":
		serveToken(w, r.Method, tool)
	case "GET deployment/" + depID + "/events":
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, events)
	default:
		reply(w, 404, `{"messages":{"error":["Not found."],"info":[],"warning":[]}}`)
	}
}

// Deploy tokens of the fake: "mytool" has one, the other tools none.
const (
	tokenData    = `{"creation_date":"2026-11-22T12:54:26.348440Z","token":"e30186a5-d75f-4084-9731-702af094c65c"}`
	newTokenData = `{"creation_date":"2026-11-23T08:00:00.000001Z","token":"0b6c1b1e-4a0f-4d39-9c37-5f0e2e1f6a11"}`
)

func serveToken(w http.ResponseWriter, method, tool string) {
	has := tool == "mytool"
	notFound := `{"messages":{"error":["No deploy token found for tool: ` + tool + `"],"info":[],"warning":[]}}`
	ok := func(data, info string) {
		infos := `[]`
		if info != "" {
			infos = `["Deploy token for ` + tool + ` ` + info + ` successfully."]`
		}
		reply(w, 200, `{"data":`+data+`,"messages":{"error":[],"info":`+infos+`,"warning":[]}}`)
	}
	switch {
	case method == "POST" && has:
		reply(w, 409, `{"messages":{"error":["Deploy token already exists. Use the 'refresh' subcommand or PUT /tool/`+tool+`/deployment/token to refresh it."],"info":[],"warning":[]}}`)
	case method == "POST":
		ok(tokenData, "created")
	case !has:
		reply(w, 404, notFound)
	case method == "GET":
		ok(tokenData, "")
	case method == "PUT":
		ok(newTokenData, "updated")
	case method == "DELETE":
		ok(tokenData, "deleted")
	}
}

func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// result is one run of Main.
type result struct {
	code           int
	stdout, stderr string
}

// run runs Main in-process against url with tool "mytool" unless args say
// otherwise.
func run(t *testing.T, url, stdin string, args ...string) result {
	t.Helper()
	home := t.TempDir()
	vars := map[string]string{"SLIPWAY_URL": url, "SLIPWAY_TOKEN": "tok", "SLIPWAY_TOOL": "mytool", "HOME": home}
	var stdout, stderr bytes.Buffer
	code := Main(t.Context(), args, func(k string) string { return vars[k] }, strings.NewReader(stdin), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

func golden(t *testing.T, name string, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// TestCommands runs every command, plain and --json, against canned
// envelopes, and compares exit status, stdout and stderr with golden files.
func TestCommands(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		stdin string
		// wantReq, when set, must be among the requests the server saw.
		wantReq string
	}{
		{name: "ConfigCreate", args: []string{"components", "config", "create", "testdata/tool.yaml"}, wantReq: `POST /components/v1/tool/mytool/config {"config_version":"v1beta1","components":{"web":{"component_type":"continuous","build":{"repository":"https://example.org/app.git","ref":"main"},"run":{"command":"web","port":8000}}}}`},
		{name: "ConfigCreateJSON", args: []string{"--json", "components", "config", "create", "testdata/tool.yaml"}},
		{name: "ConfigCreateStdin", args: []string{"components", "config", "create", "-"}, stdin: `{"components":{"web":{"build":{"repository":"https://example.org/a.git","ref":"main"},"run":{"command":"web"}}}}`},
		{name: "ConfigCreateProblems", args: []string{"components", "config", "create", "testdata/bad.yaml"}},
		{name: "ConfigCreateMissingFile", args: []string{"components", "config", "create", "testdata/nope.yaml"}},
		{name: "ConfigShow", args: []string{"components", "config", "show"}},
		{name: "ConfigShowJSON", args: []string{"components", "config", "show", "--json"}},
		{name: "ConfigShowNotFound", args: []string{"--tool", "other", "components", "config", "show"}},
		{name: "ConfigDeleteSure", args: []string{"components", "config", "delete", "--yes-im-sure"}, wantReq: "DELETE /components/v1/tool/mytool/config"},
		{name: "ConfigDeleteSureJSON", args: []string{"--json", "components", "config", "delete", "--yes-im-sure"}},
		{name: "ConfigDeletePromptYes", args: []string{"components", "config", "delete"}, stdin: "y\n", wantReq: "DELETE /components/v1/tool/mytool/config"},
		{name: "ConfigDeletePromptNo", args: []string{"components", "config", "delete"}, stdin: "n\n"},
		{name: "ConfigDeletePromptEOF", args: []string{"components", "config", "delete"}},
		{name: "DeploymentCreate", args: []string{"components", "deployment", "create"}},
		{name: "DeploymentCreateJSON", args: []string{"components", "deployment", "create", "--json", "--force-build", "--force-run", "--description", "release 1.2"}, wantReq: `POST /components/v1/tool/mytool/deployment?force-build=true&force-run=true {"description":"release 1.2"}`},
		{name: "DeploymentCreateWatch", args: []string{"components", "deployment", "create", "--watch"}},
		{name: "DeploymentCreateWatchJSON", args: []string{"components", "deployment", "create", "--watch", "--json"}},
		{name: "DeploymentCreateNoConfig", args: []string{"--tool", "other", "components", "deployment", "create"}},
		{name: "DeploymentCreatePlan", args: []string{"components", "deployment", "create", "--only-plan"}, wantReq: "POST /components/v1/tool/mytool/deployment?dry_run=true"},
		{name: "DeploymentCreatePlanJSON", args: []string{"--json", "components", "deployment", "create", "--only-plan", "--force-build", "--description", "try"}, wantReq: `POST /components/v1/tool/mytool/deployment?force-build=true&dry_run=true {"description":"try"}`},
		{name: "DeploymentCreatePlanWatch", args: []string{"components", "deployment", "create", "--only-plan", "--watch"}},
		{name: "DeploymentCreatePlanNoConfig", args: []string{"--tool", "other", "components", "deployment", "create", "--only-plan"}},
		{name: "DeploymentList", args: []string{"components", "deployment", "list"}},
		{name: "DeploymentListJSON", args: []string{"components", "deployment", "list", "--json"}},
		{name: "DeploymentListEmpty", args: []string{"--tool", "other", "components", "deployment", "list"}},
		{name: "DeploymentShow", args: []string{"components", "deployment", "show"}, wantReq: "GET /components/v1/tool/mytool/deployment/latest"},
		{name: "DeploymentShowID", args: []string{"components", "deployment", "show", depID}, wantReq: "GET /components/v1/tool/mytool/deployment/" + depID},
		{name: "DeploymentShowJSON", args: []string{"components", "deployment", "show", "--json"}},
		{name: "DeploymentShowFailed", args: []string{"--tool", "failing", "components", "deployment", "show"}},
		{name: "DeploymentShowNone", args: []string{"--tool", "other", "components", "deployment", "show"}},
		{name: "DeploymentCancel", args: []string{"--tool", "stopping", "components", "deployment", "cancel"}, wantReq: "PUT /components/v1/tool/stopping/deployment/latest/cancel"},
		{name: "DeploymentCancelID", args: []string{"--tool", "stopping", "components", "deployment", "cancel", depID}, wantReq: "PUT /components/v1/tool/stopping/deployment/" + depID + "/cancel"},
		{name: "DeploymentCancelJSON", args: []string{"--tool", "stopping", "components", "deployment", "cancel", "--json"}},
		{name: "DeploymentCancelWait", args: []string{"--tool", "stopping", "components", "deployment", "cancel", "--wait"}, wantReq: "GET /components/v1/tool/stopping/deployment/" + depID + "/events?after=0"},
		{name: "DeploymentCancelWaitJSON", args: []string{"--tool", "stopping", "components", "deployment", "cancel", depID, "--wait", "--json"}},
		{name: "DeploymentCancelWaitFailed", args: []string{"--tool", "stubborn", "components", "deployment", "cancel", "--wait"}},
		{name: "DeploymentCancelConflict", args: []string{"components", "deployment", "cancel"}},
		{name: "DeploymentCancelConflictWait", args: []string{"--tool", "failing", "components", "deployment", "cancel", "--wait"}},
		{name: "DeploymentCancelNone", args: []string{"--tool", "other", "components", "deployment", "cancel", "--json"}},
		{name: "Deploy", args: []string{"components", "deploy", "testdata/tool.yaml"}},
		{name: "DeployFailed", args: []string{"--tool", "failing", "components", "deploy", "testdata/tool.yaml", "--force-run"}, wantReq: "POST /components/v1/tool/failing/deployment?force-run=true"},
		{name: "DeployJSON", args: []string{"components", "deploy", "--json", "testdata/tool.yaml"}},
		{name: "DeployPlan", args: []string{"components", "deploy", "testdata/tool.yaml", "--only-plan"}, wantReq: `POST /components/v1/tool/mytool/deployment?dry_run=true {"tool_config":{"config_version":"v1beta1","components":{"web":{"component_type":"continuous","build":{"repository":"https://example.org/app.git","ref":"main"},"run":{"command":"web","port":8000}}}}}`},
		{name: "DeployPlanJSON", args: []string{"components", "deploy", "--json", "--only-plan", "--force-run", "testdata/tool.yaml"}, wantReq: `POST /components/v1/tool/mytool/deployment?force-run=true&dry_run=true {"tool_config":{"config_version":"v1beta1","components":{"web":{"component_type":"continuous","build":{"repository":"https://example.org/app.git","ref":"main"},"run":{"command":"web","port":8000}}}}}`},
		{name: "DeployPlanProblems", args: []string{"components", "deploy", "testdata/bad.yaml", "--only-plan"}},
		{name: "TokenCreate", args: []string{"--tool", "other", "components", "deploy-token", "create"}, wantReq: "POST /components/v1/tool/other/deployment/token"},
		{name: "TokenCreateJSON", args: []string{"--tool", "other", "--json", "components", "deploy-token", "create"}},
		{name: "TokenCreateExists", args: []string{"components", "deploy-token", "create"}},
		{name: "TokenCreateExistsJSON", args: []string{"components", "deploy-token", "create", "--json"}},
		{name: "TokenShow", args: []string{"components", "deploy-token", "show"}, wantReq: "GET /components/v1/tool/mytool/deployment/token"},
		{name: "TokenShowJSON", args: []string{"components", "deploy-token", "show", "--json"}},
		{name: "TokenShowNone", args: []string{"--tool", "other", "components", "deploy-token", "show"}},
		{name: "TokenShowNoneJSON", args: []string{"--tool", "other", "components", "deploy-token", "show", "--json"}},
		{name: "TokenRefreshSure", args: []string{"components", "deploy-token", "refresh", "--yes-im-sure"}, wantReq: "PUT /components/v1/tool/mytool/deployment/token"},
		{name: "TokenRefreshSureJSON", args: []string{"components", "deploy-token", "refresh", "--yes-im-sure", "--json"}},
		{name: "TokenRefreshPromptYes", args: []string{"components", "deploy-token", "refresh"}, stdin: "y\n", wantReq: "PUT /components/v1/tool/mytool/deployment/token"},
		{name: "TokenRefreshPromptNo", args: []string{"components", "deploy-token", "refresh"}, stdin: "n\n"},
		{name: "TokenRefreshNone", args: []string{"--tool", "other", "components", "deploy-token", "refresh"}},
		{name: "TokenDeleteSure", args: []string{"components", "deploy-token", "delete", "--yes-im-sure"}, wantReq: "DELETE /components/v1/tool/mytool/deployment/token"},
		{name: "TokenDeleteSureJSON", args: []string{"--json", "components", "deploy-token", "delete", "--yes-im-sure"}},
		{name: "TokenDeletePromptEOF", args: []string{"components", "deploy-token", "delete"}},
		{name: "TokenDeleteNone", args: []string{"--tool", "other", "components", "deploy-token", "delete", "--yes-im-sure"}},
		{name: "ServerError", args: []string{"--tool", "broken", "components", "deployment", "list"}},
		{name: "Unauthorized", args: []string{"--token", "wrong", "components", "config", "show"}},
		{name: "NoTool", args: []string{"--tool", "", "components", "config", "show"}},
		{name: "BadToolName", args: []string{"--tool", "Bad_Tool", "components", "config", "show"}},
		{name: "UnknownFlag", args: []string{"components", "config", "show", "--bogus"}},
		{name: "TooManyArgs", args: []string{"components", "deployment", "show", "a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := &fakeServer{}
			srv := httptest.NewServer(fs)
			defer srv.Close()
			args := tt.args
			if tt.name == "NoTool" {
				// --tool "" falls back to SLIPWAY_TOOL; unset it instead.
				args = args[2:]
			}
			res := runNoTool(t, srv.URL, tt.stdin, tt.name == "NoTool", args...)
			golden(t, tt.name, fmt.Sprintf("$ slipway %s\nexit %d\n-- stdout --\n%s-- stderr --\n%s", strings.Join(tt.args, " "), res.code, res.stdout, res.stderr))
			fs.mu.Lock()
			defer fs.mu.Unlock()
			if tt.wantReq != "" && !slices.Contains(fs.reqs, tt.wantReq) {
				t.Errorf("requests %q lack %q", fs.reqs, tt.wantReq)
			}
			if strings.Contains(tt.name, "Plan") {
				// A plan changes nothing: one dry-run POST, nothing else.
				for _, r := range fs.reqs {
					if !strings.HasPrefix(r, "GET ") && !strings.Contains(r, "dry_run=true") {
						t.Errorf("a plan sent %q", r)
					}
				}
			}
			switch tt.name {
			case "DeploymentCreatePlanWatch", "DeployPlanProblems":
				if len(fs.reqs) != 0 {
					t.Errorf("sent %q", fs.reqs)
				}
			case "ConfigCreateProblems", "ConfigDeletePromptNo", "ConfigDeletePromptEOF", "NoTool", "BadToolName",
				"TokenShow", "TokenShowJSON", "TokenShowNone", "TokenShowNoneJSON", "TokenRefreshPromptNo", "TokenRefreshNone",
				"TokenDeletePromptEOF", "TokenDeleteNone":
				for _, r := range fs.reqs {
					if !strings.HasPrefix(r, "GET ") {
						t.Errorf("sent %q", r)
					}
				}
			}
		})
	}
}

func runNoTool(t *testing.T, url, stdin string, noTool bool, args ...string) result {
	t.Helper()
	vars := map[string]string{"SLIPWAY_URL": url, "SLIPWAY_TOKEN": "tok", "SLIPWAY_TOOL": "mytool", "HOME": t.TempDir()}
	if noTool {
		delete(vars, "SLIPWAY_TOOL")
	}
	var stdout, stderr bytes.Buffer
	code := Main(t.Context(), args, func(k string) string { return vars[k] }, strings.NewReader(stdin), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// TestServerDiscovery checks that the URL and token come from the data
// directory when neither flag nor environment gives them, and the messages
// when no server is there.
func TestServerDiscovery(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(&fakeServer{})
	defer srv.Close()
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "server.json"), []byte(`{"url": "`+srv.URL+`", "pid": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "admin-token"), []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	vars := map[string]string{"SLIPWAY_DATA": data}
	code := Main(t.Context(), []string{"--tool", "mytool", "components", "config", "show", "--json"}, func(k string) string { return vars[k] }, strings.NewReader(""), &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), `"config_version": "v1beta1"`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}

	// XDG_DATA_HOME/slipway without server.json: exit 2 and a hint.
	stdout.Reset()
	stderr.Reset()
	xdg := t.TempDir()
	vars = map[string]string{"XDG_DATA_HOME": xdg, "SLIPWAY_TOOL": "mytool"}
	code = Main(t.Context(), []string{"components", "config", "show"}, func(k string) string { return vars[k] }, strings.NewReader(""), &stdout, &stderr)
	want := "Error: no Slipway server found: " + filepath.Join(xdg, "slipway", "server.json") + " does not exist; start one with `slipway server`, or pass --url or set SLIPWAY_URL\n"
	if code != 2 || stderr.String() != want {
		t.Errorf("exit %d, stderr %q, want 2 and %q", code, stderr.String(), want)
	}

	// A server that is gone: exit 2.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	res := run(t, gone.URL, "", "components", "config", "show")
	if res.code != 2 || res.stderr != "Cannot reach the Slipway server at "+gone.URL+": is it running? (slipway server)\n" {
		t.Errorf("unreachable: %+v", res)
	}
}

// TestInterrupted checks that a cancelled context ends a watch with 130.
func TestInterrupted(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	defer close(block)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/events") {
			w.Header().Set("Content-Type", "text/event-stream")
			w.(http.Flusher).Flush()
			select {
			case <-block:
			case <-r.Context().Done():
			}
			return
		}
		reply(w, 200, `{"data":`+pendingDep+`,`+msgs+`}`)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	vars := map[string]string{"SLIPWAY_URL": srv.URL, "SLIPWAY_TOOL": "mytool"}
	var stdout, stderr bytes.Buffer
	done := make(chan int)
	go func() {
		done <- Main(ctx, []string{"components", "deployment", "create", "--watch"}, func(k string) string { return vars[k] }, strings.NewReader(""), &stdout, &stderr)
	}()
	cancel()
	if code := <-done; code != 130 {
		t.Errorf("exit %d, want 130; stderr %q", code, stderr.String())
	}
}

// TestCLIHelp walks the command tree: every command has a short help that
// starts with a capital letter and has no trailing period, and a usage line
// that starts with its name.
func TestCLIHelp(t *testing.T) {
	t.Parallel()
	root := newRootCmd(&env{getenv: func(string) string { return "" }})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Short == "" {
			t.Errorf("%q has no short help", c.CommandPath())
		} else if r := []rune(c.Short)[0]; !unicode.IsUpper(r) {
			t.Errorf("%q: short help %q does not start with a capital letter", c.CommandPath(), c.Short)
		}
		if strings.HasSuffix(c.Short, ".") {
			t.Errorf("%q: short help %q ends with a period", c.CommandPath(), c.Short)
		}
		if !strings.HasPrefix(c.Use, c.Name()) {
			t.Errorf("%q: usage %q does not start with the command name", c.CommandPath(), c.Use)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)

	var stdout bytes.Buffer
	code := Main(t.Context(), []string{"components", "deployment", "--help"}, func(string) string { return "" }, strings.NewReader(""), &stdout, io.Discard)
	if code != 0 || !strings.Contains(stdout.String(), "create      Deploy the tool's current config") {
		t.Errorf("help: exit %d\n%s", code, stdout.String())
	}
}
