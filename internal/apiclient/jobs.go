package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
)

// Job is a job as the jobs API sends it (Toolforge's field names).
type Job = oapiclient.Job

// JobList returns the tool's jobs: the envelope's Raw is
// {"jobs": [...], "messages": {...}} (the jobs API does not wrap in data);
// decode it with [Envelope.Jobs]. Without includeUnset only the fields the
// user set are sent, as `jobs dump` wants.
func (c *Client) JobList(ctx context.Context, tool string, includeUnset bool) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) {
		return c.raw.ListJobs(ctx, tool, &oapiclient.ListJobsParams{IncludeUnset: new(strconv.FormatBool(includeUnset))})
	})
}

// JobQuota returns the tool's limits and what it uses of them:
// {"quota": {"categories": [...]}, "messages": {...}}; decode it with
// [Envelope.Quota].
func (c *Client) JobQuota(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GetJobsQuota(ctx, tool) })
}

// QuotaCategory is a group of a tool's limits, as the jobs API sends it.
type QuotaCategory = oapiclient.QuotaCategory

// Quota decodes the answer of [Client.JobQuota].
func (e Envelope) Quota() ([]QuotaCategory, error) {
	var v oapiclient.QuotaResponse
	if err := json.Unmarshal(e.Raw, &v); err != nil {
		return nil, fmt.Errorf("decode quota: %w", err)
	}
	return v.Quota.Categories, nil
}

// JobGet returns one job, {"job": {...}, "messages": {...}}; decode it with
// [Envelope.Job].
func (c *Client) JobGet(ctx context.Context, tool, name string, includeUnset bool) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) {
		return c.raw.GetJob(ctx, tool, name, &oapiclient.GetJobParams{IncludeUnset: new(strconv.FormatBool(includeUnset))})
	})
}

// JobLogLine is one line of a job's logs, as the jobs API sends it (in
// the order of Toolforge's fields): the replica or job that wrote it, the
// container (the job's name), when the server read it (UTC, to the
// second) and the line itself.
type JobLogLine struct {
	Pod       string `json:"pod"`
	Container string `json:"container"`
	Datetime  string `json:"datetime"`
	Message   string `json:"message"`
}

// JobLogs calls fn with each line of a job's logs, which the server sends
// as JSON lines: the last lines of each log (all when 0), and with follow
// what is appended until ctx ends (then it returns nil). Without follow
// the client's timeout bounds the request. An error of fn ends the
// reading and is returned.
func (c *Client) JobLogs(ctx context.Context, tool, name string, follow bool, lines int, fn func(JobLogLine) error) error {
	if !follow {
		var cancel context.CancelFunc
		ctx, cancel = c.ctx(ctx)
		defer cancel()
	}
	params := &oapiclient.GetJobLogsParams{}
	if follow {
		params.Follow = new("true")
	}
	if lines > 0 {
		params.Lines = &lines
	}
	return readLines(ctx, c, follow, "The logs are", func(ctx context.Context) (*http.Response, error) {
		return c.raw.GetJobLogs(ctx, tool, name, params)
	}, fn)
}

// readLines reads the response of get, JSON lines (a log the server streams),
// calling fn with each; with follow, the end of ctx ends it without an
// error. what begins the error of a line that is not JSON ("The logs are").
func readLines[T any](ctx context.Context, c *Client, follow bool, what string, get func(context.Context) (*http.Response, error), fn func(T) error) error {
	resp, err := get(ctx)
	if err != nil {
		return c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, rerr := io.ReadAll(resp.Body)
		if rerr != nil {
			return c.transportError(ctx, rerr)
		}
		_, err := c.envelope(resp, body)
		return err
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var l T
		err := dec.Decode(&l)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil && follow && ctx.Err() != nil:
			return nil
		case err != nil:
			var syn *json.SyntaxError
			var typ *json.UnmarshalTypeError
			if errors.As(err, &syn) || errors.As(err, &typ) {
				return &ServerError{Status: resp.StatusCode, Message: what + " not JSON lines: " + err.Error(), RequestID: resp.Header.Get("X-Request-Id")}
			}
			return c.transportError(ctx, err)
		}
		if err := fn(l); err != nil {
			return err
		}
	}
}

// JobRestart restarts a job's current generation.
func (c *Client) JobRestart(ctx context.Context, tool, name string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.RestartJob(ctx, tool, name) })
}

// JobDelete stops a job and forgets it.
func (c *Client) JobDelete(ctx context.Context, tool, name string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.DeleteJob(ctx, tool, name) })
}

// JobFlush deletes every job of the tool.
func (c *Client) JobFlush(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.FlushJobs(ctx, tool) })
}

// JobRun starts an ad-hoc one-off job: cmd with the build of the live
// component image, at most timeout seconds (0: the server's bound). The
// answer (201) is {"job": {...}, "messages": {...}}.
func (c *Client) JobRun(ctx context.Context, tool, name, cmd, image string, timeout int) (Envelope, error) {
	body := oapiclient.RunJobJSONRequestBody{Name: name, Cmd: cmd, Imagename: image}
	if timeout != 0 {
		body.Timeout = &timeout
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) {
		return c.raw.RunJob(ctx, tool, body)
	})
}

// JobUpsert makes one job be def (a job as JSON), as `jobs load` does; the
// answer is {"job_changed": bool, "messages": {...}}.
func (c *Client) JobUpsert(ctx context.Context, tool string, def []byte) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) {
		return c.raw.UpsertJobWithBody(ctx, tool, "application/json", bytes.NewReader(def))
	})
}

// Jobs decodes the answer of [Client.JobList].
func (e Envelope) Jobs() ([]Job, error) {
	var v oapiclient.JobListResponse
	if err := json.Unmarshal(e.Raw, &v); err != nil {
		return nil, fmt.Errorf("decode jobs: %w", err)
	}
	return v.Jobs, nil
}

// Job decodes the answer of [Client.JobGet] and [Client.JobRun].
func (e Envelope) Job() (Job, error) {
	var v struct {
		Job *Job `json:"job"`
	}
	if err := json.Unmarshal(e.Raw, &v); err != nil {
		return Job{}, fmt.Errorf("decode job: %w", err)
	}
	if v.Job == nil {
		return Job{}, errors.New("decode job: the answer has no job")
	}
	return *v.Job, nil
}

// JobChanged decodes job_changed of the answer of [Client.JobUpsert].
func (e Envelope) JobChanged() (bool, error) {
	var v oapiclient.JobUpsertResponse
	if err := json.Unmarshal(e.Raw, &v); err != nil {
		return false, fmt.Errorf("decode upsert answer: %w", err)
	}
	return v.JobChanged, nil
}
