package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"slipway.dev/slipway/internal/slipway"
)

// EnvVars is what the UI needs of a tool's envvars (internal/envvars).
// Errors are [*slipway.Error] values as for the API: EInvalid for a bad
// or reserved name or a bad value (the API's messages), ENotFound for an
// unknown envvar, EConflict over the quota or the total size.
type EnvVars interface {
	// List returns the tool's envvars with their values, by name.
	List(ctx context.Context, tool string) ([]slipway.EnvVar, error)
	// Get returns one envvar with its value.
	Get(ctx context.Context, tool, name string) (slipway.EnvVar, error)
	// Put creates or overwrites an envvar and says whether it created it.
	Put(ctx context.Context, tool, name, value string) (slipway.EnvVar, bool, error)
	// Delete deletes an envvar (and returns its last value, which the UI
	// drops).
	Delete(ctx context.Context, tool, name string) (slipway.EnvVar, error)
	// Quota returns how many envvars the tool may have and has.
	Quota(ctx context.Context, tool string) (slipway.EnvVarQuota, error)
}

// DeployTokens is what the UI needs of the tools' deploy tokens
// (internal/auth). ENotFound when the tool has none, EConflict when Create
// finds one.
type DeployTokens interface {
	// Info says when the token was made and until when it is accepted,
	// without the token.
	Info(ctx context.Context, tool string) (slipway.DeployTokenInfo, error)
	Create(ctx context.Context, tool string) (slipway.DeployToken, error)
	Refresh(ctx context.Context, tool string) (slipway.DeployToken, error)
	Delete(ctx context.Context, tool string) (slipway.DeployToken, error)
}

// APITokens is what the UI's admin page needs of the tool-scoped API
// tokens (internal/auth). Revoking a token also ends the UI sessions
// opened with it.
type APITokens interface {
	CreateToken(ctx context.Context, tool, description string) (slipway.APIToken, string, error)
	// List returns every tool's tokens for tool "", oldest first.
	List(ctx context.Context, tool string) ([]slipway.APIToken, error)
	Revoke(ctx context.Context, id string) error
}

// envVarFormBytes bounds the body of the envvar form: a value of
// MaxEnvVarValueBytes percent-encoded (three bytes each at worst), the
// name and the CSRF token, so that every value the API takes fits.
const envVarFormBytes = 3*slipway.MaxEnvVarValueBytes + 16<<10

// maxTokenDescription bounds an API token's description typed in the UI
// (the list shows it).
const maxTokenDescription = 200

// Messages of the pages that manage secrets (no credentials in them).
const (
	msgAdminOnly      = "This page is for the admin: sign in with the admin token to manage API tokens."
	msgEnvVarsOff     = "Envvars are not enabled on this server."
	msgDeployTokenOff = "Deploy tokens are not enabled on this server." //nolint:gosec // a message, not a credential
	msgAPITokensOff   = "API tokens are not enabled on this server."    //nolint:gosec // a message, not a credential
)

// formLimit is a route's own bound of its form's body, and what its 413
// page adds.
type formLimit struct {
	bytes int64
	hint  string
}

type formLimitKey struct{}

// withFormLimit serves next with forms of up to n bytes (at least
// MaxFormBytes); hint is added to the 413 page's message.
func (h *handler) withFormLimit(n int64, hint string, next http.Handler) http.Handler {
	n = max(n, h.cfg.MaxFormBytes)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), formLimitKey{}, formLimit{n, hint})))
	})
}

// formLimitOf returns the bound of r's form.
func (h *handler) formLimitOf(r *http.Request) formLimit {
	if l, ok := r.Context().Value(formLimitKey{}).(formLimit); ok {
		return l
	}
	return formLimit{bytes: h.cfg.MaxFormBytes}
}

// adminOnly serves next for the admin's sessions; a tool session gets the
// 403 page.
func (h *handler) adminOnly(next http.HandlerFunc) http.Handler {
	return h.authed(func(w http.ResponseWriter, r *http.Request) {
		if !slipway.ActorFrom(r.Context()).Admin {
			h.errorPage(w, r, http.StatusForbidden, msgAdminOnly)
			return
		}
		next(w, r)
	})
}

// secretView is the page that shows a new token, once: the response to
// the POST that made it, never a redirect, a flash or a link.
type secretView struct {
	Heading string
	// What names the secret ("deploy token", "API token").
	What   string
	Secret string
	Facts  []fact
	// Keeps says how Slipway keeps it (default: only a hash of it).
	Keeps string
	// Use says what the secret is for.
	Use  string
	Back string
	// BackText is the link's text.
	BackText string
}

// fact is a term and its description.
type fact struct{ Term, Desc string }

// ---- Envvars ----

// envVarForm is what the envvar form holds: what was typed, and the
// problems next to each field (or above the form).
type envVarForm struct {
	Name, Value                        string
	NameProblem, ValueProblem, Problem string
}

// envVarFormView is the data of the envvar_form partial. With Fixed the
// name is not asked (an envvar's own page changes its value).
type envVarFormView struct {
	Tool, CSRF string
	Form       envVarForm
	Max        int
	Fixed      bool
}

// envVarRow is an envvar in the list: never its value.
type envVarRow struct {
	Name  string
	Bytes int
	// Managed marks TOOL_DEPLOY_TOKEN, which the deploy token writes.
	Managed bool
}

// enabled answers 503 with msg and returns false unless on (the server
// has the service a page needs).
func (h *handler) enabled(w http.ResponseWriter, r *http.Request, on bool, msg string) bool {
	if !on {
		h.errorPage(w, r, http.StatusServiceUnavailable, msg)
	}
	return on
}

// envVarsView is the envvars page's data.
type envVarsView struct {
	Rows     []envVarRow
	Quota    slipway.EnvVarQuota
	Bytes    int
	MaxBytes int
	MaxValue int
	Form     envVarForm
}

// envVars serves GET /ui/t/{tool}/envvars: names, sizes and the quota;
// values are shown only on an envvar's own page.
func (h *handler) envVars(w http.ResponseWriter, r *http.Request) {
	if h.enabled(w, r, h.cfg.EnvVars != nil, msgEnvVarsOff) {
		h.showEnvVars(w, r, http.StatusOK, envVarForm{})
	}
}

func (h *handler) showEnvVars(w http.ResponseWriter, r *http.Request, status int, form envVarForm) {
	ctx, tool := r.Context(), r.PathValue("tool")
	vs, err := h.cfg.EnvVars.List(ctx, tool)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	q, err := h.cfg.EnvVars.Quota(ctx, tool)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	v := envVarsView{Quota: q, MaxBytes: slipway.MaxEnvVarTotalBytes, MaxValue: slipway.MaxEnvVarValueBytes, Form: form}
	for _, e := range vs {
		v.Rows = append(v.Rows, envVarRow{Name: e.Name, Bytes: len(e.Value), Managed: e.Name == slipway.DeployTokenEnvVar})
		v.Bytes += len(e.Name) + len(e.Value)
	}
	h.render(w, r, status, "envvars", view{
		Title: "Envvars of " + tool, Tool: tool, Section: "envvars", Flash: h.takeFlash(w, r), Data: v,
	})
}

// formValue returns a textarea's value as typed: browsers send its line
// breaks as CRLF, which become LF (what a value typed elsewhere holds).
func formValue(s string) string {
	return strings.ReplaceAll(s, "\r\n", "\n")
}

// envVarPut serves POST /ui/t/{tool}/envvars: create or overwrite, judged
// by the envvars service exactly as the API's POST is. Done: 303 to the
// list with a message that names the envvar, never its value. Refused:
// the list again with what was typed, the problem next to its field
// (422), or above the form when the quota or the total size is full
// (409).
func (h *handler) envVarPut(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.EnvVars != nil, msgEnvVarsOff) || !h.parseForm(w, r) {
		return
	}
	ctx, tool := r.Context(), r.PathValue("tool")
	form := envVarForm{Name: r.PostForm.Get("name"), Value: formValue(r.PostForm.Get("value"))}
	_, created, err := h.cfg.EnvVars.Put(ctx, tool, form.Name, form.Value)
	switch slipway.ErrorCode(err) {
	case "":
	case slipway.EInvalid:
		if slipway.ValidateEnvVarName(form.Name) != nil || slipway.ReservedEnvVar(form.Name) != "" {
			form.NameProblem = slipway.ErrorMessage(err)
		} else {
			form.ValueProblem = slipway.ErrorMessage(err)
		}
		h.showEnvVars(w, r, http.StatusUnprocessableEntity, form)
		return
	case slipway.EConflict:
		form.Problem = slipway.ErrorMessage(err)
		h.showEnvVars(w, r, http.StatusConflict, form)
		return
	default:
		h.serviceError(w, r, err)
		return
	}
	msg := fmt.Sprintf("Envvar %s updated; the next deployment restarts the continuous and scheduled components whose processes have another value.", form.Name)
	if created {
		msg = fmt.Sprintf("Envvar %s created; processes get it from their next start, and the next deployment restarts the continuous and scheduled components.", form.Name)
	}
	s, _ := sessionOf(ctx)
	h.setFlash(w, r, s, "ok", msg)
	http.Redirect(w, r, "/ui/t/"+tool+"/envvars", http.StatusSeeOther)
}

// envVarName returns the {name} of the path, or answers 404 for one that
// breaks the name rule (no such envvar can exist).
func (h *handler) envVarName(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("name")
	if err := slipway.ValidateEnvVarName(name); err != nil {
		h.errorPage(w, r, http.StatusNotFound, "There is no envvar "+strconv.Quote(clip(name, 64))+": "+slipway.ErrorMessage(err))
		return "", false
	}
	return name, true
}

// envVarView is the data of one envvar's page.
type envVarView struct {
	Name  string
	Value string
	// Managed marks TOOL_DEPLOY_TOKEN: its value is not shown here.
	Managed  bool
	MaxValue int
}

// envVar serves GET /ui/t/{tool}/envvars/{name}: the one page that shows
// a value, asked for by its own link, with the form to change it.
// TOOL_DEPLOY_TOKEN's value is not shown: the deploy token is shown once,
// when it is made.
func (h *handler) envVar(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.EnvVars != nil, msgEnvVarsOff) {
		return
	}
	name, ok := h.envVarName(w, r)
	if !ok {
		return
	}
	tool := r.PathValue("tool")
	v, err := h.cfg.EnvVars.Get(r.Context(), tool, name)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	data := envVarView{Name: name, Value: v.Value, MaxValue: slipway.MaxEnvVarValueBytes}
	if name == slipway.DeployTokenEnvVar {
		data.Value, data.Managed = "", true
	}
	h.render(w, r, http.StatusOK, "envvar", view{Title: "Envvar " + name + " of " + tool, Tool: tool, Section: "envvars", Data: data})
}

// envVarDelete serves POST /ui/t/{tool}/envvars/{name}/delete, then goes
// back to the list (303) with what happened. TOOL_DEPLOY_TOKEN goes with
// its deploy token, on that page.
func (h *handler) envVarDelete(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.EnvVars != nil, msgEnvVarsOff) {
		return
	}
	name, ok := h.envVarName(w, r)
	if !ok {
		return
	}
	ctx, tool := r.Context(), r.PathValue("tool")
	s, _ := sessionOf(ctx)
	back := "/ui/t/" + tool + "/envvars"
	if name == slipway.DeployTokenEnvVar {
		h.setFlash(w, r, s, "error", "Envvar "+name+" is managed by the deploy token: deleting the deploy token deletes it (see the Deploy token page).")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	_, err := h.cfg.EnvVars.Delete(ctx, tool, name)
	switch slipway.ErrorCode(err) {
	case "":
		h.setFlash(w, r, s, "ok", fmt.Sprintf("Envvar %s deleted; processes started from now on do not get it, and the next deployment restarts the continuous and scheduled components that have it.", name))
	case slipway.ENotFound:
		h.setFlash(w, r, s, "error", slipway.ErrorMessage(err)+": nothing was deleted.")
	default:
		h.serviceError(w, r, err)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// ---- The deploy token ----

// deployTokenView is the deploy token page's data.
type deployTokenView struct {
	Has     bool
	Info    slipway.DeployTokenInfo
	Expired bool
}

// deployToken serves GET /ui/t/{tool}/deploy-token: whether the tool has
// one, since and until when, and the buttons; never the token.
func (h *handler) deployToken(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.DeployTokens != nil, msgDeployTokenOff) {
		return
	}
	tool := r.PathValue("tool")
	var v deployTokenView
	info, err := h.cfg.DeployTokens.Info(r.Context(), tool)
	switch slipway.ErrorCode(err) {
	case "":
		v = deployTokenView{Has: true, Info: info, Expired: !h.cfg.Now().Before(info.ExpiresAt)}
	case slipway.ENotFound:
	default:
		h.serviceError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "deploy-token", view{
		Title: "Deploy token of " + tool, Tool: tool, Section: "deploy-token", Flash: h.takeFlash(w, r), Data: v,
	})
}

// deployTokenMake serves POST /ui/t/{tool}/deploy-token (create) and
// …/deploy-token/refresh: the answer is the page that shows the new
// token, once. A tool that already has one (create) or has none (refresh)
// goes back to the page with the reason.
func (h *handler) deployTokenMake(refresh bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.enabled(w, r, h.cfg.DeployTokens != nil, msgDeployTokenOff) {
			return
		}
		ctx, tool := r.Context(), r.PathValue("tool")
		op, done := h.cfg.DeployTokens.Create, "created"
		if refresh {
			op, done = h.cfg.DeployTokens.Refresh, "refreshed"
		}
		tok, err := op(ctx, tool)
		switch slipway.ErrorCode(err) {
		case "":
		case slipway.EConflict:
			h.deployTokenBack(w, r, "Tool "+tool+" already has a deploy token: refresh it to get a new one (the old one then stops working).")
			return
		case slipway.ENotFound:
			h.deployTokenBack(w, r, "Tool "+tool+" has no deploy token to refresh: create one.")
			return
		default:
			h.serviceError(w, r, err)
			return
		}
		use := "CI sends it as ?token= (or as a bearer) to deploy the tool and to read a deployment by ID; nothing else accepts it. The tool's processes get it as " + slipway.DeployTokenEnvVar + " from their next start."
		if refresh {
			use = "The old token no longer works: give this one to CI. " + use
		}
		h.render(w, r, http.StatusOK, "secret", view{
			Title: "New deploy token of " + tool, Tool: tool, Section: "deploy-token",
			Data: secretView{
				Heading: "Deploy token of " + tool + " " + done, What: "deploy token", Secret: tok.Token, Use: use,
				Facts: []fact{
					{"Created", tok.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC")},
					{"Valid until", h.deployTokenExpiry(ctx, tool, tok.CreatedAt)},
				},
				Back: "/ui/t/" + tool + "/deploy-token", BackText: "Done: back to the deploy token page",
			},
		})
	}
}

// deployTokenExpiry says until when the tool's token is valid, from Info
// (which knows the server's lifetime), else from the default lifetime.
func (h *handler) deployTokenExpiry(ctx context.Context, tool string, created time.Time) string {
	exp := created.Add(slipway.DeployTokenLifetime)
	if info, err := h.cfg.DeployTokens.Info(ctx, tool); err == nil {
		exp = info.ExpiresAt
	}
	return exp.UTC().Format("2006-01-02 15:04:05 UTC")
}

// deployTokenBack goes back to the deploy token page with an error.
func (h *handler) deployTokenBack(w http.ResponseWriter, r *http.Request, msg string) {
	s, _ := sessionOf(r.Context())
	h.setFlash(w, r, s, "error", msg)
	http.Redirect(w, r, "/ui/t/"+r.PathValue("tool")+"/deploy-token", http.StatusSeeOther)
}

// deployTokenDelete serves POST /ui/t/{tool}/deploy-token/delete, then
// goes back to the page (303) saying what happened; the deleted token is
// not shown.
func (h *handler) deployTokenDelete(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.DeployTokens != nil, msgDeployTokenOff) {
		return
	}
	ctx, tool := r.Context(), r.PathValue("tool")
	_, err := h.cfg.DeployTokens.Delete(ctx, tool)
	switch slipway.ErrorCode(err) {
	case "":
	case slipway.ENotFound:
		h.deployTokenBack(w, r, "Tool "+tool+" has no deploy token: nothing was deleted.")
		return
	default:
		h.serviceError(w, r, err)
		return
	}
	s, _ := sessionOf(ctx)
	h.setFlash(w, r, s, "ok", "Deploy token of "+tool+" deleted: CI requests with it are refused from now on, and the envvar "+
		slipway.DeployTokenEnvVar+" is gone (running processes keep it until they restart).")
	http.Redirect(w, r, "/ui/t/"+tool+"/deploy-token", http.StatusSeeOther)
}

// ---- API tokens (admin) ----

// tokenForm is what the API token form holds.
type tokenForm struct {
	Tool, Description               string
	ToolProblem, DescriptionProblem string
}

// tokensView is the API tokens page's data.
type tokensView struct {
	Tokens []slipway.APIToken
	// Tools are the tools the server knows, offered in the form.
	Tools []string
	Form  tokenForm
	Max   int
}

// apiTokens serves GET /ui/tokens (admin only): every tool's API tokens.
func (h *handler) apiTokens(w http.ResponseWriter, r *http.Request) {
	if h.enabled(w, r, h.cfg.APITokens != nil, msgAPITokensOff) {
		h.showAPITokens(w, r, http.StatusOK, tokenForm{})
	}
}

func (h *handler) showAPITokens(w http.ResponseWriter, r *http.Request, status int, form tokenForm) {
	ctx := r.Context()
	toks, err := h.cfg.APITokens.List(ctx, "")
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	tools, err := h.cfg.Tools.ToolList(ctx)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	h.render(w, r, status, "tokens", view{
		Title: "API tokens", Section: "tokens", Flash: h.takeFlash(w, r),
		Data: tokensView{Tokens: toks, Tools: tools, Form: form, Max: maxTokenDescription},
	})
}

// apiTokenCreate serves POST /ui/tokens: the answer is the page that
// shows the new token, once. A bad tool name (the API's rule) or a long
// description shows the page again (422) with what was typed.
func (h *handler) apiTokenCreate(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.APITokens != nil, msgAPITokensOff) || !h.parseForm(w, r) {
		return
	}
	form := tokenForm{Tool: r.PostForm.Get("tool"), Description: strings.TrimSpace(r.PostForm.Get("description"))}
	if n := len([]rune(form.Description)); n > maxTokenDescription {
		form.DescriptionProblem = fmt.Sprintf("The description is too long: at most %d characters, got %d.", maxTokenDescription, n)
		h.showAPITokens(w, r, http.StatusUnprocessableEntity, form)
		return
	}
	tok, secret, err := h.cfg.APITokens.CreateToken(r.Context(), form.Tool, form.Description)
	switch slipway.ErrorCode(err) {
	case "":
	case slipway.EInvalid:
		form.ToolProblem = slipway.ErrorMessage(err)
		h.showAPITokens(w, r, http.StatusUnprocessableEntity, form)
		return
	default:
		h.serviceError(w, r, err)
		return
	}
	facts := []fact{{"ID", tok.ID}, {"Tool", tok.Tool}, {"Created", tok.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC")}}
	if tok.Description != "" {
		facts = append(facts, fact{"Description", tok.Description})
	}
	h.render(w, r, http.StatusOK, "secret", view{
		Title: "New API token for " + tok.Tool, Section: "tokens",
		Data: secretView{
			Heading: "API token " + tok.ID + " for tool " + tok.Tool + " created", What: "API token", Secret: secret, Facts: facts,
			Use:  "It acts for tool " + tok.Tool + " only, on the API, the CLI (SLIPWAY_TOKEN) and this web UI, until it is revoked.",
			Back: "/ui/tokens", BackText: "Done: back to the API tokens",
		},
	})
}

// validTokenID reports whether id may be an API token's id: short, hex.
func validTokenID(id string) bool {
	return id != "" && len(id) <= 64 && !strings.ContainsFunc(id, func(c rune) bool {
		return (c < 'a' || c > 'f') && (c < '0' || c > '9')
	})
}

// apiTokenRevoke serves POST /ui/tokens/{id}/revoke, then goes back to
// the list (303) with what happened.
func (h *handler) apiTokenRevoke(w http.ResponseWriter, r *http.Request) {
	if !h.enabled(w, r, h.cfg.APITokens != nil, msgAPITokensOff) {
		return
	}
	id := r.PathValue("id")
	if !validTokenID(id) {
		h.errorPage(w, r, http.StatusNotFound, "There is no API token "+strconv.Quote(clip(id, 64))+": API token ids are hexadecimal.")
		return
	}
	s, _ := sessionOf(r.Context())
	err := h.cfg.APITokens.Revoke(r.Context(), id)
	switch slipway.ErrorCode(err) {
	case "":
		h.setFlash(w, r, s, "ok", "API token "+id+" revoked: it is refused from now on, and the web sessions opened with it have ended.")
	case slipway.ENotFound:
		h.setFlash(w, r, s, "error", slipway.ErrorMessage(err)+" (it may have been revoked already).")
	default:
		h.serviceError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/tokens", http.StatusSeeOther)
}
