package toolconfig_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"slipway.dev/slipway/internal/toolconfig"
)

const schemaPath = "../../api/tool-config-schema.json"

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("read schema: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("tool-config-schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("tool-config-schema.json")
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return sch
}

// yamlToJSONValue turns a YAML document into the value the schema
// validator takes, the way an editor or the CLI sees it as JSON.
func yamlToJSONValue(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSchema checks that the JSON Schema accepts every valid config of
// testdata and rejects the invalid ones marked "schema: reject", which the
// parser rejects too.
func TestSchema(t *testing.T) {
	sch := compileSchema(t)
	demo, err := os.ReadFile(filepath.Join("testdata", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("demo", func(t *testing.T) {
		if err := sch.Validate(yamlToJSONValue(t, demo)); err != nil {
			t.Errorf("schema rejects demo.yaml: %v", err)
		}
	})
	var rejected int
	for _, c := range loadCases(t) {
		t.Run(c.name, func(t *testing.T) {
			_, parseErr := toolconfig.Parse(c.input)
			switch {
			case c.valid():
				if err := sch.Validate(yamlToJSONValue(t, c.input)); err != nil {
					t.Errorf("schema rejects a valid config: %v", err)
				}
			case c.schemaRejects():
				rejected++
				if parseErr == nil {
					t.Errorf("Parse accepts a config marked schema: reject")
				}
				if err := sch.Validate(yamlToJSONValue(t, c.input)); err == nil {
					t.Errorf("schema accepts an invalid config")
				}
			}
		})
	}
	if rejected < 5 {
		t.Errorf("only %d cases are marked schema: reject", rejected)
	}
}

// TestSchema_Fields checks that the schema lists the fields the parser
// knows, and only those.
func TestSchema_Fields(t *testing.T) {
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties map[string]any
		Defs       map[string]struct {
			Properties map[string]any
		} `json:"$defs"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]any) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"top", keys(s.Properties), []string{"components", "config_version", "source_url", "x-slipway"}},
		{"x-slipway", keys(s.Defs["slipway"].Properties), toolconfig.ExtensionFieldNames()},
		{"component", keys(s.Defs["component"].Properties), []string{"build", "component_type", "gate", "run", "wait_for"}},
		{"build", keys(s.Defs["build"].Properties), []string{"image", "ref", "repository", "reuse_from", "use_deprecated_versions", "use_latest_versions"}},
		{"run", keys(s.Defs["run"].Properties), toolconfig.RunFieldNames()},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("%s properties mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}
