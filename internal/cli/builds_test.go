package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Builds of the fake builds API: "mytool" has a running, a failed and a
// successful one; "other" none.
const (
	builtID       = "0a1b2c3d4e5f6071"
	failedBuild   = "2c3d4e5f60718293"
	runningBuild  = "1b2c3d4e5f607182"
	brokenBuild   = "4d5e6f7081929304" // its log breaks off with an error
	builtJSON     = `{"build_id":"` + builtID + `","commit":"9b0d44e1c0ffee","component":"web","destination_image":"builds/` + builtID + `","end_time":"2026-11-22T13:02:01Z","error":"","key":"` + builtID + `","message":"Built web","parameters":{"envvars":{},"image_name":"web","ref":"main","source_url":"https://example.org/app.git"},"resolved_ref":"9b0d44e1c0ffee","start_time":"2026-11-22T13:01:49Z","status":"BUILD_SUCCESS"}`
	failedJSON    = `{"build_id":"` + failedBuild + `","commit":"3f2a1c7d00d","component":"api","destination_image":"","end_time":"2026-11-22T13:03:01Z","error":"build: exit status 1\nnpm ERR! missing script: build","key":"` + failedBuild + `","message":"Build failed: build: exit status 1","parameters":{"envvars":{},"image_name":"api","ref":"v1.2","source_url":"https://example.org/api.git"},"resolved_ref":"3f2a1c7d00d","start_time":"2026-11-22T13:02:49Z","status":"BUILD_FAILURE"}`
	runningJSON   = `{"build_id":"` + runningBuild + `","commit":"9b0d44e1c0ffee","component":"web","destination_image":"","end_time":"","error":"","key":"` + runningBuild + `","message":"Building web","parameters":{"envvars":{},"image_name":"web","ref":"main","source_url":"https://example.org/app.git"},"resolved_ref":"9b0d44e1c0ffee","start_time":"2026-11-22T13:03:49Z","status":"BUILD_RUNNING"}`
	cancelledJSON = `{"build_id":"` + runningBuild + `","commit":"9b0d44e1c0ffee","component":"web","destination_image":"","end_time":"2026-11-22T13:04:00Z","error":"build cancelled by request","key":"` + runningBuild + `","message":"Build cancelled: build cancelled by request","parameters":{"envvars":{},"image_name":"web","ref":"main","source_url":"https://example.org/app.git"},"resolved_ref":"9b0d44e1c0ffee","start_time":"2026-11-22T13:03:49Z","status":"BUILD_CANCELLED"}`
	buildLog      = "==> slipway localbuild/1\n==> checkout 9b0d44e\nstack: static <html>\n==> built " + builtID + " in 12ms"
)

// buildsErr is an error answer of the builds API: the messages, and the
// same list again as error (where Toolforge's builds CLI reads it).
func buildsErr(msg string) string {
	m := jsonString(msg)
	return `{"messages":{"error":[` + m + `],"info":[],"warning":[]},"error":[` + m + `]}`
}

// logLines is text as the builds API sends a log: each line as
// {"line": …}.
func logLines(text string) string {
	var b strings.Builder
	for l := range strings.SplitSeq(text, "\n") {
		b.WriteString(`{"line":` + jsonString(l) + "}\n")
	}
	return b.String()
}

// fakeBuilds serves canned builds API answers (Toolforge's builds-api
// shapes: no data wrapper) and records the requests.
type fakeBuilds struct {
	mu     sync.Mutex
	reqs   []string // "METHOD path?query"
	bodies []string
}

func (f *fakeBuilds) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, r.Method+" "+r.URL.RequestURI())
	f.bodies = append(f.bodies, string(body))
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer tok" {
		reply(w, 401, buildsErr("Authentication required"))
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/builds/v1/tool/"), "/")
	tool, rest := parts[0], strings.Join(parts[1:], "/")
	notFound := func(id string) {
		reply(w, 404, buildsErr("Build "+id+" not found for tool "+tool))
	}
	if tool == "other" && rest != "builds" {
		if rest == "builds/latest" {
			reply(w, 404, buildsErr("No builds exist yet."))
			return
		}
		notFound(strings.Split(strings.TrimPrefix(rest, "builds/"), "/")[0])
		return
	}
	logs := func(text string) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if r.URL.Query().Get("lines") == "1" {
			text = text[strings.LastIndexByte(text, '\n')+1:]
		}
		_, _ = io.WriteString(w, logLines(text))
	}
	switch r.Method + " " + rest {
	case "GET builds":
		if tool == "other" {
			reply(w, 200, `{"builds":[],`+msgs+`}`)
			return
		}
		reply(w, 200, `{"builds":[`+runningJSON+`,`+failedJSON+`,`+builtJSON+`],`+msgs+`}`)
	case "POST builds":
		var req struct {
			SourceURL string `json:"source_url"`
			Ref       string `json:"ref"`
		}
		_ = json.Unmarshal(body, &req)
		id := builtID
		switch req.SourceURL {
		case "https://example.org/app.git":
		case "https://example.org/api.git":
			id = failedBuild
		default:
			reply(w, 422, buildsErr("Failed to resolve ref HEAD, maybe the repository "+req.SourceURL+" is not public? Error: repository not found"))
			return
		}
		reply(w, 200, `{"messages":{"error":[],"info":["Build `+id+` of main (9b0d44e) started."],"warning":[]},"new_build":{"name":"`+id+`","parameters":{"envvars":{},"image_name":"web","ref":"main","source_url":"`+req.SourceURL+`","use_deprecated_versions":false,"use_latest_versions":false},"resolved_ref":"9b0d44e1c0ffee"}}`)
	case "GET quotas":
		reply(w, 200, `{"messages":{"error":[],"info":[],"warning":[]},"quota":{"categories":[{"items":[{"limit":"4","name":"Builds pending or running (starting another is refused at the limit)","used":"1"},{"limit":"2","name":"Builds running at once (more wait for a slot)","used":"1"}],"name":"Builds"}]}}`)
	case "GET builds/latest", "GET builds/" + runningBuild:
		reply(w, 200, `{"build":`+runningJSON+`,`+msgs+`}`)
	case "GET builds/" + builtID:
		reply(w, 200, `{"build":`+builtJSON+`,`+msgs+`}`)
	case "GET builds/" + failedBuild:
		reply(w, 200, `{"build":`+failedJSON+`,`+msgs+`}`)
	case "GET builds/" + builtID + "/logs":
		logs(buildLog)
	case "GET builds/" + runningBuild + "/logs":
		logs("==> slipway localbuild/1\n==> checkout 9b0d44e")
	case "GET builds/" + failedBuild + "/logs":
		logs("==> checkout 3f2a1c7\nnpm ERR! missing script: build\n==> build failed")
	case "GET builds/" + brokenBuild + "/logs":
		// The log broke off: builds-api's error line.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, logLines("==> checkout 3f2a1c7")+`{"error":["Internal error."],"message":"Internal error."}`+"\n")
	case "PUT builds/" + runningBuild + "/cancel":
		reply(w, 200, `{"build":`+cancelledJSON+`,"id":"`+runningBuild+`","messages":{"error":[],"info":["Build `+runningBuild+` cancelled."],"warning":[]}}`)
	case "PUT builds/" + builtID + "/cancel":
		reply(w, 409, buildsErr("Build "+builtID+" cannot be cancelled because it has already completed (its status is successful)"))
	case "DELETE builds/" + failedBuild:
		reply(w, 200, `{"build":`+failedJSON+`,"id":"`+failedBuild+`","messages":{"error":[],"info":["Build `+failedBuild+` deleted successfully.","Its artifact and log were removed."],"warning":[]}}`)
	case "DELETE builds/" + builtID:
		reply(w, 409, buildsErr("Build "+builtID+" is what component web runs now: deploy another build of it (or remove the component) before deleting this one."))
	case "GET builds/bad id", "GET builds/bad id/logs", "PUT builds/bad id/cancel":
		reply(w, 422, buildsErr("Invalid build ID \"bad id\": a build ID is up to 128 letters, digits, '.', '_' or '-' (see `slipway builds list`)."))
	default:
		notFound(strings.Split(strings.TrimPrefix(rest, "builds/"), "/")[0])
	}
}

// TestBuildsCommands runs every builds command, plain and --json, against
// canned answers, and compares exit status, stdout and stderr with golden
// files.
func TestBuildsCommands(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		stdin string
		// wantReq, when set, must be among the requests the server saw.
		wantReq string
		// readOnly: nothing but GETs may be sent.
		readOnly bool
		// wantBody, when set, must be among the request bodies.
		wantBody string
	}{
		{name: "BuildsList", args: []string{"builds", "list"}, wantReq: "GET /builds/v1/tool/mytool/builds"},
		{name: "BuildsListJSON", args: []string{"builds", "list", "--json"}},
		{name: "BuildsListEmpty", args: []string{"--tool", "other", "builds", "list"}},
		{name: "BuildsShow", args: []string{"builds", "show", builtID}, wantReq: "GET /builds/v1/tool/mytool/builds/" + builtID},
		{name: "BuildsShowFailed", args: []string{"builds", "show", failedBuild}},
		{name: "BuildsShowJSON", args: []string{"builds", "show", runningBuild, "--json"}},
		{name: "BuildsShowNotFound", args: []string{"builds", "show", "ffffffffffffffff"}},
		{name: "BuildsShowBadID", args: []string{"builds", "show", "bad id"}, wantReq: "GET /builds/v1/tool/mytool/builds/bad%20id"},
		{name: "BuildsShowLatest", args: []string{"builds", "show"}, wantReq: "GET /builds/v1/tool/mytool/builds/latest"},
		{name: "BuildsShowLatestNone", args: []string{"--tool", "other", "builds", "show"}},
		{name: "BuildsLogs", args: []string{"builds", "logs", builtID}, wantReq: "GET /builds/v1/tool/mytool/builds/" + builtID + "/logs"},
		{name: "BuildsLogsFollow", args: []string{"builds", "logs", "-f", builtID}, wantReq: "GET /builds/v1/tool/mytool/builds/" + builtID + "/logs?follow=true"},
		{name: "BuildsLogsJSON", args: []string{"--json", "builds", "logs", builtID}},
		{name: "BuildsLogsLast", args: []string{"builds", "logs", "-l", "1", builtID}, wantReq: "GET /builds/v1/tool/mytool/builds/" + builtID + "/logs?lines=1"},
		{name: "BuildsLogsLatest", args: []string{"builds", "logs"}, wantReq: "GET /builds/v1/tool/mytool/builds/" + runningBuild + "/logs"},
		{name: "BuildsLogsBrokeOff", args: []string{"builds", "logs", brokenBuild}},
		{name: "BuildsLogsBadLast", args: []string{"builds", "logs", "--last", "-1", builtID}, readOnly: true},
		{name: "BuildsLogsNotFound", args: []string{"builds", "logs", "ffffffffffffffff"}},
		{name: "BuildsLogsBadID", args: []string{"builds", "logs", "bad id"}},
		{
			name: "BuildsStart", args: []string{"builds", "start", "https://example.org/app.git", "--ref", "main", "-i", "web"},
			wantReq: "POST /builds/v1/tool/mytool/builds", wantBody: `{"image_name":"web","ref":"main","source_url":"https://example.org/app.git"}`,
		},
		{name: "BuildsStartFailed", args: []string{"builds", "start", "https://example.org/api.git"}, wantReq: "GET /builds/v1/tool/mytool/builds/" + failedBuild},
		{
			name: "BuildsStartDetach", args: []string{"builds", "start", "https://example.org/app.git", "-L", "--detach"},
			wantBody: `{"source_url":"https://example.org/app.git","use_latest_versions":true}`,
		},
		{name: "BuildsStartJSON", args: []string{"--json", "builds", "start", "https://example.org/app.git"}},
		{name: "BuildsStartUnknownRepo", args: []string{"builds", "start", "https://example.org/nope.git"}},
		{name: "BuildsStartNoURL", args: []string{"builds", "start"}, readOnly: true},
		{name: "BuildsQuota", args: []string{"builds", "quota"}, wantReq: "GET /builds/v1/tool/mytool/quotas"},
		{name: "BuildsQuotaJSON", args: []string{"--json", "builds", "quota"}},
		{name: "BuildsCancel", args: []string{"builds", "cancel", runningBuild}, wantReq: "PUT /builds/v1/tool/mytool/builds/" + runningBuild + "/cancel"},
		{name: "BuildsCancelJSON", args: []string{"builds", "cancel", runningBuild, "--json"}},
		{name: "BuildsCancelFinal", args: []string{"builds", "cancel", builtID}},
		{name: "BuildsCancelNotFound", args: []string{"--tool", "other", "builds", "cancel", builtID}},
		{name: "BuildsDeleteSure", args: []string{"builds", "delete", failedBuild, "--yes-im-sure"}, wantReq: "DELETE /builds/v1/tool/mytool/builds/" + failedBuild},
		{name: "BuildsDeleteSureJSON", args: []string{"--json", "builds", "delete", failedBuild, "--yes-im-sure"}},
		{name: "BuildsDeletePromptYes", args: []string{"builds", "delete", failedBuild}, stdin: "y\n", wantReq: "DELETE /builds/v1/tool/mytool/builds/" + failedBuild},
		{name: "BuildsDeletePromptNo", args: []string{"builds", "delete", failedBuild}, stdin: "n\n", readOnly: true},
		{name: "BuildsDeleteInUse", args: []string{"builds", "delete", builtID, "--yes-im-sure"}},
		{name: "BuildsDeleteNotFound", args: []string{"builds", "delete", "ffffffffffffffff", "--yes-im-sure"}, readOnly: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := &fakeBuilds{}
			srv := httptest.NewServer(fs)
			defer srv.Close()
			res := run(t, srv.URL, tt.stdin, tt.args...)
			golden(t, tt.name, fmt.Sprintf("$ slipway %s\nexit %d\n-- stdout --\n%s-- stderr --\n%s", strings.Join(tt.args, " "), res.code, res.stdout, res.stderr))
			fs.mu.Lock()
			defer fs.mu.Unlock()
			if tt.wantReq != "" && !slices.Contains(fs.reqs, tt.wantReq) {
				t.Errorf("requests %q lack %q", fs.reqs, tt.wantReq)
			}
			if tt.wantBody != "" && !slices.Contains(fs.bodies, tt.wantBody) {
				t.Errorf("request bodies %q lack %q", fs.bodies, tt.wantBody)
			}
			if tt.readOnly {
				for _, r := range fs.reqs {
					if !strings.HasPrefix(r, "GET ") {
						t.Errorf("sent %q", r)
					}
				}
			}
		})
	}
}
