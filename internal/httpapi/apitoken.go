package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
)

// toAPIToken returns the API shape of t.
func toAPIToken(t slipway.APIToken) oapi.APIToken {
	return oapi.APIToken{Id: t.ID, Tool: t.Tool, Description: t.Description, Created: t.CreatedAt.UTC()}
}

// apiTokensEnabled answers 503 and returns false when the server has no
// API tokens.
func (a *api) apiTokensEnabled(w http.ResponseWriter, r *http.Request) bool {
	if a.cfg.APITokens == nil {
		a.writeError(w, r, slipway.Errorf(slipway.EUnavailable, "API tokens are not enabled on this server."))
		return false
	}
	return true
}

// handleAPITokenCreate serves POST /v1/admin/tokens.
func (a *api) handleAPITokenCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.apiTokensEnabled(w, r) {
			return
		}
		body, err := a.readBody(w, r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		var req oapi.APITokenCreateRequest
		if err := decodeJSON(body, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		description := ""
		if req.Description != nil {
			description = strings.TrimSpace(*req.Description)
		}
		tok, secret, err := a.cfg.APITokens.CreateToken(r.Context(), req.Tool, description)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		info := []string{fmt.Sprintf("API token %s for tool %s created; it will not be shown again.", tok.ID, tok.Tool)}
		writeJSON(w, http.StatusOK, oapi.APITokenCreatedEnvelope{
			Data: oapi.APITokenCreated{
				Id: tok.ID, Tool: tok.Tool, Description: tok.Description, Created: tok.CreatedAt.UTC(), Token: secret,
			},
			Messages: messages(info, nil, nil),
		})
	})
}

// handleAPITokenList serves GET /v1/admin/tokens[?tool=].
func (a *api) handleAPITokenList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.apiTokensEnabled(w, r) {
			return
		}
		toks, err := a.cfg.APITokens.List(r.Context(), r.URL.Query().Get("tool"))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		data := make([]oapi.APIToken, 0, len(toks))
		for _, t := range toks {
			data = append(data, toAPIToken(t))
		}
		writeJSON(w, http.StatusOK, oapi.APITokenListEnvelope{Data: data, Messages: messages(nil, nil, nil)})
	})
}

// handleAPITokenRevoke serves DELETE /v1/admin/tokens/{id}.
func (a *api) handleAPITokenRevoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.apiTokensEnabled(w, r) {
			return
		}
		id := r.PathValue("id")
		if err := a.cfg.APITokens.Revoke(r.Context(), id); err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, oapi.ErrorEnvelope{Messages: messages([]string{fmt.Sprintf("API token %s revoked.", id)}, nil, nil)})
	})
}
