package httpapi

import (
	"net/http"
	"strings"
)

// componentsPrefix is the gateway prefix of Toolforge's components API.
// Every route under it is also served without it.
const componentsPrefix = "/components"

// route is one operation of the API: method and Go 1.22 ServeMux path, as in
// api/openapi.yaml.
type route struct {
	method  string
	path    string
	public  bool // served without authentication
	handler http.Handler
}

// routes lists the whole API surface. TestSpecRoutesMatchServer keeps it and
// api/openapi.yaml in step.
func (a *api) routes() []route {
	return []route{
		{"GET", "/openapi.json", true, a.handleOpenAPI()},
		{"GET", "/components/v1/healthz", true, a.handleHealth()},

		{"GET", "/components/v1/tool/{tool}/config", false, a.handleConfigGet()},
		{"POST", "/components/v1/tool/{tool}/config", false, a.handleConfigCreate()},
		{"DELETE", "/components/v1/tool/{tool}/config", false, a.handleConfigDelete()},

		{"GET", "/components/v1/tool/{tool}/deployment", false, a.handleDeploymentList()},
		{"POST", "/components/v1/tool/{tool}/deployment", false, a.handleDeploymentCreate()},
		{"GET", "/components/v1/tool/{tool}/deployment/latest", false, a.handleDeploymentGet()},
		{"GET", "/components/v1/tool/{tool}/deployment/{deploy_id}", false, a.handleDeploymentGet()},
		{"GET", "/components/v1/tool/{tool}/deployment/{deploy_id}/events", false, a.handleDeploymentEvents()},
		{"PUT", "/components/v1/tool/{tool}/deployment/latest/cancel", false, a.handleDeploymentCancel()},
		{"PUT", "/components/v1/tool/{tool}/deployment/{deploy_id}/cancel", false, a.handleDeploymentCancel()},
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
