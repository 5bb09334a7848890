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
	adminOnly           access = iota // the admin bearer token only (a tool's API token gets 403)
	public                            // none needed
	adminOrToolToken                  // the admin bearer token, or the {tool}'s API token
	adminOrDeployToken                // adminOrToolToken, or the tool's deploy token
	adminOrMetricsToken               // the admin bearer token, or the metrics token (Prometheus scrapers)
	adminOrToolOrAsk                  // adminOrToolToken, or an ask token of the {tool} (a step's process asking)
	anyTool                           // the admin bearer token, or any tool's credential (the route has no {tool}: the handler scopes)
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
		{"GET", "/metrics", adminOrMetricsToken, a.cfg.Metrics.Handler()},
		{"GET", "/components/v1/healthz", public, a.handleHealth()},

		// Questions (questions.go).
		{"GET", "/interactions/v1/questions", anyTool, a.handleMyQuestions()},
		{"GET", "/interactions/v1/tool/{tool}/questions", adminOrToolToken, a.handleQuestionList()},
		{"POST", "/interactions/v1/tool/{tool}/questions", adminOrToolOrAsk, a.handleQuestionAsk()},
		{"GET", "/interactions/v1/tool/{tool}/questions/{question_id}", adminOrToolOrAsk, a.handleQuestionGet()},
		{"POST", "/interactions/v1/tool/{tool}/questions/{question_id}/answers", adminOrToolToken, a.handleQuestionAnswer()},
		{"GET", "/interactions/v1/tool/{tool}/questions/{question_id}/log", adminOrToolToken, a.handleQuestionLog()},

		// Push webhooks (webhooks.go): a forge's delivery carries no bearer
		// token; the tool's webhook secret signs it.
		{"GET", "/triggers/v1/tool/{tool}/webhook", adminOrToolToken, a.handleWebhookGet()},
		{"POST", "/triggers/v1/tool/{tool}/webhook", public, a.handleWebhookReceive()},
		{"POST", "/triggers/v1/tool/{tool}/webhook/secret", adminOrToolToken, a.handleWebhookRotate()},
		{"DELETE", "/triggers/v1/tool/{tool}/webhook/secret", adminOrToolToken, a.handleWebhookDelete()},

		// Outbound notifications (notifications.go).
		{"GET", "/notifications/v1/tool/{tool}/subscriptions", adminOrToolToken, a.handleNotifyList()},
		{"POST", "/notifications/v1/tool/{tool}/subscriptions", adminOrToolToken, a.handleNotifySubscribe()},
		{"DELETE", "/notifications/v1/tool/{tool}/subscriptions/{subscription_id}", adminOrToolToken, a.handleNotifyUnsubscribe()},
		{"GET", "/notifications/v1/tool/{tool}/deliveries", adminOrToolToken, a.handleNotifyDeliveries()},
		{"GET", "/notifications/v1/tool/{tool}/deliveries/{delivery_id}", adminOrToolToken, a.handleNotifyDelivery()},
		{"POST", "/notifications/v1/tool/{tool}/deliveries/{delivery_id}/redeliver", adminOrToolToken, a.handleNotifyRedeliver()},

		// Release plans and trains (trains.go): they span tools, so admin only.
		{"GET", "/releases/v1/plans", adminOnly, a.handlePlanList()},
		{"POST", "/releases/v1/plans", adminOnly, a.handlePlanPut()},
		{"GET", "/releases/v1/plans/{plan}", adminOnly, a.handlePlanGet()},
		{"DELETE", "/releases/v1/plans/{plan}", adminOnly, a.handlePlanDelete()},
		{"POST", "/releases/v1/plans/{plan}/trains", adminOnly, a.handleTrainStart()},
		{"GET", "/releases/v1/trains", adminOnly, a.handleTrainList()},
		{"GET", "/releases/v1/trains/{train}", adminOnly, a.handleTrainGet()},
		{"POST", "/releases/v1/trains/{train}/answer", adminOnly, a.handleTrainAnswer()},
		{"POST", "/releases/v1/trains/{train}/cancel", adminOnly, a.handleTrainCancel()},
		{"GET", "/v1/admin/tokens", adminOnly, a.handleAPITokenList()},
		{"POST", "/v1/admin/tokens", adminOnly, a.handleAPITokenCreate()},
		{"DELETE", "/v1/admin/tokens/{id}", adminOnly, a.handleAPITokenRevoke()},

		{"GET", "/components/v1/tool/{tool}/config", adminOrToolToken, a.handleConfigGet()},
		{"POST", "/components/v1/tool/{tool}/config", adminOrToolToken, a.handleConfigCreate()},
		{"DELETE", "/components/v1/tool/{tool}/config", adminOrToolToken, a.handleConfigDelete()},
		{"GET", "/components/v1/tool/{tool}/config/generate", adminOrToolToken, a.handleConfigGenerate()},

		// The literal "token" and "latest" segments win over {deploy_id} in
		// the mux, so neither is ever taken for a deployment ID.
		{"GET", "/components/v1/tool/{tool}/deployment/token", adminOrToolToken, a.handleDeployTokenGet()},
		{"POST", "/components/v1/tool/{tool}/deployment/token", adminOrToolToken, a.handleDeployTokenCreate()},
		{"PUT", "/components/v1/tool/{tool}/deployment/token", adminOrToolToken, a.handleDeployTokenRefresh()},
		{"DELETE", "/components/v1/tool/{tool}/deployment/token", adminOrToolToken, a.handleDeployTokenDelete()},

		{"GET", "/components/v1/tool/{tool}/releases", adminOrToolToken, a.handleReleaseList()},
		{"GET", "/components/v1/tool/{tool}/releases/is-live", adminOrToolToken, a.handleReleaseIsLive()},
		{"GET", "/components/v1/tool/{tool}/releases/when", adminOrToolToken, a.handleReleaseWhen()},
		{"GET", "/components/v1/tool/{tool}/environment", adminOrToolToken, a.handleEnvironmentList()},
		{"GET", "/components/v1/tool/{tool}/environment/{environment}/promotion", adminOrToolToken, a.handlePromotionPreview()},
		{"POST", "/components/v1/tool/{tool}/environment/{environment}/promote", adminOrToolToken, a.handlePromote()},
		{"GET", "/components/v1/tool/{tool}/releases/notes", adminOrToolToken, a.handleReleaseNotes()},
		{"GET", "/components/v1/tool/{tool}/domains", adminOrToolToken, a.handleDomainList()},
		{"POST", "/components/v1/tool/{tool}/domains", adminOrToolToken, a.handleDomainAdd()},
		{"DELETE", "/components/v1/tool/{tool}/domains/{domain}", adminOrToolToken, a.handleDomainRemove()},
		{"GET", "/components/v1/tool/{tool}/cuts", adminOrToolToken, a.handleCutList()},
		{"POST", "/components/v1/tool/{tool}/cuts", adminOrToolToken, a.handleCutCreate()},
		{"GET", "/components/v1/tool/{tool}/cuts/{cut}", adminOrToolToken, a.handleCutGet()},
		{"POST", "/components/v1/tool/{tool}/cuts/{cut}/freeze", adminOrToolToken, a.handleCutFreeze()},
		{"POST", "/components/v1/tool/{tool}/cuts/{cut}/update", adminOrToolToken, a.handleCutUpdate()},
		{"GET", "/components/v1/tool/{tool}/cuts/{cut}/notes", adminOrToolToken, a.handleCutNotes()},
		{"GET", "/components/v1/tool/{tool}/cuts/{cut}/change-requests", adminOrToolToken, a.handleChangeRequestList()},
		{"POST", "/components/v1/tool/{tool}/cuts/{cut}/change-requests", adminOrToolToken, a.handleChangeRequestCreate()},
		{"POST", "/components/v1/tool/{tool}/cuts/{cut}/change-requests/{seq}/apply", adminOrToolToken, a.handleChangeRequestApply()},
		{"GET", "/components/v1/tool/{tool}/access-logs", adminOrToolToken, a.handleAccessLogs()},
		{"GET", "/components/v1/tool/{tool}/flow", adminOrToolToken, a.handleFlowList()},
		{"POST", "/components/v1/tool/{tool}/flow/{flow}/run", adminOrToolToken, a.handleFlowRun()},
		{"GET", "/components/v1/tool/{tool}/deployment", adminOrToolToken, a.handleDeploymentList()},
		{"POST", "/components/v1/tool/{tool}/deployment", adminOrDeployToken, a.handleDeploymentCreate()},
		{"POST", "/components/v1/tool/{tool}/deployment/rollback", adminOrDeployToken, a.handleDeploymentRollback()},
		{"GET", "/components/v1/tool/{tool}/deployment/latest", adminOrToolToken, a.handleDeploymentGet()},
		{"GET", "/components/v1/tool/{tool}/deployment/{deploy_id}", adminOrDeployToken, a.handleDeploymentGet()},
		{"DELETE", "/components/v1/tool/{tool}/deployment/{deploy_id}", adminOrToolToken, a.handleDeploymentDelete()},
		{"GET", "/components/v1/tool/{tool}/deployment/{deploy_id}/events", adminOrToolToken, a.handleDeploymentEvents()},
		{"PUT", "/components/v1/tool/{tool}/deployment/latest/cancel", adminOrToolToken, a.handleDeploymentCancel()},
		{"PUT", "/components/v1/tool/{tool}/deployment/{deploy_id}/cancel", adminOrToolToken, a.handleDeploymentCancel()},

		// Toolforge's builds API (builds.go). The literal "latest" wins over
		// {build_id} in the mux.
		{"GET", "/builds/v1/tool/{tool}/builds", adminOrToolToken, a.handleBuildList()},
		{"POST", "/builds/v1/tool/{tool}/builds", adminOrToolToken, a.handleBuildStart()},
		{"GET", "/builds/v1/tool/{tool}/builds/latest", adminOrToolToken, a.handleBuildLatest()},
		{"GET", "/builds/v1/tool/{tool}/quotas", adminOrToolToken, a.handleBuildQuota()},
		{"POST", "/builds/v1/tool/{tool}/prune", adminOrToolToken, a.handleBuildPrune()},
		{"GET", "/builds/v1/tool/{tool}/builds/{build_id}", adminOrToolToken, a.handleBuildGet()},
		{"DELETE", "/builds/v1/tool/{tool}/builds/{build_id}", adminOrToolToken, a.handleBuildDelete()},
		{"GET", "/builds/v1/tool/{tool}/builds/{build_id}/logs", adminOrToolToken, a.handleBuildLogs()},
		{"PUT", "/builds/v1/tool/{tool}/builds/{build_id}/cancel", adminOrToolToken, a.handleBuildCancel()},
		// Toolforge's jobs API (jobs.go), only under /jobs, each route also
		// with a trailing slash (see slashAlias).
		{"GET", "/jobs/v1/tool/{tool}/jobs", adminOrToolToken, a.handleJobList()},
		{"POST", "/jobs/v1/tool/{tool}/jobs", adminOrToolToken, a.handleJobRun()},
		{"PATCH", "/jobs/v1/tool/{tool}/jobs", adminOrToolToken, a.handleJobUpsert()},
		{"DELETE", "/jobs/v1/tool/{tool}/jobs", adminOrToolToken, a.handleJobFlush()},
		{"GET", "/jobs/v1/tool/{tool}/jobs/{name}", adminOrToolToken, a.handleJobGet()},
		{"DELETE", "/jobs/v1/tool/{tool}/jobs/{name}", adminOrToolToken, a.handleJobDelete()},
		{"GET", "/jobs/v1/tool/{tool}/jobs/{name}/logs", adminOrToolToken, a.handleJobLogs()},
		{"POST", "/jobs/v1/tool/{tool}/jobs/{name}/restart", adminOrToolToken, a.handleJobRestart()},
		{"GET", "/jobs/v1/tool/{tool}/images", adminOrToolToken, a.handleJobImages()},
		{"GET", "/jobs/v1/tool/{tool}/quota", adminOrToolToken, a.handleJobQuota()},
		{"GET", "/jobs/v1/tool/{tool}/quotas", adminOrToolToken, a.handleJobQuota()},
		// Toolforge's envvars API (envvars.go), only under /envvars, with
		// the singular routes of its older clients. Values are secrets:
		// never adminOrDeployToken.
		{"GET", "/envvars/v1/tool/{tool}/envvars", adminOrToolToken, a.handleEnvVarList()},
		{"POST", "/envvars/v1/tool/{tool}/envvars", adminOrToolToken, a.handleEnvVarCreate(false)},
		{"GET", "/envvars/v1/tool/{tool}/envvars/{name}", adminOrToolToken, a.handleEnvVarGet()},
		{"DELETE", "/envvars/v1/tool/{tool}/envvars/{name}", adminOrToolToken, a.handleEnvVarDelete()},
		{"GET", "/envvars/v1/tool/{tool}/quotas", adminOrToolToken, a.handleEnvVarQuota()},
		{"GET", "/envvars/v1/tool/{tool}/envvar", adminOrToolToken, a.handleEnvVarList()},
		{"GET", "/envvars/v1/tool/{tool}/envvar/{name}", adminOrToolToken, a.handleEnvVarGet()},
		{"POST", "/envvars/v1/tool/{tool}/envvar/{name}", adminOrToolToken, a.handleEnvVarCreate(true)},
		{"DELETE", "/envvars/v1/tool/{tool}/envvar/{name}", adminOrToolToken, a.handleEnvVarDelete()},
		{"GET", "/envvars/v1/tool/{tool}/quota", adminOrToolToken, a.handleEnvVarQuota()},
	}
}

// jobsPrefix is the gateway prefix of Toolforge's jobs API.
const jobsPrefix = "/jobs"

// slashAlias returns path with a trailing slash, and whether the route is
// also served so: Toolforge's jobs API registers each of its routes with
// and without one (FastAPI with redirect_slashes=False, so neither form
// redirects to the other), and its CLI calls some with one ("…/jobs/",
// "…/images/", "…/quota/"). The mux pattern of the alias is the path
// followed by "{$}", which matches that one path rather than the subtree.
func slashAlias(path string) (string, bool) {
	if !strings.HasPrefix(path, jobsPrefix+"/") {
		return "", false
	}
	return path + "/", true
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
