package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/apiclient"
	"slipway.dev/slipway/internal/flock"
	"slipway.dev/slipway/internal/pgtest"
	"slipway.dev/slipway/internal/server"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/slipwaytest/servertest"
	"slipway.dev/slipway/internal/store/postgres"
	"slipway.dev/slipway/internal/store/sqlite"
	"slipway.dev/slipway/internal/store/sqlstore"
)

// pgPassword is put in the URLs given to migrate-store (the test
// cluster trusts every connection, so any password works): it must
// never be printed.
const pgPassword = "pw-s3cret"

// pgURL returns the URL of a fresh PostgreSQL schema, with pgPassword in
// it.
func pgURL(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), pgPassword)
	return u.String()
}

// migrate runs `slipway admin migrate-store` in-process.
func migrate(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	vars := map[string]string{"HOME": t.TempDir()}
	code := Main(t.Context(), append([]string{"admin", "migrate-store"}, args...), func(k string) string { return vars[k] },
		strings.NewReader(""), &stdout, &stderr)
	res := result{code, stdout.String(), stderr.String()}
	if strings.Contains(res.stdout+res.stderr, pgPassword) {
		t.Errorf("migrate-store printed the database's password:\nstdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	}
	return res
}

// apiAnswers returns the API's answers (whole bodies, as JSON) about
// servertest.Tool: its deployment list, each deployment, its config, its
// envvars, its builds and its API tokens.
func apiAnswers(t *testing.T, c *apiclient.Client) map[string]json.RawMessage {
	t.Helper()
	ctx := t.Context()
	tool := servertest.Tool
	out := map[string]json.RawMessage{}
	get := func(what string) func(apiclient.Envelope, error) apiclient.Envelope {
		return func(env apiclient.Envelope, err error) apiclient.Envelope {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			out[what] = env.Raw
			return env
		}
	}
	list := get("deployment list")(c.DeploymentList(ctx, tool))
	ds, err := list.Deployments()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) < 2 {
		t.Fatalf("deployments = %d, want the history of at least 2", len(ds))
	}
	for _, d := range ds {
		get("deployment show " + d.ID)(c.DeploymentGet(ctx, tool, d.ID))
	}
	get("config show")(c.ConfigGet(ctx, tool))
	get("envvars list")(c.EnvVarList(ctx, tool))
	get("envvars show API_KEY")(c.EnvVarGet(ctx, tool, "API_KEY"))
	get("builds list")(c.BuildList(ctx, tool))
	get("admin token list")(c.APITokenList(ctx, ""))
	return out
}

// Ensure an SQLite installation with history, moved to PostgreSQL by
// migrate-store (refused while its server runs), serves the same API
// answers from a server on PostgreSQL with the same data directory.
func TestAdminMigrateStore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv := servertest.Start(t)
	srv.Deploy(t) // a second deployment
	if _, err := srv.Client.EnvVarCreate(ctx, servertest.Tool, "API_KEY", "s3cret ✓ ünïcode"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client.APITokenCreate(ctx, servertest.Tool, "CI ✓"); err != nil {
		t.Fatal(err)
	}
	before := apiAnswers(t, srv.Client)
	to := pgURL(t)
	from := "sqlite:" + srv.DataDir

	res := migrate(t, "--from", from, "--to", to)
	lock := filepath.Join(srv.DataDir, server.LockFile)
	want := "Error: move the store of " + srv.DataDir + " to " + postgres.Redact(to) + ": a slipway server is running on " + srv.DataDir +
		" (it holds " + lock + "): stop it first, so that nothing changes while its store is copied\n"
	if res.code != 1 || res.stderr != want || res.stdout != "" {
		t.Errorf("migrate-store while the server runs: exit %d, stdout %q, stderr %q; want 1 and %q", res.code, res.stdout, res.stderr, want)
	}

	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	res = migrate(t, "--from", from, "--to", to)
	if res.code != 0 || res.stderr != "" {
		t.Fatalf("migrate-store: exit %d, stdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	checkMigrateOutput(t, res.stdout, srv.DataDir)

	pg, err := server.New(server.Config{
		DataDir: srv.DataDir, Database: to, Listen: "127.0.0.1:0", ProxyListen: "127.0.0.1:0", AllowLocalRepos: true,
		Logger: slog.New(slog.DiscardHandler), StopGrace: time.Second, BuildSlots: 1, ToolRate: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.Start(ctx); err != nil {
		t.Fatalf("a server on the moved store: %v", err)
	}
	t.Cleanup(func() {
		if err := pg.Stop(context.WithoutCancel(ctx)); err != nil {
			t.Errorf("stop the server on PostgreSQL: %v", err)
		}
	})
	c, err := apiclient.New(pg.URL(), pg.AdminToken())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, apiAnswers(t, c), cmp.Transformer("json", func(raw json.RawMessage) any {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return string(raw)
		}
		return v
	})); d != "" {
		t.Errorf("the API answers differently after the move (-sqlite +postgres):\n%s", d)
	}

	// Run again once that server stopped, it finds the installation there
	// and changes nothing.
	if err := pg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	res = migrate(t, "--from", from, "--to", to)
	if res.code != 1 || !strings.Contains(res.stderr, ": the destination already holds Slipway data (tools: 1 row, ") {
		t.Errorf("migrate-store again: exit %d, stderr %q; want 1, the destination already holding data", res.code, res.stderr)
	}
}

// checkMigrateOutput checks the text that migrate-store printed: a line
// per table with its count and time, a summary, and what to do next.
func checkMigrateOutput(t *testing.T, out, dir string) {
	t.Helper()
	redacted := regexp.QuoteMeta("postgres://postgres:***@")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var patterns []string
	patterns = append(patterns, `^Moving the store of `+regexp.QuoteMeta(dir)+` from SQLite \(slipway\.db\) to PostgreSQL \(`+redacted+`.*\)$`)
	for _, tb := range sqlstore.Tables() {
		patterns = append(patterns, `^\[✅\] `+tb.Name+` +[0-9,]+ rows? +[0-9]+\.[0-9]s$`)
	}
	patterns = append(patterns,
		`^Moved [0-9,]+ rows of `+strconv.Itoa(len(sqlstore.Tables()))+` tables in [0-9]+\.[0-9]s, verified: each table has as many rows in PostgreSQL as in SQLite\. The SQLite database `+regexp.QuoteMeta(filepath.Join(dir, "slipway.db"))+` is kept\.$`,
		`^Next:$`,
		`^  1\. Start the server on the database: slipway server --data `+regexp.QuoteMeta(dir)+` --database '`+redacted+`[^']*' \(with the password in place of \*\*\*\), or set SLIPWAY_DATABASE\.$`,
		`^  2\. Every other server on the database needs the same secret-key and admin-token: copy both from `+regexp.QuoteMeta(dir)+` to its data directory before it starts\.$`,
	)
	if len(lines) != len(patterns) {
		t.Fatalf("migrate-store printed %d lines, want %d:\n%s", len(lines), len(patterns), out)
	}
	for i, p := range patterns {
		if !regexp.MustCompile(p).MatchString(lines[i]) {
			t.Errorf("line %d = %q, want it to match %s", i+1, lines[i], p)
		}
	}
	if !regexp.MustCompile(`\n\[✅\] deployments +2 rows `).MatchString(out) {
		t.Errorf("the deployments line does not show the 2 deployments:\n%s", out)
	}
}

// sqliteSource makes a data directory whose SQLite store has a tool with
// a config and a finished deployment with events, and fill's rows.
func sqliteSource(t *testing.T, fill func(s *sqlite.DB)) string {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, server.DBFile), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	if _, err := db.ConfigCreate(ctx, "mytool", json.RawMessage(`{"config_version":"v1beta1"}`), now); err != nil {
		t.Fatal(err)
	}
	d := slipway.Deployment{ID: "20250601-120000-aaaaaaaaaa", Tool: "mytool", CreatedAt: now, Status: slipway.DeploymentSuccessful, FinishedAt: now}
	if err := db.DeploymentCreate(ctx, d); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := db.EventAppend(ctx, slipway.Event{DeploymentID: d.ID, Time: now, Kind: "deployment"}); err != nil {
			t.Fatal(err)
		}
	}
	if fill != nil {
		fill(db)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Ensure --json prints the counts, and the destination's URL without its
// password; --from may name the database file.
func TestAdminMigrateStore_JSON(t *testing.T) {
	t.Parallel()
	dir := sqliteSource(t, nil)
	to := pgURL(t)
	res := migrate(t, "--from", "sqlite:"+filepath.Join(dir, "slipway.db"), "--to", to, "--json")
	if res.code != 0 || res.stderr != "" {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	var got storeMigrated
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, res.stdout)
	}
	counts := map[string]int64{}
	for _, tb := range got.Tables {
		counts[tb.Table] = tb.Rows
		if tb.Seconds < 0 {
			t.Errorf("%s: %v seconds", tb.Table, tb.Seconds)
		}
	}
	want := map[string]int64{}
	for _, tb := range sqlstore.Tables() {
		want[tb.Name] = 0
	}
	want["tools"], want["configs"], want["deployments"], want["events"] = 1, 1, 1, 3
	if d := cmp.Diff(want, counts); d != "" {
		t.Errorf("counts (-want +got):\n%s", d)
	}
	if got.Rows != 6 || got.From != filepath.Join(dir, "slipway.db") || got.To != postgres.Redact(to) || !strings.Contains(got.To, ":***@") {
		t.Errorf("rows %d, from %q, to %q; want 6, %s and the redacted URL", got.Rows, got.From, got.To, filepath.Join(dir, "slipway.db"))
	}

	db, err := postgres.Open(t.Context(), to, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if seq, err := db.EventAppend(t.Context(), slipway.Event{DeploymentID: "20250601-120000-aaaaaaaaaa", Kind: "deployment"}); err != nil || seq != 4 {
		t.Errorf("EventAppend after the move = %d, %v; want 4", seq, err)
	}
}

// Ensure each mistake on the command line, and each refusal, says what
// is wrong (and what would be valid), and that a refused move leaves the
// destination as it was.
func TestAdminMigrateStore_Refused(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	good := sqliteSource(t, nil)
	to := pgURL(t)
	redactedTo := postgres.Redact(to)

	running := sqliteSource(t, nil)
	unlock, err := flock.Lock(ctx, filepath.Join(running, server.LockFile))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()

	unfinished := sqliteSource(t, func(db *sqlite.DB) {
		for i, status := range []slipway.DeploymentStatus{slipway.DeploymentRunning, slipway.DeploymentPending} {
			d := slipway.Deployment{ID: "20250601-13000" + string(rune('0'+i)) + "-bbbbbbbbbb", Tool: "mytool", CreatedAt: time.Date(2025, 6, 1, 13, 0, i, 0, time.UTC), Status: status}
			if err := db.DeploymentCreate(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
	})

	full := pgURL(t)
	db, err := postgres.Open(ctx, full, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if err := db.ToolEnsure(ctx, "theirs", time.Now()); err != nil {
		t.Fatal(err)
	}

	empty := t.TempDir()
	other := filepath.Join(t.TempDir(), "other.db")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	usage := "\nRun 'slipway --help' for usage.\n"
	const (
		fromWant = "want sqlite:PATH, the data directory of the installation to move (or the slipway.db in it), e.g. --from sqlite:/var/lib/slipway"
		toWant   = "want a postgres:// URL of an empty database, postgres://USER:PASSWORD@HOST:PORT/DB"
	)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{
			"NoFrom",
			[]string{"--to", to},
			2,
			"Error: --from is required: give sqlite:PATH, the data directory of the installation to move (or the slipway.db in it), e.g. --from sqlite:/var/lib/slipway" + usage,
		},
		{"FromNotSQLite", []string{"--from", good, "--to", to}, 2, "Error: --from " + good + ": " + fromWant + usage},
		{"FromPostgres", []string{"--from", to, "--to", to}, 2, "Error: --from " + redactedTo + ": " + fromWant + usage},
		{"FromEmptyPath", []string{"--from", "sqlite:", "--to", to}, 2, "Error: --from sqlite:: " + fromWant + usage},
		{
			"FromOtherFile",
			[]string{"--from", "sqlite:" + other, "--to", to},
			2,
			"Error: --from sqlite:" + other + ": a file that is not slipway.db; " + fromWant + usage,
		},
		{
			"FromMissing",
			[]string{"--from", "sqlite:" + empty + "/nope", "--to", to},
			1,
			"Error: --from sqlite:" + empty + "/nope: stat " + empty + "/nope: no such file or directory\n",
		},
		{
			"FromNoDatabase",
			[]string{"--from", "sqlite:" + empty, "--to", to},
			1,
			"Error: move the store of " + empty + " to " + redactedTo + ": no Slipway database in " + empty + " (" + empty +
				"/slipway.db does not exist): want the data directory of an installation that ran on SQLite\n",
		},
		{
			"NoTo",
			[]string{"--from", "sqlite:" + good},
			2,
			"Error: --to is required: give a postgres:// URL of an empty database, postgres://USER:PASSWORD@HOST:PORT/DB" + usage,
		},
		{
			"ToNotPostgres",
			[]string{"--from", "sqlite:" + good, "--to", "mysql://root:" + pgPassword + "@db/slipway"},
			2,
			"Error: --to mysql://root:***@db/slipway: " + toWant + usage,
		},
		{
			"ToSQLite",
			[]string{"--from", "sqlite:" + good, "--to", "sqlite:" + empty},
			2,
			"Error: --to sqlite:" + empty + ": " + toWant + usage,
		},
		{
			"ServerRunning",
			[]string{"--from", "sqlite:" + running, "--to", to},
			1,
			"Error: move the store of " + running + " to " + redactedTo + ": a slipway server is running on " + running + " (it holds " + running +
				"/slipway.lock): stop it first, so that nothing changes while its store is copied\n",
		},
		{
			"Unfinished",
			[]string{"--from", "sqlite:" + unfinished, "--to", to},
			1,
			"Error: move the store of " + unfinished + " to " + redactedTo + ": the source has unfinished deployments, whose queued jobs would not be copied: " +
				"20250601-130000-bbbbbbbbbb of mytool (running), 20250601-130001-bbbbbbbbbb of mytool (pending); let them finish or cancel them, then copy again. " +
				"To do that, start a server on " + unfinished + " (cancel with: slipway --tool TOOL components deployment cancel ID), stop it once they are final, and run migrate-store again\n",
		},
		{
			"DestinationNotEmpty",
			[]string{"--from", "sqlite:" + good, "--to", full},
			1,
			"Error: move the store of " + good + " to " + postgres.Redact(full) + ": the destination already holds Slipway data (tools: 1 row): " +
				"a copy never merges into or overwrites an installation; copy into an empty database or schema\n",
		},
	} {
		res := migrate(t, tc.args...)
		if res.code != tc.code || res.stderr != tc.want || res.stdout != "" {
			t.Errorf("%s: migrate-store %q: exit %d, stdout %q, stderr:\n%s\nwant %d and:\n%s", tc.name, tc.args, res.code, res.stdout, res.stderr, tc.code, tc.want)
		}
	}

	// The refused destinations are as they were.
	if tools, err := db.ToolList(ctx); err != nil || len(tools) != 1 || tools[0] != "theirs" {
		t.Errorf("tools of the non-empty destination = %q, %v; want only its own", tools, err)
	}
	check, err := postgres.Open(ctx, to, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = check.Close() }()
	if tools, err := check.ToolList(ctx); err != nil || len(tools) != 0 {
		t.Errorf("tools of the destination after the refusals = %q, %v; want none", tools, err)
	}
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 1024: "1,024", 123456: "123,456", 1234567: "1,234,567", -1024: "-1,024"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
