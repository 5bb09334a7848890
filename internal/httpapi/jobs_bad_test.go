package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

// badInput sends bad input to every jobs route: each gets the error
// envelope with a message naming what is wrong, never a 500, and changes
// nothing.
func (b *jobsBundle) badInput(t *testing.T) {
	t.Helper()
	web := `"name":"web","cmd":"x","imagename":"web"`
	tests := []struct {
		name         string
		method, path string
		body         string
		wantCode     int
		wantMsg      string
	}{
		{"ListBadTool", "GET", "/jobs/v1/tool/Bad_Tool/jobs", "", 422, `Tool name "Bad_Tool" must be`},
		{"ListBadToolSlash", "GET", "/jobs/v1/tool/Bad_Tool/jobs/", "", 422, `Tool name "Bad_Tool" must be`},
		{"ImagesBadTool", "GET", "/jobs/v1/tool/Bad_Tool/images/", "", 422, `Tool name "Bad_Tool" must be`},
		{"QuotaLegacyBadTool", "GET", "/jobs/v1/tool/Bad_Tool/quota/", "", 422, `Tool name "Bad_Tool" must be`},
		{"GetUnknownSlash", "GET", jobsURL + "/nope/", "", 404, "Job nope not found for tool demo"},
		{"DeleteUnknownSlash", "DELETE", jobsURL + "/nope/", "", 404, "Job nope not found for tool demo"},
		{"RestartUnknownSlash", "POST", jobsURL + "/nope/restart/", "", 404, "Job nope not found for tool demo"},
		{"UnknownRoute", "GET", jobsURL + "/web/nope/", "", 404, "Not found: GET /jobs/v1/tool/demo/jobs/web/nope/."},
		{"MethodNotAllowedSlash", "PUT", jobsURL + "/web/", "", 405, "Method PUT is not allowed for /jobs/v1/tool/demo/jobs/web/."},
		{"ListBadIncludeUnset", "GET", jobsURL + "?include_unset=maybe", "", 422, "include_unset must be a boolean"},
		{"GetBadName", "GET", jobsURL + "/Web", "", 422, `Job name "Web" must be`},
		{"GetUnknown", "GET", jobsURL + "/nope", "", 404, "Job nope not found for tool demo"},
		{"GetBadIncludeUnset", "GET", jobsURL + "/web?include_unset=2", "", 422, "include_unset must be a boolean"},
		{"LogsUnknown", "GET", jobsURL + "/nope/logs", "", 404, "Job nope not found for tool demo"},
		{"LogsUnknownSlash", "GET", jobsURL + "/nope/logs/?follow=false", "", 404, "Job nope not found for tool demo"},
		{"LogsNone", "GET", jobsURL + "/cron/logs?follow=false", "", 404, "Job 'cron' does not have any logs available"},
		{"LogsBadLines", "GET", jobsURL + "/web/logs?lines=-1", "", 422, "lines must be a number of lines"},
		{"LogsLinesNotNumber", "GET", jobsURL + "/web/logs?lines=ten", "", 422, "lines must be a number of lines"},
		{"LogsBadFollow", "GET", jobsURL + "/web/logs?follow=sometimes", "", 422, "follow must be a boolean"},
		{"RestartUnknown", "POST", jobsURL + "/nope/restart", "", 404, "Job nope not found for tool demo"},
		{"RestartBadName", "POST", jobsURL + "/a..b/restart", "", 422, `Job name "a..b" must be`},
		{"DeleteUnknown", "DELETE", jobsURL + "/nope", "", 404, "Job nope not found for tool demo"},
		{"DeleteBadName", "DELETE", jobsURL + "/-x", "", 422, `Job name "-x" must be`},
		{"FlushBadTool", "DELETE", "/jobs/v1/tool/-/jobs", "", 422, `Tool name "-" must be`},
		{"QuotaBadTool", "GET", "/jobs/v1/tool/Bad_Tool/quotas", "", 422, `Tool name "Bad_Tool" must be`},
		{"RunNoBody", "POST", jobsURL, "", 422, "The request body is empty"},
		{"RunMalformed", "POST", jobsURL, `{"name":`, 400, "Invalid JSON"},
		{"RunNotObject", "POST", jobsURL, `[1]`, 422, "Invalid value for the request body"},
		{"RunWrongType", "POST", jobsURL, `{"name":"x","cmd":"x","imagename":"web","timeout":"soon"}`, 422, "Invalid value for timeout: expected int"},
		{"RunUnknownField", "POST", jobsURL, `{"name":"x","cmd":"x","imagename":"web","comand":"y"}`, 422, `Unknown field "comand": a job has name, cmd, imagename`},
		{"RunMissing", "POST", jobsURL, `{}`, 422, "cmd is required"},
		{"RunBadName", "POST", jobsURL, `{"name":"Bad Name","cmd":"x","imagename":"web"}`, 422, `Job name "Bad Name" must be`},
		{"RunUnknownImage", "POST", jobsURL, `{"name":"x","cmd":"x","imagename":"nope"}`, 422, `imagename "nope" is not a live component of tool demo whose build the job could use: one of cron, migrate, web.`},
		{"RunContinuousBadPort", "POST", jobsURL, `{"name":"x","cmd":"x","imagename":"web","continuous":true,"port":70000}`, 422, "port must be between 1 and 65535, got 70000"},
		{"RunScheduledBadSchedule", "POST", jobsURL + "/", `{"name":"x","cmd":"x","imagename":"web","schedule":"every day"}`, 422, "schedule must be a cron expression with 5 fields"},
		{"RunContinuousTaken", "POST", jobsURL + "/", `{"name":"web","cmd":"x","imagename":"web","continuous":true}`, 409, "A job with the name web already exists"},
		{"RunScheduledTaken", "POST", jobsURL, `{"name":"migrate","cmd":"x","imagename":"web","job_type":"scheduled","schedule":"@daily"}`, 409, "A job with the name migrate already exists"},
		{"RunExtraFields", "POST", jobsURL, `{"name":"x","cmd":"x","imagename":"web","port":80,"cpu":"1"}`, 422, "An ad-hoc one-off job takes name, cmd, imagename and timeout (and emails none, retry 0, mount and filelog, which Toolforge's jobs CLI sends); remove port, cpu."},
		{"RunEmails", "POST", jobsURL + "/", `{"name":"x","cmd":"x","imagename":"web","emails":"all","retry":2}`, 422, "remove emails other than none, retry other than 0."},
		{"RunBadMount", "POST", jobsURL + "/", `{"name":"x","cmd":"x","imagename":"web","mount":"some"}`, 422, `mount must be all or none, got "some".`},
		{"RunNegativeTimeout", "POST", jobsURL, `{"name":"x","cmd":"x","imagename":"web","timeout":-1}`, 422, "timeout must be a number of seconds, at least 0"},
		{"RunTaken", "POST", jobsURL, `{"name":"web","cmd":"x","imagename":"web"}`, 409, "A job with the name web already exists"},
		{"UpsertNoBody", "PATCH", jobsURL, "null", 422, "The request body is empty"},
		{"UpsertMalformed", "PATCH", jobsURL, `{"name":"web",}`, 400, "Invalid JSON at line 1, column 15"},
		{"UpsertBadType", "PATCH", jobsURL, `{` + web + `,"job_type":"daemon"}`, 422, `job_type must be one of continuous, scheduled, one-off, got "daemon".`},
		{"UpsertFieldOfOtherType", "PATCH", jobsURL, `{` + web + `,"job_type":"continuous","schedule":"@daily"}`, 422, "schedule is not valid for a continuous job (only for scheduled jobs)."},
		{"UpsertBadPort", "PATCH", jobsURL, `{` + web + `,"job_type":"continuous","port":70000}`, 422, "port must be between 1 and 65535, got 70000"},
		{"UpsertBadReplicas", "PATCH", jobsURL, `{` + web + `,"job_type":"continuous","replicas":-2}`, 422, "replicas must be at least 1"},
		{"UpsertBadSchedule", "PATCH", jobsURL, `{` + web + `,"job_type":"scheduled","schedule":"every day"}`, 422, "schedule must be a cron expression with 5 fields"},
		{"UpsertScheduleMissing", "PATCH", jobsURL, `{` + web + `,"job_type":"scheduled"}`, 422, "schedule is required for a scheduled job"},
		{"UpsertBadHealthType", "PATCH", jobsURL, `{` + web + `,"job_type":"continuous","health_check":{"type":"tcp"}}`, 422, `health_check.type must be script or http, got "tcp".`},
		{"UpsertHealthNoPath", "PATCH", jobsURL, `{` + web + `,"job_type":"continuous","health_check":{"type":"http"}}`, 422, "health_check of type http needs path"},
		{"UpsertHealthHTTPNoPort", "PATCH", jobsURL, `{` + web + `,"job_type":"continuous","health_check":{"type":"http","path":"/"}}`, 422, "A tcp port must be set for health_check of type http"},
		{"UpsertPublishNoPort", "PATCH", jobsURL, `{` + web + `,"job_type":"continuous","publish":"/"}`, 422, "publish requires port to be set"},
		{"UpsertBadEmails", "PATCH", jobsURL, `{` + web + `,"job_type":"continuous","emails":"always"}`, 422, "emails must be one of"},
		{"UpsertBadCPU", "PATCH", jobsURL, `{` + web + `,"job_type":"continuous","cpu":"lots"}`, 422, "cpu must be a Kubernetes quantity"},
		{"UpsertBadRetry", "PATCH", jobsURL, `{` + web + `,"job_type":"scheduled","schedule":"@daily","retry":9}`, 422, "retry must be between 0 and 5, got 9"},
		{"UpsertUnknownImage", "PATCH", jobsURL, `{"name":"web","cmd":"x","imagename":"gone","job_type":"continuous"}`, 422, `imagename "gone" is not a live component`},
		{"UpsertOneOffChanged", "PATCH", jobsURL, `{"name":"migrate","cmd":"echo other","imagename":"web","job_type":"one-off"}`, 409, "Job migrate is a one-off job, which cannot be updated"},
		{"UpsertToOneOff", "PATCH", jobsURL, `{"name":"web","cmd":"x","imagename":"web","job_type":"one-off"}`, 409, "Job web is a one-off job, which cannot be updated"},
		{"UpsertWrongType", "PATCH", jobsURL, `{"name":"web","cmd":["x"],"imagename":"web"}`, 422, "Invalid value for cmd: expected string"},
	}
	before := b.list(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := b.do(t, tt.method, tt.path, tt.body, "")
			var env struct {
				Messages struct {
					Error []string `json:"error"`
				} `json:"messages"`
				// Toolforge's jobs CLI reads the messages here.
				Error []string `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &env); err != nil || len(env.Messages.Error) == 0 {
				t.Fatalf("%s %s: %d, not an error envelope: %s", tt.method, tt.path, code, body)
			}
			if !slices.Equal(env.Error, env.Messages.Error) {
				t.Errorf("%s %s: error %q, want messages.error %q again", tt.method, tt.path, env.Error, env.Messages.Error)
			}
			if code != tt.wantCode || !strings.Contains(strings.Join(env.Messages.Error, "\n"), tt.wantMsg) {
				t.Errorf("%s %s %s: %d %q, want %d and a message containing %q", tt.method, tt.path, tt.body, code, env.Messages.Error, tt.wantCode, tt.wantMsg)
			}
		})
	}
	// Nothing changed: the same jobs with the same definitions.
	after := b.list(t)
	if names(after) != names(before) {
		t.Errorf("jobs after bad input = %s, were %s", names(after), names(before))
	}
	for i := range after {
		if after[i].Cmd != before[i].Cmd || after[i].JobType != before[i].JobType {
			t.Errorf("job %s changed: %+v, was %+v", after[i].Name, after[i], before[i])
		}
	}
}

// otherToolsToken checks that another tool's API token gets 403 on every
// jobs route, and that its own tool's token works.
func (b *jobsBundle) otherToolsToken(t *testing.T) {
	t.Helper()
	token := func(tool string) string {
		env, err := b.srv.Client.APITokenCreate(t.Context(), tool, "jobs test")
		if err != nil {
			t.Fatal(err)
		}
		_, secret, err := env.APITokenCreated()
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	other, own := token("other"), token(servertest.Tool)
	routes := []struct{ method, path, body string }{
		{"GET", jobsURL, ""},
		{"POST", jobsURL, `{"name":"x","cmd":"true","imagename":"web"}`},
		{"PATCH", jobsURL, `{"name":"web","cmd":"true","imagename":"web","job_type":"continuous"}`},
		{"DELETE", jobsURL, ""},
		{"GET", jobsURL + "/web", ""},
		{"DELETE", jobsURL + "/web", ""},
		{"GET", jobsURL + "/web/logs", ""},
		{"POST", jobsURL + "/web/restart", ""},
	}
	for _, rt := range routes {
		code, body := b.do(t, rt.method, rt.path, rt.body, other)
		if code != http.StatusForbidden || !strings.Contains(body, `"error":["This credential is for tool 'other'; it cannot act on tool 'demo'."]`) {
			t.Errorf("%s %s with another tool's token: %d %s", rt.method, rt.path, code, body)
		}
	}
	if got := names(b.list(t)); got != "cron,migrate,web" {
		t.Errorf("jobs after the refused requests = %s", got)
	}
	if code, body := b.do(t, "GET", jobsURL+"/web", "", own); code != http.StatusOK {
		t.Errorf("GET web with the tool's own token: %d %s", code, body)
	}
}
