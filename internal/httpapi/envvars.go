package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
)

// EnvVars serves the /envvars routes (Toolforge's envvars API);
// internal/envvars implements it. Errors are [*slipway.Error] values as for
// [Service]: EInvalid for a bad tool or envvar name or value, ENotFound
// "Envvar X not found for tool Y", EConflict over the quota.
type EnvVars interface {
	// List returns the tool's envvars with their values, by name.
	List(ctx context.Context, tool string) ([]slipway.EnvVar, error)
	// Get returns one envvar.
	Get(ctx context.Context, tool, name string) (slipway.EnvVar, error)
	// Put creates or overwrites an envvar and says whether it created it.
	Put(ctx context.Context, tool, name, value string) (slipway.EnvVar, bool, error)
	// Delete deletes an envvar and returns it with its last value.
	Delete(ctx context.Context, tool, name string) (slipway.EnvVar, error)
	// Quota returns how many envvars the tool may have and has.
	Quota(ctx context.Context, tool string) (slipway.EnvVarQuota, error)
}

// envVarRequest returns the envvars, the {tool} and the {name} (when the
// route has one) of r, or answers the error and returns ok false. A name
// is checked against the name rule here, so that every route answers a bad
// one alike.
func (a *api) envVarRequest(w http.ResponseWriter, r *http.Request) (svc EnvVars, tool, name string, ok bool) {
	tool, err := toolName(r)
	if err != nil {
		a.writeError(w, r, err)
		return nil, "", "", false
	}
	if a.cfg.EnvVars == nil {
		a.writeError(w, r, slipway.Errorf(slipway.EUnavailable, "Envvars are not enabled on this server."))
		return nil, "", "", false
	}
	name = r.PathValue("name")
	if strings.Contains(r.Pattern, "{name}") {
		if err := slipway.ValidateEnvVarName(name); err != nil {
			a.writeError(w, r, err)
			return nil, "", "", false
		}
	}
	return a.cfg.EnvVars, tool, name, true
}

// toEnvVar returns the wire form of v.
func toEnvVar(v slipway.EnvVar) oapi.EnvVar {
	return oapi.EnvVar{Name: v.Name, Value: v.Value}
}

// handleEnvVarList serves GET …/envvars (and the legacy …/envvar).
func (a *api) handleEnvVarList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, _, ok := a.envVarRequest(w, r)
		if !ok {
			return
		}
		vs, err := svc.List(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := oapi.EnvVarListResponse{Envvars: make([]oapi.EnvVar, len(vs)), Messages: messages(nil, nil, nil)}
		for i, v := range vs {
			out.Envvars[i] = toEnvVar(v)
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// handleEnvVarGet serves GET …/envvars/{name} (and the legacy
// …/envvar/{name}).
func (a *api) handleEnvVarGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, name, ok := a.envVarRequest(w, r)
		if !ok {
			return
		}
		v, err := svc.Get(r.Context(), tool, name)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.EnvVarResponse{Envvar: toEnvVar(v), Messages: messages(nil, nil, nil)})
	})
}

// handleEnvVarCreate serves POST …/envvars with {name, value}, and with
// legacy the old POST …/envvar/{name} with {value}.
func (a *api) handleEnvVarCreate(legacy bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, name, ok := a.envVarRequest(w, r)
		if !ok {
			return
		}
		body, err := a.readEnvVarBody(w, r, legacy)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if !legacy {
			name = *body.Name
		}
		v, created, err := svc.Put(r.Context(), tool, name, *body.Value)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		info := fmt.Sprintf("Envvar %s updated; the next deployment restarts the continuous and scheduled components whose processes have another value.", name)
		if created {
			info = fmt.Sprintf("Envvar %s created; processes get it from their next start, and the next deployment restarts the continuous and scheduled components.", name)
		}
		writeJSON(w, http.StatusOK, oapi.EnvVarResponse{Envvar: toEnvVar(v), Messages: messages([]string{info}, nil, nil)})
	})
}

// envVarBody is the body of the create routes; nil fields were absent.
type envVarBody struct {
	Name  *string `json:"name"`
	Value *string `json:"value"`
}

// readEnvVarBody reads {name, value} (legacy: {value}) from r: malformed
// JSON is 400; an absent field, a field of the wrong type or an unknown
// field 422.
func (a *api) readEnvVarBody(w http.ResponseWriter, r *http.Request, legacy bool) (envVarBody, error) {
	want, has, strict := `{"name": "NAME", "value": "…"}`, "the body has name and value", any(new(envVarBody))
	if legacy {
		want, has, strict = `{"value": "…"} (the name is in the path)`, "the body has value only (the name is in the path)", new(oapi.EnvVarValue)
	}
	var body envVarBody
	if err := a.readJSONBody(w, r, &body, strict, want, has); err != nil {
		return envVarBody{}, err
	}
	switch {
	case !legacy && body.Name == nil:
		return envVarBody{}, slipway.Errorf(slipway.EInvalid, "The body has no name: send %s.", want)
	case body.Value == nil:
		return envVarBody{}, slipway.Errorf(slipway.EInvalid, "The body has no value: send %s (the value may be empty, \"\").", want)
	}
	return body, nil
}

// handleEnvVarDelete serves DELETE …/envvars/{name} (and the legacy
// …/envvar/{name}).
func (a *api) handleEnvVarDelete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, name, ok := a.envVarRequest(w, r)
		if !ok {
			return
		}
		v, err := svc.Delete(r.Context(), tool, name)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		info := fmt.Sprintf("Envvar %s deleted; processes started from now on do not get it, and the next deployment restarts the continuous and scheduled components that have it.", name)
		if name == slipway.DeployTokenEnvVar {
			info = fmt.Sprintf("Envvar %s deleted: the deploy token still works, but it can no longer be shown (slipway components deploy-token refresh makes a new one); running processes keep it until they restart.", name)
		}
		writeJSON(w, http.StatusOK, oapi.EnvVarResponse{Envvar: toEnvVar(v), Messages: messages([]string{info}, nil, nil)})
	})
}

// handleEnvVarQuota serves GET …/quotas (and the legacy …/quota).
func (a *api) handleEnvVarQuota() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, tool, _, ok := a.envVarRequest(w, r)
		if !ok {
			return
		}
		q, err := svc.Quota(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.EnvVarQuotaResponse{Quota: oapi.EnvVarQuota{Quota: q.Quota, Used: q.Used}, Messages: messages(nil, nil, nil)})
	})
}
