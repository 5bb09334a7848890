package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
)

// creationDateLayout is how a deploy token's creation_date is written:
// Toolforge's (Python isoformat with microseconds, in UTC, with Z).
const creationDateLayout = "2006-01-02T15:04:05.000000Z"

// toDeployToken returns the API shape of t.
func toDeployToken(t slipway.DeployToken) oapi.DeployToken {
	return oapi.DeployToken{Token: t.Token, CreationDate: t.CreatedAt.UTC().Format(creationDateLayout)}
}

// handleDeployToken serves one of the …/deployment/token routes: op does the
// work and info, when not empty, is the info message (with the tool's name
// for %s).
func (a *api) handleDeployToken(op func(d DeployTokens, ctx context.Context, tool string) (slipway.DeployToken, error), info string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if a.cfg.DeployTokens == nil {
			a.writeError(w, r, slipway.Errorf(slipway.EUnavailable, "Deploy tokens are not enabled on this server."))
			return
		}
		tok, err := op(a.cfg.DeployTokens, r.Context(), tool)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		var infos, warnings []string
		if info != "" {
			infos = []string{fmt.Sprintf(info, tool)}
		}
		if tok.Token == "" {
			// Only a delete gets here without the token: its only copy, the
			// TOOL_DEPLOY_TOKEN envvar, had been deleted by hand.
			warnings = []string{fmt.Sprintf("The deleted token of %s could not be shown: its envvar %s had been deleted (Slipway keeps only a hash of the token).", tool, slipway.DeployTokenEnvVar)}
		}
		writeJSON(w, http.StatusOK, oapi.DeployTokenEnvelope{Data: toDeployToken(tok), Messages: messages(infos, warnings, nil)})
	})
}

// handleDeployTokenGet serves GET …/tool/{tool}/deployment/token.
func (a *api) handleDeployTokenGet() http.Handler {
	return a.handleDeployToken(DeployTokens.Get, "")
}

// handleDeployTokenCreate serves POST …/tool/{tool}/deployment/token.
func (a *api) handleDeployTokenCreate() http.Handler {
	return a.handleDeployToken(DeployTokens.Create, "Deploy token for %s created successfully.")
}

// handleDeployTokenRefresh serves PUT …/tool/{tool}/deployment/token.
func (a *api) handleDeployTokenRefresh() http.Handler {
	return a.handleDeployToken(DeployTokens.Refresh, "Deploy token for %s updated successfully.")
}

// handleDeployTokenDelete serves DELETE …/tool/{tool}/deployment/token.
func (a *api) handleDeployTokenDelete() http.Handler {
	return a.handleDeployToken(DeployTokens.Delete, "Deploy token for %s deleted successfully.")
}
