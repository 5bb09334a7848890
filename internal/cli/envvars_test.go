package cli

import (
	"regexp"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/slipwaytest/servertest"
)

// uuidRE matches a deploy token in the output.
var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)

// TestEnvVarsCommands runs every envvars command, plain and --json,
// against a real server, in order (the steps build on each other), and
// compares exit status, stdout and stderr with golden files.
func TestEnvVarsCommands(t *testing.T) { //nolint:tparallel // the steps build on each other, in order
	t.Parallel()
	srv := servertest.Start(t)
	long := strings.Repeat("0123456789", 6)
	steps := []struct {
		name  string
		args  []string
		stdin string
	}{
		{name: "ListEmpty", args: []string{"envvars", "list"}},
		{name: "ListEmptyJSON", args: []string{"envvars", "list", "--json"}},
		{name: "Create", args: []string{"envvars", "create", "API_KEY", "s3cret"}},
		{name: "CreateJSON", args: []string{"envvars", "create", "DB_URL", "postgres://db.example/app", "--json"}},
		{name: "CreateStdin", args: []string{"envvars", "create", "FROM_STDIN"}, stdin: "piped-secret\n"},
		{name: "CreateControl", args: []string{"envvars", "create", "CONTROL_CHARS"}, stdin: "line one\nline two\t\x1b[31mred\x1b[0m\n"},
		{name: "CreateLong", args: []string{"envvars", "create", "LONG_VALUE", long}},
		{name: "CreateBadName", args: []string{"envvars", "create", "api_key", "x"}},
		{name: "CreateReserved", args: []string{"envvars", "create", "PORT", "80"}},
		{name: "CreateDeployToken", args: []string{"envvars", "create", "TOOL_DEPLOY_TOKEN", "x"}},
		{name: "CreateNUL", args: []string{"envvars", "create", "NUL_BYTE"}, stdin: "a\x00b"},
		{name: "CreateNotUTF8", args: []string{"envvars", "create", "NOT_UTF8"}, stdin: "\xff\xfe"},
		{name: "CreateNoName", args: []string{"envvars", "create"}},
		{name: "List", args: []string{"envvars", "list"}},
		{name: "ListShowValues", args: []string{"envvars", "list", "--show-values"}},
		{name: "ListTruncate", args: []string{"envvars", "list", "--show-values", "--truncate"}},
		{name: "ListJSON", args: []string{"envvars", "list", "--json"}},
		{name: "Show", args: []string{"envvars", "show", "API_KEY"}},
		{name: "ShowJSON", args: []string{"envvars", "show", "API_KEY", "--json"}},
		{name: "ShowControl", args: []string{"envvars", "show", "CONTROL_CHARS"}},
		{name: "ShowRaw", args: []string{"envvars", "show", "CONTROL_CHARS", "--raw"}},
		{name: "ShowNotFound", args: []string{"envvars", "show", "NOT_THERE"}},
		{name: "ShowBadName", args: []string{"envvars", "show", "lower"}},
		{name: "Quota", args: []string{"envvars", "quota"}},
		{name: "QuotaJSON", args: []string{"envvars", "quota", "--json"}},
		{name: "Overwrite", args: []string{"envvars", "create", "API_KEY", "n3w"}},
		{name: "DeletePromptNo", args: []string{"envvars", "delete", "API_KEY"}, stdin: "n\n"},
		{name: "DeletePromptYes", args: []string{"envvars", "delete", "API_KEY"}, stdin: "y\n"},
		{name: "DeleteJSON", args: []string{"envvars", "delete", "DB_URL", "--yes-im-sure", "--json"}},
		{name: "DeleteNotFound", args: []string{"envvars", "delete", "API_KEY", "--yes-im-sure"}},
		// The deploy token is the TOOL_DEPLOY_TOKEN envvar: masked in list,
		// and when it is deleted by hand the token cannot be shown any more
		// (it still works); refresh makes a new one.
		{name: "TokenCreate", args: []string{"components", "deploy-token", "create"}},
		{name: "ListWithToken", args: []string{"envvars", "list"}},
		{name: "DeleteToken", args: []string{"envvars", "delete", "TOOL_DEPLOY_TOKEN", "--yes-im-sure"}},
		{name: "TokenShowHidden", args: []string{"components", "deploy-token", "show"}},
		{name: "TokenRefreshHidden", args: []string{"components", "deploy-token", "refresh", "--yes-im-sure"}},
		{name: "TokenShowAgain", args: []string{"components", "deploy-token", "show"}},
		{name: "DeleteTokenAgain", args: []string{"envvars", "delete", "TOOL_DEPLOY_TOKEN", "--yes-im-sure", "--json"}},
		{name: "TokenDeleteHidden", args: []string{"components", "deploy-token", "delete", "--yes-im-sure"}},
	}
	for _, st := range steps {
		if !t.Run(st.name, func(t *testing.T) {
			got := jobsRun(t, srv, t.Context(), st.stdin, st.args...)
			got = uuidRE.ReplaceAllString(normalise(got), "<token>")
			golden(t, "EnvVars"+st.name, got)
		}) {
			return // later steps build on earlier ones
		}
	}
}
