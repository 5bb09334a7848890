package httpapi

import (
	"net/http"
	"strings"
)

// componentsPrefix is the gateway prefix of Toolforge's components API.
// Every route under it is also served without it.
const componentsPrefix = "/components"

// access says which credentials a route accepts.
type access int

const (
	adminOnly          access = iota // the admin bearer token
	public                           // none needed
	adminOrDeployToken               // the admin bearer token, or the tool's deploy token
)

// route is one operation of the API: method and Go 1.22 ServeMux path, as in
// api/openapi.yaml.
type route struct {
	method  string
	path    string
	access  access
	handler http.Handler
}

// routes lists the whole API surface. TestSpecRoutesMatchServer keeps it and
// api/openapi.yaml in step.
func (a *api) routes() []route {
	return []route{
		{"GET", "/openapi.json", public, a.handleOpenAPI()},
		{"GET", "/components/v1/healthz", public, a.handleHealth()},

		{"GET", "/components/v1/tool/{tool}/config", adminOnly, a.handleConfigGet()},
		{"POST", "/components/v1/tool/{tool}/config", adminOnly, a.handleConfigCreate()},
		{"DELETE", "/components/v1/tool/{tool}/config", adminOnly, a.handleConfigDelete()},
		{"GET", "/components/v1/tool/{tool}/config/generate", adminOnly, a.handleConfigGenerate()},

		// The literal "token" and "latest" segments win over {deploy_id} in
		// the mux, so neither is ever taken for a deployment ID.
		{"GET", "/components/v1/tool/{tool}/deployment/token", adminOnly, a.handleDeployTokenGet()},
		{"POST", "/components/v1/tool/{tool}/deployment/token", adminOnly, a.handleDeployTokenCreate()},
		{"PUT", "/components/v1/tool/{tool}/deployment/token", adminOnly, a.handleDeployTokenRefresh()},
		{"DELETE", "/components/v1/tool/{tool}/deployment/token", adminOnly, a.handleDeployTokenDelete()},

		{"GET", "/components/v1/tool/{tool}/deployment", adminOnly, a.handleDeploymentList()},
		{"POST", "/components/v1/tool/{tool}/deployment", adminOrDeployToken, a.handleDeploymentCreate()},
		{"GET", "/components/v1/tool/{tool}/deployment/latest", adminOnly, a.handleDeploymentGet()},
		{"GET", "/components/v1/tool/{tool}/deployment/{deploy_id}", adminOrDeployToken, a.handleDeploymentGet()},
		{"GET", "/components/v1/tool/{tool}/deployment/{deploy_id}/events", adminOnly, a.handleDeploymentEvents()},
		{"PUT", "/components/v1/tool/{tool}/deployment/latest/cancel", adminOnly, a.handleDeploymentCancel()},
		{"PUT", "/components/v1/tool/{tool}/deployment/{deploy_id}/cancel", adminOnly, a.handleDeploymentCancel()},
	}
}

// unprefixed returns path without the /components prefix, and whether it had
// one.
func unprefixed(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, componentsPrefix)
	if !ok || !strings.HasPrefix(rest, "/") {
		return "", false
	}
	return rest, true
}
