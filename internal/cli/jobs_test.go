package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipwaytest"
	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

// normalise replaces the volatile parts of s.
func normalise(s string) string { return slipwaytest.Normalise(s) }

// jobsRun runs the CLI against srv as tool demo with the admin token.
func jobsRun(t *testing.T, srv *servertest.Server, ctx context.Context, stdin string, args ...string) string {
	t.Helper()
	vars := map[string]string{"SLIPWAY_URL": srv.URL(), "SLIPWAY_TOKEN": srv.AdminToken(), "SLIPWAY_TOOL": servertest.Tool, "HOME": t.TempDir()}
	var stdout, stderr bytes.Buffer
	code := Main(ctx, args, func(k string) string { return vars[k] }, strings.NewReader(stdin), &stdout, &stderr)
	return fmt.Sprintf("$ slipway %s\nexit %d\n-- stdout --\n%s-- stderr --\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
}

// waitJobs waits until the demo tool's jobs have settled: web running,
// migrate succeeded, cron waiting for its first run.
func waitJobs(t *testing.T, srv *servertest.Server) {
	t.Helper()
	servertest.Eventually(t, func() string {
		env, err := srv.Client.JobList(t.Context(), servertest.Tool, true)
		if err != nil {
			return err.Error()
		}
		jobs, err := env.Jobs()
		if err != nil {
			return err.Error()
		}
		var got []string
		for _, j := range jobs {
			got = append(got, j.Name+"="+string(j.Status.Short))
		}
		if s := strings.Join(got, " "); s != "cron=pending migrate=succeeded web=running" {
			return "jobs: " + s
		}
		return ""
	})
}

// TestJobsCommands runs every jobs command, plain and --json, against a
// real server with the demo tool deployed, in an order that tells a story
// (list, show, logs, restart, dump and load, run, delete, flush), and
// compares exit status, stdout and stderr with golden files, the volatile
// parts (times, ids, pids, durations) normalised.
func TestJobsCommands(t *testing.T) { //nolint:tparallel // the steps build on each other, in order
	t.Parallel()
	srv := servertest.Start(t)
	waitJobs(t, srv)
	t.Run("OneJSONShape", func(t *testing.T) { oneJobJSONShape(t, srv) })
	dir := t.TempDir()
	dump := filepath.Join(dir, "jobs.yaml")
	edited := filepath.Join(dir, "edited.yaml")
	bad := filepath.Join(dir, "bad.yaml")

	steps := []struct {
		name  string
		args  []string
		stdin string
		// before runs first, e.g. to write a file.
		before func(t *testing.T)
		// follow ends the command after a moment, as an interrupt would.
		follow bool
	}{
		{name: "List", args: []string{"jobs", "list"}},
		{name: "Quota", args: []string{"jobs", "quota"}},
		{name: "QuotaJSON", args: []string{"jobs", "quota", "--json"}},
		{name: "ListJSON", args: []string{"jobs", "list", "--json"}},
		{name: "ListLong", args: []string{"jobs", "list", "-o", "long"}},
		{name: "ListBadOutput", args: []string{"jobs", "list", "-o", "wide"}},
		{name: "Show", args: []string{"jobs", "show", "web"}},
		{name: "ShowJSON", args: []string{"jobs", "show", "web", "--json"}},
		{name: "ShowScheduled", args: []string{"jobs", "show", "cron"}},
		{name: "ShowOneOff", args: []string{"jobs", "show", "migrate"}},
		{name: "ShowNotFound", args: []string{"jobs", "show", "nope"}},
		{name: "ShowBadName", args: []string{"jobs", "show", "No_Such"}},
		{name: "Logs", args: []string{"jobs", "logs", "migrate"}},
		{name: "LogsJSON", args: []string{"jobs", "logs", "migrate", "--json"}},
		{name: "LogsLast", args: []string{"jobs", "logs", "migrate", "-l", "1"}},
		{name: "LogsFollow", args: []string{"jobs", "logs", "migrate", "-f"}, follow: true},
		{name: "LogsNotFound", args: []string{"jobs", "logs", "nope"}},
		{name: "Restart", args: []string{"jobs", "restart", "web"}},
		{name: "RestartJSON", args: []string{"jobs", "restart", "cron", "--json"}},
		{name: "RestartOneOff", args: []string{"jobs", "restart", "migrate"}},
		{name: "Dump", args: []string{"jobs", "dump"}},
		{name: "DumpJSON", args: []string{"jobs", "dump", "--json"}},
		{name: "DumpFile", args: []string{"jobs", "dump", "-f", dump}},
		{name: "Load", args: []string{"jobs", "load", dump}},
		{name: "LoadJSON", args: []string{"jobs", "load", dump, "--json"}},
		{name: "LoadEdited", args: []string{"jobs", "load", edited}, before: func(t *testing.T) {
			b, err := os.ReadFile(dump)
			if err != nil {
				t.Fatal(err)
			}
			s := strings.Replace(string(b), "command: echo tick", "command: echo tock", 1)
			writeFile(t, edited, s)
		}},
		{name: "ShowDrifted", args: []string{"jobs", "show", "cron"}},
		{name: "LoadOnly", args: []string{"jobs", "load", edited, "--job", "web"}},
		{name: "LoadOnlyMissing", args: []string{"jobs", "load", edited, "--job", "nope"}},
		{name: "LoadBad", args: []string{"jobs", "load", bad}, before: func(t *testing.T) {
			writeFile(t, bad, "- name: web\n  command: x\n  image: web\n  continuous: true\n  port: 70000\n- name: extra\n  command: sleep 1\n  image: nope\n  colour: blue\n- name: migrate\n  command: echo migrated\n  image: web\n  timeout: 60\n")
		}},
		{name: "LoadBadJSON", args: []string{"jobs", "load", bad, "--json"}},
		{name: "LoadMissingFile", args: []string{"jobs", "load", bad + "x"}},
		{name: "LoadNotAList", args: []string{"jobs", "load", bad}, before: func(t *testing.T) { writeFile(t, bad, "name: web\ncommand: x\n") }},
		{name: "Run", args: []string{"jobs", "run", "adhoc", "--command", "echo ad hoc", "--image", "web", "--wait"}},
		{name: "RunLogs", args: []string{"jobs", "logs", "adhoc"}},
		{name: "RunJSON", args: []string{"jobs", "run", "adhoc2", "--command", "echo two", "--image", "web", "--wait", "--json"}},
		{name: "RunNoWait", args: []string{"jobs", "run", "adhoc3", "--command", "true", "--image", "web"}},
		{name: "RunFailed", args: []string{"jobs", "run", "adhoc", "--command", "echo failing; exit 3", "--image", "web", "--wait=60"}},
		{name: "RunTaken", args: []string{"jobs", "run", "web", "--command", "true", "--image", "web"}},
		{name: "RunNoImage", args: []string{"jobs", "run", "x", "--command", "true"}},
		{name: "RunUnknownImage", args: []string{"jobs", "run", "x", "--command", "true", "--image", "nope"}},
		{name: "Delete", args: []string{"jobs", "delete", "adhoc"}},
		{name: "DeleteJSON", args: []string{"jobs", "delete", "adhoc2", "--json"}},
		{name: "DeleteComponent", args: []string{"jobs", "delete", "web"}},
		{name: "DeleteNotFound", args: []string{"jobs", "delete", "web"}},
		{name: "FlushPromptNo", args: []string{"jobs", "flush"}, stdin: "n\n"},
		{name: "Flush", args: []string{"jobs", "flush"}, stdin: "y\n"},
		{name: "FlushJSON", args: []string{"jobs", "flush", "--yes-im-sure", "--json"}},
		{name: "ListEmpty", args: []string{"jobs", "list"}},
		{name: "ListEmptyJSON", args: []string{"jobs", "list", "--json"}},
	}
	for _, st := range steps {
		if !t.Run(st.name, func(t *testing.T) {
			if st.before != nil {
				st.before(t)
			}
			if st.name == "RunFailed" || st.name == "Run" {
				// An earlier adhoc must have finished to be replaced.
				waitFinished(t, srv, "adhoc")
			}
			ctx := t.Context()
			if st.follow {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
			}
			got := jobsRun(t, srv, ctx, st.stdin, st.args...)
			got = strings.ReplaceAll(got, dir, "<dir>")
			golden(t, "Jobs"+st.name, normalise(got))
		}) {
			return // later steps build on earlier ones
		}
		if st.name == "Restart" || st.name == "RestartJSON" {
			waitJobs(t, srv)
		}
	}
}

// waitFinished waits until an ad-hoc job, if it exists, has finished.
func waitFinished(t *testing.T, srv *servertest.Server, name string) {
	t.Helper()
	servertest.Eventually(t, func() string {
		env, err := srv.Client.JobGet(t.Context(), servertest.Tool, name, true)
		if err != nil {
			return "" // none: nothing to wait for
		}
		j, err := env.Job()
		if err != nil {
			return err.Error()
		}
		if s := j.Status.Short; s != "succeeded" && s != "failed" {
			return fmt.Sprintf("job %s is %s", name, s)
		}
		return ""
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// oneJobJSONShape checks that `jobs list --json` is the list of what
// `jobs show NAME --json` prints for each job: one --json shape per kind
// of answer.
func oneJobJSONShape(t *testing.T, srv *servertest.Server) {
	t.Helper()
	vars := map[string]string{"SLIPWAY_URL": srv.URL(), "SLIPWAY_TOKEN": srv.AdminToken(), "SLIPWAY_TOOL": servertest.Tool, "HOME": t.TempDir()}
	stdout := func(args ...string) []byte {
		var out, errOut bytes.Buffer
		if code := Main(t.Context(), args, func(k string) string { return vars[k] }, strings.NewReader(""), &out, &errOut); code != 0 {
			t.Fatalf("slipway %s: exit %d\n%s", strings.Join(args, " "), code, errOut.String())
		}
		return out.Bytes()
	}
	var list []json.RawMessage
	if err := json.Unmarshal(stdout("jobs", "list", "--json"), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("jobs list --json: %d jobs, want 3", len(list))
	}
	for _, raw := range list {
		var j struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			t.Fatal(err)
		}
		var inList, shown bytes.Buffer
		if err := json.Indent(&inList, raw, "", "  "); err != nil {
			t.Fatal(err)
		}
		if err := json.Indent(&shown, stdout("jobs", "show", j.Name, "--json"), "", "  "); err != nil {
			t.Fatal(err)
		}
		if a, b := normalise(inList.String()), normalise(strings.TrimSpace(shown.String())); a != b {
			t.Errorf("job %s in jobs list --json:\n%s\njobs show %s --json:\n%s", j.Name, a, j.Name, b)
		}
	}
}
