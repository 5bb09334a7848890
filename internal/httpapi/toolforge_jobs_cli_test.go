package httpapi_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

// The requests of Toolforge's jobs CLI, and what it reads of the answers,
// are from toolforge-jobs-framework-cli newer than 16.0.9 (2024),
// tjf_cli/cli.py (the newest stored) with the error handling of
// tjf_cli/api.py handle_http_exception; the client under it is
// toolforge_weld api_client.py ToolforgeClient, which joins the path to
// "<api gateway>/jobs/v1/tool/<tool>" and sends a json= body as
// application/json. The load command's loader module of that version is
// not stored: its calls (a list to compare, then delete and run) are
// cli.py op_load's, _delete_and_wait's and _load_job's.

// tfJobsBase is where Toolforge's jobs CLI sends its requests for the
// test tool (JobsConfig.jobs_endpoint "/jobs/v1", then "/tool/<tool>").
const tfJobsBase = "/jobs/v1/tool/" + servertest.Tool

// tfCall is one request of a command of Toolforge's jobs CLI.
type tfCall struct {
	name string
	// cli says where the CLI sends it and reads the answer: file and
	// function.
	cli          string
	method, path string // path after tfJobsBase, with its query
	body         string
	status       int
	// needs are the fields the CLI reads without a default (a KeyError,
	// or another misreading, without them), as paths: "jobs[].name" is
	// name in every element of jobs. For a JSON lines answer, each line.
	needs []string
	// shows are the fields it reads with a default (dict.get): shown as
	// "Unknown", "none" and the like when absent. For the record only.
	shows []string
	// lines: the answer is JSON lines (a log), each as the CLI parses it.
	lines bool
	// before runs first; after runs once the answer is checked.
	before, after func(t *testing.T, b *jobsBundle)
}

// The job fields `list` and `show` read: job_prepare_for_output (every
// job), op_list's job["name"] (with -o name), and the fields of the long
// table (JOB_TABULATION_HEADERS_LONG).
var (
	tfListNeeds = []string{
		"messages", "jobs[].name", "jobs[].image_state", "jobs[].image",
		// job_prepare_for_dump, on the same answer for `dump`.
		"jobs[].cmd", "jobs[].retry",
	}
	tfJobShows = []string{
		"schedule", "continuous", "retry", "filelog", "health_check", "port", "memory", "cpu",
		"cmd", "filelog_stdout", "filelog_stderr", "emails", "mount", "status_short", "status_long",
	}
	tfShowNeeds = []string{"messages", "job.image_state", "job.image"}
)

// tfCalls are the requests of every command of Toolforge's jobs CLI, in an
// order that tells a story on the demo tool (web, cron, migrate).
var tfCalls = []tfCall{
	{
		name: "Images", cli: "cli.py op_images", method: "GET", path: "/images/", status: 200,
		needs: []string{"messages", "images[].shortname", "images[].image"},
	},
	{
		name: "List", cli: "cli.py _list_jobs, op_list, job_prepare_for_output; op_dump, job_prepare_for_dump", method: "GET", path: "/jobs/", status: 200,
		needs: tfListNeeds, shows: tfJobShows,
	},
	{
		name: "ShowContinuous", cli: "cli.py _show_job, op_show, job_prepare_for_output", method: "GET", path: "/jobs/web", status: 200,
		needs: tfShowNeeds, shows: tfJobShows,
	},
	{
		name: "ShowScheduled", cli: "cli.py _show_job, op_show", method: "GET", path: "/jobs/cron", status: 200,
		needs: tfShowNeeds, shows: tfJobShows,
	},
	{
		name: "ShowOneOff", cli: "cli.py _show_job, op_show", method: "GET", path: "/jobs/migrate", status: 200,
		needs: tfShowNeeds, shows: tfJobShows,
	},
	{
		name: "ShowNotFound", cli: "cli.py _show_job (404: Job 'nope' does not exist); api.py handle_http_exception", method: "GET", path: "/jobs/nope", status: 404,
		needs: []string{"error"},
	},
	{
		name: "Logs", cli: "cli.py op_logs", method: "GET", path: "/jobs/migrate/logs?follow=false", status: 200,
		needs: []string{"datetime", "pod", "message"}, lines: true,
	},
	{
		name: "LogsLast", cli: "cli.py op_logs (-l 1)", method: "GET", path: "/jobs/migrate/logs?follow=false&lines=1", status: 200,
		needs: []string{"datetime", "pod", "message"}, lines: true,
	},
	{
		name: "LogsContinuous", cli: "cli.py op_logs", method: "GET", path: "/jobs/web/logs?follow=false&lines=2", status: 200,
		needs: []string{"datetime", "pod", "message"}, lines: true,
	},
	{
		name: "LogsNone", cli: "cli.py op_logs; api.py handle_http_exception", method: "GET", path: "/jobs/cron/logs?follow=false", status: 404,
		needs: []string{"error"},
	},
	{
		name: "Quota", cli: "cli.py op_quota", method: "GET", path: "/quota/", status: 200,
		needs: []string{"messages", "quota.categories[].name", "quota.categories[].items[].name", "quota.categories[].items[].limit"},
	},
	{
		name: "RunOneOff", cli: "cli.py op_run (one-off, image without \"/\": mount all, filelog true)", method: "POST", path: "/jobs/",
		body:   `{"name": "tfoneoff", "imagename": "web", "cmd": "echo one-off from toolforge", "emails": "none", "retry": 0, "mount": "all", "filelog": true}`,
		status: 201, needs: []string{"messages"},
		after: func(t *testing.T, b *jobsBundle) { b.waitStatusShort(t, "tfoneoff", "Completed") },
	},
	{
		name: "RunWait", cli: "cli.py _wait_for_job (polls until status_short is Completed or Failed)", method: "GET", path: "/jobs/tfoneoff", status: 200,
		needs: []string{"messages", "job.status_short", "job.image_state", "job.image"},
	},
	{
		name: "RunTaken", cli: "cli.py op_run (409: A job with this name already exists)", method: "POST", path: "/jobs/",
		body:   `{"name": "web", "imagename": "web", "cmd": "true", "emails": "none", "retry": 0, "mount": "all", "filelog": true}`,
		status: 409, needs: []string{"error"},
	},
	{
		name: "RunScheduled", cli: "cli.py op_run (--schedule)", method: "POST", path: "/jobs/",
		body:   `{"name": "tfcron", "imagename": "web", "cmd": "echo tick from toolforge", "emails": "none", "retry": 0, "mount": "all", "schedule": "@hourly", "filelog": true}`,
		status: 201, needs: []string{"messages"},
	},
	{
		name: "RunContinuous", cli: "cli.py op_run (--continuous --port 8080)", method: "POST", path: "/jobs/",
		body:   `{"name": "tfweb", "imagename": "web", "cmd": "exec python3 -m http.server $PORT --bind 127.0.0.1", "emails": "none", "retry": 0, "mount": "all", "continuous": true, "port": 8080, "filelog": true}`,
		status: 201, needs: []string{"messages"},
		after: func(t *testing.T, b *jobsBundle) { b.waitShort(t, "tfweb", "running") },
	},
	{
		name: "ShowCreated", cli: "cli.py _show_job, op_show", method: "GET", path: "/jobs/tfweb", status: 200,
		needs: tfShowNeeds, shows: tfJobShows,
	},
	{
		name: "Restart", cli: "cli.py op_restart", method: "POST", path: "/jobs/web/restart", status: 200,
		needs: []string{"messages"},
		after: func(t *testing.T, b *jobsBundle) { b.waitShort(t, "web", "running") },
	},
	{
		name: "RestartNotFound", cli: "cli.py op_restart (404: Job 'nope' does not exist)", method: "POST", path: "/jobs/nope/restart", status: 404,
		needs: []string{"error"},
	},
	// load: the jobs that differ from the file are deleted, waited for
	// (the list until they are gone) and run again.
	{
		name: "LoadList", cli: "cli.py op_load (the loader compares the file with the list)", method: "GET", path: "/jobs/", status: 200,
		needs: tfListNeeds, shows: tfJobShows,
	},
	{
		name: "LoadDelete", cli: "cli.py op_load, _delete_and_wait, op_delete", method: "DELETE", path: "/jobs/tfcron", status: 200,
		needs: []string{"messages"},
	},
	{
		name: "LoadWaitDeleted", cli: "cli.py _delete_and_wait, _list_jobs (until the name is gone)", method: "GET", path: "/jobs/", status: 200,
		needs: []string{"messages", "jobs[].name"},
	},
	{
		name: "LoadRun", cli: "cli.py op_load, _load_job, op_run", method: "POST", path: "/jobs/",
		body:   `{"name": "tfcron", "imagename": "web", "cmd": "echo tock from toolforge", "emails": "none", "retry": 0, "mount": "all", "schedule": "@hourly", "filelog": true}`,
		status: 201, needs: []string{"messages"},
	},
	{
		name: "Dump", cli: "cli.py op_dump, _list_jobs, job_prepare_for_dump", method: "GET", path: "/jobs/", status: 200,
		needs: tfListNeeds, shows: []string{"filelog", "filelog_stdout", "filelog_stderr", "mount", "emails", "port", "memory", "health_check"},
	},
	{
		name: "Delete", cli: "cli.py op_delete", method: "DELETE", path: "/jobs/tfoneoff", status: 200,
		needs: []string{"messages"},
	},
	{
		name: "DeleteNotFound", cli: "cli.py op_delete (404: a warning, job 'nope' does not exist)", method: "DELETE", path: "/jobs/nope", status: 404,
		needs: []string{"error"},
	},
	{
		name: "Flush", cli: "cli.py op_flush", method: "DELETE", path: "/jobs/", status: 200,
		needs: []string{"messages"},
	},
	{
		name: "ListEmpty", cli: "cli.py _list_jobs, op_list", method: "GET", path: "/jobs/", status: 200,
		needs: []string{"messages", "jobs"},
	},
}

// TestToolforgeJobsCLI sends, against a real server with the demo tool
// deployed, the exact requests of every command of Toolforge's jobs CLI
// (method, path with its trailing slash, query, body), checks that each
// answer has every field the CLI reads, and compares it with a golden
// file (testdata/ToolforgeJobs<name>.golden, the volatile parts
// normalised).
func TestToolforgeJobsCLI(t *testing.T) { //nolint:tparallel // the steps build on each other, in order
	t.Parallel()
	b := &jobsBundle{srv: servertest.Start(t)}
	b.waitShort(t, "web", "running")
	b.waitShort(t, "migrate", "succeeded")
	b.waitShort(t, "cron", "pending")
	t.Run("SlashOrNot", func(t *testing.T) { b.slashOrNot(t) })
	for _, c := range tfCalls {
		if !t.Run(c.name, func(t *testing.T) {
			if c.before != nil {
				c.before(t, b)
			}
			code, body := b.do(t, c.method, tfJobsBase+c.path, c.body, "")
			if code != c.status {
				t.Fatalf("%s %s: %d %s, want %d", c.method, c.path, code, body, c.status)
			}
			var answers []any
			if c.lines {
				answers = tfLines(t, body)
			} else {
				var v any
				if err := json.Unmarshal([]byte(body), &v); err != nil {
					t.Fatalf("%s %s: not JSON: %v\n%s", c.method, c.path, err, body)
				}
				answers = []any{v}
			}
			for _, v := range answers {
				for _, need := range c.needs {
					if err := hasPath(v, need); err != nil {
						t.Errorf("%s %s: the CLI (%s) reads %s: %v\n%s", c.method, c.path, c.cli, need, err, body)
					}
				}
			}
			if c.name == "Quota" {
				tfQuotaUsed(t, answers[0])
			}
			header := "# " + c.cli + "\n# reads: " + strings.Join(c.needs, ", ") + "\n"
			if len(c.shows) > 0 {
				header += "# reads with a default: " + strings.Join(c.shows, ", ") + "\n"
			}
			golden := fmt.Sprintf("%s%s %s\n%s\n\n%d\n%s", header, c.method, tfJobsBase+c.path, c.body, code, tfPretty(body, c.lines))
			tfGolden(t, "ToolforgeJobs"+c.name, tfNormalise(golden))
			if c.after != nil {
				c.after(t, b)
			}
		}) {
			return // later steps build on earlier ones
		}
	}
}

// slashOrNot checks that each read-only route answers the same with and
// without the trailing slash (the jobs API registers both).
func (b *jobsBundle) slashOrNot(t *testing.T) {
	t.Helper()
	for _, p := range []string{"/jobs", "/jobs/web", "/jobs/cron?include_unset=false", "/images", "/quota", "/quotas", "/jobs/migrate/logs"} {
		path, query, _ := strings.Cut(p, "?")
		if query != "" {
			query = "?" + query
		}
		code1, body1 := b.do(t, "GET", tfJobsBase+path+query, "", "")
		code2, body2 := b.do(t, "GET", tfJobsBase+path+"/"+query, "", "")
		if code1 != http.StatusOK || code1 != code2 || tfNormalise(body1) != tfNormalise(body2) {
			t.Errorf("GET %s: %d %s\nwith a trailing slash: %d %s", p, code1, body1, code2, body2)
		}
	}
	// And an error: the same too.
	code1, body1 := b.do(t, "DELETE", tfJobsBase+"/jobs/nope", "", "")
	code2, body2 := b.do(t, "DELETE", tfJobsBase+"/jobs/nope/", "", "")
	if code1 != http.StatusNotFound || code1 != code2 || body1 != body2 {
		t.Errorf("DELETE …/jobs/nope: %d %s\nwith a trailing slash: %d %s", code1, body1, code2, body2)
	}
}

// waitStatusShort waits until the job's status_short is short: what
// `toolforge jobs run --wait` polls.
func (b *jobsBundle) waitStatusShort(t *testing.T, name, short string) {
	t.Helper()
	servertest.Eventually(t, func() string {
		code, body := b.do(t, "GET", jobsURL+"/"+name, "", "")
		var v struct {
			Job struct {
				StatusShort string `json:"status_short"`
			} `json:"job"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &v) != nil || v.Job.StatusShort != short {
			return fmt.Sprintf("job %s: %d %s, want status_short %q", name, code, body, short)
		}
		return ""
	})
}

// tfLines splits a log answer as the CLI does (toolforge_weld
// get_raw_lines: requests' iter_lines, Python's str.splitlines) and
// parses each line as JSON, as op_logs does.
func tfLines(t *testing.T, body string) []any {
	t.Helper()
	var out []any
	for _, line := range pySplitLines(body) {
		var v any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Errorf("log line %q: not JSON: %v", line, err)
			continue
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		t.Errorf("no log lines: %q", body)
	}
	return out
}

// pySplitLines splits s as Python's str.splitlines does, at each of its
// line boundaries.
func pySplitLines(s string) []string {
	var out []string
	start := 0
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '\n', '\r', '\v', '\f', '\x1c', '\x1d', '\x1e', '\u0085', '\u2028', '\u2029':
			out = append(out, string(rs[start:i]))
			if rs[i] == '\r' && i+1 < len(rs) && rs[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	if start < len(rs) {
		out = append(out, string(rs[start:]))
	}
	return out
}

// tfQuotaUsed checks what op_quota assumes of each category: items, and
// "used" in all of them or none (has_used is read from the first item).
func tfQuotaUsed(t *testing.T, v any) {
	t.Helper()
	cats, _ := v.(map[string]any)["quota"].(map[string]any)["categories"].([]any)
	for _, c := range cats {
		items, _ := c.(map[string]any)["items"].([]any)
		if len(items) == 0 {
			t.Errorf("quota category %v has no items: the CLI reads the first", c)
			continue
		}
		_, first := items[0].(map[string]any)["used"]
		for _, it := range items {
			used, has := it.(map[string]any)["used"]
			if has != first {
				t.Errorf("quota category %v: used in some items only; the CLI reads it in all when the first has it", c)
			}
			if has && used == nil {
				t.Errorf("quota category %v: used null, which the CLI would print as None", c)
			}
		}
	}
}

// hasPath reports whether v has path: dotted keys, "[]" for every element
// of a list.
func hasPath(v any, path string) error {
	if path == "" {
		return nil
	}
	key, rest, _ := strings.Cut(path, ".")
	each := strings.HasSuffix(key, "[]")
	key = strings.TrimSuffix(key, "[]")
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("not an object where %s is", key)
	}
	child, ok := m[key]
	if !ok {
		return fmt.Errorf("no %s", key)
	}
	if !each {
		return hasPath(child, rest)
	}
	list, ok := child.([]any)
	if !ok {
		return fmt.Errorf("%s is not a list", key)
	}
	for i, el := range list {
		if err := hasPath(el, rest); err != nil {
			return fmt.Errorf("%s[%d]: %w", key, i, err)
		}
	}
	return nil
}

// tfNormalise replaces the volatile parts of s.
func tfNormalise(s string) string { return slipwaytest.Normalise(s) }

// tfPretty indents a JSON answer (each line of a JSON lines one stays a
// line).
func tfPretty(body string, lines bool) string {
	if lines {
		return body
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(body), "", "  "); err != nil {
		return body
	}
	return buf.String()
}

// tfGolden compares got with testdata/name.golden, or rewrites it with
// -update (the flag of the package's internal tests).
func tfGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
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
