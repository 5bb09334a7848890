package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

// jobsURL is the jobs API of the test tool.
const jobsURL = "/jobs/v1/tool/" + servertest.Tool + "/jobs"

// jobsBundle is what the jobs API tests share: a real server with the
// demo tool deployed (web, cron, migrate).
type jobsBundle struct {
	srv *servertest.Server
}

// do sends a request and returns the status and body.
func (b *jobsBundle) do(t *testing.T, method, path, body, token string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, b.srv.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token == "" {
		token = b.srv.AdminToken()
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(got)
}

// job is the part of a job the tests look at.
type job struct {
	Name      string `json:"name"`
	Cmd       string `json:"cmd"`
	JobType   string `json:"job_type"`
	Imagename string `json:"imagename"`
	Replicas  *int   `json:"replicas"`
	Status    struct {
		Short    string   `json:"short"`
		UpToDate bool     `json:"up_to_date"`
		Messages []string `json:"messages"`
	} `json:"status"`
}

func (b *jobsBundle) get(t *testing.T, name string) (job, int) {
	t.Helper()
	code, body := b.do(t, "GET", jobsURL+"/"+name, "", "")
	var v struct {
		Job job `json:"job"`
	}
	if code == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("GET %s: %v\n%s", name, err, body)
		}
	}
	return v.Job, code
}

func (b *jobsBundle) list(t *testing.T) []job {
	t.Helper()
	code, body := b.do(t, "GET", jobsURL, "", "")
	var v struct {
		Jobs []job `json:"jobs"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &v) != nil {
		t.Fatalf("GET jobs: %d %s", code, body)
	}
	return v.Jobs
}

func names(jobs []job) string {
	s := make([]string, len(jobs))
	for i, j := range jobs {
		s[i] = j.Name
	}
	return strings.Join(s, ",")
}

// waitShort waits until the job's status is short.
func (b *jobsBundle) waitShort(t *testing.T, name, short string) {
	t.Helper()
	servertest.Eventually(t, func() string {
		if j, code := b.get(t, name); code != http.StatusOK || j.Status.Short != short {
			return fmt.Sprintf("job %s: HTTP %d, status %q, want %q", name, code, j.Status.Short, short)
		}
		return ""
	})
}

// logs returns the job's logs: the message of each of the JSON lines the
// API sends, a line each.
func (b *jobsBundle) logs(t *testing.T, name string) string {
	t.Helper()
	code, body := b.do(t, "GET", jobsURL+"/"+name+"/logs", "", "")
	if code != http.StatusOK {
		t.Fatalf("logs of %s: %d %s", name, code, body)
	}
	var out strings.Builder
	for line := range strings.Lines(body) {
		var l struct {
			Pod, Container, Datetime, Message *string
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil || l.Pod == nil || l.Container == nil || l.Datetime == nil || l.Message == nil {
			t.Fatalf("logs of %s: not a JSON line with pod, container, datetime and message: %q (%v)", name, line, err)
		}
		if !logDatetimeRE.MatchString(*l.Datetime) || *l.Container != name || !strings.HasPrefix(*l.Pod, name) {
			t.Errorf("logs of %s: %q", name, line)
		}
		out.WriteString(*l.Message + "\n")
	}
	return out.String()
}

// logDatetimeRE is the datetime of a log line: UTC to the second, as
// Toolforge's (Python's isoformat).
var logDatetimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$`)

var startedRE = regexp.MustCompile(`--- started pid (\d+)`)

// pids returns the pids of the "--- started pid N" lines of a log.
func pids(log string) []string {
	var out []string
	for _, m := range startedRE.FindAllStringSubmatch(log, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestJobsAPI drives every jobs route against a real server: real git,
// builds, processes and SQLite.
func TestJobsAPI(t *testing.T) { //nolint:tparallel // the steps build on each other, in order
	t.Parallel()
	b := &jobsBundle{srv: servertest.Start(t)}

	t.Run("ListAndShow", func(t *testing.T) {
		if got := names(b.list(t)); got != "cron,migrate,web" {
			t.Errorf("jobs = %s, want cron,migrate,web", got)
		}
		b.waitShort(t, "web", "running")
		b.waitShort(t, "migrate", "succeeded")
		b.waitShort(t, "cron", "pending")
		web, _ := b.get(t, "web")
		if web.JobType != "continuous" || web.Imagename != "web" || web.Replicas == nil || *web.Replicas != 1 || !web.Status.UpToDate {
			t.Errorf("web = %+v", web)
		}
		code, body := b.do(t, "GET", jobsURL+"/web?include_unset=false", "", "")
		if code != http.StatusOK || strings.Contains(body, `"replicas"`) {
			t.Errorf("include_unset=false: %d %s", code, body)
		}
		cron, _ := b.get(t, "cron")
		if cron.Imagename != "web" || cron.JobType != "scheduled" {
			t.Errorf("cron = %+v", cron)
		}
	})

	t.Run("Quota", func(t *testing.T) {
		code, body := b.do(t, "GET", "/jobs/v1/tool/"+servertest.Tool+"/quotas", "", "")
		if code != http.StatusOK {
			t.Fatalf("GET quotas: %d %s", code, body)
		}
		type item struct {
			Name  string  `json:"name"`
			Limit string  `json:"limit"`
			Used  *string `json:"used"`
		}
		var got struct {
			Quota struct {
				Categories []struct {
					Name  string `json:"name"`
					Items []item `json:"items"`
				} `json:"categories"`
			} `json:"quota"`
			Messages map[string][]string `json:"messages"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("GET quotas: %v\n%s", err, body)
		}
		// The demo tool's live jobs, with the default limits: web (one
		// replica of the default 512Mi and 500m), cron and migrate.
		want := map[string][]string{
			"Running jobs":    {"Replicas of continuous jobs at once 10 1", "Running one-off jobs (ad-hoc and deployments') 15 0", "CPU 4 500m", "Memory 8Gi 512Mi"},
			"Per-job limits":  {"CPU 1 -", "Memory 4Gi -", "CPU when not set 500m -", "Memory when not set 512Mi -"},
			"Job definitions": {"Cron jobs 50 1", "Continuous jobs (including web services) 3 1", "One-off jobs of the config 15 1", "Ad-hoc one-off jobs listed 15 0"},
		}
		var order []string
		for _, c := range got.Quota.Categories {
			order = append(order, c.Name)
			var lines []string
			for _, it := range c.Items {
				used := "-"
				if it.Used != nil {
					used = *it.Used
				}
				lines = append(lines, it.Name+" "+it.Limit+" "+used)
			}
			if w := strings.Join(want[c.Name], "\n"); strings.Join(lines, "\n") != w {
				t.Errorf("%s:\n%s\nwant\n%s", c.Name, strings.Join(lines, "\n"), w)
			}
		}
		if strings.Join(order, ",") != "Running jobs,Per-job limits,Job definitions" || got.Messages["error"] == nil {
			t.Errorf("GET quotas = %s", body)
		}
	})

	t.Run("Logs", func(t *testing.T) {
		if log := b.logs(t, "web"); !strings.Contains(log, "web up") {
			t.Errorf("web logs lack the app's output:\n%s", log)
		}
		if log := b.logs(t, "migrate"); !strings.Contains(log, "migrated") {
			t.Errorf("migrate logs lack the run's output:\n%s", log)
		}
		code, body := b.do(t, "GET", jobsURL+"/web/logs?lines=1", "", "")
		if code != http.StatusOK || strings.Count(strings.TrimSpace(body), "\n") != 0 {
			t.Errorf("lines=1: %d %q", code, body)
		}
		b.followLogs(t)
	})

	t.Run("Restart", func(t *testing.T) {
		before := pids(b.logs(t, "web"))
		code, body := b.do(t, "POST", jobsURL+"/web/restart", "", "")
		if code != http.StatusOK || !strings.Contains(body, "Job web restarted") {
			t.Fatalf("restart: %d %s", code, body)
		}
		servertest.Eventually(t, func() string {
			if after := pids(b.logs(t, "web")); len(after) != len(before)+1 || after[len(after)-1] == before[len(before)-1] {
				return fmt.Sprintf("pids %v after the restart, were %v", after, before)
			}
			return ""
		})
		b.waitShort(t, "web", "running")
		code, body = b.do(t, "POST", jobsURL+"/migrate/restart", "", "")
		if code != http.StatusConflict || !strings.Contains(body, "cannot be restarted") {
			t.Errorf("restart of a one-off: %d %s", code, body)
		}
	})

	t.Run("UpsertSameChangesNothing", func(t *testing.T) {
		before := pids(b.logs(t, "web"))
		for _, name := range []string{"web", "cron", "migrate"} {
			_, body := b.do(t, "GET", jobsURL+"/"+name, "", "")
			var v struct {
				Job json.RawMessage `json:"job"`
			}
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Fatal(err)
			}
			code, body := b.do(t, "PATCH", jobsURL, string(v.Job), "")
			want := `{"job_changed":false,"messages":{"error":[],"info":["Job ` + name + ` is already up to date"],"warning":[]}}`
			if code != http.StatusOK || strings.TrimSpace(body) != want {
				t.Errorf("PATCH %s as it is: %d %s, want %s", name, code, body, want)
			}
		}
		if after := pids(b.logs(t, "web")); len(after) != len(before) {
			t.Errorf("an unchanged upsert restarted web: pids %v, were %v", after, before)
		}
	})

	t.Run("UpsertChangedIsRevertedByDeploy", func(t *testing.T) {
		def := `{"name":"web","cmd":"echo web changed; exec python3 -m http.server $PORT --bind 127.0.0.1","imagename":"web","job_type":"continuous","port":8000}`
		code, body := b.do(t, "PATCH", jobsURL, def, "")
		if code != http.StatusOK || !strings.Contains(body, `"job_changed":true`) || !strings.Contains(body, "Job web was updated in storage and runtime") {
			t.Fatalf("PATCH changed web: %d %s", code, body)
		}
		b.waitShort(t, "web", "running")
		web, _ := b.get(t, "web")
		if web.Status.UpToDate || len(web.Status.Messages) == 0 || !strings.Contains(web.Cmd, "web changed") {
			t.Errorf("web after the change = %+v, want the new cmd and up_to_date false with a message", web)
		}
		servertest.Eventually(t, func() string {
			if !strings.Contains(b.logs(t, "web"), "web changed") {
				return "the changed command did not run"
			}
			return ""
		})
		b.srv.Deploy(t)
		web, _ = b.get(t, "web")
		if !web.Status.UpToDate || strings.Contains(web.Cmd, "web changed") {
			t.Errorf("web after a deployment = %+v, want it back as configured", web)
		}
	})

	t.Run("RunOneOff", func(t *testing.T) {
		code, body := b.do(t, "POST", jobsURL, `{"name":"adhoc","cmd":"echo ad hoc output","imagename":"web"}`, "")
		if code != http.StatusCreated || !strings.Contains(body, `"name":"adhoc"`) {
			t.Fatalf("POST: %d %s", code, body)
		}
		b.waitShort(t, "adhoc", "succeeded")
		if log := b.logs(t, "adhoc"); !strings.Contains(log, "ad hoc output") {
			t.Errorf("adhoc logs:\n%s", log)
		}
		// Finished: the name can be taken again.
		code, body = b.do(t, "POST", jobsURL, `{"name":"adhoc","cmd":"echo again; exit 3","imagename":"web","timeout":30}`, "")
		if code != http.StatusCreated {
			t.Fatalf("POST again: %d %s", code, body)
		}
		b.waitShort(t, "adhoc", "failed")
		for _, name := range []string{"web", "migrate"} {
			code, body = b.do(t, "POST", jobsURL, `{"name":"`+name+`","cmd":"true","imagename":"web"}`, "")
			if code != http.StatusConflict || !strings.Contains(body, "A job with the name "+name+" already exists") {
				t.Errorf("POST %s: %d %s", name, code, body)
			}
		}
		// Simultaneous requests for one name: exactly one starts, the
		// others get 409 (the service serializes the check and the record).
		codes := make(chan int, 5)
		var wg sync.WaitGroup
		for range cap(codes) {
			wg.Go(func() {
				code, _ := b.do(t, "POST", jobsURL, `{"name":"twice","cmd":"sleep 1","imagename":"web"}`, "")
				codes <- code
			})
		}
		wg.Wait()
		close(codes)
		created := 0
		for code := range codes {
			switch code {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
			default:
				t.Errorf("simultaneous POST: %d", code)
			}
		}
		if created != 1 {
			t.Errorf("%d of 5 simultaneous runs of one name started, want 1", created)
		}
		b.waitShort(t, "twice", "succeeded")
		if code, body := b.do(t, "DELETE", jobsURL+"/twice", "", ""); code != http.StatusOK {
			t.Errorf("DELETE twice: %d %s", code, body)
		}

		// A deployment neither runs nor removes it.
		b.srv.Deploy(t)
		if got := names(b.list(t)); got != "adhoc,cron,migrate,web" {
			t.Errorf("jobs after a deployment = %s", got)
		}
	})

	t.Run("DeleteIsUndoneByDeploy", func(t *testing.T) {
		code, body := b.do(t, "DELETE", jobsURL+"/web", "", "")
		if code != http.StatusOK || !strings.Contains(body, "the next deployment starts it again") {
			t.Fatalf("DELETE web: %d %s", code, body)
		}
		if _, code := b.get(t, "web"); code != http.StatusNotFound {
			t.Errorf("GET web after delete: %d", code)
		}
		code, body = b.do(t, "DELETE", jobsURL+"/adhoc", "", "")
		if code != http.StatusOK {
			t.Errorf("DELETE adhoc: %d %s", code, body)
		}
		b.srv.Deploy(t)
		b.waitShort(t, "web", "running")
		if got := names(b.list(t)); got != "cron,migrate,web" {
			t.Errorf("jobs after a deployment = %s", got)
		}
	})

	t.Run("Flush", func(t *testing.T) {
		code, body := b.do(t, "DELETE", jobsURL, "", "")
		if code != http.StatusOK || !strings.Contains(body, "Deleted 3 jobs of demo") {
			t.Fatalf("flush: %d %s", code, body)
		}
		if got := names(b.list(t)); got != "" {
			t.Errorf("jobs after flush = %s", got)
		}
		code, body = b.do(t, "DELETE", jobsURL, "", "")
		if code != http.StatusOK || !strings.Contains(body, "no jobs to delete") {
			t.Errorf("second flush: %d %s", code, body)
		}
		b.srv.Deploy(t)
		if got := names(b.list(t)); got != "cron,migrate,web" {
			t.Errorf("jobs after a deployment = %s", got)
		}
	})

	t.Run("BadInput", func(t *testing.T) { b.badInput(t) })
	t.Run("OtherToolsToken", func(t *testing.T) { b.otherToolsToken(t) })
}

// followLogs reads web's logs with follow=true until a restart's new
// output arrives, then goes away.
func (b *jobsBundle) followLogs(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", b.srv.URL()+jobsURL+"/web/logs?follow=true&lines=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+b.srv.AdminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("follow: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	// A restart appends the new process's output to the log.
	if code, body := b.do(t, "POST", jobsURL+"/web/restart", "", ""); code != http.StatusOK {
		t.Fatalf("restart: %d %s", code, body)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var l struct{ Pod, Message string }
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("followed log line %q: %v", sc.Text(), err)
		}
		if l.Message == "web up" && l.Pod == "web-0" {
			return
		}
	}
	t.Errorf("the followed log ended before the restarted process wrote: %v", sc.Err())
}
