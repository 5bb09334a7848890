package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
)

// Cut is a named release as the API sends it.
type Cut = oapiclient.Cut

// ChangeRequest is a change request as the API sends it.
type ChangeRequest = oapiclient.ChangeRequest

// CutNotes are the notes between two cuts as the API sends them.
type CutNotes = oapiclient.CutNotes

// CutCreateRequest is what cutting a release names.
type CutCreateRequest = oapiclient.CutCreateRequest

// CutList returns the tool's cuts, newest first.
func (c *Client) CutList(ctx context.Context, tool string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ListCuts(ctx, tool) })
}

// CutCreate cuts a release.
func (c *Client) CutCreate(ctx context.Context, tool string, r CutCreateRequest) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.CreateCut(ctx, tool, r) })
}

// CutGet returns one cut.
func (c *Client) CutGet(ctx context.Context, tool, name string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GetCut(ctx, tool, name) })
}

// CutFreeze freezes a mutable cut at its branch's tip, or at.
func (c *Client) CutFreeze(ctx context.Context, tool, name, at string) (Envelope, error) {
	body := oapiclient.CutFreezeRequest{}
	if at != "" {
		body.At = new(at)
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.FreezeCut(ctx, tool, name, body) })
}

// CutUpdate moves a mutable cut to its branch's tip, or to (a frozen one
// refuses).
func (c *Client) CutUpdate(ctx context.Context, tool, name, to string) (Envelope, error) {
	body := oapiclient.CutUpdateRequest{}
	if to != "" {
		body.To = new(to)
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.UpdateCut(ctx, tool, name, body) })
}

// CutNotes returns the notes from cut from to cut to.
func (c *Client) CutNotes(ctx context.Context, tool, from, to string) (Envelope, error) {
	format := oapiclient.CutNotesFormatJSON
	p := &oapiclient.CutNotesParams{From: from, Format: &format}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.CutNotes(ctx, tool, to, p) })
}

// CutNotesMarkdown is CutNotes as the Markdown the server renders.
func (c *Client) CutNotesMarkdown(ctx context.Context, tool, from, to string) (string, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	format := oapiclient.CutNotesFormatMarkdown
	resp, err := c.raw.CutNotes(ctx, tool, to, &oapiclient.CutNotesParams{From: from, Format: &format})
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

// ChangeRequestList returns a cut's change requests, newest first.
func (c *Client) ChangeRequestList(ctx context.Context, tool, name string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ListChangeRequests(ctx, tool, name) })
}

// ChangeRequestCreate asks to cherry-pick commit into the frozen cut.
func (c *Client) ChangeRequestCreate(ctx context.Context, tool, name, commit, reason string) (Envelope, error) {
	body := oapiclient.ChangeRequestCreateRequest{Commit: commit}
	if reason != "" {
		body.Reason = new(reason)
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) {
		return c.raw.CreateChangeRequest(ctx, tool, name, body)
	})
}

// ChangeRequestApply applies an approved change request again.
func (c *Client) ChangeRequestApply(ctx context.Context, tool, name string, seq int64) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) {
		return c.raw.ApplyChangeRequest(ctx, tool, name, seq)
	})
}

// Cut decodes the data as one cut.
func (e Envelope) Cut() (Cut, error) { return decodeData[Cut](e, "cut") }

// Cuts decodes the data as a list of cuts.
func (e Envelope) Cuts() ([]Cut, error) { return decodeData[[]Cut](e, "cuts") }

// ChangeRequest decodes the data as one change request.
func (e Envelope) ChangeRequest() (ChangeRequest, error) {
	return decodeData[ChangeRequest](e, "change request")
}

// ChangeRequests decodes the data as a list of change requests.
func (e Envelope) ChangeRequests() ([]ChangeRequest, error) {
	return decodeData[[]ChangeRequest](e, "change requests")
}

// decodeData decodes an envelope's data as a T.
func decodeData[T any](e Envelope, what string) (T, error) {
	var v T
	if err := json.Unmarshal(e.Data, &v); err != nil {
		return v, fmt.Errorf("decode %s: %w", what, err)
	}
	return v, nil
}
