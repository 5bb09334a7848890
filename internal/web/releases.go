package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// Releases is what the UI needs of the release history
// (internal/deploy.Releases). Errors are [*slipway.Error] values as for
// the API.
type Releases interface {
	ReleaseList(ctx context.Context, tool string, q slipway.ReleaseQuery) ([]slipway.Release, error)
	IsLive(ctx context.Context, tool, commit string) ([]slipway.LiveCommit, error)
	When(ctx context.Context, tool, commit string) ([]slipway.FirstRelease, error)
	Notes(ctx context.Context, tool string, q slipway.NotesQuery) (slipway.ReleaseNotes, error)
}

// releasesPerPage is how many releases the releases page lists.
const releasesPerPage = 50

// msgReleasesOff is the 503 message when the server keeps no release
// history.
const msgReleasesOff = "Release history is not enabled on this server."

// commitForm is one of the releases page's questions: the commit asked
// about (as typed, cleaned), and the problem with it.
type commitForm struct {
	Asked   bool
	Commit  string
	Problem string
}

// liveRow is a component in the answer to "is commit X live?".
type liveRow struct {
	Environment, Component string
	State                  slipway.LiveState
	Live                   string
	Since                  time.Time
	Release                int64
	Deployment             deploymentLink
	// Pick says how a cherry-pick was found: as which commit, reverted
	// by which, or not searched to the end.
	Pick string
}

// whenRow is a component in the answer to "when did commit X reach it?".
type whenRow struct {
	Environment, Component string
	// How is "" when no release had the commit.
	How        string
	Release    slipway.Release
	Deployment deploymentLink
}

// deploymentLink is a deployment a release names; Kept is false when its
// record was pruned since (no page to link to).
type deploymentLink struct {
	ID   string
	Kept bool
}

// releasesView is the releases page's data.
type releasesView struct {
	Releases []releaseRow
	// Older is the before= of the next page, 0 on the last; Paged is
	// true when this page is not the newest.
	Older int64
	Paged bool
	Live  commitForm
	When  commitForm
	// LiveRows and WhenRows are the answers (when asked, and valid).
	LiveRows []liveRow
	WhenRows []whenRow
}

// releaseRow is a release in the history.
type releaseRow struct {
	slipway.Release
	Deployment deploymentLink
}

// releases serves GET /ui/t/{tool}/releases: the tool's release history,
// newest first and paged by ?before= (a release number), with two
// questions about a commit: ?live= (is it live now, and since when) and
// ?when= (the first release that included it, per environment and
// component). A bad commit is shown next to its field (422), never a 500.
func (h *handler) releases(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.Releases != nil, msgReleasesOff) {
		return
	}
	ctx, tool, q := r.Context(), r.PathValue("tool"), r.URL.Query()
	var before int64
	if s := q.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			h.errorPage(w, r, http.StatusBadRequest, "before must be a release number (the # column), such as 120; got "+strconv.Quote(clip(s, 40))+".")
			return
		}
		before = n
	}
	kept, err := h.keptDeployments(ctx, tool)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	status := http.StatusOK
	v := releasesView{Paged: before > 0}
	// ask reads the commit of field and asks do; false when it answered
	// the request with an error page.
	ask := func(field string, form *commitForm, do func(commit string) error) bool {
		if !q.Has(field) {
			return true
		}
		form.Asked = true
		form.Commit = strings.ToLower(strings.TrimSpace(clip(q.Get(field), 100)))
		err := do(form.Commit)
		switch {
		case err == nil:
		case slipway.ErrorCode(err) == slipway.EInvalid:
			form.Problem, status = slipway.ErrorMessage(err), http.StatusUnprocessableEntity
		default:
			h.serviceError(w, r, err)
			return false
		}
		return true
	}
	ok := ask("live", &v.Live, func(commit string) error {
		lcs, err := h.cfg.Releases.IsLive(ctx, tool, commit)
		for _, lc := range lcs {
			v.LiveRows = append(v.LiveRows, liveRow{
				Environment: lc.Environment, Component: lc.Component, State: lc.State, Live: lc.Live,
				Since: lc.Since, Release: lc.Release, Deployment: kept.link(lc.DeploymentID), Pick: pickNote(lc.Pick),
			})
		}
		return err
	}) && ask("when", &v.When, func(commit string) error {
		frs, err := h.cfg.Releases.When(ctx, tool, commit)
		for _, fr := range frs {
			row := whenRow{Environment: fr.Environment, Component: fr.Component, Release: fr.Release}
			if fr.Release.Seq != 0 {
				row.How, row.Deployment = howText(fr), kept.link(fr.Release.DeploymentID)
			}
			v.WhenRows = append(v.WhenRows, row)
		}
		return err
	})
	if !ok {
		return
	}
	rs, err := h.cfg.Releases.ReleaseList(ctx, tool, slipway.ReleaseQuery{Before: before, Limit: releasesPerPage + 1})
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	if len(rs) > releasesPerPage {
		rs = rs[:releasesPerPage]
		v.Older = rs[len(rs)-1].Seq
	}
	for _, rel := range rs {
		v.Releases = append(v.Releases, releaseRow{Release: rel, Deployment: kept.link(rel.DeploymentID)})
	}
	h.render(w, r, status, "releases", view{Title: "Releases of " + tool, Tool: tool, Section: "releases", Data: v})
}

// keptSet is the IDs of a tool's deployments whose records are kept.
type keptSet map[string]bool

func (k keptSet) link(id string) deploymentLink { return deploymentLink{ID: id, Kept: k[id]} }

// keptDeployments returns the tool's kept deployments: a release's
// deployment may have been pruned since, and has no page then.
func (h *handler) keptDeployments(ctx context.Context, tool string) (keptSet, error) {
	ds, err := h.cfg.Deployments.DeploymentListBrief(ctx, tool)
	if err != nil {
		return nil, err
	}
	k := make(keptSet, len(ds))
	for _, d := range ds {
		k[d.ID] = true
	}
	return k, nil
}

// pickNote describes an is-live answer's search for a cherry-pick.
func pickNote(p slipway.CherryPick) string {
	switch {
	case p.Commit != "" && p.RevertedBy != "":
		return "cherry-picked as " + shortCommit(p.Commit) + ", reverted by " + shortCommit(p.RevertedBy)
	case p.Commit != "":
		return "as " + shortCommit(p.Commit)
	case p.Partial:
		return "no cherry-pick in the newest 10,000 commits since the fork (searched no further)"
	}
	return ""
}

// howText says how a first release included the commit.
func howText(fr slipway.FirstRelease) string {
	switch fr.How {
	case slipway.LiveExact:
		return "exact"
	case slipway.LiveCherryPicked:
		return "cherry-picked as " + shortCommit(fr.Pick)
	case slipway.LiveIncluded, slipway.LiveAbsent, slipway.LiveUnknown:
	}
	return "merged"
}
