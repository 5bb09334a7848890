package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/toolconfig"
)

// handleDeploymentList serves GET …/tool/{tool}/deployment: oldest first.
func (a *api) handleDeploymentList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		ds, err := a.svc.DeploymentList(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		list := oapi.DeploymentList{Deployments: make([]oapi.Deployment, len(ds))}
		for i, d := range ds {
			list.Deployments[i] = toDeployment(d)
		}
		writeJSON(w, http.StatusOK, oapi.DeploymentListEnvelope{Data: list, Messages: messages(nil, nil, nil)})
	})
}

// handleDeploymentCreate serves POST …/tool/{tool}/deployment. The body is
// optional (absent, empty and null are fine); the force flags come from the
// query, in both spellings. With dry_run (in any of its spellings) nothing
// is created: the answer is the plan, of the body's tool_config when given,
// else of the stored config.
func (a *api) handleDeploymentCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		q := r.URL.Query()
		forceBuild, err := queryBool(q, "force-build", "force_build")
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		forceRun, err := queryBool(q, "force-run", "force_run")
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		dryRun, err := queryBool(q, dryRunParams...)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		var req oapi.DeploymentCreateRequest
		body, err := a.readOptionalJSON(w, r, &req)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		opts := a.deployOptions(r)
		opts.ForceBuild, opts.ForceRun = forceBuild, forceRun
		if opts.Environment, err = queryEnvironment(r); err != nil {
			a.writeError(w, r, err)
			return
		}
		if req.Description != nil {
			opts.Description = *req.Description
		}
		if dryRun {
			a.deploymentPlan(w, r, tool, bytes.TrimSpace(body), req, opts)
			return
		}
		d, err := a.svc.DeploymentCreate(r.Context(), tool, opts)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		info := []string{fmt.Sprintf("Deployment for %s created successfully.", tool)}
		writeJSON(w, http.StatusOK, oapi.DeploymentEnvelope{Data: toDeployment(d), Messages: messages(info, nil, nil)})
	})
}

// handleDeploymentRollback serves POST …/deployment/rollback: a deployment
// of the config and builds of an earlier successful one.
func (a *api) handleDeploymentRollback() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		var req oapi.DeploymentRollbackRequest
		if _, err := a.readOptionalJSON(w, r, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		opts := a.deployOptions(r)
		if req.Description != nil {
			opts.Description = *req.Description
		}
		to := ""
		if req.DeployId != nil {
			to = *req.DeployId
		}
		if req.Environment != nil {
			if err := slipway.ValidateEnvironmentName("environment", *req.Environment); err != nil {
				a.writeError(w, r, err)
				return
			}
			opts.Environment = *req.Environment
		}
		var d slipway.Deployment
		switch {
		case req.Release != nil && req.DeployId != nil:
			err = slipway.Errorf(slipway.EInvalid, "deploy_id and release: give one, the deployment or the release to go back to")
		case req.Release != nil:
			d, err = a.svc.ReleaseRollback(r.Context(), tool, *req.Release, opts)
		default:
			d, err = a.svc.DeploymentRollback(r.Context(), tool, to, opts)
		}
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		target := d.RollbackOf
		if d.RollbackRelease != 0 {
			target = fmt.Sprintf("release %d (made by %s)", d.RollbackRelease, d.RollbackOf)
		}
		info := []string{fmt.Sprintf("Deployment %s of %s rolls back to %s.", d.ID, tool, target)}
		writeJSON(w, http.StatusOK, oapi.DeploymentEnvelope{Data: toDeployment(d), Messages: messages(info, nil, nil)})
	})
}

// readOptionalJSON reads r's body into v when there is one: no body, an
// empty one and null leave v as it is. It returns the body as read.
func (a *api) readOptionalJSON(w http.ResponseWriter, r *http.Request, v any) ([]byte, error) {
	body, err := a.readBody(w, r)
	if err != nil {
		return nil, err
	}
	if b := bytes.TrimSpace(body); len(b) > 0 && string(b) != "null" {
		if err := decodeJSON(b, v); err != nil {
			return body, err
		}
	}
	return body, nil
}

// deployOptions returns the trigger and actor of a deployment created by
// r's credential.
func (a *api) deployOptions(r *http.Request) slipway.DeployOptions {
	opts := slipway.DeployOptions{Trigger: "cli", Actor: "admin"}
	if byDeployToken(r.Context()) {
		opts.Trigger, opts.Actor = "token", "deploy-token"
	}
	if id := identityOf(r.Context()); !id.admin && !byDeployToken(r.Context()) {
		opts.Actor = id.credential
	}
	return opts
}

// dryRunParams are the spellings of the plan-only flag, the winner first:
// hyphens win, as for the force flags.
var dryRunParams = []string{"dry-run", "only-plan", "dry_run", "only_plan"}

// deploymentPlan answers a dry run: the plan of req's tool_config when
// given (checked as by config create, its warnings sent back), else of the
// stored config. body is the request body req was decoded from.
func (a *api) deploymentPlan(w http.ResponseWriter, r *http.Request, tool string, body []byte, req oapi.DeploymentCreateRequest, opts slipway.DeployOptions) {
	var (
		d        slipway.Deployment
		warnings []string
		err      error
	)
	if req.ToolConfig != nil && string(bytes.TrimSpace(*req.ToolConfig)) != "null" {
		var res toolconfig.Result
		res, err = toolconfig.Parse(*req.ToolConfig)
		if err != nil {
			a.writeError(w, r, inBody(err, body, "tool_config"))
			return
		}
		warnings = res.Warnings
		d, err = a.svc.DeploymentPlanConfig(r.Context(), tool, res.Config, opts)
		if located := toolconfig.Locate(err, *req.ToolConfig); located != err { //nolint:errorlint // did Locate make a new error
			err = inBody(located, body, "tool_config") // problems with the server's limits
		}
	} else {
		d, err = a.svc.DeploymentPlan(r.Context(), tool, opts)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	info := []string{fmt.Sprintf("Plan for %s: nothing was changed.", tool)}
	writeJSON(w, http.StatusOK, oapi.DeploymentEnvelope{Data: toDeployment(d), Messages: messages(info, warnings, nil)})
}

// inBody moves the positions of a toolconfig.Parse error about the value of
// the body's top-level key from that value to the body, so that "line 3,
// column 40" points into what the client sent. Other errors are returned
// as they are.
func inBody(err error, body []byte, key string) error {
	var pe *toolconfig.ParseError
	if !errors.As(err, &pe) || len(pe.Problems) == 0 {
		return err
	}
	off, ok := valueOffset(body, key)
	if !ok {
		return err
	}
	// The value's line and column in the body; columns count characters,
	// as the config parser's do.
	before := body[:off]
	line0 := bytes.Count(before, []byte("\n")) + 1
	col0 := utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
	moved := &toolconfig.ParseError{Problems: slices.Clone(pe.Problems)}
	lines := make([]string, len(moved.Problems))
	for i, p := range moved.Problems {
		if p.Line > 0 {
			if p.Line == 1 && p.Column > 0 {
				p.Column += col0 - 1
			}
			p.Line += line0 - 1
			moved.Problems[i] = p
		}
		lines[i] = p.String()
	}
	return &slipway.Error{Code: slipway.EInvalid, Message: strings.Join(lines, "\n"), Err: moved}
}

// valueOffset returns the byte offset in body, a JSON object, of the value
// of its top-level key (the last one when the key repeats, as
// json.Unmarshal does).
func valueOffset(body []byte, key string) (int64, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0, false
	}
	var off int64
	found := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return 0, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return 0, false
		}
		if t == key {
			off, found = dec.InputOffset()-int64(len(v)), true
		}
	}
	return off, found
}

// handleDeploymentGet serves GET …/deployment/latest and
// GET …/deployment/{deploy_id}.
func (a *api) handleDeploymentGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		d, err := a.svc.DeploymentGet(r.Context(), tool, deployID(r))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.DeploymentEnvelope{Data: toDeployment(d), Messages: messages(nil, nil, nil)})
	})
}

// cancelInfo is Toolforge's info message of a cancel request.
const cancelInfo = "Deployment flagged for cancellation, might take a moment to cancel."

// handleDeploymentCancel serves PUT …/deployment/latest/cancel and
// PUT …/deployment/{deploy_id}/cancel.
func (a *api) handleDeploymentCancel() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		d, err := a.svc.DeploymentCancel(r.Context(), tool, deployID(r))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.DeploymentEnvelope{Data: toDeployment(d), Messages: messages([]string{cancelInfo}, nil, nil)})
	})
}

func (a *api) handleDeploymentDelete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		d, err := a.svc.DeploymentDelete(r.Context(), tool, deployID(r))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		info := fmt.Sprintf("Deployment %s deleted successfully.", d.ID)
		writeJSON(w, http.StatusOK, oapi.DeploymentEnvelope{Data: toDeployment(d), Messages: messages([]string{info}, nil, nil)})
	})
}

// deployID returns the {deploy_id} path value, "latest" on the latest route.
func deployID(r *http.Request) string {
	if id := r.PathValue("deploy_id"); id != "" {
		return id
	}
	return slipway.DeploymentIDLatest
}

// queryBool returns the first of the named query parameters that is present,
// parsed leniently: true/1/yes/on/t/y and an empty value are true,
// false/0/no/off/f/n are false, in any case. Anything else is EInvalid (422).
func queryBool(q url.Values, names ...string) (bool, error) {
	for _, name := range names {
		vs, ok := q[name]
		if !ok || len(vs) == 0 {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(vs[0])) {
		case "", "true", "1", "yes", "on", "t", "y":
			return true, nil
		case "false", "0", "no", "off", "f", "n":
			return false, nil
		}
		return false, slipway.Errorf(slipway.EInvalid, "Query parameter %s must be a boolean (true or false), got %q.", name, clip(vs[0], 40))
	}
	return false, nil
}

// toDeployment converts a deployment to its wire form. status and
// long_status are always present (a missing status is pending), and builds,
// runs, steps and tool_config are never null.
func toDeployment(d slipway.Deployment) oapi.Deployment {
	out := oapi.Deployment{
		DeployId:     d.ID,
		CreationTime: d.CreatedAt.UTC().Format(slipway.CreationTimeFormat),
		Description:  d.Description,
		Builds:       make(map[string]oapi.DeploymentBuild, len(d.Builds)),
		Runs:         make(map[string]oapi.DeploymentRun, len(d.Runs)),
		ToolConfig:   redactConfigJSON(d.ToolConfig),
		Status:       oapi.DeploymentStatus(d.Status),
		LongStatus:   d.LongStatus,
		ForceBuild:   d.ForceBuild,
		ForceRun:     d.ForceRun,
		Steps:        make([]oapi.Step, len(d.Steps)),
	}
	if d.RollbackOf != "" {
		out.RollbackOf = &d.RollbackOf
	}
	if d.Environment != "" {
		out.Environment = &d.Environment
	}
	if d.PromotedFrom != "" {
		out.PromotedFrom = &d.PromotedFrom
	}
	if d.RollbackRelease != 0 {
		out.RollbackRelease = &d.RollbackRelease
	}
	if d.RolledBackBy != "" {
		out.RolledBackBy = &d.RolledBackBy
	}
	out.Trigger, out.Actor = optional(d.Trigger), optional(d.Actor)
	out.Flow, out.Parent, out.ParentStep = optional(d.Flow), optional(d.Parent), optional(d.ParentStep)
	if out.Status == "" {
		out.Status = oapi.DeploymentStatusPending
	}
	if len(out.ToolConfig) == 0 || !json.Valid(out.ToolConfig) {
		out.ToolConfig = json.RawMessage(`{}`)
	}
	for name, b := range d.Builds {
		out.Builds[name] = oapi.DeploymentBuild{
			BuildId:         b.BuildID,
			BuildStatus:     oapi.DeploymentBuildBuildStatus(b.BuildStatus),
			BuildImage:      b.BuildImage,
			BuildLongStatus: b.BuildLongStatus,
		}
	}
	for name, r := range d.Runs {
		out.Runs[name] = oapi.DeploymentRun{RunStatus: oapi.DeploymentRunRunStatus(r.RunStatus), RunLongStatus: r.RunLongStatus}
	}
	for i, s := range d.Steps {
		needs := s.Needs
		if needs == nil {
			needs = []string{}
		}
		out.Steps[i] = oapi.Step{
			Key:       s.Key,
			Kind:      oapi.StepKind(s.Kind),
			Component: s.Component,
			Action:    oapi.StepAction(s.Action),
			Needs:     needs,
			Reason:    s.Reason,
			State:     oapi.StepState(s.State),
			Detail:    s.Detail,
			Attempt:   s.Attempt,
		}
	}
	return out
}
