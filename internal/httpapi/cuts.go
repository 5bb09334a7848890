package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"slipway.dev/slipway/internal/deploy"
	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
)

// Cuts serves a tool's named releases (cuts) and their change requests
// (internal/deploy.Cuts). Errors are [*slipway.Error] values as for
// [Service].
type Cuts interface {
	CutCreate(ctx context.Context, tool string, r deploy.CutRequest) (slipway.Cut, error)
	CutGet(ctx context.Context, tool, name string) (slipway.Cut, error)
	CutList(ctx context.Context, tool string) ([]slipway.Cut, error)
	CutFreeze(ctx context.Context, tool, name, at string) (slipway.Cut, error)
	CutUpdate(ctx context.Context, tool, name, to string) (slipway.Cut, error)
	CutNotes(ctx context.Context, tool, from, to string) (slipway.CutNotes, error)
	ChangeRequestCreate(ctx context.Context, tool, name, commit, reason string) (slipway.ChangeRequest, error)
	ChangeRequestList(ctx context.Context, tool, name string) ([]slipway.ChangeRequest, error)
	ChangeRequestGet(ctx context.Context, tool string, seq int64) (slipway.ChangeRequest, error)
	ChangeRequestApply(ctx context.Context, tool string, seq int64) (slipway.ChangeRequest, error)
}

// cutsRequest returns the service, the tool and the cut name ("" when the
// route has none) of r, or writes the error.
func (a *api) cutsRequest(w http.ResponseWriter, r *http.Request) (Cuts, string, string, bool) {
	tool, err := toolName(r)
	if err == nil && a.cfg.Cuts == nil {
		err = slipway.Errorf(slipway.EUnavailable, "Named releases are not enabled on this server.")
	}
	name := r.PathValue("cut")
	if err == nil && r.Pattern != "" && name != "" {
		err = slipway.ValidateCutName("cut", name)
	}
	if err != nil {
		a.writeError(w, r, err)
		return nil, "", "", false
	}
	return a.cfg.Cuts, tool, name, true
}

func (a *api) handleCutList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, _, ok := a.cutsRequest(w, r)
		if !ok {
			return
		}
		cs, err := svc.CutList(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := make([]oapi.Cut, len(cs))
		for i, c := range cs {
			out[i] = toCut(c)
		}
		writeJSON(w, http.StatusOK, oapi.CutListEnvelope{Data: out, Messages: messages(nil, nil, nil)})
	})
}

func (a *api) handleCutCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, _, ok := a.cutsRequest(w, r)
		if !ok {
			return
		}
		var req oapi.CutCreateRequest
		if _, err := a.readOptionalJSON(w, r, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		c, err := svc.CutCreate(r.Context(), tool, deploy.CutRequest{
			Name: req.Name, Branch: req.Branch, At: deref(req.At), Frozen: req.Frozen != nil && *req.Frozen, Component: deref(req.Component),
		})
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		info := fmt.Sprintf("Release %s cut from %s at %s (%s).", c.Name, c.Branch, c.Head[:12], c.State)
		writeJSON(w, http.StatusCreated, oapi.CutEnvelope{Data: toCut(c), Messages: messages([]string{info}, nil, nil)})
	})
}

func (a *api) handleCutGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, name, ok := a.cutsRequest(w, r)
		if !ok {
			return
		}
		a.writeCut(w, r, "")(svc.CutGet(r.Context(), tool, name))
	})
}

func (a *api) handleCutFreeze() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, name, ok := a.cutsRequest(w, r)
		if !ok {
			return
		}
		var req oapi.CutFreezeRequest
		if _, err := a.readOptionalJSON(w, r, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		a.writeCut(w, r, "Release %s frozen at %s.")(svc.CutFreeze(r.Context(), tool, name, deref(req.At)))
	})
}

func (a *api) handleCutUpdate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, name, ok := a.cutsRequest(w, r)
		if !ok {
			return
		}
		var req oapi.CutUpdateRequest
		if _, err := a.readOptionalJSON(w, r, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		a.writeCut(w, r, "Release %s is at %s.")(svc.CutUpdate(r.Context(), tool, name, deref(req.To)))
	})
}

// writeCut returns a function writing a cut (with info, formatted with
// its name and short head, when not "") or the error.
func (a *api) writeCut(w http.ResponseWriter, r *http.Request, info string) func(slipway.Cut, error) {
	return func(c slipway.Cut, err error) {
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		var msgs []string
		if info != "" {
			msgs = []string{fmt.Sprintf(info, c.Name, c.Head[:12])}
		}
		writeJSON(w, http.StatusOK, oapi.CutEnvelope{Data: toCut(c), Messages: messages(msgs, nil, nil)})
	}
}

func (a *api) handleCutNotes() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, name, ok := a.cutsRequest(w, r)
		if !ok {
			return
		}
		v := r.URL.Query()
		from, format := v.Get("from"), v.Get("format")
		switch format {
		case "", string(oapi.CutNotesFormatJSON), string(oapi.CutNotesFormatMarkdown):
		default:
			a.writeError(w, r, slipway.Errorf(slipway.EInvalid, "format: %q is not json or markdown", format))
			return
		}
		if err := slipway.ValidateCutName("from", from); err != nil {
			a.writeError(w, r, err)
			return
		}
		n, err := svc.CutNotes(r.Context(), tool, from, name)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if format == string(oapi.CutNotesFormatMarkdown) {
			w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusOK)
			//nolint:gosec // G705: text/markdown (nosniff), not HTML, and the commit text in it is escaped
			_, _ = io.WriteString(w, slipway.CutNotesMarkdown(n))
			return
		}
		writeJSON(w, http.StatusOK, oapi.CutNotesEnvelope{Data: toCutNotes(n), Messages: messages(nil, nil, nil)})
	})
}

func (a *api) handleChangeRequestList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, name, ok := a.cutsRequest(w, r)
		if !ok {
			return
		}
		crs, err := svc.ChangeRequestList(r.Context(), tool, name)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := make([]oapi.ChangeRequest, len(crs))
		for i, cr := range crs {
			out[i] = toChangeRequest(cr)
		}
		writeJSON(w, http.StatusOK, oapi.ChangeRequestListEnvelope{Data: out, Messages: messages(nil, nil, nil)})
	})
}

func (a *api) handleChangeRequestCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, name, ok := a.cutsRequest(w, r)
		if !ok {
			return
		}
		var req oapi.ChangeRequestCreateRequest
		if _, err := a.readOptionalJSON(w, r, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		cr, err := svc.ChangeRequestCreate(r.Context(), tool, name, req.Commit, deref(req.Reason))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		info := fmt.Sprintf("Change request %d asks to cherry-pick %s into %s: question %s decides it.", cr.Seq, cr.Commit[:12], cr.Cut, cr.QuestionID)
		writeJSON(w, http.StatusCreated, oapi.ChangeRequestEnvelope{Data: toChangeRequest(cr), Messages: messages([]string{info}, nil, nil)})
	})
}

func (a *api) handleChangeRequestApply() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, name, ok := a.cutsRequest(w, r)
		if !ok {
			return
		}
		seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
		if err != nil || seq <= 0 {
			a.writeError(w, r, slipway.Errorf(slipway.EInvalid, "seq: %q is not a change request number", r.PathValue("seq")))
			return
		}
		cr, err := svc.ChangeRequestGet(r.Context(), tool, seq)
		if err == nil && cr.Cut != name {
			err = slipway.Errorf(slipway.ENotFound, "Change request %d not found for release %s of tool %s", seq, name, tool)
		}
		if err == nil {
			cr, err = svc.ChangeRequestApply(r.Context(), tool, seq)
		}
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.ChangeRequestEnvelope{Data: toChangeRequest(cr), Messages: messages(nil, nil, nil)})
	})
}

// optionalTime returns &t, or nil for the zero time.
func optionalTime(t interface{ IsZero() bool }) bool { return !t.IsZero() }

func toCut(c slipway.Cut) oapi.Cut {
	out := oapi.Cut{
		Tool: c.Tool, Name: c.Name, Repository: slipway.RedactURL(c.Repository), Branch: c.Branch, Base: c.Base, Head: c.Head,
		State: oapi.CutState(c.State), Ref: c.Ref(), Picks: c.Picks, Created: c.CreatedAt.UTC(), CreatedBy: c.CreatedBy,
		Updated: c.UpdatedAt.UTC(), FrozenBy: optional(c.FrozenBy),
	}
	if optionalTime(c.FrozenAt) {
		out.Frozen = new(c.FrozenAt.UTC())
	}
	return out
}

func toChangeRequest(cr slipway.ChangeRequest) oapi.ChangeRequest {
	out := oapi.ChangeRequest{
		Tool: cr.Tool, Cut: cr.Cut, Seq: cr.Seq, Commit: cr.Commit, Reason: cr.Reason, State: oapi.ChangeRequestState(cr.State),
		QuestionId: cr.QuestionID, RequestedBy: cr.RequestedBy, Requested: cr.RequestedAt.UTC(), DecidedBy: cr.DecidedBy,
		Onto: cr.Onto, Pick: cr.Pick, Detail: cr.Detail,
	}
	if optionalTime(cr.DecidedAt) {
		out.Decided = new(cr.DecidedAt.UTC())
	}
	return out
}

func toCutNotes(n slipway.CutNotes) oapi.CutNotes {
	web, _ := slipway.RepoWebOf(n.Repository)
	commits := func(cs []slipway.CutNoteCommit) []oapi.CutNoteCommit {
		out := make([]oapi.CutNoteCommit, len(cs))
		for i, c := range cs {
			out[i] = oapi.CutNoteCommit{
				Hash: c.Hash, Author: c.Author, AuthoredAt: c.AuthoredAt.UTC(), Subject: c.Subject, Section: string(c.Section),
				Type: optional(c.Type), Scope: optional(c.Scope), Breaking: c.Breaking, Title: c.Title,
				Url: optional(web.CommitURL(c.Hash)), PickedFrom: optional(c.PickedFrom), PickedAs: optional(c.PickedAs),
			}
		}
		return out
	}
	return oapi.CutNotes{
		Tool: n.Tool, Repository: slipway.RedactURL(n.Repository), From: toCut(n.From), To: toCut(n.To),
		Change: oapi.CutNotesChange(n.Change), Base: optional(n.Base), Commits: commits(n.Commits), Removed: commits(n.Removed),
		Truncated: n.Truncated,
	}
}
