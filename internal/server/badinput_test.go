package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, to snapshot the store

	"slipway.dev/slipway/api"
	"slipway.dev/slipway/internal/httpapi"
	"slipway.dev/slipway/internal/server"
)

// specOperation is one operation of api/openapi.yaml.
type specOperation struct {
	method, path string
	hasBody      bool
	// query parameters by name, with their schema type.
	query map[string]string
}

// specOperations reads every operation of the spec.
func specOperations(t *testing.T) []specOperation {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(api.OpenAPIYAML, &doc); err != nil {
		t.Fatal(err)
	}
	var ops []specOperation
	for path, item := range doc.Paths {
		for method, node := range item {
			if method == "parameters" {
				continue
			}
			var op struct {
				RequestBody any `yaml:"requestBody"`
				Parameters  []struct {
					Name   string `yaml:"name"`
					In     string `yaml:"in"`
					Schema struct {
						Type string `yaml:"type"`
					} `yaml:"schema"`
				} `yaml:"parameters"`
			}
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			o := specOperation{method: strings.ToUpper(method), path: path, hasBody: op.RequestBody != nil, query: map[string]string{}}
			for _, p := range op.Parameters {
				if p.In == "query" {
					o.query[p.Name] = p.Schema.Type
				}
			}
			ops = append(ops, o)
			// The jobs API serves every route also with a trailing slash,
			// which its CLI calls ("…/jobs/"): the same bad input there.
			if strings.HasPrefix(path, "/jobs/") {
				slash := o
				slash.path += "/"
				ops = append(ops, slash)
			}
		}
	}
	slices.SortFunc(ops, func(a, b specOperation) int { return strings.Compare(a.path+a.method, b.path+b.method) })
	return ops
}

// badRequest is one piece of bad input for an operation.
type badRequest struct {
	name        string
	path        string
	body        []byte
	contentType string
}

// badRequests returns the bad inputs that apply to op: invalid path
// values, invalid query values, and (for operations with a body) invalid
// JSON, wrong types, YAML that is not a config, binary garbage and an
// oversized body.
func badRequests(op specOperation) []badRequest {
	name := "nothere"
	if strings.HasPrefix(op.path, "/envvars/") {
		name = "NOT_THERE" // a valid envvar name, so that the body is what is bad
	}
	good := strings.NewReplacer("{tool}", "known", "{deploy_id}", "20990101-000000-nothere000", "{id}", "nothere",
		"{name}", name, "{build_id}", "nothere", "{question_id}", "q-0000000000000000", "{flow}", "release")
	var out []badRequest
	for _, v := range []struct{ param, value string }{
		{"{tool}", "Bad_Tool!"},
		{"{tool}", strings.Repeat("x", 300)},
		{"{tool}", "%00"},
		{"{deploy_id}", "..%2F..%2Fetc"},
		{"{deploy_id}", strings.Repeat("9", 500)},
		{"{id}", "%FF%FE"},
		{"{name}", "Bad_Name!"},
		{"{build_id}", "%00"},
		{"{build_id}", "a..b"},
		{"{build_id}", strings.Repeat("f", 200)},
		{"{question_id}", "..%2F..%2Fetc"},
		{"{question_id}", "%00"},
		{"{question_id}", "q-" + strings.Repeat("0", 300)},
		{"{flow}", "Bad_Flow!"},
		{"{flow}", strings.Repeat("f", 300)},
	} {
		if strings.Contains(op.path, v.param) {
			p := strings.Replace(op.path, v.param, v.value, 1)
			out = append(out, badRequest{name: v.param + "=" + v.value[:min(len(v.value), 12)], path: good.Replace(p)})
		}
	}
	base := good.Replace(op.path)
	for name, typ := range op.query {
		if name == "token" {
			continue
		}
		bad := map[string]string{"boolean": "maybe", "integer": "many", "number": "NaNx"}[typ]
		if bad == "" { // strings the server checks: a commit, a state, a duration
			bad = map[string]string{"commit": "not-a-sha", "state": "maybe", "wait": "soon", "older_than": "a-year"}[name]
		}
		if bad != "" {
			out = append(out, badRequest{name: "query " + name, path: base + "?" + name + "=" + bad})
		}
	}
	if op.hasBody {
		big := append([]byte(`{"description": "`), bytes.Repeat([]byte("a"), httpapi.DefaultMaxBodyBytes+1)...)
		for _, b := range []badRequest{
			{name: "invalid JSON", body: []byte(`{"components": `), contentType: "application/json"},
			{name: "wrong types", body: []byte(`{"components": 5, "config_version": 7, "description": 5, "tool": 5, "cmd": 5, "name": 5}`), contentType: "application/json"},
			{name: "JSON array", body: []byte(`[1, 2, 3]`), contentType: "application/json"},
			{name: "bad YAML", body: []byte("components:\n  web: [\n"), contentType: "application/yaml"},
			{name: "binary", body: []byte{0xff, 0xfe, 0x00, 0x01, 0x80}, contentType: "application/octet-stream"},
			{name: "oversized", body: big, contentType: "application/json"},
		} {
			b.path = base
			out = append(out, b)
		}
	}
	return out
}

// snapshot returns the row count of every table of the store (and of
// River's job queue): bad input must leave every one as it was.
func snapshot(t *testing.T, dataDir string) map[string]int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "slipway.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// River's own bookkeeping (leader election, migrations) changes by
	// itself; its job table does not.
	rows, err := db.QueryContext(t.Context(), `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite_%' AND (name NOT LIKE 'river_%' OR name = 'river_job')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, table := range tables {
		var n int
		if err := db.QueryRowContext(t.Context(), fmt.Sprintf(`SELECT count(*) FROM %q`, table)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	return counts
}

// TestBadInputOnEveryRoute sends bad input to every operation of
// api/openapi.yaml on a real server: invalid tool names and IDs, invalid
// query values, and, where a body is taken, invalid JSON, wrong types,
// broken YAML, binary garbage and a body over the limit. Every answer must
// be a 4xx error envelope with a message, never a 5xx, and the store must
// be exactly as before.
func TestBadInputOnEveryRoute(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, err := server.New(server.Config{DataDir: dir, Listen: "127.0.0.1:0", ProxyListen: "127.0.0.1:0", StopGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	send := func(method, path, contentType string, body []byte) (int, []byte) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, srv.URL()+path, bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		req.Header.Set("Authorization", "Bearer "+srv.AdminToken())
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	// A tool with a config and a deploy token, so that a bad request has
	// something it could damage.
	cfg := `{"config_version": "v1beta1", "components": {"web": {"component_type": "continuous",
		"build": {"repository": "https://example.org/web.git", "ref": "main"}, "run": {"command": "web", "port": 8000}}}}`
	if status, body := send("POST", "/components/v1/tool/known/config", "application/json", []byte(cfg)); status != 200 {
		t.Fatalf("create config: %d %s", status, body)
	}
	if status, body := send("POST", "/components/v1/tool/known/deployment/token", "", nil); status != 200 {
		t.Fatalf("create deploy token: %d %s", status, body)
	}
	before := snapshot(t, dir)

	requests, ops := 0, 0
	for _, op := range specOperations(t) {
		cases := badRequests(op)
		if len(cases) > 0 {
			ops++
		}
		for _, c := range cases {
			status, body := send(op.method, c.path, c.contentType, c.body)
			requests++
			var env struct {
				Data     json.RawMessage `json:"data"`
				Messages struct {
					Error []string `json:"error"`
				} `json:"messages"`
			}
			switch {
			case status < 400 || status >= 500:
				t.Errorf("%s %s (%s): %d %.300s, want a 4xx", op.method, op.path, c.name, status, body)
			case json.Unmarshal(body, &env) != nil || len(env.Messages.Error) == 0 || env.Messages.Error[0] == "":
				t.Errorf("%s %s (%s): %d, not an error envelope with a message: %.300s", op.method, op.path, c.name, status, body)
			case env.Data != nil:
				t.Errorf("%s %s (%s): an error envelope with data: %.300s", op.method, op.path, c.name, body)
			}
		}
	}
	after := snapshot(t, dir)
	for table, n := range before {
		if after[table] != n {
			t.Errorf("table %s: %d rows before the bad input, %d after", table, n, after[table])
		}
	}
	t.Logf("bad input: %d requests over %d operations; store unchanged (%d tables)", requests, ops, len(before))
}
