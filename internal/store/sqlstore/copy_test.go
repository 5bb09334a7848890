package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/pgtest"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/store"
	"slipway.dev/slipway/internal/store/postgres"
	"slipway.dev/slipway/internal/store/sqlite"
	"slipway.dev/slipway/internal/store/sqlstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func openSQLite(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func openPostgres(t *testing.T) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), pgtest.Schema(t), postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// column is a column of a table as a schema says.
type column struct {
	name string
	bool bool
}

// Ensure the copier's table list is the schema, in both dialects: every
// table either copied or deliberately not, every column copied, the
// boolean columns those PostgreSQL calls boolean, and the key SQLite's
// primary key. A migration that adds a table or a column fails here until
// sqlstore's list has it.
func TestTables(t *testing.T) {
	t.Parallel()
	lite, pg := openSQLite(t), openPostgres(t)

	liteSchema := map[string][]column{}
	liteKeys := map[string][]string{}
	var names []string
	eachRow(t, lite.ReadDB(), `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`, nil, func(scan func(...any) error) {
		var name string
		if err := scan(&name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	})
	for _, name := range names {
		keys := map[int]string{}
		eachRow(t, lite.ReadDB(), `SELECT name, pk FROM pragma_table_info(?) ORDER BY cid`, []any{name}, func(scan func(...any) error) {
			var (
				col string
				pk  int
			)
			if err := scan(&col, &pk); err != nil {
				t.Fatal(err)
			}
			liteSchema[name] = append(liteSchema[name], column{name: col})
			if pk > 0 {
				keys[pk] = col
			}
		})
		for i := 1; i <= len(keys); i++ {
			liteKeys[name] = append(liteKeys[name], keys[i])
		}
	}

	pgSchema := map[string][]column{}
	eachRow(t, pg.ReadDB(), `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`, nil, func(scan func(...any) error) {
		var tbl, col, typ string
		if err := scan(&tbl, &col, &typ); err != nil {
			t.Fatal(err)
		}
		pgSchema[tbl] = append(pgSchema[tbl], column{name: col, bool: typ == "boolean"})
	})

	listed := map[string]sqlstore.Table{}
	for _, tb := range sqlstore.Tables() {
		listed[tb.Name] = tb
		if _, ok := sqlstore.NotCopied[tb.Name]; ok {
			t.Errorf("table %s is both copied and in sqlstore.NotCopied", tb.Name)
		}
	}
	for dialect, schema := range map[string]map[string][]column{"sqlite": liteSchema, "postgres": pgSchema} {
		for name, cols := range schema {
			if strings.HasPrefix(name, "river_") {
				continue // River's, made by the runner's migrations
			}
			if _, ok := sqlstore.NotCopied[name]; ok {
				continue
			}
			tb, ok := listed[name]
			if !ok {
				t.Errorf("%s table %s is neither in sqlstore's copy list (copy.go) nor in sqlstore.NotCopied: migrate-store would leave its rows behind", dialect, name)
				continue
			}
			var names, bools []string
			for _, c := range cols {
				names = append(names, c.name)
				if c.bool {
					bools = append(bools, c.name)
				}
			}
			slices.Sort(names)
			slices.Sort(bools)
			got := slices.Sorted(slices.Values(tb.Columns))
			if d := cmp.Diff(names, got); d != "" {
				t.Errorf("columns of %s: sqlstore's copy list differs from the %s schema (-schema +list):\n%s", name, dialect, d)
			}
			if dialect == "postgres" {
				if d := cmp.Diff(bools, slices.Sorted(slices.Values(tb.Bools))); d != "" {
					t.Errorf("boolean columns of %s: sqlstore's copy list differs from PostgreSQL's (-schema +list):\n%s", name, d)
				}
			} else if d := cmp.Diff(liteKeys[name], tb.Key); d != "" {
				t.Errorf("primary key of %s: sqlstore's copy list differs from SQLite's (-schema +list):\n%s", name, d)
			}
		}
		for name := range listed {
			if _, ok := schema[name]; !ok {
				t.Errorf("sqlstore's copy list names %s, which the %s schema does not have", name, dialect)
			}
		}
	}
	for name := range sqlstore.NotCopied {
		if _, ok := liteSchema[name]; !ok {
			t.Errorf("sqlstore.NotCopied names %s, which the SQLite schema does not have", name)
		}
	}
}

// eachRow runs query and calls fn with the Scan of each row it returns.
func eachRow(t *testing.T, db *sql.DB, query string, args []any, fn func(scan func(dest ...any) error)) {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		fn(rows.Scan)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// t0 has nanoseconds, to prove they survive the copy.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)

func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

// The tools of [fill].
var tools = []string{"alpha", "bêta-工具"}

// fill puts rows in every table of the store through its own methods
// (deploy_token_legacy_seals, which only a migration fills, through
// SQL): booleans true and false, NULL times, nanosecond times, unicode.
func fill(t *testing.T, s store.Store, write *sql.DB) {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, tool := range tools {
		raw := json.RawMessage(`{"config_version":"v1beta1","components":{"web":{"component_type":"continuous","run":{"command":"echo héllo ✓ 日本"}}}}`)
		_, err := s.ConfigCreateBy(ctx, tool, raw, slipway.Actor{Name: "admin", Admin: true}, at(i))
		must(err)
		_, err = s.PollStateAdvance(ctx, "", store.PollState{Tool: tool, Component: "web", Ref: "main", Commit: "c0ffee", SeenAt: at(7)})
		must(err)
		_, err = s.ConfigCreateBy(ctx, tool, raw, slipway.Actor{Name: "tool-token:x"}, at(i+1))
		must(err)
		if i == 0 {
			_, err = s.ConfigDelete(ctx, tool, at(i+2)) // a deletion marker: NULL raw, deleted true
			must(err)
			_, err = s.ConfigCreate(ctx, tool, raw, time.Time{}) // a NULL creation time
			must(err)
		}
		for j, status := range []slipway.DeploymentStatus{slipway.DeploymentSuccessful, slipway.DeploymentFailed, slipway.DeploymentCancelled} {
			id := fmt.Sprintf("2025060%d-12000%d-abcdefghi%d", i+1, j, j)
			d := slipway.Deployment{
				ID: id, Tool: tool, CreatedAt: at(10*i + j), Description: "déploiement n°" + fmt.Sprint(j) + " 🚀",
				ConfigVersion: 2, ToolConfig: raw, Status: status, LongStatus: "fin: ✓",
				ForceBuild: j%2 == 0, ForceRun: j%2 == 1, Trigger: "cli", Actor: "alice",
				UpdatedAt: at(10*i + j + 1), FinishedAt: at(10*i + j + 2), RollbackOf: "",
			}
			if j == 2 {
				d.FinishedAt, d.UpdatedAt, d.ToolConfig, d.RollbackOf = time.Time{}, time.Time{}, nil, "20250601-120000-abcdefghi0"
			}
			must(s.DeploymentCreate(ctx, d))
			must(s.StepsCreate(ctx, []slipway.Step{
				{
					DeploymentID: id, Key: "build:web", Kind: slipway.StepBuild, Component: "web", Action: slipway.ActionBuild,
					Needs: nil, Reason: "commit 3f2a1c→9b0d44", State: slipway.StepDone, Detail: "built", Attempt: 2,
					BuildKey: "key-web", Commit: "9b0d44", StartedAt: at(1), FinishedAt: at(2),
				},
				{
					DeploymentID: id, Key: "run:web", Kind: slipway.StepRun, Component: "web", Action: slipway.ActionApply,
					Needs: []string{"build:web"}, Reason: "new build", State: slipway.StepSkipped, SpecHash: "spec",
				},
				{
					DeploymentID: id, Key: "run:cron", Kind: slipway.StepRun, Component: "cron", Action: slipway.ActionApply,
					Needs: []string{}, State: slipway.StepCancelled,
				},
			}))
			for k := range 2 + j {
				_, err := s.EventAppend(ctx, slipway.Event{
					DeploymentID: id, Time: at(k), Kind: "step", Step: "build:web",
					State: "done", Message: fmt.Sprintf("événement %d ✓", k),
				})
				must(err)
			}
		}
		for j := range 3 {
			b := slipway.Build{
				ID: fmt.Sprintf("b%d", j), Tool: tool, Component: "web", Key: fmt.Sprintf("key-%d", j),
				Repository: "https://example.org/" + tool + ".git", Ref: "main", Commit: "9b0d44",
				Status: slipway.BuildSuccessful, Artifact: "/artifacts/" + tool,
				Error: "", CreatedAt: at(j), UpdatedAt: at(j + 1),
			}
			if j == 1 {
				b.Status, b.Error, b.UpdatedAt = slipway.BuildFailed, "échec: exit status 1", time.Time{}
			}
			must(s.BuildCreate(ctx, b))
		}
		must(s.BuildSetDeleting(ctx, tool, "b2", true))
		filelog := i == 0
		for j, comp := range []string{"web", "cron"} {
			r := slipway.LiveRun{
				Tool: tool, Component: comp, Type: slipway.Continuous, SpecHash: "spec-" + comp, BuildKey: "key-0",
				Commit: "9b0d44", Artifact: "/artifacts/x", DeploymentID: "20250601-120000-abcdefghi0",
				Spec: slipway.Component{Name: comp, Type: slipway.Continuous, Run: slipway.RunSpec{
					Command: "serve ✓", Port: 8000, Filelog: &filelog,
				}, WaitFor: []string{"db"}},
				AppliedAt: at(j),
			}
			if j == 0 {
				r.EnvFingerprints = map[string]string{"API_KEY": "fp-ü"}
			} else {
				r.AppliedAt = time.Time{}
			}
			must(s.LiveRunPut(ctx, r))
		}
		must(s.JobRunPut(ctx, slipway.JobRun{
			Tool: tool, Name: "migrate", Command: "migrate --all ✓", ImageName: "web",
			BuildKey: "key-0", Artifact: "/artifacts/x", Timeout: 60, RunID: "run-1", CreatedAt: at(3),
		}))
		must(s.JobRunPut(ctx, slipway.JobRun{Tool: tool, Name: "seed", Command: "seed", ImageName: "web"}))
		must(s.DeployTokenPut(ctx, store.DeployToken{Tool: tool, Hash: "hash-" + tool, CreatedAt: at(4)}))
		must(s.EnvVarPut(ctx, store.EnvVar{Tool: tool, Name: "API_KEY", Sealed: "sealed-日本", UpdatedAt: at(5)}))
		must(s.EnvVarPut(ctx, store.EnvVar{Tool: tool, Name: "TOOL_DEPLOY_TOKEN", Sealed: "sealed-2", UpdatedAt: at(6)}))
		must(s.RepoCredentialPut(ctx, store.RepoCredential{Tool: tool, URL: "https://***@example.org/" + tool + ".git", Sealed: "sealed-cred"}))
		must(s.WebhookPut(ctx, store.Webhook{Tool: tool, Sealed: "sealed-hook", CreatedAt: at(5)}))
		must(s.DomainAdd(ctx, slipway.Domain{Name: tool + ".example.org", Tool: tool, CreatedBy: "admin", CreatedAt: at(5)}))
		must(s.CertificatePut(ctx, store.Certificate{Name: tool + ".example.org", Sealed: "sealed-cert", UpdatedAt: at(6)}))
		_, err = s.CutCreate(ctx, slipway.Cut{
			Tool: tool, Name: "2026.12.1", Repository: "https://example.org/" + tool + ".git", Branch: "main",
			Base: strings.Repeat("a", 40), Head: strings.Repeat("b", 40), State: slipway.CutFrozen, Picks: 1,
			CreatedAt: at(5), CreatedBy: "admin", FrozenAt: at(5), FrozenBy: "admin", UpdatedAt: at(6),
		})
		must(err)
		_, err = s.ChangeRequestCreate(ctx, slipway.ChangeRequest{
			Tool: tool, Cut: "2026.12.1", Commit: strings.Repeat("c", 40), Reason: "fix ✓", State: slipway.CRApplied,
			QuestionID: "q-cr", RequestedBy: "tool-token:x", RequestedAt: at(6), DecidedBy: "admin", DecidedAt: at(7),
			Onto: strings.Repeat("a", 40), Pick: strings.Repeat("b", 40), UpdatedAt: at(7),
		})
		must(err)
		if i == 0 {
			must(s.PlanPut(ctx, slipway.ReleasePlan{
				Name: "all-✓", Members: []string{tool, "beta"}, MaxParallel: 2, CreatedAt: at(5), CreatedBy: "admin", UpdatedAt: at(6),
				Stages: []slipway.PlanStage{{Deploy: "staging"}, {Ask: "Ship? ✓"}, {Promote: "production"}},
			}))
			train := slipway.Train{
				ID: "tr-20250601-120000-0000000a", Plan: "all-✓", Members: []string{tool, "beta"}, Mode: slipway.TrainEligible,
				Stages: []slipway.PlanStage{{Deploy: "staging"}}, State: slipway.TrainRunning, CreatedAt: at(6), CreatedBy: "admin",
				UpdatedAt: at(6), Answers: []slipway.TrainAnswer{{Stage: 1, Value: "yes", By: "admin", At: at(7), Comment: "ok ✓"}},
			}
			must(s.TrainCreate(ctx, train, []slipway.TrainMember{
				{TrainID: train.ID, Tool: tool, Stage: 0, State: slipway.MemberPending},
				{TrainID: train.ID, Tool: "beta", Stage: 0, State: slipway.MemberSkipped, Reason: "no environment staging ✗", FinishedAt: at(6)},
			}))
		}
		sub := fmt.Sprint("ns-", i)
		must(s.NotifySubscriptionCreate(ctx, store.NotifySubscription{NotifySubscription: slipway.NotifySubscription{
			ID: sub, Tool: tool, Kind: slipway.NotifyWebhook, Target: "https://hooks.example.org/" + tool,
			Events: []slipway.NotifyEvent{slipway.NotifyDeploymentFailed}, CreatedAt: at(5), CreatedBy: "admin",
		}, Sealed: "sealed-notify"}))
		_, err = s.NotifyDeliveryAdd(ctx, slipway.NotifyDelivery{
			ID: fmt.Sprint("nd-", i), Tool: tool, SubscriptionID: sub, Event: slipway.NotifyDeploymentFailed,
			Subject: "20250601-120000-abcdefghi0", Payload: []byte(`{"event":"deployment.failed","text":"✗"}`),
			CreatedAt: at(6), State: slipway.NotifyPending, Attempts: 1, MaxAttempts: 6, LastStatus: 500,
			LastError: "HTTP 500", UpdatedAt: at(7),
		})
		must(err)
		must(s.NotifyAttemptAdd(ctx, slipway.NotifyAttempt{
			DeliveryID: fmt.Sprint("nd-", i), N: 1, Tool: tool, At: at(7), StatusCode: 500, Error: "HTTP 500",
			Duration: 12 * time.Millisecond, Response: "oops ✗",
		}))
		_, err = s.WebhookDeliveryAdd(ctx, slipway.WebhookDelivery{
			Tool: tool, ID: "d-1", Provider: "github", Event: "push",
			ReceivedAt: at(6), Ref: "refs/heads/main", Commit: "c0ffee", Pusher: "alice ✓", Outcome: slipway.WebhookDeployed,
			Message: "deployed", DeploymentID: "20250601-120000-abcdefghi0",
		})
		must(err)
		must(s.APITokenCreate(ctx, store.APIToken{ID: "tok-" + fmt.Sprint(i) + "a", Tool: tool, Hash: "h-" + fmt.Sprint(i) + "a", Description: "CI ✓", CreatedAt: at(7)}))
		must(s.APITokenCreate(ctx, store.APIToken{ID: "tok-" + fmt.Sprint(i) + "b", Tool: tool, Hash: "h-" + fmt.Sprint(i) + "b", CreatedAt: at(8), LastUsedAt: at(9)}))
		q, _, err := s.QuestionCreate(ctx, slipway.Question{
			ID: "q-" + fmt.Sprint(i), Tool: tool, DeploymentID: "20250601-120000-abcdefghi0", StepKey: "gate:web", Key: "gate",
			Origin: slipway.OriginGate, Prompt: "Continuer ? ✓", Options: slipway.DefaultGateOptions,
			Policy: slipway.AnswerPolicy{Required: 2, ForbidInitiator: true}, Initiator: "alice", CreatedAt: at(10),
			DeadlineAt: at(20), OnDeadline: slipway.DeadlineFail, State: slipway.QuestionOpen,
		})
		must(err)
		if i == 0 {
			q.State, q.Value, q.SettledBy, q.SettledAt, q.Approvals = slipway.QuestionAnswered, "continue", "admin", at(11), []string{"admin", "bob"}
			_, err = s.QuestionUpdate(ctx, q, slipway.QuestionOpen)
			must(err)
		}
		for j, outcome := range []slipway.ReleaseOutcome{slipway.ReleaseApplied, slipway.ReleaseRemoved} {
			_, err = s.ReleaseAppend(ctx, slipway.Release{
				Tool: tool, Environment: slipway.DefaultEnvironment, Component: "web", DeploymentID: "20250601-120000-abcdefghi0",
				BuildKey: "key-0", Commit: "9b0d44", SpecHash: "spec-ü", ConfigVersion: j + 1, AppliedAt: at(13 + j), Outcome: outcome, Actor: "alice",
			})
			must(err)
		}
		for _, kind := range []slipway.QuestionLogKind{slipway.LogOpened, slipway.LogAnswer} {
			_, err = s.QuestionLogAppend(ctx, slipway.QuestionLogEntry{QuestionID: q.ID, Tool: tool, Kind: kind, Actor: "bob", Value: "continue", Source: "ui", At: at(12)})
			must(err)
		}
	}
	must(s.ToolEnsure(ctx, "empty-tool", time.Time{}))
	must(s.SessionCreate(ctx, store.Session{
		IDHash: "sess-admin", Credential: "admin", Admin: true, CSRFSecret: "csrf-1",
		CreatedAt: at(10), LastSeenAt: at(11), ExpiresAt: at(12),
	}))
	must(s.SessionCreate(ctx, store.Session{
		IDHash: "sess-tool", Credential: "tool-token:tok-0a", Tool: "alpha", CSRFSecret: "csrf-2",
		CreatedAt: at(10), LastSeenAt: at(10), ExpiresAt: at(12),
	}))
	must(s.SettingPut(ctx, "secret_key_fingerprint", "0123456789abcdef"))
	must(s.SettingPut(ctx, "ünïcode", "välue ✓"))
	must(s.NodeBeat(ctx, store.Node{ID: "host-1", Host: "host", PID: 42, Target: "local", StartedAt: at(0), SeenAt: at(1)}))
	if _, err := write.ExecContext(ctx, `INSERT INTO deploy_token_legacy_seals (tool, token_sealed) VALUES ('alpha', 'legacy-sealed')`); err != nil {
		t.Fatal(err)
	}
}

// reads returns what the store's reads answer, by read.
func reads(t *testing.T, s store.Store) map[string]any {
	t.Helper()
	ctx := t.Context()
	out := map[string]any{}
	put := func(what string, v any, err error) {
		t.Helper()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: %v", what, err)
		}
		if err != nil {
			v = "not found"
		}
		out[what] = v
	}
	toolList, err := s.ToolList(ctx)
	put("ToolList", toolList, err)
	plans, err := s.PlanList(ctx)
	put("PlanList", plans, err)
	trains, err := s.TrainList(ctx, 0)
	put("TrainList", trains, err)
	for _, tr := range trains {
		cells, err := s.TrainMemberList(ctx, tr.ID)
		put("TrainMemberList "+tr.ID, cells, err)
	}
	for _, tool := range toolList {
		for v := 1; v <= 4; v++ {
			c, err := s.ConfigGet(ctx, tool, v)
			put(fmt.Sprintf("ConfigGet(%s, %d)", tool, v), c, err)
		}
		c, err := s.ConfigGetLatest(ctx, tool)
		put("ConfigGetLatest "+tool, c, err)
		ds, err := s.DeploymentList(ctx, tool)
		put("DeploymentList "+tool, ds, err)
		for _, d := range ds {
			steps, err := s.StepList(ctx, d.ID)
			put("StepList "+d.ID, steps, err)
			events, err := s.EventList(ctx, d.ID, 0, 0)
			put("EventList "+d.ID, events, err)
			got, err := s.DeploymentGet(ctx, tool, d.ID)
			put("DeploymentGet "+d.ID, got, err)
		}
		latest, err := s.DeploymentLatest(ctx, tool)
		put("DeploymentLatest "+tool, latest, err)
		builds, err := s.BuildList(ctx, tool)
		put("BuildList "+tool, builds, err)
		lr, err := s.LiveRunList(ctx, tool)
		put("LiveRunList "+tool, lr, err)
		rs, err := s.ReleaseList(ctx, store.ReleaseFilter{Tool: tool})
		put("ReleaseList "+tool, rs, err)
		qs, err := s.QuestionList(ctx, store.QuestionFilter{Tool: tool})
		put("QuestionList "+tool, qs, err)
		for _, q := range qs {
			ql, err := s.QuestionLogList(ctx, tool, q.ID)
			put("QuestionLogList "+q.ID, ql, err)
		}
		jr, err := s.JobRunList(ctx, tool)
		put("JobRunList "+tool, jr, err)
		ev, err := s.EnvVarList(ctx, tool)
		put("EnvVarList "+tool, ev, err)
		toks, err := s.APITokenList(ctx, tool)
		put("APITokenList "+tool, toks, err)
		dt, err := s.DeployTokenGet(ctx, tool)
		put("DeployTokenGet "+tool, dt, err)
		rc, err := s.RepoCredentialGet(ctx, tool, "https://***@example.org/"+tool+".git")
		put("RepoCredentialGet "+tool, rc, err)
		doms, err := s.DomainList(ctx, tool)
		put("DomainList "+tool, doms, err)
		cert, err := s.CertificateGet(ctx, tool+".example.org")
		put("CertificateGet "+tool, cert, err)
	}
	deleting, err := s.BuildListDeleting(ctx)
	put("BuildListDeleting", deleting, err)
	all, err := s.LiveRunListAll(ctx)
	put("LiveRunListAll", all, err)
	apiTokens, err := s.APITokenList(ctx, "")
	put("APITokenList", apiTokens, err)
	seals, err := s.LegacyDeployTokenSeals(ctx)
	put("LegacyDeployTokenSeals", seals, err)
	found, err := s.BuildFindSuccessful(ctx, "key-0")
	put("BuildFindSuccessful", found, err)
	for _, name := range []string{"secret_key_fingerprint", "ünïcode"} {
		v, err := s.SettingGet(ctx, name)
		put("SettingGet "+name, v, err)
	}
	for _, h := range []string{"sess-admin", "sess-tool"} {
		v, err := s.SessionGet(ctx, h)
		put("SessionGet "+h, v, err)
	}
	return out
}

// dump returns every row of every copied table, booleans as bools, sorted.
func dump(t *testing.T, db *sql.DB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, tb := range sqlstore.Tables() {
		vals := make([]any, len(tb.Columns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		eachRow(t, db, `SELECT `+strings.Join(tb.Columns, ", ")+` FROM `+tb.Name, nil, func(scan func(...any) error) {
			if err := scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var row []string
			for i, v := range vals {
				if n, ok := v.(int64); ok && slices.Contains(tb.Bools, tb.Columns[i]) {
					v = n != 0
				}
				row = append(row, fmt.Sprintf("%s=%#v", tb.Columns[i], v))
			}
			out[tb.Name] = append(out[tb.Name], strings.Join(row, " "))
		})
		slices.Sort(out[tb.Name])
	}
	return out
}

// Ensure a source with rows in every table copies into a fresh
// PostgreSQL schema: every store read answers the same on both, every
// row is the same, nodes are not copied, and the counters go on (event
// numbers, config versions, step order).
func TestCopy(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	src, dst := openSQLite(t), openPostgres(t)
	fill(t, src, src.WriteDB())

	var progress []string
	copied, err := sqlstore.Copy(ctx, dst.DB, src.DB, sqlstore.CopyOptions{
		BatchRows: 4, // several batches, the last one partial
		Progress:  func(c sqlstore.TableCopy) { progress = append(progress, fmt.Sprintf("%s %d", c.Table, c.Rows)) },
	})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	want := []string{
		"tools 3", "configs 6", "deployments 6", "steps 18", "builds 6", "live_runs 4", "events 18",
		"deploy_tokens 2", "deploy_token_legacy_seals 1", "api_tokens 4", "job_runs 4", "envvars 4",
		"repo_credentials 2", "domains 2", "certificates 2", "webhooks 2", "webhook_deliveries 2", "poll_state 2", "cuts 2", "change_requests 2", "release_plans 1", "trains 1", "train_members 2", "notify_subscriptions 2", "notify_deliveries 2", "notify_attempts 2", "sessions 2", "settings 2", "questions 2", "question_log 4", "releases 4",
	}
	if d := cmp.Diff(want, progress); d != "" {
		t.Errorf("progress (-want +got):\n%s", d)
	}
	var got []string
	for _, c := range copied {
		got = append(got, fmt.Sprintf("%s %d", c.Table, c.Rows))
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("copied (-want +got):\n%s", d)
	}

	if d := cmp.Diff(reads(t, src), reads(t, dst)); d != "" {
		t.Errorf("store reads differ after the copy (-sqlite +postgres):\n%s", d)
	}
	if d := cmp.Diff(dump(t, src.ReadDB()), dump(t, dst.ReadDB())); d != "" {
		t.Errorf("rows differ after the copy (-sqlite +postgres):\n%s", d)
	}
	if nodes, err := dst.NodeList(ctx); err != nil || len(nodes) != 0 {
		t.Errorf("nodes of the destination = %v, %v; want none (servers register themselves)", nodes, err)
	}

	// The counters go on where the source left them.
	id := "20250601-120002-abcdefghi2"
	if seq, err := dst.EventAppend(ctx, slipway.Event{DeploymentID: id, Time: at(50), Kind: "deployment", Message: "next"}); err != nil || seq != 5 {
		t.Errorf("EventAppend on the destination = %d, %v; want 5, the deployment's next", seq, err)
	}
	if seq, err := src.EventAppend(ctx, slipway.Event{DeploymentID: id, Time: at(50), Kind: "deployment", Message: "next"}); err != nil || seq != 5 {
		t.Errorf("EventAppend on the source = %d, %v; want 5", seq, err)
	}
	if v, err := dst.ConfigCreate(ctx, "alpha", json.RawMessage(`{}`), at(60)); err != nil || v != 5 {
		t.Errorf("ConfigCreate on the destination = %d, %v; want version 5", v, err)
	}
	if err := dst.StepsCreate(ctx, []slipway.Step{{DeploymentID: id, Key: "prune:old", Kind: slipway.StepPrune, Component: "old", State: slipway.StepPending}}); err != nil {
		t.Fatal(err)
	}
	if seq, err := dst.QuestionLogAppend(ctx, slipway.QuestionLogEntry{QuestionID: "q-0", Tool: "alpha", Kind: slipway.LogExpired, At: at(61)}); err != nil || seq != 5 {
		t.Errorf("QuestionLogAppend on the destination = %d, %v; want 5, after the copied entries", seq, err)
	}
	q, created, err := dst.QuestionCreate(ctx, slipway.Question{ID: "q-new", Tool: "alpha", DeploymentID: id, StepKey: "run:x", Key: "k", Origin: slipway.OriginAsk, Prompt: "?", State: slipway.QuestionOpen})
	if err != nil || !created || q.Seq != 3 {
		t.Errorf("QuestionCreate on the destination = seq %d, created %v, %v; want 3, new", q.Seq, created, err)
	}
	steps, err := dst.StepList(ctx, id)
	if err != nil || len(steps) != 4 || steps[3].Key != "prune:old" {
		t.Errorf("StepList after StepsCreate on the destination = %+v, %v; want the copied steps, then prune:old", steps, err)
	}
}

// Ensure a destination that already holds a row, in tools or in any other
// copied table, is refused, and left as it was.
func TestCopy_RefusesANonEmptyDestination(t *testing.T) {
	t.Parallel()
	src := openSQLite(t)
	fill(t, src, src.WriteDB())
	for name, prepare := range map[string]func(ctx context.Context, s store.Store) error{
		"tools": func(ctx context.Context, s store.Store) error { return s.ToolEnsure(ctx, "mine", at(0)) },
		"settings": func(ctx context.Context, s store.Store) error {
			return s.SettingPut(ctx, "secret_key_fingerprint", "fedcba9876543210")
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			dst := openPostgres(t)
			if err := prepare(ctx, dst); err != nil {
				t.Fatal(err)
			}
			before := dump(t, dst.ReadDB())
			_, err := sqlstore.Copy(ctx, dst.DB, src.DB, sqlstore.CopyOptions{})
			if !errors.Is(err, sqlstore.ErrNotEmpty) {
				t.Fatalf("Copy into a destination with a row in %s = %v, want ErrNotEmpty", name, err)
			}
			want := "the destination already holds Slipway data (" + name + ": 1 row): a copy never merges into or overwrites an installation; copy into an empty database or schema"
			if err.Error() != want {
				t.Errorf("Copy error = %q, want %q", err, want)
			}
			if d := cmp.Diff(before, dump(t, dst.ReadDB())); d != "" {
				t.Errorf("the refused destination changed (-before +after):\n%s", d)
			}
		})
	}
}

// Ensure a source with unfinished deployments is refused, naming them,
// and nothing is copied.
func TestCopy_RefusesUnfinishedDeployments(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	src, dst := openSQLite(t), openPostgres(t)
	fill(t, src, src.WriteDB())
	for i, status := range []slipway.DeploymentStatus{slipway.DeploymentRunning, slipway.DeploymentPending, slipway.DeploymentCancelling} {
		err := src.DeploymentCreate(ctx, slipway.Deployment{
			ID: fmt.Sprintf("20250602-00000%d-unfinished", i), Tool: "alpha", CreatedAt: at(100 + i), Status: status,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := sqlstore.Copy(ctx, dst.DB, src.DB, sqlstore.CopyOptions{})
	if !errors.Is(err, sqlstore.ErrUnfinished) {
		t.Fatalf("Copy of a source with unfinished deployments = %v, want ErrUnfinished", err)
	}
	want := "the source has unfinished deployments, whose queued jobs would not be copied: " +
		"20250602-000000-unfinished of alpha (running), 20250602-000001-unfinished of alpha (pending), " +
		"20250602-000002-unfinished of alpha (cancelling); let them finish or cancel them, then copy again"
	if err.Error() != want {
		t.Errorf("Copy error = %q, want %q", err, want)
	}
	if tools, err := dst.ToolList(ctx); err != nil || len(tools) != 0 {
		t.Errorf("tools of the destination after the refusal = %q, %v; want none", tools, err)
	}
}

// Ensure a table whose rows do not all arrive fails the copy, naming the
// table, and rolls back what the tables before it wrote. A rule of the
// destination drops the inserts of the last table.
func TestCopy_VerifyFailureRollsBack(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	src, dst := openSQLite(t), openPostgres(t)
	fill(t, src, src.WriteDB())
	last := sqlstore.Tables()[len(sqlstore.Tables())-1].Name
	if _, err := dst.WriteDB().ExecContext(ctx, `CREATE RULE drop_last AS ON INSERT TO `+last+` DO INSTEAD NOTHING`); err != nil {
		t.Fatal(err)
	}
	var progress []string
	_, err := sqlstore.Copy(ctx, dst.DB, src.DB, sqlstore.CopyOptions{
		Progress: func(c sqlstore.TableCopy) { progress = append(progress, c.Table) },
	})
	want := "verify " + last + ": the source has 4 rows, the destination 0 rows after inserting 0; the copy was rolled back"
	if err == nil || err.Error() != want {
		t.Fatalf("Copy with %s dropped = %v, want %q", last, err, want)
	}
	if len(progress) != len(sqlstore.Tables())-1 {
		t.Errorf("progress = %q, want every table but %s", progress, last)
	}
	for table, rows := range dump(t, dst.ReadDB()) {
		if len(rows) > 0 {
			t.Errorf("%s of the destination after the failed copy: %d rows, want none", table, len(rows))
		}
	}
}
