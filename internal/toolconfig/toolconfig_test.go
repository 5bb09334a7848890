package toolconfig_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/toolconfig"
)

var update = flag.Bool("update", false, "rewrite the expected outputs of testdata/*.txtar")

// goldenCase is one testdata/*.txtar file. Its comment describes the case
// and may hold a line "schema: reject" (the JSON Schema must reject the
// input too). Files:
//
//	input.yaml   the config parsed
//	raw.json     the expected Config.Raw, indented (valid configs)
//	config.json  the expected components, indented (valid configs)
//	warnings     the expected warnings, one per line
//	unknown      the expected unknown fields (UnknownField.String), one per line
//	problems     the expected problems, one per line (invalid configs)
type goldenCase struct {
	name    string
	path    string
	archive *txtar.Archive
	input   []byte
}

func (c goldenCase) file(name string) (string, bool) {
	for _, f := range c.archive.Files {
		if f.Name == name {
			return string(f.Data), true
		}
	}
	return "", false
}

// schemaRejects reports whether the case says the JSON Schema rejects it.
func (c goldenCase) schemaRejects() bool {
	return slices.Contains(strings.Split(string(c.archive.Comment), "\n"), "schema: reject")
}

func (c goldenCase) valid() bool {
	_, ok := c.file("problems")
	return !ok
}

func loadCases(t testing.TB) []goldenCase {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no testdata/*.txtar")
	}
	var cases []goldenCase
	for _, path := range paths {
		a, err := txtar.ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		c := goldenCase{name: strings.TrimSuffix(filepath.Base(path), ".txtar"), path: path, archive: a}
		in, ok := c.file("input.yaml")
		if !ok {
			t.Fatalf("%s: no input.yaml", path)
		}
		c.input = []byte(in)
		cases = append(cases, c)
	}
	return cases
}

func indentJSON(t testing.TB, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		t.Fatalf("indent %s: %v", raw, err)
	}
	return b.String() + "\n"
}

// componentsJSON renders the parsed components, in the user's order, for the
// config.json golden file.
func componentsJSON(t testing.TB, cfg slipway.ToolConfig) string {
	t.Helper()
	type comp struct {
		Name    string
		Type    slipway.ComponentType
		Build   slipway.BuildSpec
		Run     slipway.RunSpec
		WaitFor []string `json:",omitempty"`
	}
	v := struct {
		ConfigVersion string `json:",omitempty"`
		SourceURL     string `json:",omitempty"`
		Components    []comp
		Policy        *slipway.ToolPolicy `json:",omitempty"`
	}{ConfigVersion: cfg.ConfigVersion, SourceURL: cfg.SourceURL}
	if cfg.Policy != (slipway.ToolPolicy{}) {
		v.Policy = &cfg.Policy
	}
	for _, n := range cfg.Names() {
		c := cfg.Components[n]
		v.Components = append(v.Components, comp{c.Name, c.Type, c.Build, c.Run, c.WaitFor})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func problemLines(t testing.TB, err error) []string {
	t.Helper()
	var pe *toolconfig.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *ParseError", err)
	}
	var out []string
	for _, p := range pe.Problems {
		out = append(out, p.String())
	}
	return out
}

func TestParse_Golden(t *testing.T) {
	for _, c := range loadCases(t) {
		t.Run(c.name, func(t *testing.T) {
			res, err := toolconfig.Parse(c.input)

			got := map[string]string{}
			if len(res.Warnings) > 0 {
				got["warnings"] = strings.Join(res.Warnings, "\n") + "\n"
			}
			if len(res.Unknown) != len(res.Warnings) {
				t.Errorf("%d unknown fields for %d warnings", len(res.Unknown), len(res.Warnings))
			}
			for i, u := range res.Unknown {
				got["unknown"] += u.String() + "\n"
				if i < len(res.Warnings) && res.Warnings[i] != "Unknown field "+u.Path+", skipped" {
					t.Errorf("unknown field %d is %s, its warning %q", i, u.Path, res.Warnings[i])
				}
			}
			if err != nil {
				if code := slipway.ErrorCode(err); code != slipway.EInvalid {
					t.Errorf("ErrorCode = %q, want %q", code, slipway.EInvalid)
				}
				pl := problemLines(t, err)
				got["problems"] = strings.Join(pl, "\n") + "\n"
				if msg := slipway.ErrorMessage(err); msg != strings.Join(pl, "\n") {
					t.Errorf("ErrorMessage = %q, want the problems one per line", msg)
				}
				if !cmp.Equal(res.Config, slipway.ToolConfig{}) {
					t.Errorf("Parse returned a config with an error: %+v", res.Config)
				}
			} else {
				if !json.Valid(res.Config.Raw) {
					t.Fatalf("Raw is not JSON: %s", res.Config.Raw)
				}
				var compact bytes.Buffer
				_ = json.Compact(&compact, res.Config.Raw)
				if !bytes.Equal(compact.Bytes(), res.Config.Raw) {
					t.Errorf("Raw is not compact: %s", res.Config.Raw)
				}
				got["raw.json"] = indentJSON(t, res.Config.Raw)
				got["config.json"] = componentsJSON(t, res.Config)
			}

			if *update {
				a := &txtar.Archive{Comment: c.archive.Comment}
				a.Files = append(a.Files, txtar.File{Name: "input.yaml", Data: c.input})
				for _, name := range []string{"raw.json", "config.json", "warnings", "unknown", "problems"} {
					if s, ok := got[name]; ok {
						a.Files = append(a.Files, txtar.File{Name: name, Data: []byte(s)})
					}
				}
				if err := os.WriteFile(c.path, txtar.Format(a), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}

			want := map[string]string{}
			for _, name := range []string{"raw.json", "config.json", "warnings", "unknown", "problems"} {
				if s, ok := c.file(name); ok {
					want[name] = s
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Parse(%s) mismatch (-want +got):\n%s", c.name, diff)
			}
		})
	}
}

// TestParse_RoundTrip checks that parsing Raw again gives the same config
// and no warnings, for every valid case.
func TestParse_RoundTrip(t *testing.T) {
	for _, c := range loadCases(t) {
		if !c.valid() {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			first, err := toolconfig.Parse(c.input)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			second, err := toolconfig.Parse(first.Config.Raw)
			if err != nil {
				t.Fatalf("Parse(Raw): %v\nRaw: %s", err, first.Config.Raw)
			}
			if diff := cmp.Diff(first.Config, second.Config); diff != "" {
				t.Errorf("Parse(Raw).Config mismatch (-first +second):\n%s", diff)
			}
			if len(second.Warnings) > 0 {
				t.Errorf("Parse(Raw).Warnings = %q, want none", second.Warnings)
			}
		})
	}
}

// TestComponentJSON checks that a config rebuilt from ComponentJSON of each
// component parses to the same components.
func TestComponentJSON(t *testing.T) {
	for _, c := range loadCases(t) {
		if !c.valid() {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			first, err := toolconfig.Parse(c.input)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var b bytes.Buffer
			b.WriteString(`{"components":{`)
			for i, n := range first.Config.Names() {
				if i > 0 {
					b.WriteByte(',')
				}
				name, _ := json.Marshal(n)
				b.Write(name)
				b.WriteByte(':')
				b.Write(toolconfig.ComponentJSON(first.Config.Components[n]))
			}
			b.WriteString(`}}`)
			second, err := toolconfig.Parse(b.Bytes())
			if err != nil {
				t.Fatalf("Parse(%s): %v", b.Bytes(), err)
			}
			if diff := cmp.Diff(first.Config.Components, second.Config.Components); diff != "" {
				t.Errorf("components mismatch (-from input +from ComponentJSON):\n%s", diff)
			}
			if len(second.Warnings) > 0 {
				t.Errorf("warnings = %q, want none", second.Warnings)
			}
		})
	}
}

func TestParse_Demo(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := toolconfig.Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("Warnings = %q, want none", res.Warnings)
	}
	src := &slipway.SourceBuild{Repository: "https://github.com/slipway-dev/demo-app.git", Ref: "main"}
	want := slipway.ToolConfig{
		ConfigVersion: "v1beta1",
		Order:         []string{"web", "worker", "cleanup"},
		Components: map[string]slipway.Component{
			"web": {
				Name: "web", Type: slipway.Continuous,
				Build: slipway.BuildSpec{Source: src},
				Run: slipway.RunSpec{
					Command: "web", Port: 8000, HealthCheckHTTP: "/healthz", Publish: "/",
				},
			},
			"worker": {
				Name: "worker", Type: slipway.Continuous,
				Build:   slipway.BuildSpec{ReuseFrom: "web"},
				Run:     slipway.RunSpec{Command: "worker"},
				WaitFor: []string{"web"},
			},
			"cleanup": {
				Name: "cleanup", Type: slipway.Scheduled,
				Build: slipway.BuildSpec{ReuseFrom: "web"},
				Run:   slipway.RunSpec{Command: "cleanup", Schedule: "*/5 * * * *"},
			},
		},
	}
	if diff := cmp.Diff(want, res.Config, cmp.FilterPath(func(p cmp.Path) bool {
		return p.String() == "Raw"
	}, cmp.Ignore())); diff != "" {
		t.Errorf("Parse(demo.yaml) mismatch (-want +got):\n%s", diff)
	}
	if got := res.Config.Names(); !slices.Equal(got, want.Order) {
		t.Errorf("Names() = %q, want %q", got, want.Order)
	}
}

func TestProblem_String(t *testing.T) {
	tests := []struct {
		name string
		p    toolconfig.Problem
		want string
	}{
		{
			name: "PathAndPosition",
			p:    toolconfig.Problem{Path: "components.web.run.port", Line: 7, Column: 13, Message: "port must be between 1 and 65535, got 70000"},
			want: "components.web.run.port (line 7, column 13): port must be between 1 and 65535, got 70000",
		},
		{
			name: "DocumentWithLine",
			p:    toolconfig.Problem{Line: 3, Message: "not valid YAML: x"},
			want: "line 3: not valid YAML: x",
		},
		{
			name: "NoPosition",
			p:    toolconfig.Problem{Path: "components", Message: "m"},
			want: "components: m",
		},
		{
			name: "MessageOnly",
			p:    toolconfig.Problem{Message: "the document is empty"},
			want: "the document is empty",
		},
		{
			name: "LineBreaksEscaped",
			p:    toolconfig.Problem{Path: "components.a\nb", Line: 1, Column: 1, Message: "x\ny"},
			want: `components.a\nb (line 1, column 1): x\ny`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseError(t *testing.T) {
	_, err := toolconfig.Parse([]byte("components:\n  web:\n    build: {reuse_from: web}\n    run: {command: x, port: 0}\n"))
	if err == nil {
		t.Fatal("Parse: no error")
	}
	var se *slipway.Error
	if !errors.As(err, &se) || se.Code != slipway.EInvalid {
		t.Fatalf("error %#v is not an EInvalid *slipway.Error", err)
	}
	var pe *toolconfig.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %#v does not wrap a *ParseError", err)
	}
	want := []toolconfig.Problem{
		{Path: "components.web.build.reuse_from", Line: 3, Column: 25, Message: "The following components reuse builds from components that also use reuse_from. They should point to the original components instead: web"},
		{Path: "components.web.run.port", Line: 4, Column: 29, Message: "port must be between 1 and 65535, got 0"},
	}
	if diff := cmp.Diff(want, pe.Problems); diff != "" {
		t.Errorf("Problems mismatch (-want +got):\n%s", diff)
	}
	if got, want := pe.Error(), want[0].String()+"; "+want[1].String(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestParse_Cases covers details that golden files show less well.
func TestParse_Cases(t *testing.T) {
	const head = "components:\n  web:\n    build: {repository: \"https://example.org/a.git\", ref: main}\n"
	tests := []struct {
		name     string
		input    string
		wantRaw  string // when valid
		wantErrs []string
	}{
		{
			name:    "YAML11Booleans",
			input:   head + "    run: {command: x, filelog: yes}\n",
			wantRaw: `{"components":{"web":{"build":{"repository":"https://example.org/a.git","ref":"main"},"run":{"command":"x","filelog":true}}}}`,
		},
		{
			name:    "YAML11BooleanOff",
			input:   "components:\n  web:\n    build: {repository: \"https://example.org/a.git\", ref: main, use_latest_versions: Off}\n    run: {command: x}\n",
			wantRaw: `{"components":{"web":{"build":{"repository":"https://example.org/a.git","ref":"main","use_latest_versions":false},"run":{"command":"x"}}}}`,
		},
		{
			name:     "QuotedYesIsAString",
			input:    head + "    run: {command: x, filelog: 'yes'}\n",
			wantErrs: []string{`components.web.run.filelog (line 4, column 32): filelog must be true or false, got string "yes"`},
		},
		{
			name:    "HexInteger",
			input:   head + "    run: {command: x, port: 0x1F40}\n",
			wantRaw: `{"components":{"web":{"build":{"repository":"https://example.org/a.git","ref":"main"},"run":{"command":"x","port":8000}}}}`,
		},
		{
			name:    "ExplicitStringTag",
			input:   "components:\n  web:\n    build: {repository: \"https://example.org/a.git\", ref: !!str 1234567}\n    run: {command: x}\n",
			wantRaw: `{"components":{"web":{"build":{"repository":"https://example.org/a.git","ref":"1234567"},"run":{"command":"x"}}}}`,
		},
		{
			name:    "HTMLAndUnicodeKeptAsIs",
			input:   head + "    run: {command: \"echo <a> & é \\t\\u2028\"}\n",
			wantRaw: "{\"components\":{\"web\":{\"build\":{\"repository\":\"https://example.org/a.git\",\"ref\":\"main\"},\"run\":{\"command\":\"echo <a> & é \\t\\u2028\"}}}}",
		},
		{
			name:    "CharactersYAMLDoesNotAllowRaw",
			input:   head + "    run: {command: \"a\\ufeff\\uFFFE\\uffff\\L\\P \\\" \\\\ \\U0001F600\"}\n",
			wantRaw: `{"components":{"web":{"build":{"repository":"https://example.org/a.git","ref":"main"},"run":{"command":"a\ufeff\ufffe\uffff\u2028\u2029 \" \\ 😀"}}}}`,
		},
		{
			name:     "ControlCharactersRefused",
			input:    head + "    run: {command: \"a\\x7f\\x85\\x9f\\0\\e\\x01\"}\n",
			wantErrs: []string{"components.web.run.command (line 4, column 20): command must not contain control characters (tab and newline are fine): character 2 is U+007F"},
		},
		{
			name:     "MergeSelf",
			input:    "components:\n  web: &w\n    <<: *w\n    build: {reuse_from: x}\n",
			wantErrs: nil, // checked below: must not hang or panic
		},
		{
			name:     "AliasCycle",
			input:    "components: &c\n  web: *c\n",
			wantErrs: nil,
		},
		{
			name:     "AliasAmplification",
			input:    aliasBomb(),
			wantErrs: []string{"the config is too large: YAML aliases expand it to too many fields"},
		},
		{
			name:     "EmptyDocumentAfterMarker",
			input:    "---\n",
			wantErrs: []string{"the document is empty: a tool config is a mapping with at least a components field"},
		},
		{
			name:     "TooManyProblems",
			input:    manyBadPorts(150),
			wantErrs: manyBadPortsProblems(150),
		},
		{
			name:     "MergeNotAMapping",
			input:    head + "    run:\n      <<: 3\n      command: x\n",
			wantErrs: []string{"components.web.run (line 5, column 11): a merge key (<<) must merge a mapping or a list of mappings, got number 3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := toolconfig.Parse([]byte(tt.input))
			switch {
			case tt.wantRaw != "":
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if got := string(res.Config.Raw); got != tt.wantRaw {
					t.Errorf("Raw = %s\nwant  %s", got, tt.wantRaw)
				}
				again, err := toolconfig.Parse(res.Config.Raw)
				if err != nil {
					t.Fatalf("Parse(Raw): %v", err)
				}
				if diff := cmp.Diff(res.Config, again.Config); diff != "" {
					t.Errorf("round trip mismatch (-first +second):\n%s", diff)
				}
			case tt.wantErrs != nil:
				if err == nil {
					t.Fatal("Parse: no error")
				}
				if diff := cmp.Diff(tt.wantErrs, problemLines(t, err)); diff != "" {
					t.Errorf("problems mismatch (-want +got):\n%s", diff)
				}
			default:
				if err == nil {
					t.Fatal("Parse: no error")
				}
			}
		})
	}
}

// aliasBomb returns a small config whose components all alias one large
// mapping of unknown fields.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("x: &big\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "  k%d: 1\n", i)
	}
	b.WriteString("components:\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "  c%d: *big\n", i)
	}
	return b.String()
}

// manyBadPorts returns a config with n components with a bad port each.
func manyBadPorts(n int) string {
	var b strings.Builder
	b.WriteString("components:\n")
	for i := range n {
		fmt.Fprintf(&b, "  c%d: {build: {image: x}, run: {command: x, port: 0}}\n", i)
	}
	return b.String()
}

func manyBadPortsProblems(n int) []string {
	var out []string
	for i := range toolconfig.MaxProblems {
		out = append(out, fmt.Sprintf("components.c%d.run.port (line %d, column %d): port must be between 1 and 65535, got 0", i, i+2, 50+len(fmt.Sprint(i))))
	}
	return append(out, fmt.Sprintf("and %d more problems", n-toolconfig.MaxProblems))
}
