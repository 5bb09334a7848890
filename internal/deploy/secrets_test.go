package deploy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"slipway.dev/slipway/internal/localrepo"
	"slipway.dev/slipway/internal/remoteconfig"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest"
)

// secretPass is the password of the private repositories of these tests:
// distinctive, so that finding it anywhere is a finding.
const secretPass = "pw-Xk39-never-stored"

const privateConfig = `components:
  job:
    component_type: one-off
    build: {repository: "%s", ref: main}
    run: {command: job}
`

// privateRepo serves a repository that asks for alice:secretPass and
// returns the URL without user info.
func privateRepo(t *testing.T) (*slipwaytest.Repo, string) {
	t.Helper()
	repo := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: true\n"})
	u, _ := slipwaytest.ServeGitHTTP(t, repo, "alice", secretPass)
	return repo, u
}

func withUser(u, userinfo string) string {
	return strings.Replace(u, "http://", "http://"+userinfo+"@", 1)
}

// noSecret fails the test when any value shows the password.
func noSecret(t *testing.T, what string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secretPass) || strings.Contains(string(b), "alice:") {
		t.Errorf("%s shows the credential: %s", what, b)
	}
}

// noSecretOnDisk fails the test when a file under dir (the database and
// its WAL, mirrors, builds, logs) holds the password.
func noSecretOnDisk(t *testing.T, dir string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		if strings.Contains(string(b), secretPass) {
			t.Errorf("%s holds the password", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Errorf("only %d files under %s", n, dir)
	}
}

func (h *harness) put(t *testing.T, tool, repo string) (slipway.ToolConfig, error) {
	t.Helper()
	cfg, _, err := h.deploys.ConfigPut(t.Context(), tool, mustParse(t, fmt.Sprintf(privateConfig, repo)))
	return cfg, err
}

func (h *harness) deployNow(t *testing.T, tool string) slipway.Deployment {
	t.Helper()
	d, err := h.deploys.DeploymentCreate(t.Context(), tool, slipway.DeployOptions{ForceBuild: true})
	if err != nil {
		t.Fatal(err)
	}
	return h.waitFinal(t, tool, d.ID)
}

// TestDeployments_RepositoryCredential: a credential in a repository URL is
// stored sealed and nowhere else; deployments build with it; *** keeps it,
// a new one replaces it; another tool never gets to the repository.
func TestDeployments_RepositoryCredential(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, true)
	_, plain := privateRepo(t)
	stored := withUser(plain, "***")

	cfg, err := h.put(t, "tool-a", withUser(plain, "alice:"+secretPass))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Components["job"].Build.Source.Repository; got != stored {
		t.Errorf("stored repository = %s, want %s", got, stored)
	}
	noSecret(t, "ConfigPut's answer", cfg)
	row, err := h.db.RepoCredentialGet(t.Context(), "tool-a", stored)
	if err != nil || strings.Contains(row.Sealed, secretPass) {
		t.Fatalf("credential row = %+v, %v", row, err)
	}

	d := h.deployNow(t, "tool-a")
	if d.Status != slipway.DeploymentSuccessful {
		t.Fatalf("deployment %s: %s", d.Status, d.LongStatus)
	}
	builds, _ := h.builds.BuildList(t.Context(), "tool-a")
	live, _ := h.db.LiveRunList(t.Context(), "tool-a")
	events, _ := h.db.EventList(t.Context(), d.ID, 0, 0)
	got, _ := h.deploys.ConfigGet(t.Context(), "tool-a")
	for what, v := range map[string]any{"deployment": d, "builds": builds, "live runs": live, "events": events, "config": got} {
		noSecret(t, what, v)
	}
	if len(builds) == 0 || builds[0].Repository != stored {
		t.Errorf("builds = %+v, want the redacted repository", builds)
	}

	// config show → create with *** keeps the credential.
	if _, err := h.put(t, "tool-a", stored); err != nil {
		t.Fatalf("ConfigPut with ***: %v", err)
	}
	if d := h.deployNow(t, "tool-a"); d.Status != slipway.DeploymentSuccessful {
		t.Errorf("deployment after the *** round trip: %s: %s", d.Status, d.LongStatus)
	}
	// A new credential replaces it: a wrong one fails the next deployment,
	// with an error that shows neither.
	if _, err := h.put(t, "tool-a", withUser(plain, "alice:wrong-"+secretPass)); err != nil {
		t.Fatal(err)
	}
	d = h.deployNow(t, "tool-a")
	if d.Status != slipway.DeploymentFailed || !strings.Contains(d.LongStatus, "***@") {
		t.Errorf("deployment with a wrong credential: %s: %s", d.Status, d.LongStatus)
	}
	noSecret(t, "failed deployment", d)
	if strings.Contains(d.LongStatus, "wrong-") {
		t.Errorf("long status shows the wrong password: %s", d.LongStatus)
	}

	// Tool B names the same repository: without a credential the
	// deployment fails; with *** and none stored, config create refuses.
	if _, err := h.put(t, "tool-b", plain); err != nil {
		t.Fatal(err)
	}
	if d := h.deployNow(t, "tool-b"); d.Status != slipway.DeploymentFailed {
		t.Errorf("tool-b without a credential: %s: %s", d.Status, d.LongStatus)
	}
	_, err = h.put(t, "tool-b", stored)
	if slipway.ErrorCode(err) != slipway.EInvalid || !strings.Contains(err.Error(), "components.job.build.repository") || !strings.Contains(err.Error(), "tool tool-b has none") {
		t.Errorf("tool-b ConfigPut with *** = %v, want EInvalid naming the field", err)
	}

	// Deleting the config deletes its credentials.
	if _, err := h.deploys.ConfigDelete(t.Context(), "tool-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.db.RepoCredentialGet(t.Context(), "tool-a", stored); err == nil {
		t.Error("the credential outlived the config")
	}
	noSecretOnDisk(t, h.dir)
}

// TestDeployments_PlanWithCredential: a plan of a posted config uses its
// credential without storing anything.
func TestDeployments_PlanWithCredential(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, false)
	repo, plain := privateRepo(t)
	cfg := mustParse(t, fmt.Sprintf(privateConfig, withUser(plain, "alice:"+secretPass)))
	d, err := h.deploys.DeploymentPlanConfig(t.Context(), "tool-a", cfg, slipway.DeployOptions{})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if len(d.Steps) == 0 || d.Steps[0].Commit != repo.Head(t) {
		t.Errorf("plan steps = %+v", d.Steps)
	}
	noSecret(t, "plan", d)
	if _, err := h.db.RepoCredentialGet(t.Context(), "tool-a", withUser(plain, "***")); err == nil {
		t.Error("a plan stored the credential")
	}
	// Without it, the plan cannot resolve.
	cfg = mustParse(t, fmt.Sprintf(privateConfig, plain))
	if _, err := h.deploys.DeploymentPlanConfig(t.Context(), "tool-a", cfg, slipway.DeployOptions{}); err == nil {
		t.Error("a plan without the credential resolved a private repository")
	}
}

// TestDeployments_SourceURLCredential: a source_url with a credential is
// fetched with it (now and at each deployment), stored redacted, and the
// repositories of the remote config have theirs taken out too.
func TestDeployments_SourceURLCredential(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{ConfigFetcher: remoteconfig.New(remoteconfig.Config{AllowPrivate: true})}, true)
	_, plain := privateRepo(t)
	const remotePass = "pw-remote-Qq81"
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "bot" || p != remotePass {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	pointer := withUser(srv.URL, "bot:"+remotePass) + "/tool.yaml"
	redacted := withUser(srv.URL, "***") + "/tool.yaml"
	body = "source_url: " + redacted + "\n" + fmt.Sprintf(privateConfig, withUser(plain, "alice:"+secretPass))

	posted := mustParse(t, "source_url: "+pointer+"\n"+fmt.Sprintf(privateConfig, "https://example.org/placeholder.git"))
	cfg, _, err := h.deploys.ConfigPut(t.Context(), "tool-a", posted)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SourceURL != redacted || cfg.Components["job"].Build.Source.Repository != withUser(plain, "***") {
		t.Errorf("stored config = %s", cfg.Raw)
	}
	noSecret(t, "stored config", cfg)
	if strings.Contains(string(cfg.Raw), remotePass) {
		t.Errorf("stored config shows the remote's password: %s", cfg.Raw)
	}
	// The deployment fetches again with the stored credential.
	if d := h.deployNow(t, "tool-a"); d.Status != slipway.DeploymentSuccessful {
		t.Fatalf("deployment: %s: %s", d.Status, d.LongStatus)
	}
	noSecretOnDisk(t, h.dir)
}

// TestDeployments_LocalRepositories: a tool's config may name local
// repositories only inside LocalRepoDirs; the admin's anywhere, and a tool
// may deploy the admin's config.
func TestDeployments_LocalRepositories(t *testing.T) {
	t.Parallel()
	allowedDir := t.TempDir()
	inside := filepath.Join(allowedDir, "app")
	if err := os.Rename(slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: true\n"}).Dir, inside); err != nil {
		t.Fatal(err)
	}
	outside := slipwaytest.GitRepo(t, map[string]string{"Procfile": "job: true\n"})
	dirs, err := localrepo.ResolveDirs([]string{allowedDir})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Config{LocalRepoDirs: dirs}, true)
	tool := slipway.WithActor(t.Context(), slipway.Actor{Name: "tool-token:abc"})
	admin := slipway.WithActor(t.Context(), slipway.Actor{Name: "admin", Admin: true})
	cfgOf := func(repo string) slipway.ToolConfig { return mustParse(t, fmt.Sprintf(privateConfig, repo)) }

	_, _, err = h.deploys.ConfigPut(tool, "tool-a", cfgOf(outside.URL))
	if slipway.ErrorCode(err) != slipway.EForbidden || !strings.Contains(err.Error(), "--local-repo-dirs") || !strings.Contains(err.Error(), "components.job.build.repository") {
		t.Errorf("a tool's ConfigPut outside = %v, want EForbidden naming the field and --local-repo-dirs", err)
	}
	if _, err := h.deploys.DeploymentPlanConfig(tool, "tool-a", cfgOf(outside.Dir), slipway.DeployOptions{}); slipway.ErrorCode(err) != slipway.EForbidden {
		t.Errorf("a tool's plan outside = %v, want EForbidden", err)
	}
	if _, _, err := h.deploys.ConfigPut(tool, "tool-a", cfgOf("file://"+inside)); err != nil {
		t.Errorf("a tool's ConfigPut inside: %v", err)
	}
	if d := h.deployNow(t, "tool-a"); d.Status != slipway.DeploymentSuccessful {
		t.Errorf("deployment of a tool's config inside: %s: %s", d.Status, d.LongStatus)
	}
	// The admin's config outside, deployed by the tool.
	if _, _, err := h.deploys.ConfigPut(admin, "tool-a", cfgOf(outside.URL)); err != nil {
		t.Fatalf("the admin's ConfigPut outside: %v", err)
	}
	d, err := h.deploys.DeploymentCreate(tool, "tool-a", slipway.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := h.waitFinal(t, "tool-a", d.ID); d.Status != slipway.DeploymentSuccessful {
		t.Errorf("the tool's deployment of the admin's config: %s: %s", d.Status, d.LongStatus)
	}
	// A version a tool stored naming a repository outside (as before this
	// check, or through a symlink swapped afterwards) fails at resolve.
	if _, err := h.db.ConfigCreateBy(t.Context(), "tool-a", cfgOf(outside.URL).Raw, slipway.Actor{Name: "tool-token:abc"}, h.eng.now()); err != nil {
		t.Fatal(err)
	}
	if d := h.deployNow(t, "tool-a"); d.Status != slipway.DeploymentFailed || !strings.Contains(d.LongStatus, "--local-repo-dirs") {
		t.Errorf("deployment of a tool's version outside: %s: %s", d.Status, d.LongStatus)
	}
}
