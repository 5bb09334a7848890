package web

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/toolconfig"
)

// maxLogLines bounds ?lines= of a log page.
const maxLogLines = 5000

// home serves GET /ui/: the admin's list of tools; a tool session goes
// straight to its tool.
func (h *handler) home(w http.ResponseWriter, r *http.Request) {
	a := slipway.ActorFrom(r.Context())
	if !a.Admin {
		http.Redirect(w, r, "/ui/t/"+a.Tool+"/", http.StatusSeeOther)
		return
	}
	names, err := h.cfg.Tools.ToolList(r.Context())
	if err != nil {
		h.internal(w, r, err)
		return
	}
	type toolRow struct {
		Name        string
		Live, Total int
		Last        *slipway.Deployment
	}
	rows := make([]toolRow, 0, len(names))
	for _, name := range names {
		row := toolRow{Name: name}
		if cfg, err := h.cfg.Deployments.ConfigGet(r.Context(), name); err == nil {
			row.Total = len(cfg.Components)
		} else if slipway.ErrorCode(err) != slipway.ENotFound {
			h.serviceError(w, r, err)
			return
		}
		jobs, err := h.cfg.Jobs.JobList(r.Context(), name)
		if err != nil {
			h.serviceError(w, r, err)
			return
		}
		for _, j := range jobs {
			if !j.AdHoc {
				row.Live++
			}
		}
		if d, err := h.cfg.Deployments.DeploymentGet(r.Context(), name, slipway.DeploymentIDLatest); err == nil {
			row.Last = &d
		} else if slipway.ErrorCode(err) != slipway.ENotFound {
			h.serviceError(w, r, err)
			return
		}
		rows = append(rows, row)
	}
	h.render(w, r, http.StatusOK, "tools", view{Title: "Tools", Section: "tools", Data: struct{ Tools []toolRow }{rows}})
}

// componentRow is one component on the tool's overview.
type componentRow struct {
	Name    string
	Type    string
	Live    bool
	State   slipway.JobState
	Long    string
	Healthy *bool
	Commit  string
	Image   string
	URL     string
}

// overview serves GET /ui/t/{tool}/: the components with their live
// state, the last deployment and the recent builds.
func (h *handler) overview(w http.ResponseWriter, r *http.Request) {
	ctx, tool := r.Context(), r.PathValue("tool")
	byName := map[string]*componentRow{}
	var order []string
	cfg, err := h.cfg.Deployments.ConfigGet(ctx, tool)
	if err != nil && slipway.ErrorCode(err) != slipway.ENotFound {
		h.serviceError(w, r, err)
		return
	}
	for _, name := range cfg.Names() {
		byName[name] = &componentRow{Name: name, Type: string(cfg.Components[name].Type)}
		order = append(order, name)
	}
	jobs, err := h.cfg.Jobs.JobList(ctx, tool)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	for _, j := range jobs {
		name := j.Component.Name
		c := byName[name]
		if c == nil {
			c = &componentRow{Name: name}
			byName[name] = c
			order = append(order, name)
		}
		c.Type = cmp.Or(string(j.Component.Type), c.Type)
		c.Live, c.State, c.Long, c.Healthy = true, j.Status.Short, j.Status.Long, j.Status.Healthy
		c.Commit, c.Image, c.URL = j.Status.Commit, j.Image, j.Status.URL
	}
	comps := make([]componentRow, 0, len(order))
	for _, name := range order {
		comps = append(comps, *byName[name])
	}
	var last *slipway.Deployment
	if d, err := h.cfg.Deployments.DeploymentGet(ctx, tool, slipway.DeploymentIDLatest); err == nil {
		last = &d
	} else if slipway.ErrorCode(err) != slipway.ENotFound {
		h.serviceError(w, r, err)
		return
	}
	builds, err := h.cfg.Builds.BuildList(ctx, tool)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	builds = builds[:min(len(builds), 10)]
	h.render(w, r, http.StatusOK, "tool", view{Title: tool, Tool: tool, Section: "overview", Data: struct {
		Components []componentRow
		Last       *slipway.Deployment
		Builds     []slipway.Build
	}{comps, last, builds}})
}

// deployments serves GET /ui/t/{tool}/d/: newest first.
func (h *handler) deployments(w http.ResponseWriter, r *http.Request) {
	tool := r.PathValue("tool")
	ds, err := h.cfg.Deployments.DeploymentListBrief(r.Context(), tool)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	slices.Reverse(ds)
	h.render(w, r, http.StatusOK, "deployments", view{
		Title: "Deployments of " + tool, Tool: tool, Section: "deployments",
		Data: struct{ Deployments []slipway.Deployment }{ds},
	})
}

// headerView is the data of the deployment header fragment.
type headerView struct {
	D    slipway.Deployment
	CSRF string
}

// stepView is the data of a step row fragment.
type stepView struct {
	S slipway.Step
	// Announce marks a row sent live: app.js reads it out.
	Announce bool
}

// deploymentView is the deployment page's data.
type deploymentView struct {
	Header    headerView
	Steps     []stepView
	DAG       dagView
	Questions cardsView
}

func newDeploymentView(d slipway.Deployment, csrf string) deploymentView {
	v := deploymentView{Header: headerView{D: d, CSRF: csrf}, Steps: make([]stepView, len(d.Steps))}
	for i, s := range d.Steps {
		v.Steps[i] = stepView{S: s}
	}
	return v
}

// deployment serves GET /ui/t/{tool}/d/{id}.
func (h *handler) deployment(w http.ResponseWriter, r *http.Request) {
	h.showDeployment(w, r, http.StatusOK, nil)
}

// showDeployment renders the deployment page with status; forms are the
// answers to show again in their questions' cards (after a 422).
func (h *handler) showDeployment(w http.ResponseWriter, r *http.Request, status int, forms map[string]*answerForm) {
	tool, id := r.PathValue("tool"), r.PathValue("id")
	if !validDeploymentID(id) {
		h.badDeploymentID(w, r, id)
		return
	}
	d, err := h.cfg.Deployments.DeploymentGet(r.Context(), tool, id)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	s, _ := sessionOf(r.Context())
	data := newDeploymentView(d, s.CSRFSecret)
	data.DAG = h.dag(d)
	if data.Questions, err = h.questionCards(r.Context(), tool, d.ID, forms); err != nil {
		h.serviceError(w, r, err)
		return
	}
	v := view{Title: "Deployment " + d.ID, Tool: tool, Section: "deployments", Flash: h.takeFlash(w, r), Data: data}
	if !d.Status.Final() {
		v.Live = "/ui/t/" + tool + "/d/" + d.ID + "/live"
	}
	h.render(w, r, status, "deployment", v)
}

// validDeploymentID reports whether id may be a deployment's ID (or
// "latest"): short, of the characters IDs are made of.
func validDeploymentID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	return !strings.ContainsFunc(id, func(c rune) bool {
		return (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-'
	})
}

func (h *handler) badDeploymentID(w http.ResponseWriter, r *http.Request, id string) {
	h.errorPage(w, r, http.StatusNotFound, "There is no deployment "+strconv.Quote(clip(id, 64))+": deployment IDs look like 20250601-120000-abcdefghij.")
}

// cancel serves POST /ui/t/{tool}/d/{id}/cancel, then shows the deployment.
func (h *handler) cancel(w http.ResponseWriter, r *http.Request) {
	tool, id := r.PathValue("tool"), r.PathValue("id")
	if !validDeploymentID(id) {
		h.badDeploymentID(w, r, id)
		return
	}
	d, err := h.cfg.Deployments.DeploymentCancel(r.Context(), tool, id)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/t/"+tool+"/d/"+d.ID, http.StatusSeeOther)
}

// configComponent is a component on the config page.
type configComponent struct {
	Name, Type, Build, Command string
}

// config serves GET /ui/t/{tool}/config with its Plan and Deploy buttons.
func (h *handler) config(w http.ResponseWriter, r *http.Request) {
	tool := r.PathValue("tool")
	cfg, err := h.cfg.Deployments.ConfigGet(r.Context(), tool)
	found := err == nil
	if err != nil && slipway.ErrorCode(err) != slipway.ENotFound {
		h.serviceError(w, r, err)
		return
	}
	var comps []configComponent
	for _, name := range cfg.Names() {
		c := cfg.Components[name]
		build := "—"
		switch {
		case c.Build.Source != nil:
			build = slipway.RedactURL(c.Build.Source.Repository) + " @ " + cmp.Or(c.Build.Source.Ref, "HEAD")
		case c.Build.ReuseFrom != "":
			build = "reuses " + c.Build.ReuseFrom
		case c.Build.Image != "":
			build = "image " + c.Build.Image
		}
		comps = append(comps, configComponent{Name: name, Type: string(c.Type), Build: build, Command: c.Run.Command})
	}
	h.render(w, r, http.StatusOK, "config", view{Title: "Config of " + tool, Tool: tool, Section: "config", Data: struct {
		Found      bool
		Components []configComponent
		Raw        string
	}{found, comps, prettyConfig(cfg.Raw)}})
}

// prettyConfig returns a config's stored JSON indented, with the user info
// of its URLs replaced by ***.
func prettyConfig(raw json.RawMessage) string {
	if bytes.Contains(raw, []byte("@")) {
		if cfg, err := toolconfig.RewriteURLs(slipway.ToolConfig{Raw: raw}, func(_, v string) (string, error) {
			return slipway.RedactURL(v), nil
		}); err == nil && len(cfg.Raw) > 0 {
			raw = cfg.Raw
		}
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return ""
	}
	return b.String()
}

// plan serves GET /ui/t/{tool}/plan: what a deployment would do now, and
// why, step by step; nothing is changed.
func (h *handler) plan(w http.ResponseWriter, r *http.Request) {
	tool := r.PathValue("tool")
	d, err := h.cfg.Deployments.DeploymentPlan(r.Context(), tool, h.deployOptions(r))
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "plan", view{Title: "Plan for " + tool, Tool: tool, Section: "config", Data: d})
}

// deployOptions returns the options of a deployment the request makes.
func (h *handler) deployOptions(r *http.Request) slipway.DeployOptions {
	return slipway.DeployOptions{Trigger: "ui", Actor: slipway.ActorFrom(r.Context()).Name}
}

// deploy serves POST /ui/t/{tool}/deploy, then shows the new deployment.
func (h *handler) deploy(w http.ResponseWriter, r *http.Request) {
	tool := r.PathValue("tool")
	if !h.parseForm(w, r) {
		return
	}
	opts := h.deployOptions(r)
	opts.ForceBuild = r.PostForm.Get("force_build") != ""
	opts.ForceRun = r.PostForm.Get("force_run") != ""
	opts.Description = r.PostForm.Get("description")
	if n := len([]rune(opts.Description)); n > 200 {
		h.errorPage(w, r, http.StatusUnprocessableEntity, "The description is too long: at most 200 characters, got "+strconv.Itoa(n)+".")
		return
	}
	d, err := h.cfg.Deployments.DeploymentCreate(r.Context(), tool, opts)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/t/"+tool+"/d/"+d.ID, http.StatusSeeOther)
}

// logsView is a log page's data.
type logsView struct {
	Title string
	Back  string
	Lines int
	Log   []string
}

// buildLogs serves GET /ui/t/{tool}/b/{id}/logs.
func (h *handler) buildLogs(w http.ResponseWriter, r *http.Request) {
	tool, id := r.PathValue("tool"), r.PathValue("id")
	h.logPage(w, r, "Log of build "+id, "/ui/t/"+tool+"/b/"+id+"/logs/live", func(ctx context.Context, lines int, b *bytes.Buffer) error {
		return h.cfg.Builds.BuildLogs(ctx, tool, id, false, lines, b)
	})
}

// jobLogs serves GET /ui/t/{tool}/j/{name}/logs.
func (h *handler) jobLogs(w http.ResponseWriter, r *http.Request) {
	tool, name := r.PathValue("tool"), r.PathValue("name")
	h.logPage(w, r, "Logs of "+name, "/ui/t/"+tool+"/j/"+name+"/logs/live", func(ctx context.Context, lines int, b *bytes.Buffer) error {
		return h.cfg.Jobs.JobLogs(ctx, tool, name, false, lines, b)
	})
}

// logPage renders the last lines read writes, with live the URL that
// follows them.
func (h *handler) logPage(w http.ResponseWriter, r *http.Request, title, live string, read func(ctx context.Context, lines int, b *bytes.Buffer) error) {
	tool := r.PathValue("tool")
	lines, ok := h.logLines(w, r)
	if !ok {
		return
	}
	var b bytes.Buffer
	if err := read(r.Context(), lines, &b); err != nil {
		h.serviceError(w, r, err)
		return
	}
	text := strings.TrimSuffix(b.String(), "\n")
	var log []string
	if text != "" {
		log = strings.Split(text, "\n")
	}
	h.render(w, r, http.StatusOK, "logs", view{
		Title: title, Tool: tool, Live: live, LiveLog: "log",
		Data: logsView{Title: title, Back: "/ui/t/" + tool + "/", Lines: lines, Log: log},
	})
}

// logLines returns ?lines= (default LogLines), or answers 400.
func (h *handler) logLines(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := r.URL.Query().Get("lines")
	if v == "" {
		return h.cfg.LogLines, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLogLines {
		h.errorPage(w, r, http.StatusBadRequest, "lines must be a number from 1 to "+strconv.Itoa(maxLogLines)+".")
		return 0, false
	}
	return n, true
}
