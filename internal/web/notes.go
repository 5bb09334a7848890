package web

import (
	"net/http"
	"strconv"
	"strings"

	"slipway.dev/slipway/internal/slipway"
)

// notesView is the release notes page's data: the form as typed, its
// problem, and the notes when asked and valid.
type notesView struct {
	From, To, Environment, Component string
	Problem                          string
	Asked                            bool
	Notes                            slipway.ReleaseNotes
	Components                       []componentNotesView
}

// componentNotesView is one component's notes, its commits grouped.
type componentNotesView struct {
	slipway.ComponentNotes
	Sections []noteSectionView
}

// noteSectionView is one group of a component's commits.
type noteSectionView struct {
	Title   string
	Commits []slipway.NoteCommit
}

// releaseNotes serves GET /ui/t/{tool}/releases/notes: what changed
// between two releases (?from= and ?to=, release numbers; empty: each
// component's release before its current one, and its current one), per
// component, grouped as `slipway releases notes` groups them. A bad
// number, or one the service refuses, is shown next to the form (422),
// never a 500.
func (h *handler) releaseNotes(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.Releases != nil, msgReleasesOff) {
		return
	}
	tool, q := r.PathValue("tool"), r.URL.Query()
	v := notesView{
		From: clip(strings.TrimSpace(q.Get("from")), 20), To: clip(strings.TrimSpace(q.Get("to")), 20),
		Environment: clip(strings.TrimSpace(q.Get("env")), 20), Component: clip(strings.TrimSpace(q.Get("component")), 60),
		Asked: q.Has("from") || q.Has("to") || q.Has("env") || q.Has("component"),
	}
	status := http.StatusOK
	if v.Asked {
		nq := slipway.NotesQuery{Environment: v.Environment, Component: v.Component}
		for _, f := range []struct {
			name, value string
			dst         *int64
		}{{"from", v.From, &nq.From}, {"to", v.To, &nq.To}} {
			if f.value == "" || v.Problem != "" {
				continue
			}
			n, err := strconv.ParseInt(f.value, 10, 64)
			if err != nil || n < 1 {
				v.Problem = f.name + ": " + strconv.Quote(f.value) + " is not a release number (the # column of the history)"
			}
			*f.dst = n
		}
		if v.Problem == "" {
			notes, err := h.cfg.Releases.Notes(r.Context(), tool, nq)
			switch code := slipway.ErrorCode(err); {
			case err == nil:
				v.Notes = notes
				for _, cn := range notes.Components {
					v.Components = append(v.Components, componentNotesView{ComponentNotes: cn, Sections: groupNotes(cn.Commits)})
				}
			case code == slipway.EInvalid || code == slipway.ENotFound:
				v.Problem = slipway.ErrorMessage(err)
			default:
				h.serviceError(w, r, err)
				return
			}
		}
		if v.Problem != "" {
			status = http.StatusUnprocessableEntity
		}
	}
	h.render(w, r, status, "notes", view{Title: "Release notes of " + tool, Tool: tool, Section: "releases", Data: v})
}

// groupNotes returns commits grouped by section, in the order notes show
// them, each group newest first.
func groupNotes(commits []slipway.NoteCommit) []noteSectionView {
	var out []noteSectionView
	for _, s := range slipway.NoteSections {
		var g []slipway.NoteCommit
		for _, c := range commits {
			if c.Section == s {
				g = append(g, c)
			}
		}
		if len(g) > 0 {
			out = append(out, noteSectionView{Title: s.Title(), Commits: g})
		}
	}
	return out
}
