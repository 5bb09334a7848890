package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
	"slipway.dev/slipway/internal/slipway"
)

// Release is a release as the API sends it.
type Release = oapiclient.Release

// ReleaseList returns the tool's releases q selects, newest first.
func (c *Client) ReleaseList(ctx context.Context, tool string, q slipway.ReleaseQuery) (Envelope, error) {
	p := &oapiclient.ListReleasesParams{}
	for _, f := range []struct {
		v   string
		dst **string
	}{{q.Environment, &p.Environment}, {q.Component, &p.Component}, {q.Commit, &p.Commit}, {q.DeploymentID, &p.Deployment}} {
		if f.v != "" {
			*f.dst = new(f.v)
		}
	}
	if q.Before > 0 {
		p.Before = new(q.Before)
	}
	if q.Limit > 0 {
		p.Limit = new(q.Limit)
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ListReleases(ctx, tool, p) })
}

// Releases decodes the data as a list of releases.
func (e Envelope) Releases() ([]Release, error) {
	var rs []Release
	if err := json.Unmarshal(e.Data, &rs); err != nil {
		return nil, fmt.Errorf("decode releases: %w", err)
	}
	return rs, nil
}

// CherryPick is an is-live answer's search for a cherry-pick.
type CherryPick = oapiclient.CherryPick

// LiveCommit says whether a commit is in what one component runs.
type LiveCommit = oapiclient.LiveCommit

// ReleaseIsLive asks, per live component of the tool, whether commit (a
// full SHA) is in what it runs.
func (c *Client) ReleaseIsLive(ctx context.Context, tool, commit string) (Envelope, error) {
	return c.ReleaseIsLiveIn(ctx, tool, "", commit)
}

// ReleaseIsLiveIn is [Client.ReleaseIsLive] in environment env ("": every
// environment).
func (c *Client) ReleaseIsLiveIn(ctx context.Context, tool, env, commit string) (Envelope, error) {
	p := &oapiclient.ReleaseIsLiveParams{Commit: commit}
	if env != "" {
		p.Environment = &env
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ReleaseIsLive(ctx, tool, p) })
}

// LiveCommits decodes the data as an is-live answer.
func (e Envelope) LiveCommits() ([]LiveCommit, error) {
	var lcs []LiveCommit
	if err := json.Unmarshal(e.Data, &lcs); err != nil {
		return nil, fmt.Errorf("decode is-live: %w", err)
	}
	return lcs, nil
}

// FirstRelease is the first release of a component that included a commit.
type FirstRelease = oapiclient.FirstRelease

// ReleaseWhen asks, per component of the tool, which release first
// included commit (a full SHA).
func (c *Client) ReleaseWhen(ctx context.Context, tool, commit string) (Envelope, error) {
	p := &oapiclient.ReleaseWhenParams{Commit: commit}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ReleaseWhen(ctx, tool, p) })
}

// FirstReleases decodes the data as a when answer.
func (e Envelope) FirstReleases() ([]FirstRelease, error) {
	var frs []FirstRelease
	if err := json.Unmarshal(e.Data, &frs); err != nil {
		return nil, fmt.Errorf("decode when: %w", err)
	}
	return frs, nil
}

// ReleaseNotes asks for the changes between two points of the tool's
// release history (q.From, q.To: release numbers, 0 the default), as JSON.
func (c *Client) ReleaseNotes(ctx context.Context, tool string, q slipway.NotesQuery) (Envelope, error) {
	p := notesParams(q, oapiclient.NotesFormatJSON)
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ReleaseNotes(ctx, tool, p) })
}

// ReleaseNotesMarkdown is ReleaseNotes as the Markdown the server renders.
func (c *Client) ReleaseNotesMarkdown(ctx context.Context, tool string, q slipway.NotesQuery) (string, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	resp, err := c.raw.ReleaseNotes(ctx, tool, notesParams(q, oapiclient.NotesFormatMarkdown))
	if err != nil {
		return "", c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", c.transportError(ctx, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/markdown") {
		if _, err := c.envelope(resp, body); err != nil {
			return "", err
		}
		return "", &ServerError{Status: resp.StatusCode, Message: "The response is not Markdown: " + resp.Header.Get("Content-Type"), RequestID: resp.Header.Get("X-Request-Id")}
	}
	return string(body), nil
}

// notesParams returns the query of a notes request.
func notesParams(q slipway.NotesQuery, format oapiclient.ReleaseNotesParamsFormat) *oapiclient.ReleaseNotesParams {
	p := &oapiclient.ReleaseNotesParams{Format: &format}
	if q.From != 0 {
		p.From = new(q.From)
	}
	if q.To != 0 {
		p.To = new(q.To)
	}
	if q.Environment != "" {
		p.Environment = new(q.Environment)
	}
	if q.Component != "" {
		p.Component = new(q.Component)
	}
	return p
}
