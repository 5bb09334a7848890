package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/logfile"
	"slipway.dev/slipway/internal/slipway"
)

// JobsService is what the /jobs routes need: Toolforge's jobs API over
// what Slipway runs. internal/deploy implements it. Errors are
// [*slipway.Error] values as for [Service]; ENotFound "Job X not found for
// tool Y" for an unknown job.
type JobsService interface {
	// JobList returns the tool's jobs by name.
	JobList(ctx context.Context, tool string) ([]slipway.Job, error)
	// JobGet returns one job.
	JobGet(ctx context.Context, tool, name string) (slipway.Job, error)
	// JobLogs writes a job's logs to w (the last lines when lines > 0),
	// and with follow what is appended until ctx ends.
	JobLogs(ctx context.Context, tool, name string, follow bool, lines int, w io.Writer) error
	// JobRestart restarts a job's current generation and says what it did;
	// EConflict for a one-off job.
	JobRestart(ctx context.Context, tool, name string) (string, error)
	// JobDelete stops a job and forgets it, and says so.
	JobDelete(ctx context.Context, tool, name string) (string, error)
	// JobFlush deletes every job of the tool, and says so.
	JobFlush(ctx context.Context, tool string) (string, error)
	// JobRunStart starts an ad-hoc one-off job (Name, Command, ImageName,
	// Timeout) and returns it; EConflict when the name is taken.
	JobRunStart(ctx context.Context, tool string, r slipway.JobRun) (slipway.Job, error)
	// JobUpsert makes a job be def and says what it did; changed is false
	// when it already was.
	JobUpsert(ctx context.Context, tool string, def slipway.Job) (changed bool, msg string, err error)
	// JobQuota returns the tool's limits and what it uses of them.
	JobQuota(ctx context.Context, tool string) ([]slipway.QuotaCategory, error)
}

// jobs returns the jobs service, or answers 503 and returns nil when the
// server has none.
func (a *api) jobs(w http.ResponseWriter, r *http.Request) JobsService {
	if a.cfg.Jobs == nil {
		a.writeError(w, r, slipway.Errorf(slipway.EUnavailable, "The jobs API is not enabled on this server."))
	}
	return a.cfg.Jobs
}

// jobRequest returns the jobs service, the {tool} and the {name} (when the
// route has one) of r, or answers the error and returns ok false.
func (a *api) jobRequest(w http.ResponseWriter, r *http.Request) (svc JobsService, tool, name string, ok bool) {
	tool, err := toolName(r)
	if err != nil {
		a.writeError(w, r, err)
		return nil, "", "", false
	}
	if svc = a.jobs(w, r); svc == nil {
		return nil, "", "", false
	}
	return svc, tool, r.PathValue("name"), true
}

// handleJobList serves GET /jobs/v1/tool/{tool}/jobs.
func (a *api) handleJobList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, _, ok := a.jobRequest(w, r)
		if !ok {
			return
		}
		unset, err := includeUnset(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		jobs, err := svc.JobList(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := oapi.JobListResponse{Jobs: make([]oapi.Job, len(jobs))}
		var warnings []string
		for i, j := range jobs {
			out.Jobs[i] = toJob(j, unset)
			warnings = append(warnings, j.Status.Messages...)
		}
		out.Messages = messages(nil, warnings, nil)
		writeJSON(w, http.StatusOK, out)
	})
}

// handleJobQuota serves GET /jobs/v1/tool/{tool}/quotas.
func (a *api) handleJobQuota() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, _, ok := a.jobRequest(w, r)
		if !ok {
			return
		}
		cats, err := svc.JobQuota(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, quotaResponse(cats))
	})
}

// quotaResponse is the answer of the jobs and builds quota routes: each
// category's items, with what is used left out where nothing is counted.
func quotaResponse(cats []slipway.QuotaCategory) oapi.QuotaResponse {
	out := oapi.QuotaResponse{Quota: oapi.Quota{Categories: make([]oapi.QuotaCategory, len(cats))}, Messages: messages(nil, nil, nil)}
	for i, c := range cats {
		oc := oapi.QuotaCategory{Name: c.Name, Items: make([]oapi.QuotaItem, len(c.Items))}
		for j, it := range c.Items {
			oc.Items[j] = oapi.QuotaItem{Name: it.Name, Limit: it.Limit, Used: orNil(it.Used)}
		}
		out.Quota.Categories[i] = oc
	}
	return out
}

// handleJobGet serves GET /jobs/v1/tool/{tool}/jobs/{name}.
func (a *api) handleJobGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, name, ok := a.jobRequest(w, r)
		if !ok {
			return
		}
		unset, err := includeUnset(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		j, err := svc.JobGet(r.Context(), tool, name)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.JobResponse{Job: toJob(j, unset), Messages: messages(nil, j.Status.Messages, nil)})
	})
}

// handleJobLogs serves GET /jobs/v1/tool/{tool}/jobs/{name}/logs as
// Toolforge's jobs API does: JSON lines (see jobLogLines), always, as
// text/plain; with follow it streams until the client goes away. Without
// follow, a log without a line is 404, as Toolforge's.
func (a *api) handleJobLogs() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, name, ok := a.jobRequest(w, r)
		if !ok {
			return
		}
		follow, lines, err := logQuery(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		// Looked up first, so that an unknown job is a 404 envelope rather
		// than an empty text, and for what names the lines' pods.
		j, err := svc.JobGet(r.Context(), tool, name)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		tw := newTextWriter(w, follow)
		if follow {
			tw.open()
		}
		out := &jobLogLines{w: tw, job: name, continuous: j.Component.Type == slipway.Continuous, now: time.Now}
		err = svc.JobLogs(r.Context(), tool, name, follow, lines, out)
		if ferr := out.flush(); err == nil {
			err = ferr
		}
		switch {
		case err != nil && r.Context().Err() != nil:
			// The client went away.
		case err != nil && !tw.started:
			a.writeError(w, r, err)
		case err != nil:
			_, _ = a.errorResponse(r, err) // logs it; the response is under way
		case !tw.started:
			a.writeError(w, r, slipway.Errorf(slipway.ENotFound, "Job '%s' does not have any logs available", name))
		}
	})
}

// jobLogLines turns the text of a job's logs into Toolforge's JSON lines,
// one {"pod", "container", "datetime", "message"} object a line
// (tjf/runtimes/k8s/jobs.py format_logs; the jobs CLI prints
// "<datetime> [<pod>] <message>"). What they are on Slipway:
//   - pod: a continuous job's replica, "<job>-<N>" (N counting from 0, as
//     the replica's log; the driver prefixes the lines of each with
//     "[replica N] " when it writes several, and a line without that
//     prefix is replica 0's); a scheduled or one-off job's name, as its
//     runs write one log.
//   - container: the job's name (a job has one).
//   - datetime: Slipway's logs carry no time of their own, so it is when
//     the server read the line: for a followed log within a fraction of a
//     second of its writing, for the lines that were already there the
//     time of the request. UTC to the second, "+00:00" as Toolforge's
//     (Python's isoformat).
//   - message: the line without its "\n" (a "\r" before it stays, as a
//     container runtime keeps it); bytes that are not UTF-8 become U+FFFD.
//     No character of an object ends a line for any client's splitting
//     (Python's str.splitlines among them): those are all escaped.
//
// An unfinished last line is held until its end comes, or until it is as
// long as the longest line a log keeps, or flush.
type jobLogLines struct {
	w          io.Writer
	job        string
	continuous bool
	now        func() time.Time
	partial    []byte
}

// jobLogLine is one line of jobLogLines, its fields in Toolforge's order.
type jobLogLine struct {
	Pod       string `json:"pod"`
	Container string `json:"container"`
	Datetime  string `json:"datetime"`
	Message   string `json:"message"`
}

// replicaPrefixRE is the prefix the driver gives each line of a replica's
// log when a continuous job has several.
var replicaPrefixRE = regexp.MustCompile(`^\[replica (\d+)\] `)

// Write writes the complete lines of p (with what was held of the first)
// in one write, so that a followed log flushes them together.
func (l *jobLogLines) Write(p []byte) (int, error) {
	n := len(p)
	var out []byte
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.partial = append(l.partial, p...)
			if len(l.partial) >= logfile.DefaultMaxLine {
				out = l.appendLine(out, l.partial)
				l.partial = l.partial[:0]
			}
			break
		}
		line := p[:i]
		if len(l.partial) > 0 {
			line = append(l.partial, line...)
			l.partial = l.partial[:0]
		}
		out = l.appendLine(out, line)
		p = p[i+1:]
	}
	if len(out) == 0 {
		return n, nil
	}
	if _, err := l.w.Write(out); err != nil {
		return 0, err
	}
	return n, nil
}

// flush writes an unfinished last line, once nothing more comes.
func (l *jobLogLines) flush() error {
	if len(l.partial) == 0 {
		return nil
	}
	out := l.appendLine(nil, l.partial)
	l.partial = nil
	_, err := l.w.Write(out)
	return err
}

// appendLine appends the JSON line of one log line to out.
func (l *jobLogLines) appendLine(out, line []byte) []byte {
	pod := l.job
	if l.continuous {
		pod = l.job + "-0"
		if m := replicaPrefixRE.FindSubmatch(line); m != nil {
			pod = l.job + "-" + string(m[1])
			line = line[len(m[0]):]
		}
	}
	v := jobLogLine{Pod: pod, Container: l.job, Datetime: l.now().UTC().Format("2006-01-02T15:04:05+00:00"), Message: string(line)}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // strings only: it cannot fail
	// Toolforge's CLI splits the stream with Python's str.splitlines, which
	// also ends a line at U+0085; encoding/json escapes every other such
	// character (C0 controls, U+2028, U+2029) but not that one.
	return append(out, bytes.ReplaceAll(buf.Bytes(), []byte("\u0085"), []byte(`\u0085`))...)
}

// logQuery reads a log route's follow and lines parameters.
func logQuery(r *http.Request) (follow bool, lines int, err error) {
	if follow, err = queryBool(r.URL.Query(), "follow"); err != nil {
		return false, 0, err
	}
	lines, err = queryLines(r)
	return follow, lines, err
}

// queryLines returns the lines query parameter: 0 when absent.
func queryLines(r *http.Request) (int, error) {
	v := r.URL.Query().Get("lines")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, slipway.Errorf(slipway.EInvalid, "Query parameter lines must be a number of lines, at least 0 (0 means all), got %q.", clip(v, 40))
	}
	return n, nil
}

// includeUnset returns the include_unset query parameter: true when absent.
func includeUnset(r *http.Request) (bool, error) {
	if !r.URL.Query().Has("include_unset") {
		return true, nil
	}
	return queryBool(r.URL.Query(), "include_unset")
}

// handleJobMessage serves a route whose answer is one info message: op
// does the work and returns it.
func (a *api) handleJobMessage(op func(svc JobsService, ctx context.Context, tool, name string) (string, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, name, ok := a.jobRequest(w, r)
		if !ok {
			return
		}
		msg, err := op(svc, r.Context(), tool, name)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.MessagesResponse{Messages: messages([]string{msg}, nil, nil)})
	})
}

// handleJobRestart serves POST /jobs/v1/tool/{tool}/jobs/{name}/restart.
func (a *api) handleJobRestart() http.Handler {
	return a.handleJobMessage(func(svc JobsService, ctx context.Context, tool, name string) (string, error) {
		return svc.JobRestart(ctx, tool, name)
	})
}

// handleJobDelete serves DELETE /jobs/v1/tool/{tool}/jobs/{name}.
func (a *api) handleJobDelete() http.Handler {
	return a.handleJobMessage(func(svc JobsService, ctx context.Context, tool, name string) (string, error) {
		return svc.JobDelete(ctx, tool, name)
	})
}

// handleJobFlush serves DELETE /jobs/v1/tool/{tool}/jobs.
func (a *api) handleJobFlush() http.Handler {
	return a.handleJobMessage(func(svc JobsService, ctx context.Context, tool, _ string) (string, error) {
		return svc.JobFlush(ctx, tool)
	})
}

// handleJobRun serves POST /jobs/v1/tool/{tool}/jobs, what `toolforge
// jobs run` sends: an ad-hoc one-off, or (continuous or scheduled) a job
// created as PATCH creates one. The answer is the job as GET shows it.
func (a *api) handleJobRun() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, _, ok := a.jobRequest(w, r)
		if !ok {
			return
		}
		oj, err := a.readJob(w, r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if t := jobType(oj); t == slipway.Continuous || t == slipway.Scheduled {
			a.createJob(w, r, svc, tool, oj)
			return
		}
		run, warnings, err := fromRunRequest(oj)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		j, err := svc.JobRunStart(r.Context(), tool, run)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		info := []string{fmt.Sprintf("Job %s created", j.Component.Name)}
		writeJSON(w, http.StatusCreated, oapi.JobResponse{Job: toJob(j, true), Messages: messages(info, warnings, nil)})
	})
}

// createJob answers a POST of a continuous or scheduled job: 409 when a
// job of that name exists (Toolforge replaces only a completed one-off),
// else the job is made as PATCH makes it and answered as GET shows it. The
// look-up and the creation are two steps: a job of the same name created
// between them is updated rather than refused, as PATCH would.
func (a *api) createJob(w http.ResponseWriter, r *http.Request, svc JobsService, tool string, oj oapi.Job) {
	def, err := fromJob(oj)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	name := def.Component.Name
	switch _, err := svc.JobGet(r.Context(), tool, name); {
	case err == nil:
		a.writeError(w, r, slipway.Errorf(slipway.EConflict, "A job with the name %s already exists", name))
		return
	case slipway.ErrorCode(err) != slipway.ENotFound:
		a.writeError(w, r, err)
		return
	}
	_, msg, err := svc.JobUpsert(r.Context(), tool, def)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	j, err := svc.JobGet(r.Context(), tool, name)
	if err != nil {
		a.writeError(w, r, fmt.Errorf("created job %s of %s: %w", name, tool, err))
		return
	}
	// The job's status messages say what the next deployment does to it.
	writeJSON(w, http.StatusCreated, oapi.JobResponse{Job: toJob(j, true), Messages: messages([]string{msg}, j.Status.Messages, nil)})
}

// handleJobImages serves GET /jobs/v1/tool/{tool}/images: what imagename
// takes, the tool's live components (not the ad-hoc jobs), each with the
// build it runs; `toolforge jobs images` prints shortname and image.
func (a *api) handleJobImages() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, _, ok := a.jobRequest(w, r)
		if !ok {
			return
		}
		jobs, err := svc.JobList(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := oapi.JobImageListResponse{Images: []oapi.JobImage{}, Messages: messages(nil, nil, nil)}
		for _, j := range jobs {
			if !j.AdHoc {
				out.Images = append(out.Images, oapi.JobImage{Shortname: j.Component.Name, Image: orNil(j.Image)})
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// handleJobUpsert serves PATCH /jobs/v1/tool/{tool}/jobs.
func (a *api) handleJobUpsert() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, _, ok := a.jobRequest(w, r)
		if !ok {
			return
		}
		oj, err := a.readJob(w, r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		def, err := fromJob(oj)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		changed, msg, err := svc.JobUpsert(r.Context(), tool, def)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.JobUpsertResponse{JobChanged: changed, Messages: messages([]string{msg}, nil, nil)})
	})
}

// readJob reads a Job from the JSON body: malformed JSON is 400, a field
// of the wrong type or an unknown field 422.
func (a *api) readJob(w http.ResponseWriter, r *http.Request) (oapi.Job, error) {
	var oj oapi.Job
	if err := a.readJSONBody(w, r, &oj, new(oapi.Job), "a job as a JSON object with at least name, cmd and imagename",
		"a job has "+strings.Join(jobFieldNames, ", ")); err != nil {
		return oapi.Job{}, err
	}
	return oj, nil
}

// readJSONBody reads the JSON body of r into v, then decodes it again into
// strict with unknown fields refused. An empty (or null) body is 422
// asking to send want; malformed JSON is 400; a field of the wrong type is
// 422, and so is an unknown field, the message adding has (what the body
// may have).
func (a *api) readJSONBody(w http.ResponseWriter, r *http.Request, v, strict any, want, has string) error {
	raw, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return slipway.Errorf(slipway.EInvalid, "The request body is empty: send %s.", want)
	}
	if err := decodeJSON(raw, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(strict); err != nil {
		field, _ := strings.CutPrefix(err.Error(), "json: unknown field ")
		return &slipway.Error{
			Code:    slipway.EInvalid,
			Message: fmt.Sprintf("Unknown field %s: %s.", field, has),
			Err:     err,
		}
	}
	return nil
}

// jobFieldNames are the fields of a job definition, for messages.
var jobFieldNames = []string{
	"name", "cmd", "imagename", "job_type", "schedule", "port", "port_protocol", "replicas", "health_check",
	"publish", "timeout", "retry", "filelog", "filelog_stdout", "filelog_stderr", "emails", "mount", "cpu", "memory",
}

// fromRunRequest converts the body of POST …/jobs for a one-off: name,
// cmd, imagename and timeout, and what Toolforge's jobs CLI sends with
// every run (tjf_cli/cli.py op_run: emails, retry and mount always,
// filelog true for an image whose name has no "/", which every Slipway
// imagename is). Those are taken when they ask for what an ad-hoc run does
// anyway (no emails, no retry; the tool's home is always there, so mount
// all), or are ignored with a warning (filelog: the output is always in
// the job's logs; mount none); anything else is refused, since the run
// could not honour it.
func fromRunRequest(oj oapi.Job) (slipway.JobRun, []string, error) {
	var extra, ignored []string
	set := func(name string, isSet bool) {
		if isSet {
			extra = append(extra, name)
		}
	}
	set("port", oj.Port != nil)
	set("port_protocol", oj.PortProtocol != nil)
	set("replicas", oj.Replicas != nil)
	set("health_check", oj.HealthCheck != nil)
	set("publish", oj.Publish != nil)
	set("cpu", oj.Cpu != nil)
	set("memory", oj.Memory != nil)
	set("emails other than none", deref(oj.Emails) != "" && deref(oj.Emails) != oapi.JobEmailsNone)
	set("retry other than 0", deref(oj.Retry) != 0)
	if len(extra) > 0 {
		return slipway.JobRun{}, nil, slipway.Errorf(slipway.EInvalid,
			"An ad-hoc one-off job takes name, cmd, imagename and timeout (and emails none, retry 0, mount and filelog, which Toolforge's jobs CLI sends); remove %s.", strings.Join(extra, ", "))
	}
	switch deref(oj.Mount) {
	case "", oapi.JobMountAll:
	case oapi.JobMountNone:
		ignored = append(ignored, "mount none (the tool's home is always mounted)")
	default:
		return slipway.JobRun{}, nil, slipway.Errorf(slipway.EInvalid, "mount must be all or none, got %q.", clip(string(*oj.Mount), 40))
	}
	if deref(oj.Filelog) || oj.FilelogStdout != nil || oj.FilelogStderr != nil {
		ignored = append(ignored, "filelog (the output of a job is in its logs, not in files: jobs logs "+oj.Name+")")
	}
	var warnings []string
	if len(ignored) > 0 {
		warnings = []string{"Slipway ignores " + strings.Join(ignored, " and ") + "."}
	}
	return slipway.JobRun{Name: oj.Name, Command: oj.Cmd, ImageName: oj.Imagename, Timeout: deref(oj.Timeout)}, warnings, nil
}

// fromJob converts a job definition; read-only fields are ignored.
func fromJob(oj oapi.Job) (slipway.Job, error) {
	c := slipway.Component{Name: oj.Name, Type: jobType(oj)}
	r := &c.Run
	r.Command = oj.Cmd
	r.CPU, r.Memory = deref(oj.Cpu), deref(oj.Memory)
	r.Emails, r.Mount = string(deref(oj.Emails)), string(deref(oj.Mount))
	r.Filelog, r.FilelogStdout, r.FilelogStderr = oj.Filelog, deref(oj.FilelogStdout), deref(oj.FilelogStderr)
	r.Port, r.PortProtocol = deref(oj.Port), string(deref(oj.PortProtocol))
	r.Publish, r.Replicas = deref(oj.Publish), deref(oj.Replicas)
	r.Schedule, r.Timeout, r.Retry = deref(oj.Schedule), deref(oj.Timeout), deref(oj.Retry)
	if hc := oj.HealthCheck; hc != nil {
		switch hc.Type {
		case oapi.Script:
			if hc.Path != nil || strings.TrimSpace(deref(hc.Script)) == "" {
				return slipway.Job{}, slipway.Errorf(slipway.EInvalid, "health_check of type script needs script (the command whose exit status 0 means healthy) and no path.")
			}
			r.HealthCheckScript = *hc.Script
		case oapi.Http:
			if hc.Script != nil || deref(hc.Path) == "" {
				return slipway.Job{}, slipway.Errorf(slipway.EInvalid, "health_check of type http needs path (such as \"/healthz\") and no script.")
			}
			r.HealthCheckHTTP = *hc.Path
		default:
			return slipway.Job{}, slipway.Errorf(slipway.EInvalid, "health_check.type must be script or http, got %q.", hc.Type)
		}
	}
	return slipway.Job{Component: c, ImageName: oj.Imagename}, nil
}

// jobType is the job_type of a definition; without it, Toolforge's rule:
// a schedule makes it scheduled, continuous true continuous, else one-off.
func jobType(oj oapi.Job) slipway.ComponentType {
	switch {
	case oj.JobType != nil:
		return slipway.ComponentType(*oj.JobType)
	case oj.Schedule != nil:
		return slipway.Scheduled
	case deref(oj.Continuous):
		return slipway.Continuous
	}
	return slipway.OneOff
}

// toJob returns the wire form of j, Toolforge's jobs-api Job with the
// fields its CLI reads: the fields that are set, and with includeUnset the
// defaults that take part in nothing but display (replicas 1; retry and
// timeout 0) and image_state, so that sending a job back as a definition
// changes nothing.
func toJob(j slipway.Job, includeUnset bool) oapi.Job {
	c, r := j.Component, j.Component.Run
	typ := oapi.JobJobType(c.Type)
	out := oapi.Job{
		Name: c.Name, Cmd: r.Command, Imagename: j.ImageName, JobType: &typ,
		Cpu: orNil(r.CPU), Memory: orNil(r.Memory), Filelog: r.Filelog,
		FilelogStdout: orNil(r.FilelogStdout), FilelogStderr: orNil(r.FilelogStderr),
		Port: orNil(r.Port), Publish: orNil(r.Publish), Replicas: orNil(r.Replicas),
		Schedule: orNil(r.Schedule), ScheduleActual: orNil(j.ScheduleActual),
		Timeout: orNil(r.Timeout), Retry: orNil(r.Retry),
		// image is imagename again, as Toolforge's jobs API sends it: its
		// CLI's `jobs dump` writes it as the image to run, which `jobs load`
		// sends back as imagename. What it runs is the build.
		Image: orNil(j.ImageName), Build: orNil(j.Image),
		StatusShort: orNil(statusWord(j.Status.Short)), StatusLong: orNil(j.Status.Long),
	}
	if r.Emails != "" {
		out.Emails = new(oapi.JobEmails(r.Emails))
	}
	if r.Mount != "" {
		out.Mount = new(oapi.JobMount(r.Mount))
	}
	if r.PortProtocol != "" {
		out.PortProtocol = new(oapi.JobPortProtocol(r.PortProtocol))
	}
	switch {
	case r.HealthCheckScript != "":
		out.HealthCheck = &oapi.JobHealthCheck{Type: oapi.Script, Script: &r.HealthCheckScript}
	case r.HealthCheckHTTP != "":
		out.HealthCheck = &oapi.JobHealthCheck{Type: oapi.Http, Path: &r.HealthCheckHTTP}
	}
	if c.Type == slipway.Continuous {
		// Toolforge's jobs API sends it with every continuous job (with
		// include_unset false too), and its CLI tells the job type by it
		// (tjf_cli/cli.py job_prepare_for_output).
		out.Continuous = new(true)
	}
	if includeUnset {
		// Toolforge's CLI reads it for every job (a KeyError without it)
		// and prints any state but stable beside the image.
		out.ImageState = new("unknown")
		if j.Image != "" {
			out.ImageState = new("stable")
		}
		switch c.Type {
		case slipway.Continuous:
			// retry 0 too, which a continuous job never has: the `jobs dump`
			// of Toolforge's CLI of 2024 reads it for every job (a KeyError
			// without it; tjf_cli/cli.py job_prepare_for_dump).
			out.Replicas, out.Retry = new(r.ReplicaCount()), new(r.Retry)
		case slipway.Scheduled, slipway.OneOff:
			out.Timeout, out.Retry = new(r.Timeout), new(r.Retry)
		}
	}
	out.Status = toJobStatus(j.Status)
	return out
}

// toJobStatus returns the wire form of a job's status.
func toJobStatus(s slipway.JobStatus) *oapi.JobStatus {
	msgs := s.Messages
	if msgs == nil {
		msgs = []string{}
	}
	out := &oapi.JobStatus{Short: oapi.JobStatusShort(s.Short), UpToDate: s.UpToDate, Messages: msgs}
	switch s.Short {
	case slipway.JobRunning, slipway.JobSucceeded, slipway.JobFailed:
		out.Duration = new(s.Duration.String())
	case slipway.JobPending, slipway.JobUnknown:
	}
	if !s.PreviousSchedule.IsZero() {
		out.PreviousSchedule = new(s.PreviousSchedule.UTC())
	}
	if !s.NextSchedule.IsZero() {
		out.NextSchedule = new(s.NextSchedule.UTC())
	}
	if !s.Since.IsZero() {
		out.Since = new(s.Since.UTC())
	}
	out.Commit, out.Url, out.Healthy = orNil(s.Commit), orNil(s.URL), s.Healthy
	return out
}

// statusWord is a job state as Toolforge's status_short words it:
// "Running"; succeeded is "Completed", the word `toolforge jobs run
// --wait` waits for (tjf_cli/cli.py _wait_for_job) and the jobs API's POST
// checks before it replaces a job.
func statusWord(s slipway.JobState) string {
	if s == slipway.JobSucceeded {
		return "Completed"
	}
	if s == "" {
		return ""
	}
	return strings.ToUpper(string(s[:1])) + string(s[1:])
}

// orNil returns a pointer to v, or nil for the zero value.
func orNil[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// deref returns *p, or the zero value for nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
