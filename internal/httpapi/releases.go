package httpapi

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
)

// Releases serves a tool's release history (internal/deploy.Releases).
// Errors are [*slipway.Error] values as for [Service].
type Releases interface {
	// ReleaseList returns the tool's releases q selects, newest first.
	ReleaseList(ctx context.Context, tool string, q slipway.ReleaseQuery) ([]slipway.Release, error)
	// IsLive says, per live component, whether commit is in what it runs.
	IsLive(ctx context.Context, tool, commit string) ([]slipway.LiveCommit, error)
	// IsLiveIn is IsLive in one environment ("": every one).
	IsLiveIn(ctx context.Context, tool, env, commit string) ([]slipway.LiveCommit, error)
	// When returns, per component, the first release that included commit.
	When(ctx context.Context, tool, commit string) ([]slipway.FirstRelease, error)
	// Notes returns the changes between two points of the release
	// history, per component.
	Notes(ctx context.Context, tool string, q slipway.NotesQuery) (slipway.ReleaseNotes, error)
}

// handleReleaseNotes serves GET …/tool/{tool}/releases/notes?from=&to=
// &environment=&component=&format=json|markdown.
func (a *api) handleReleaseNotes() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.releasesRequest(w, r)
		if !ok {
			return
		}
		v := r.URL.Query()
		q := slipway.NotesQuery{Environment: v.Get("environment"), Component: v.Get("component")}
		for _, p := range []struct {
			name string
			dst  *int64
		}{{"from", &q.From}, {"to", &q.To}} {
			if s := v.Get(p.name); s != "" {
				n, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					a.writeError(w, r, slipway.Errorf(slipway.EInvalid, "%s: %q is not a release number (the # of `slipway releases list`)", p.name, s))
					return
				}
				*p.dst = n
			}
		}
		format := v.Get("format")
		switch format {
		case "", string(oapi.NotesFormatJSON), string(oapi.NotesFormatMarkdown):
		default:
			a.writeError(w, r, slipway.Errorf(slipway.EInvalid, "format: %q is not json or markdown", format))
			return
		}
		notes, err := svc.Notes(r.Context(), tool, q)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if format == string(oapi.NotesFormatMarkdown) {
			w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusOK)
			//nolint:gosec // G705: text/markdown (nosniff), not HTML, and the commit text in it is escaped
			_, _ = io.WriteString(w, slipway.ReleaseNotesMarkdown(notes))
			return
		}
		writeJSON(w, http.StatusOK, oapi.ReleaseNotesEnvelope{Data: toReleaseNotes(notes), Messages: messages(nil, nil, nil)})
	})
}

// toReleaseNotes returns the wire form of release notes.
func toReleaseNotes(n slipway.ReleaseNotes) oapi.ReleaseNotes {
	out := oapi.ReleaseNotes{Tool: n.Tool, Environment: n.Environment, Components: make([]oapi.ComponentNotes, len(n.Components))}
	if n.From > 0 {
		out.From = new(n.From)
	}
	if n.To > 0 {
		out.To = new(n.To)
	}
	for i, cn := range n.Components {
		c := oapi.ComponentNotes{
			Component: cn.Component, Change: oapi.ComponentNotesChange(cn.Change), To: toRelease(cn.To),
			Commits: toNoteCommits(cn.Commits), Removed: toNoteCommits(cn.Removed), Truncated: cn.Truncated,
			Repository: optional(cn.Repository), WebUrl: optional(cn.WebURL), Base: optional(cn.Base), Note: optional(cn.Note),
		}
		if cn.From.Seq != 0 {
			c.From = new(toRelease(cn.From))
		}
		out.Components[i] = c
	}
	return out
}

// toNoteCommits returns the wire form of classified commits.
func toNoteCommits(cs []slipway.NoteCommit) []oapi.NoteCommit {
	out := make([]oapi.NoteCommit, len(cs))
	for i, c := range cs {
		out[i] = oapi.NoteCommit{
			Hash: c.Hash, Parents: c.Parents, Author: c.Author, AuthorEmail: optional(c.AuthorEmail), AuthoredAt: c.AuthoredAt.UTC(),
			Subject: c.Subject, Section: oapi.NoteCommitSection(c.Section), Type: optional(c.Type), Scope: optional(c.Scope),
			Breaking: c.Breaking, Title: c.Title, Reverts: optional(c.Reverts), Url: optional(c.URL),
		}
		if out[i].Parents == nil {
			out[i].Parents = []string{}
		}
		if len(c.Trailers) > 0 {
			ts := make([]oapi.CommitTrailer, len(c.Trailers))
			for j, t := range c.Trailers {
				ts[j] = oapi.CommitTrailer{Key: t.Key, Value: t.Value}
			}
			out[i].Trailers = &ts
		}
	}
	return out
}

// optional is nil for "", else a pointer to s.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// handleReleaseWhen serves GET …/tool/{tool}/releases/when?commit=.
func (a *api) handleReleaseWhen() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.releasesRequest(w, r)
		if !ok {
			return
		}
		frs, err := svc.When(r.Context(), tool, r.URL.Query().Get("commit"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := oapi.FirstReleaseListEnvelope{Data: make([]oapi.FirstRelease, len(frs)), Messages: messages(nil, nil, nil)}
		for i, fr := range frs {
			out.Data[i] = oapi.FirstRelease{Environment: fr.Environment, Component: fr.Component, Exact: fr.Exact}
			if fr.Release.Seq != 0 {
				out.Data[i].Release = new(toRelease(fr.Release))
				out.Data[i].How = new(oapi.FirstReleaseHow(fr.How))
			}
			if fr.Pick != "" {
				out.Data[i].CherryPick = new(fr.Pick)
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// toRelease returns the wire form of a release.
func toRelease(rel slipway.Release) oapi.Release {
	return oapi.Release{
		Seq: rel.Seq, Tool: rel.Tool, Environment: rel.Environment, Component: rel.Component,
		DeployId: rel.DeploymentID, BuildId: rel.BuildKey, Commit: rel.Commit, SpecHash: rel.SpecHash,
		ConfigVersion: rel.ConfigVersion, AppliedAt: rel.AppliedAt.UTC(), Outcome: oapi.ReleaseOutcome(rel.Outcome), Actor: rel.Actor,
	}
}

// releasesRequest returns the {tool} of r and the releases service, or
// answers the error.
func (a *api) releasesRequest(w http.ResponseWriter, r *http.Request) (Releases, string, bool) {
	tool, err := toolName(r)
	if err != nil {
		a.writeError(w, r, err)
		return nil, "", false
	}
	if a.cfg.Releases == nil {
		a.writeError(w, r, slipway.Errorf(slipway.EUnavailable, "Release history is not enabled on this server."))
		return nil, "", false
	}
	return a.cfg.Releases, tool, true
}

// handleReleaseIsLive serves GET …/tool/{tool}/releases/is-live?commit=.
func (a *api) handleReleaseIsLive() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.releasesRequest(w, r)
		if !ok {
			return
		}
		q := r.URL.Query()
		lcs, err := svc.IsLiveIn(r.Context(), tool, q.Get("environment"), q.Get("commit"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := oapi.LiveCommitListEnvelope{Data: make([]oapi.LiveCommit, len(lcs)), Messages: messages(nil, nil, nil)}
		for i, lc := range lcs {
			out.Data[i] = oapi.LiveCommit{
				Environment: lc.Environment, Component: lc.Component, LiveCommit: lc.Live, State: oapi.LiveCommitState(lc.State),
			}
			if p := lc.Pick; p != (slipway.CherryPick{}) {
				out.Data[i].CherryPick = &oapi.CherryPick{Partial: p.Partial}
				if p.Commit != "" {
					out.Data[i].CherryPick.Commit = new(p.Commit)
				}
				if p.RevertedBy != "" {
					out.Data[i].CherryPick.RevertedBy = new(p.RevertedBy)
				}
			}
			if !lc.Since.IsZero() {
				out.Data[i].Since, out.Data[i].Release, out.Data[i].DeployId = new(lc.Since.UTC()), new(lc.Release), new(lc.DeploymentID)
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// handleReleaseList serves GET …/tool/{tool}/releases.
func (a *api) handleReleaseList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, ok := a.releasesRequest(w, r)
		if !ok {
			return
		}
		v := r.URL.Query()
		q := slipway.ReleaseQuery{
			Environment: v.Get("environment"), Component: v.Get("component"), Commit: v.Get("commit"), DeploymentID: v.Get("deployment"),
		}
		for _, p := range []struct {
			name string
			dst  func(int64)
		}{
			{"before", func(n int64) { q.Before = n }},
			{"limit", func(n int64) { q.Limit = int(n) }},
		} {
			if s := v.Get(p.name); s != "" {
				n, err := strconv.ParseInt(s, 10, 32)
				if err != nil {
					a.writeError(w, r, slipway.Errorf(slipway.EInvalid, "%s: %q is not a number", p.name, s))
					return
				}
				p.dst(n)
			}
		}
		rs, err := svc.ReleaseList(r.Context(), tool, q)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := oapi.ReleaseListEnvelope{Data: make([]oapi.Release, len(rs)), Messages: messages(nil, nil, nil)}
		for i, rel := range rs {
			out.Data[i] = toRelease(rel)
		}
		writeJSON(w, http.StatusOK, out)
	})
}
