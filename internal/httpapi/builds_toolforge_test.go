package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// Toolforge's builds CLI (toolforge_builds_cli/cli.py and build.py, with
// toolforge_weld's api_client.py) talks to builds-api through Toolforge's
// API gateway, which names the tool in x-toolforge-tool. These are the
// requests each of its commands sends, byte for byte where it matters
// (method, path, query, JSON body as Python's json.dumps writes it), and
// the fields it reads from each answer: a missing one is a KeyError in
// the CLI.

// tfCLIStep is one request of a Toolforge builds CLI command.
type tfCLIStep struct {
	name string // the golden file: testdata/Toolforge<name>.golden
	// cli is the command that sends the request.
	cli                string
	method, path, body string
	status             int
	// reads are the fields the CLI reads from the answer; "x[]" is every
	// element of the list x (which must not be empty). An answer of JSON
	// lines has them read from each line.
	reads []string
	lines bool
}

// Fields each command reads, from cli.py: _format_build indexes these of
// every build (start_time, end_time, parameters.ref, status split on "_",
// message, parameters.source_url, destination_image; envvars and
// use_latest_versions with .get), list and show --json print "messages".
var (
	tfBuildFields = []string{"build_id", "start_time", "end_time", "status", "message", "parameters.ref", "parameters.source_url", "destination_image"}
	tfErrorFields = []string{"error[]"}
)

func tfReads(prefix string, extra ...string) []string {
	out := append([]string{}, extra...)
	for _, f := range tfBuildFields {
		out = append(out, prefix+f)
	}
	return out
}

// TestToolforgeBuildsCLI replays what each command of Toolforge's builds
// CLI sends, in the order a user would type them, and checks every
// answer against a golden file and against the fields the CLI reads.
func TestToolforgeBuildsCLI(t *testing.T) {
	t.Parallel()
	b := setupBuilds(t)
	const base = "/builds/v1/tool/mytool"
	var started string // the build that `build start` started
	steps := []tfCLIStep{
		{
			name: "BuildStart", cli: "toolforge build start https://example.org/app.git --ref main -i web",
			method: "POST", path: base + "/builds", body: startBody, status: 200,
			// build_start: new_build["name"] (to follow its logs) and, with
			// --detach, new_build["parameters"]["source_url"].
			reads: []string{"new_build.name", "new_build.parameters.source_url", "messages"},
		},
		{
			// Without --detach, build_start then follows the new build's log.
			name: "BuildStartFollow", cli: "(toolforge build start, following)",
			method: "GET", path: base + "/builds/{started}/logs?follow=True", status: 200,
			reads: []string{"line"}, lines: true,
		},
		{
			name: "BuildStartEnvvars", cli: "toolforge build start https://example.org/app.git -e NODE_ENV=production -L",
			method: "POST", path: base + "/builds",
			body:   `{"source_url": "https://example.org/app.git", "envvars": {"NODE_ENV": "production"}, "use_latest_versions": true}`,
			status: 422, reads: tfErrorFields,
		},
		{
			name: "BuildList", cli: "toolforge build list --json",
			method: "GET", path: base + "/builds", status: 200, reads: tfReads("builds[].", "messages"),
		},
		{
			name: "BuildShow", cli: "toolforge build show " + builtID + " --json",
			method: "GET", path: base + "/builds/" + builtID, status: 200, reads: tfReads("build.", "messages"),
		},
		{
			name: "BuildShowLatest", cli: "toolforge build show",
			method: "GET", path: base + "/builds/latest", status: 200, reads: tfReads("build.", "messages"),
		},
		{
			name: "BuildShowNotFound", cli: "toolforge build show ffffffffffffffff",
			method: "GET", path: base + "/builds/ffffffffffffffff", status: 404, reads: tfErrorFields,
		},
		{
			// build_logs without an ID: the latest build's build_id first.
			name: "BuildLogsLatest", cli: "toolforge build logs",
			method: "GET", path: base + "/builds/latest", status: 200, reads: []string{"build.build_id"},
		},
		{
			name: "BuildLogs", cli: "toolforge build logs " + builtID,
			method: "GET", path: base + "/builds/" + builtID + "/logs?follow=False", status: 200,
			reads: []string{"line"}, lines: true,
		},
		{
			name: "BuildLogsFollow", cli: "toolforge build logs -f " + builtID,
			method: "GET", path: base + "/builds/" + builtID + "/logs?follow=True", status: 200,
			reads: []string{"line"}, lines: true,
		},
		{
			name: "BuildLogsNotFound", cli: "toolforge build logs ffffffffffffffff",
			method: "GET", path: base + "/builds/ffffffffffffffff/logs?follow=False", status: 404, reads: tfErrorFields,
		},
		{
			name: "BuildCancel", cli: "toolforge build cancel -y " + runningID,
			method: "PUT", path: base + "/builds/" + runningID + "/cancel", status: 200, reads: []string{"id"},
		},
		{
			name: "BuildCancelFinal", cli: "toolforge build cancel -y " + builtID,
			method: "PUT", path: base + "/builds/" + builtID + "/cancel", status: 409, reads: tfErrorFields,
		},
		{
			name: "BuildDelete", cli: "toolforge build delete -y " + failedID,
			method: "DELETE", path: base + "/builds/" + failedID, status: 200, reads: []string{"id"},
		},
		{
			name: "BuildDeleteNotFound", cli: "toolforge build delete -y ffffffffffffffff",
			method: "DELETE", path: base + "/builds/ffffffffffffffff", status: 404, reads: tfErrorFields,
		},
		{
			// build_delete --all lists first, then deletes each build_id.
			name: "BuildDeleteAllList", cli: "toolforge build delete --all -y",
			method: "GET", path: base + "/builds", status: 200, reads: []string{"builds[].build_id"},
		},
		{
			// build_quota prints every field of each item.
			name: "BuildQuota", cli: "toolforge build quota",
			method: "GET", path: base + "/quotas", status: 200,
			reads: []string{"quota.categories[].name", "quota.categories[].items[].name", "messages"},
		},
	}
	for _, st := range steps {
		st.path = strings.ReplaceAll(st.path, "{started}", started)
		r := httptest.NewRequestWithContext(t.Context(), st.method, st.path, strings.NewReader(st.body))
		r.RemoteAddr = proxyAddr // the gateway
		r.Header.Set("X-Toolforge-Tool", "mytool")
		r.Header.Set("User-Agent", "tool-mytool@tools-bastion-13:builds-cli toolforge-weld")
		r.Header.Set("Accept", "*/*")
		if st.body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		b.handler.ServeHTTP(w, r)
		if w.Code != st.status {
			t.Errorf("%s: %s %s: %d %s, want %d", st.cli, st.method, st.path, w.Code, w.Body, st.status)
		}
		var docs []any
		if st.lines && w.Code == 200 {
			sc := bufio.NewScanner(bytes.NewReader(w.Body.Bytes()))
			for sc.Scan() {
				var v any
				if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
					t.Fatalf("%s: line %q: %v", st.cli, sc.Text(), err)
				}
				// build_logs raises a line's "message" as an error.
				if m, ok := v.(map[string]any); ok && m["message"] != nil {
					t.Errorf("%s: line %q has a message", st.cli, sc.Text())
				}
				docs = append(docs, v)
			}
			if len(docs) == 0 {
				t.Errorf("%s: no log lines", st.cli)
			}
		} else {
			var v any
			if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
				t.Fatalf("%s: the answer is not JSON: %v %s", st.cli, err, w.Body)
			}
			docs = append(docs, v)
		}
		for _, doc := range docs {
			for _, path := range st.reads {
				if err := tfRead(doc, path); err != nil {
					t.Errorf("%s: the CLI reads %s: %v", st.cli, path, err)
				}
			}
		}
		// A build's log says how long it took: not the same twice.
		body := tfDurationRE.ReplaceAll(w.Body.Bytes(), []byte("after <duration>"))
		// A started build is an attempt of its own, with a random ID.
		body = attemptRE.ReplaceAll(body, []byte("$1-<attempt>"))
		golden(t, "Toolforge"+st.name, fmt.Appendf(nil, "$ %s\n> %s %s\n> %s\n< HTTP %d %s\n%s",
			st.cli, st.method, attemptRE.ReplaceAllString(st.path, "$1-<attempt>"), st.body, w.Code, w.Header().Get("Content-Type"), body))
		if st.name == "BuildStart" {
			var v struct {
				NewBuild struct {
					Name string `json:"name"`
				} `json:"new_build"`
			}
			_ = json.Unmarshal(w.Body.Bytes(), &v)
			started = v.NewBuild.Name
			// It ends soon, failed: this bundle's checkouts fail.
			b.waitFinal(t, "mytool", started)
		}
	}
	if started == "" {
		t.Fatal("build start started nothing")
	}
}

// tfDurationRE matches the duration in a build log's last line.
// attemptRE matches a build attempt's ID: its key and a random suffix.
var attemptRE = regexp.MustCompile(`\b([0-9a-f]{16})-[0-9a-f]{8}\b`)

var tfDurationRE = regexp.MustCompile(`after [0-9.]+(ns|µs|ms|s|m[0-9.]+s)\b`)

// tfStatusRE is a status the builds CLI can show: it lower-cases what
// follows the "_".
var tfStatusRE = regexp.MustCompile(`^BUILD_[A-Z]+$`)

// tfRead returns an error unless doc has the field at path, read as the
// builds CLI reads it.
func tfRead(doc any, path string) error {
	key, rest, _ := strings.Cut(path, ".")
	name, each := strings.CutSuffix(key, "[]")
	m, ok := doc.(map[string]any)
	if !ok {
		return fmt.Errorf("%q: not an object but %T", name, doc)
	}
	v, ok := m[name]
	if !ok {
		return fmt.Errorf("no %q", name)
	}
	if name == "status" {
		if s, _ := v.(string); !tfStatusRE.MatchString(s) {
			return fmt.Errorf("status %q is not BUILD_*", v)
		}
	}
	if each {
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			return fmt.Errorf("%q is not a list with elements: %v", name, v)
		}
		if rest == "" {
			return nil
		}
		for i, el := range list {
			if err := tfRead(el, rest); err != nil {
				return fmt.Errorf("%s[%d]: %w", name, i, err)
			}
		}
		return nil
	}
	if rest == "" {
		return nil
	}
	if err := tfRead(v, rest); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
