package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/web/dagsvg"
)

//go:embed templates/*.gohtml
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// view is what the layout renders around a page's Data.
type view struct {
	Title string
	// CSRF is the token the page's forms carry (the session's, or the
	// sign-in form's own).
	CSRF string
	// Actor is who is signed in; nil on pages without a session.
	Actor *slipway.Actor
	// Tool and Section make the navigation: the tool's pages, and which
	// one this is (overview, deployments, config).
	Tool    string
	Section string
	// Live is the URL of the page's event stream (data-live), LiveLog the
	// id of the element a log stream appends to ("" for fragment swaps).
	Live    string
	LiveLog string
	// Flash is the result of the action that led here, shown once.
	Flash *flash
	// Open is how many questions wait for an answer (the header's count).
	Open int
	Data any
}

// questionsLinkView is the header's link to the questions inbox: how
// many wait, and whether it is the page shown.
type questionsLinkView struct {
	Open    int
	Current bool
}

// pageNames are the pages, each templates/<name>.gohtml defining
// "content" inside the layout.
var pageNames = []string{
	"signin", "error", "tools", "tool", "deployments", "deployment", "config", "plan", "logs", "question", "inbox",
	"envvars", "envvar", "deploy-token", "secret", "tokens", "releases", "notes", "environments", "promote",
	"trains", "train", "notifications", "notify-delivery", "confirm", "webhook", "cuts", "cut",
}

// pages holds one template set per page.
type pages struct {
	byName map[string]*template.Template
	// fragments renders the live fragments (step rows, the header).
	fragments *template.Template
}

func mustParsePages() *pages {
	p, err := parsePages()
	if err != nil {
		panic(err)
	}
	return p
}

func parsePages() (*pages, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.gohtml", "templates/partials.gohtml")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	p := &pages{byName: map[string]*template.Template{}, fragments: base}
	for _, name := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".gohtml")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// render writes page name with v as an HTML response.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	if v.Actor == nil {
		if s, ok := sessionOf(r.Context()); ok {
			a := slipway.ActorFrom(r.Context())
			v.Actor = &a
			if v.CSRF == "" {
				v.CSRF = s.CSRFSecret
			}
			if qs, err := h.cfg.Questions.QuestionList(r.Context(), "", slipway.QuestionOpen, ""); err == nil {
				v.Open = len(qs)
			} else {
				h.log.WarnContext(r.Context(), "web: count open questions", "err", err)
			}
		}
	}
	var b bytes.Buffer
	if err := h.pages.byName[name].ExecuteTemplate(&b, "layout", v); err != nil {
		h.log.ErrorContext(r.Context(), "web: render", "page", name, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// errorView is the error page's data.
type errorView struct {
	Status  int
	Text    string
	Message string
	SignIn  bool
}

// errorPage answers with an error page saying msg.
func (h *handler) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	_, signedIn := sessionOf(r.Context())
	h.render(w, r, status, "error", view{
		Title: http.StatusText(status),
		Data:  errorView{Status: status, Text: http.StatusText(status), Message: msg, SignIn: !signedIn && status == http.StatusUnauthorized},
	})
}

// internal logs err and answers 500 without its details.
func (h *handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	h.log.ErrorContext(r.Context(), "web: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	h.errorPage(w, r, http.StatusInternalServerError, msgInternal)
}

// serviceError answers a service's error: its code decides the status, as
// in the API; internal errors are logged and not shown.
func (h *handler) serviceError(w http.ResponseWriter, r *http.Request, err error) {
	var status int
	switch slipway.ErrorCode(err) {
	case slipway.EInvalid:
		status = http.StatusUnprocessableEntity
	case slipway.ENotFound:
		status = http.StatusNotFound
	case slipway.EConflict:
		status = http.StatusConflict
	case slipway.EUnauthorized:
		status = http.StatusUnauthorized
	case slipway.EForbidden:
		status = http.StatusForbidden
	case slipway.EUnavailable:
		status = http.StatusServiceUnavailable
	default:
		h.internal(w, r, err)
		return
	}
	h.errorPage(w, r, status, slipway.ErrorMessage(err))
}

// static serves the embedded static files. They are revalidated (no-cache)
// with an ETag of their content, so an upgraded server's files are used at
// once.
func (h *handler) static() http.Handler {
	type file struct {
		body []byte
		etag string
	}
	files := map[string]file{}
	_ = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		files[path.Base(p)] = file{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	dag := []byte(dagsvg.Style + dagStyle)
	sum := sha256.Sum256(dag)
	files["dag.css"] = file{body: dag, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.PathValue("file")]
		if !ok {
			h.errorPage(w, r, http.StatusNotFound, "There is no such file.")
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", f.etag)
		http.ServeContent(w, r, r.PathValue("file"), time.Time{}, bytes.NewReader(f.body))
	})
}

// dagStyle adds to dagsvg.Style what the deployment page's graph needs:
// a waiting gate (which dagsvg draws as pending) in the busy colour.
const dagStyle = `.dag .state-waiting{color:#8a4600}
.dag .state-waiting rect{stroke-width:3;stroke-dasharray:6 3}
`

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"icon":       stateIcon,
	"stateClass": stateClass,
	"time":       fmtTime,
	"clip":       clip,
	"clipHTML":   clipHTML,
	"short":      shortCommit,
	"buildKey":   buildKeyOf,
	"final":      func(s slipway.DeploymentStatus) bool { return s.Final() },
	"stepID":     func(key string) string { return "step-" + key },
	"nodeID":     dagsvg.NodeID,
	"markdown":   markdown,
	"logLine":    logLine,
	"printable":  printable,
	"printableText": func(s string) string {
		lines := strings.Split(s, "\n")
		for i, l := range lines {
			lines[i] = printable(l)
		}
		return strings.Join(lines, "\n")
	},
	"healthy": healthText,
	"deploymentLinkOf": func(tool string, l deploymentLink) struct {
		Tool string
		Link deploymentLink
	} {
		return struct {
			Tool string
			Link deploymentLink
		}{tool, l}
	},
	"add": func(a, b int) int { return a + b },
	"questionsLink": func(open int, current bool) questionsLinkView {
		return questionsLinkView{Open: open, Current: current}
	},
	"envVarForm": func(tool, csrf string, form envVarForm, maxValue int, fixed bool) envVarFormView {
		return envVarFormView{Tool: tool, CSRF: csrf, Form: form, Max: maxValue, Fixed: fixed}
	},
	"envVarTyped": func(name, value string) envVarForm { return envVarForm{Name: name, Value: value} },
	"stringOrDash": func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	},
}

// stateIcon returns the symbol shown before a state's name, so that a
// state never reads by colour alone.
func stateIcon(state any) string {
	switch fmt.Sprint(state) {
	case "done", "successful", "succeeded", "ok", "healthy", "answered", "applied", "exact", "included", "cherry-picked",
		"deployed", "delivered", "ping answered", "approved":
		return "✓"
	case "refused":
		return "↷"
	case "requested", "received":
		return "◷"
	case "conflict":
		return "✗"
	case "absent":
		return "∅"
	case "removed":
		return "⊖"
	case "waiting":
		return "…"
	case "open":
		return "?"
	case "unchanged":
		return "="
	case "running":
		return "▶"
	case "pending":
		return "◷"
	case "failed", "unhealthy", "rejected":
		return "✗"
	case "skipped":
		return "↷"
	case "cancelled", "cancelling":
		return "⊘"
	case "timed_out", "expired":
		return "⏱"
	}
	return "?"
}

// stateClass returns the CSS class that colours a state.
func stateClass(state any) string {
	switch fmt.Sprint(state) {
	case "done", "successful", "succeeded", "unchanged", "healthy", "answered", "applied", "exact", "included", "cherry-picked",
		"deployed", "delivered", "ping answered", "approved":
		return "state-ok"
	case "running", "pending", "cancelling", "waiting", "open", "requested", "received":
		return "state-busy"
	case "failed", "timed_out", "unhealthy", "rejected", "expired", "conflict":
		return "state-bad"
	}
	return "state-idle"
}

// fmtTime renders t as a <time> element in UTC; the zero time is a dash.
func fmtTime(t time.Time) template.HTML {
	if t.IsZero() {
		return "—"
	}
	u := t.UTC()
	return template.HTML(`<time datetime="` + u.Format(time.RFC3339) + `">` + u.Format("2006-01-02 15:04:05") + `</time>`) //nolint:gosec // made of formatted times only
}

// clip returns s cut to at most n runes, with an ellipsis when cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// clipHTML returns s escaped for HTML, cut to at most n bytes of escaped
// text (never inside a character or an entity), with an ellipsis when
// cut: a hard bound on what a table cell adds to a live fragment,
// whatever characters s holds.
func clipHTML(s string, n int) template.HTML {
	esc := template.HTMLEscapeString(s)
	if len(esc) <= n {
		return template.HTML(esc) //nolint:gosec // escaped above
	}
	cut := esc[:n]
	for len(cut) > 0 && !utf8.ValidString(cut[len(cut)-min(len(cut), utf8.UTFMax):]) {
		cut = cut[:len(cut)-1]
	}
	if amp := strings.LastIndexByte(cut, '&'); amp >= 0 && !strings.Contains(cut[amp:], ";") {
		cut = cut[:amp]
	}
	return template.HTML(cut + "…") //nolint:gosec // escaped above, cut between entities
}

// shortCommit returns the first 10 characters of a commit.
func shortCommit(c string) string {
	if len(c) > 10 {
		return c[:10]
	}
	return c
}

// buildKeyOf returns the build key of an image "builds/<key>", shortened.
func buildKeyOf(image string) string {
	return shortCommit(strings.TrimPrefix(image, "builds/"))
}

// healthText describes a job's health.
func healthText(h *bool) string {
	switch {
	case h == nil:
		return "—"
	case *h:
		return "healthy"
	default:
		return "unhealthy"
	}
}

// printable shows the control characters of s (other than tabs) escaped,
// so that a log cannot hide text from its reader.
func printable(s string) string {
	if !strings.ContainsFunc(s, isHidden) {
		return s
	}
	var b strings.Builder
	for _, c := range s {
		if isHidden(c) {
			if c < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, c)
			} else {
				fmt.Fprintf(&b, `\u%04x`, c)
			}
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// isHidden reports control and bidi formatting characters.
func isHidden(c rune) bool {
	return (unicode.IsControl(c) && c != '\t') || unicode.Is(unicode.Bidi_Control, c)
}
