package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

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

// LiveCommit says whether a commit is in what one component runs.
type LiveCommit = oapiclient.LiveCommit

// ReleaseIsLive asks, per live component of the tool, whether commit (a
// full SHA) is in what it runs.
func (c *Client) ReleaseIsLive(ctx context.Context, tool, commit string) (Envelope, error) {
	p := &oapiclient.ReleaseIsLiveParams{Commit: commit}
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
