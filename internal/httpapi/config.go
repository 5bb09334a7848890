package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/toolconfig"
)

// handleConfigGet serves GET …/tool/{tool}/config.
func (a *api) handleConfigGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		cfg, err := a.svc.ConfigGet(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.ToolConfigEnvelope{Data: rawConfig(cfg), Messages: messages(nil, nil, nil)})
	})
}

// handleConfigGenerate serves GET …/tool/{tool}/config/generate.
func (a *api) handleConfigGenerate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		cfg, warnings, err := a.svc.ConfigGenerate(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.ToolConfigEnvelope{Data: rawConfig(cfg), Messages: messages(nil, warnings, nil)})
	})
}

// handleConfigCreate serves POST …/tool/{tool}/config. The body is JSON or
// YAML; both go through toolconfig.Parse, whose problems become one
// messages.error entry each (422) and whose warnings are sent back, followed
// by the service's (those of a config fetched from source_url).
func (a *api) handleConfigCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		body, err := a.readBody(w, r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if err := checkConfigBody(r.Header.Get("Content-Type"), body); err != nil {
			a.writeError(w, r, err)
			return
		}
		res, err := toolconfig.Parse(body)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		stored, warnings, err := a.svc.ConfigPut(r.Context(), tool, res.Config)
		if err != nil {
			// Problems with the server's limits come without positions:
			// they are where their fields are in the body.
			a.writeError(w, r, toolconfig.Locate(err, body))
			return
		}
		info := []string{fmt.Sprintf("Configuration for %s updated successfully.", tool)}
		writeJSON(w, http.StatusOK, oapi.ToolConfigEnvelope{Data: rawConfig(stored), Messages: messages(info, slices.Concat(res.Warnings, warnings), nil)})
	})
}

// handleConfigDelete serves DELETE …/tool/{tool}/config.
func (a *api) handleConfigDelete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		cfg, err := a.svc.ConfigDelete(r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.ToolConfigEnvelope{Data: rawConfig(cfg), Messages: messages(nil, nil, nil)})
	})
}

// checkConfigBody accepts JSON (application/json or no Content-Type; a
// malformed body is 400) and YAML (application/yaml, text/yaml and their
// x- forms), and text/plain and form-encoded bodies as sent by `curl -d`.
// Anything else is 415.
func checkConfigBody(contentType string, body []byte) error {
	mt := ""
	if contentType != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(contentType); err != nil {
			return &slipway.Error{Code: slipway.EInvalid, Message: fmt.Sprintf("Invalid Content-Type %q.", contentType), Err: errUnsupportedMediaType}
		}
	}
	switch mt {
	case "", "application/json":
		if len(bytes.TrimSpace(body)) == 0 {
			return errEmptyConfig
		}
		return decodeJSON(body, new(json.RawMessage))
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain", "application/x-www-form-urlencoded":
		if len(bytes.TrimSpace(body)) == 0 {
			return errEmptyConfig
		}
		return nil
	}
	return &slipway.Error{
		Code:    slipway.EInvalid,
		Message: fmt.Sprintf("Unsupported Content-Type %q: send the tool config as application/json or application/yaml.", mt),
		Err:     errUnsupportedMediaType,
	}
}

var errEmptyConfig = slipway.Errorf(slipway.EInvalid, "The request body is empty: send a tool config as JSON or YAML.")

// rawConfig returns the config as the user set it, or {} when unset.
func rawConfig(cfg slipway.ToolConfig) json.RawMessage {
	if len(cfg.Raw) == 0 {
		return json.RawMessage(`{}`)
	}
	return redactConfigJSON(cfg.Raw)
}
