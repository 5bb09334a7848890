package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestWords(t *testing.T) {
	for in, want := range map[string]string{
		"getOpenAPI":            "get open api",
		"createAPIToken":        "create api token",
		"Last-Event-ID":         "last event id",
		"force-build":           "force build",
		"ForceBuildUnderscored": "force build underscored",
		"deploy_id":             "deploy id",
		"listMyQuestions":       "list my questions",
		"getV2Thing":            "get v2 thing",
	} {
		if got := strings.Join(words(in), " "); got != want {
			t.Errorf("words(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRefuses checks that what the clients could not say is an error
// naming the place, not a client that says something else.
func TestRefuses(t *testing.T) {
	for name, c := range map[string]struct{ spec, want string }{
		"cookie parameter": {`
paths:
  /a:
    get:
      operationId: getA
      parameters: [{name: c, in: cookie, schema: {type: string}}]
      responses: {'200': {description: ok}}
`, `getA: parameter c: in "cookie" is not supported`},
		"same client name": {`
paths:
  /a:
    get:
      operationId: getA
      parameters:
        - {name: dry-run, in: query, schema: {type: string}}
        - {name: dry_run, in: query, schema: {type: string}}
      responses: {'200': {description: ok}}
`, `getA: parameters "dry-run" and "dry_run" have the same name dry_run in the clients (set x-go-name)`},
		"undeclared path parameter": {`
paths:
  /a/{id}:
    get:
      operationId: getA
      responses: {'200': {description: ok}}
`, `getA: path /a/{id}: parameter id is not declared`},
		"remote reference": {`
paths:
  /a:
    get:
      operationId: getA
      parameters: [{$ref: 'other.yaml#/p'}]
      responses: {'200': {description: ok}}
`, `getA: reference "other.yaml#/p": only #/components/parameters/… references are supported`},
		"duplicate operationId": {`
paths:
  /a:
    get: {operationId: getA, responses: {'200': {description: ok}}}
    post: {operationId: getA, responses: {'200': {description: ok}}}
`, `operationId getA: used twice`},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "openapi.yaml")
			if err := os.WriteFile(path, []byte(c.spec), 0o644); err != nil {
				t.Fatal(err)
			}
			err := run(path, t.TempDir(), filepath.Join(t.TempDir(), "index.ts"))
			if err == nil || err.Error() != c.want {
				t.Errorf("got %v, want %s", err, c.want)
			}
		})
	}
}

// TestSpec generates the clients of api/openapi.yaml: every operation is a
// method of both.
func TestSpec(t *testing.T) {
	s, err := loadSpec(filepath.Join("..", "..", "api", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ops, err := s.operations()
	if err != nil {
		t.Fatal(err)
	}
	g, err := generate(s, ops)
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, o := range ops {
		if !strings.Contains(string(g.pyClient), "\n    def "+pyIdent(words(o.ID))+"(\n") {
			missing = append(missing, "python "+o.ID)
		}
		if !strings.Contains(string(g.ts), "\n  async "+camel(words(o.ID))+"(") {
			missing = append(missing, "typescript "+o.ID)
		}
	}
	if len(ops) < 60 || len(missing) > 0 {
		t.Errorf("%d operations; missing: %v", len(ops), slices.Sorted(slices.Values(missing)))
	}
}

// TestTextBodies checks an operation that takes no JSON: its body is text
// sent with its media type, and its answer (not JSON) is text.
func TestTextBodies(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "openapi.yaml")
	const spec = `
paths:
  /logs/{name}:
    parameters: [{name: name, in: path, required: true, schema: {type: string}}]
    put:
      operationId: putLog
      requestBody:
        required: true
        content: {application/octet-stream: {schema: {type: string, format: binary}}}
      responses: {'200': {description: ok, content: {application/x-ndjson: {schema: {type: string}}}}}
`
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := filepath.Join(dir, "index.ts")
	if err := run(path, dir, ts); err != nil {
		t.Fatal(err)
	}
	py, err := os.ReadFile(filepath.Join(dir, "client.py"))
	if err != nil {
		t.Fatal(err)
	}
	tsSrc, err := os.ReadFile(ts)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"    def put_log(\n        self,\n        name: str,\n        body: Union[str, bytes],\n    ) -> str:",
		`text_type="application/octet-stream",`,
		`result="text",`,
	} {
		if !strings.Contains(string(py), want) {
			t.Errorf("client.py lacks %q", want)
		}
	}
	for _, want := range []string{
		"async putLog(name: string, body: string): Promise<string> {",
		"this.call(\"PUT\", `/logs/${enc(name)}`, [], [], body, \"application/octet-stream\", \"text\")",
	} {
		if !strings.Contains(string(tsSrc), want) {
			t.Errorf("index.ts lacks %q", want)
		}
	}
}
