package apiclient

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
)

// The builds API answers in Toolforge's builds-api shapes, not wrapped in
// data: an [Envelope]'s Raw is the whole answer, decoded by the methods
// below.

// Build is one build as the builds API shows it (after Toolforge's
// builds-api: BUILD_* statuses, parameters, destination_image).
type Build = oapiclient.Build

// NewBuild is the answer's new_build of [Client.BuildStart].
type NewBuild = oapiclient.NewBuild

// BuildStartRequest is what [Client.BuildStart] sends, as Toolforge's
// `toolforge build start` does: only the fields that are set.
type BuildStartRequest = oapiclient.BuildStartRequest

// Build decodes the answer's build: {"build": {...}} of a get, or the
// build that a cancel or delete ({"id": ..., "build": {...}}) answers with.
func (e Envelope) Build() (Build, error) {
	var v struct {
		Build *Build `json:"build"`
	}
	if err := json.Unmarshal(e.Raw, &v); err != nil {
		return Build{}, fmt.Errorf("decode build: %w", err)
	}
	if v.Build == nil {
		return Build{}, errors.New("decode build: the answer has no build")
	}
	return *v.Build, nil
}

// Builds decodes the answer's builds, newest first.
func (e Envelope) Builds() ([]Build, error) {
	var v oapiclient.BuildListResponse
	if err := json.Unmarshal(e.Raw, &v); err != nil {
		return nil, fmt.Errorf("decode build list: %w", err)
	}
	return v.Builds, nil
}

// NewBuild decodes the answer of [Client.BuildStart].
func (e Envelope) NewBuild() (NewBuild, error) {
	var v oapiclient.BuildStartResponse
	if err := json.Unmarshal(e.Raw, &v); err != nil {
		return NewBuild{}, fmt.Errorf("decode new build: %w", err)
	}
	if v.NewBuild.Name == "" {
		return NewBuild{}, errors.New("decode new build: the answer has no new_build.name")
	}
	return v.NewBuild, nil
}

// BuildList returns the tool's builds, newest first: decode them with
// [Envelope.Builds].
func (c *Client) BuildList(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ListBuilds(ctx, tool) })
}

// BuildGet returns one build, or the newest one when id is "" or "latest";
// a missing one is an ENotFound error. Decode it with [Envelope.Build].
func (c *Client) BuildGet(ctx context.Context, tool, id string) (Envelope, error) {
	if id == "" || id == "latest" {
		return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GetLatestBuild(ctx, tool) })
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GetBuild(ctx, tool, id) })
}

// BuildStart starts a build of a repository's ref outside any deployment;
// decode the answer with [Envelope.NewBuild].
func (c *Client) BuildStart(ctx context.Context, tool string, req BuildStartRequest) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.StartBuild(ctx, tool, req) })
}

// BuildCancel kills a running build; the answer's build is cancelled or
// still stopping. A build that is already final is an EConflict error.
func (c *Client) BuildCancel(ctx context.Context, tool, id string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.CancelBuild(ctx, tool, id) })
}

// BuildDelete deletes a finished build; the answer's build is the deleted
// one. A build that runs or is in use is an EConflict error saying why.
func (c *Client) BuildDelete(ctx context.Context, tool, id string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.DeleteBuild(ctx, tool, id) })
}

// BuildLogs calls line with each line of the build's log (without its
// end), as it arrives: its last lines when lines > 0. With follow it
// streams a running build's log until the build ends (no request timeout
// applies then), or ctx ends. An error response is returned as for the
// other calls; an error the server sends after the log began is returned
// as a [ServerError] with its message.
func (c *Client) BuildLogs(ctx context.Context, tool, id string, follow bool, lines int, line func(string) error) error {
	cancel := context.CancelFunc(func() {})
	if !follow {
		ctx, cancel = c.ctx(ctx)
	}
	defer cancel()
	params := &oapiclient.GetBuildLogsParams{}
	if follow {
		params.Follow = &follow
	}
	if lines > 0 {
		params.Lines = &lines
	}
	resp, err := c.raw.GetBuildLogs(ctx, tool, id, params)
	if err != nil {
		return c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return c.transportError(ctx, err)
		}
		_, err = c.envelope(resp, body)
		if err == nil {
			err = &ServerError{Status: resp.StatusCode, Message: "Unexpected response status.", RequestID: resp.Header.Get("X-Request-Id")}
		}
		return err
	}
	sc := bufio.NewScanner(resp.Body)
	// A line is at most the server's cut (64 KiB) of text, escaped.
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		raw := sc.Bytes()
		if len(strings.TrimSpace(string(raw))) == 0 {
			continue
		}
		var l struct {
			Line  *string  `json:"line"`
			Error []string `json:"error"`
		}
		if err := json.Unmarshal(raw, &l); err != nil {
			return &ServerError{Status: resp.StatusCode, Message: fmt.Sprintf("A log line is not JSON: %v", err), RequestID: resp.Header.Get("X-Request-Id")}
		}
		if l.Line == nil {
			msg := strings.Join(l.Error, "\n")
			if msg == "" {
				msg = "A log line has no line: " + string(raw)
			}
			return &ServerError{Status: resp.StatusCode, Message: msg, RequestID: resp.Header.Get("X-Request-Id")}
		}
		if err := line(*l.Line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return c.transportError(ctx, err)
	}
	return nil
}

// BuildQuota returns the tool's build limits and what it uses of them,
// {"quota": {"categories": [...]}, "messages": {...}} as for the jobs;
// decode it with [Envelope.Quota].
func (c *Client) BuildQuota(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GetBuildsQuota(ctx, tool) })
}

// BuildPrune removes the tool's artifacts that nothing needs (artifact
// retention), or with dryRun lists what it would remove. olderThan, when
// not empty, is the age bound ("0", "7d", "48h"); empty is the server's.
// Decode the answer with [Envelope.BuildPrune].
func (c *Client) BuildPrune(ctx context.Context, tool string, dryRun bool, olderThan string) (Envelope, error) {
	p := &oapiclient.PruneBuildsParams{}
	if dryRun {
		p.DryRun = &dryRun
	}
	if olderThan != "" {
		p.OlderThan = &olderThan
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.PruneBuilds(ctx, tool, p) })
}

// BuildPruneResult is what artifact retention removed from a tool's builds.
type BuildPruneResult = oapiclient.BuildPrune

// BuildPrune decodes the answer of [Client.BuildPrune].
func (e Envelope) BuildPrune() (BuildPruneResult, error) {
	var v oapiclient.BuildPruneResponse
	if err := json.Unmarshal(e.Raw, &v); err != nil {
		return BuildPruneResult{}, fmt.Errorf("decode prune: %w", err)
	}
	return v.Prune, nil
}
