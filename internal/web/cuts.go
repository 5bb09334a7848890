package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"slipway.dev/slipway/internal/slipway"
)

// Cuts is what the UI needs of a tool's named releases (cuts) and their
// change requests (internal/deploy.Cuts; the API's httpapi.Cuts, read
// without updates and change requests, which stay in the CLI and API).
// Errors are [*slipway.Error] values as for the API: ENotFound for an
// unknown cut, EInvalid for bad input or notes between cuts of two
// repositories, EConflict for a name taken or a cut frozen already; a git
// failure (reading a branch, pushing a release branch, the notes'
// history) may be an error without a code.
type Cuts interface {
	// CutCreate cuts a named release from a branch (frozen: its release
	// branch is pushed).
	CutCreate(ctx context.Context, tool string, r slipway.CutRequest) (slipway.Cut, error)
	// CutFreeze freezes a mutable cut at its branch's tip or at a commit
	// on it.
	CutFreeze(ctx context.Context, tool, name, at string) (slipway.Cut, error)
	// CutList returns the tool's cuts, newest first, heads as stored.
	CutList(ctx context.Context, tool string) ([]slipway.Cut, error)
	// CutGet returns one cut; a mutable one's head read from its branch.
	CutGet(ctx context.Context, tool, name string) (slipway.Cut, error)
	// CutNotes returns the changes from one cut to another.
	CutNotes(ctx context.Context, tool, from, to string) (slipway.CutNotes, error)
	// ChangeRequestList returns a cut's change requests.
	ChangeRequestList(ctx context.Context, tool, name string) ([]slipway.ChangeRequest, error)
}

// msgCutsOff is the 503 message when the server serves no named releases
// to the UI.
const msgCutsOff = "Named releases are not enabled on this server."

// cutRow is a cut as the list shows it.
type cutRow struct {
	slipway.Cut
	// Repository is the cut's repository with its credentials redacted.
	Repository string
}

// cutForm is what the form that cuts a release holds: what was typed and
// the service's problem.
type cutForm struct {
	Name, Branch, At, Component string
	Frozen                      bool
	Problem                     string
}

// cutsView is the named releases page's data.
type cutsView struct {
	Rows []cutRow
	Form cutForm
}

// msgGitFailed is what a page says when git failed under a cut's action
// (the server's log has the error, which may name the repository).
const msgGitFailed = "Git failed on the repository (the server's log says why); nothing was changed. Try again later."

// cuts serves GET /ui/t/{tool}/cuts: the tool's named releases, and the
// form that cuts one.
func (h *handler) cuts(w http.ResponseWriter, r *http.Request) {
	if h.enabled(w, r, h.cfg.Cuts != nil, msgCutsOff) {
		h.showCuts(w, r, http.StatusOK, cutForm{})
	}
}

func (h *handler) showCuts(w http.ResponseWriter, r *http.Request, status int, form cutForm) {
	tool := r.PathValue("tool")
	cs, err := h.cfg.Cuts.CutList(r.Context(), tool)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	v := cutsView{Rows: make([]cutRow, len(cs)), Form: form}
	for i, c := range cs {
		v.Rows[i] = cutRow{Cut: c, Repository: slipway.RedactURL(c.Repository)}
	}
	h.render(w, r, status, "cuts", view{Title: "Named releases of " + tool, Tool: tool, Section: "cuts", Flash: h.takeFlash(w, r), Data: v})
}

// cutCreate serves POST /ui/t/{tool}/cuts: the service judges the form
// as the API's POST is judged. Done: 303 to the cut's page. Refused: the
// list again with what was typed and the reason above the form (422 bad
// input, 409 a name taken or a release branch elsewhere, 502 git failed).
func (h *handler) cutCreate(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.Cuts != nil, msgCutsOff) || !h.parseForm(w, r) {
		return
	}
	ctx, tool, f := r.Context(), r.PathValue("tool"), r.PostForm
	form := cutForm{
		Name: clip(strings.TrimSpace(f.Get("name")), 100), Branch: clip(strings.TrimSpace(f.Get("branch")), 300),
		At: clip(strings.TrimSpace(f.Get("at")), 300), Component: clip(strings.TrimSpace(f.Get("component")), 100),
		Frozen: f.Get("frozen") == "on",
	}
	c, err := h.cfg.Cuts.CutCreate(ctx, tool, slipway.CutRequest{Name: form.Name, Branch: form.Branch, At: form.At, Frozen: form.Frozen, Component: form.Component})
	if status, problem := h.cutProblem(r, err); status != 0 {
		form.Problem = problem
		h.showCuts(w, r, status, form)
		return
	}
	s, _ := sessionOf(ctx)
	msg := "Named release " + c.Name + " cut from " + c.Branch + " at " + shortCommit(c.Head) + ": it follows the branch."
	if c.State == slipway.CutFrozen {
		msg = "Named release " + c.Name + " cut and frozen at " + shortCommit(c.Head) + ": branch " + c.ReleaseBranch() + " was pushed."
	}
	h.setFlash(w, r, s, "ok", msg)
	http.Redirect(w, r, "/ui/t/"+tool+"/cuts/"+c.Name, http.StatusSeeOther)
}

// cutProblem returns the status and message of a cut action's error (0
// when there is none); an error without a code (git) is logged and told
// as msgGitFailed.
func (h *handler) cutProblem(r *http.Request, err error) (int, string) {
	switch slipway.ErrorCode(err) {
	case "":
		return 0, ""
	case slipway.EInvalid:
		return http.StatusUnprocessableEntity, slipway.ErrorMessage(err)
	case slipway.EConflict:
		return http.StatusConflict, slipway.ErrorMessage(err)
	case slipway.ENotFound:
		return http.StatusNotFound, slipway.ErrorMessage(err)
	case slipway.EInternal:
		h.log.ErrorContext(r.Context(), "web: cut", "path", r.URL.Path, "err", err)
		return http.StatusBadGateway, msgGitFailed
	default:
		return http.StatusBadGateway, slipway.ErrorMessage(err)
	}
}

// cutFreeze serves POST /ui/t/{tool}/cuts/{name}/freeze: freezes a
// mutable cut at its branch's tip (or at the commit typed), then back to
// its page (303) saying what happened.
func (h *handler) cutFreeze(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.Cuts != nil, msgCutsOff) {
		return
	}
	name, ok := h.cutName(w, r)
	if !ok || !h.parseForm(w, r) {
		return
	}
	ctx, tool := r.Context(), r.PathValue("tool")
	s, _ := sessionOf(ctx)
	c, err := h.cfg.Cuts.CutFreeze(ctx, tool, name, clip(strings.TrimSpace(r.PostForm.Get("at")), 300))
	if status, problem := h.cutProblem(r, err); status != 0 {
		h.setFlash(w, r, s, "error", "Not frozen: "+problem)
	} else {
		h.setFlash(w, r, s, "ok", "Named release "+name+" frozen at "+shortCommit(c.Head)+": branch "+c.ReleaseBranch()+" was pushed, and only approved change requests change it now.")
	}
	http.Redirect(w, r, "/ui/t/"+tool+"/cuts/"+name, http.StatusSeeOther)
}

// cutView is one cut's page.
type cutView struct {
	Cut cutRow
	// Stale says the head shown is the stored one: the branch could not
	// be read; StaleWhy the service's reason, when it gave one.
	Stale    bool
	StaleWhy string
	Requests []slipway.ChangeRequest
	// Others are the tool's other cuts, offered to compare with; From is
	// the one asked (?from=), Problem what was wrong with it.
	Others  []string
	From    string
	Problem string
	Asked   bool
	Notes   slipway.CutNotes
	// Sections are the notes' commits grouped as release notes are.
	Sections []cutNoteSection
}

// cutNoteSection is one group of cut notes' commits.
type cutNoteSection struct {
	Title   string
	Commits []slipway.CutNoteCommit
}

// cutName returns the {name} of r, or answers 404 when it cannot be a
// cut's name.
func (h *handler) cutName(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("name")
	if err := slipway.ValidateCutName("name", name); err != nil {
		h.errorPage(w, r, http.StatusNotFound, "There is no named release "+strconv.Quote(clip(name, 64))+": "+slipway.ErrorMessage(err))
		return "", false
	}
	return name, true
}

// cut serves GET /ui/t/{tool}/cuts/{name}: the cut, its change requests
// (each linked to the question that decides it) and, with ?from=, the
// notes from another cut to this one. A git failure reading a mutable
// cut's branch shows the stored head, saying so (and the service's reason
// when it is not an internal error); a bad or unknown from
// comes back next to its field (422); failed notes say so above them.
func (h *handler) cut(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.Cuts != nil, msgCutsOff) {
		return
	}
	name, ok := h.cutName(w, r)
	if !ok {
		return
	}
	ctx, tool := r.Context(), r.PathValue("tool")
	list, err := h.cfg.Cuts.CutList(ctx, tool)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	i := slices.IndexFunc(list, func(c slipway.Cut) bool { return c.Name == name })
	if i < 0 {
		h.errorPage(w, r, http.StatusNotFound, "Tool "+tool+" has no named release "+name+".")
		return
	}
	v := cutView{Cut: cutRow{Cut: list[i], Repository: slipway.RedactURL(list[i].Repository)}}
	c, err := h.cfg.Cuts.CutGet(ctx, tool, name)
	switch code := slipway.ErrorCode(err); code {
	case "":
		v.Cut.Cut = c
	case slipway.ENotFound:
		h.serviceError(w, r, err)
		return
	default:
		h.log.WarnContext(ctx, "web: read a mutable cut's branch", "tool", tool, "cut", name, "err", err)
		v.Stale = true
		if code != slipway.EInternal {
			v.StaleWhy = slipway.ErrorMessage(err)
		}
	}
	if v.Requests, err = h.cfg.Cuts.ChangeRequestList(ctx, tool, name); err != nil {
		h.serviceError(w, r, err)
		return
	}
	for _, o := range list {
		if o.Name != name {
			v.Others = append(v.Others, o.Name)
		}
	}
	status := http.StatusOK
	q := r.URL.Query()
	if q.Has("from") {
		v.Asked, v.From = true, clip(strings.TrimSpace(q.Get("from")), slipway.MaxCutName+1)
		status = h.cutNotes(ctx, tool, name, &v)
	}
	h.render(w, r, status, "cut", view{Title: "Named release " + name + " of " + tool, Tool: tool, Section: "cuts", Flash: h.takeFlash(w, r), Data: v})
}

// cutNotes fills v's notes from v.From to name and returns the page's
// status.
func (h *handler) cutNotes(ctx context.Context, tool, name string, v *cutView) int {
	if err := slipway.ValidateCutName("from", v.From); err != nil {
		v.Problem = slipway.ErrorMessage(err)
		return http.StatusUnprocessableEntity
	}
	n, err := h.cfg.Cuts.CutNotes(ctx, tool, v.From, name)
	switch code := slipway.ErrorCode(err); {
	case err == nil:
	case code == slipway.EInvalid || code == slipway.ENotFound:
		v.Problem = slipway.ErrorMessage(err)
		return http.StatusUnprocessableEntity
	default:
		h.log.ErrorContext(ctx, "web: cut notes", "tool", tool, "from", v.From, "to", name, "err", err)
		v.Problem = "The notes could not be read from the repository now (the server's log says why); try again later."
		return http.StatusBadGateway
	}
	v.Notes = n
	for _, s := range slipway.NoteSections {
		var g []slipway.CutNoteCommit
		for _, c := range n.Commits {
			if c.Section == s {
				g = append(g, c)
			}
		}
		if len(g) > 0 {
			v.Sections = append(v.Sections, cutNoteSection{Title: s.Title(), Commits: g})
		}
	}
	return http.StatusOK
}
