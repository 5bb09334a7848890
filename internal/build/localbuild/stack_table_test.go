package localbuild

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestStacks_Detect checks the table detection works from: each file of
// each stack selects it, an app with none is static, and the first match
// wins.
func TestStacks_Detect(t *testing.T) {
	t.Parallel()
	all := Stacks()
	if last := all[len(all)-1]; last.Name != "static" || len(last.Files) > 0 {
		t.Fatalf("the last stack is %q with files %q, want static with none (the fallback)", last.Name, last.Files)
	}
	detected := func(files ...string) string {
		dir := t.TempDir()
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		tree, err := os.OpenRoot(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer tree.Close()
		return detect(tree).Name
	}
	var names []string
	for _, s := range all {
		names = append(names, s.Name)
		for _, f := range s.Files {
			if got := detected(f, "index.html"); got != s.Name {
				t.Errorf("an app with %s is %s, want %s", f, got, s.Name)
			}
		}
	}
	if got := detected("index.html"); got != "static" {
		t.Errorf("an app with none of the stacks' files is %s, want static", got)
	}
	if got := detected("package.json", "go.mod", "requirements.txt"); got != "go" {
		t.Errorf("an app with go.mod, package.json and requirements.txt is %s, want go (the first match)", got)
	}
	if want := []string{"go", "node", "python", "static"}; !slices.Equal(names, want) {
		t.Errorf("stacks %q, want %q", names, want)
	}
}

// TestStacks_Defaults checks the default processes the table gives.
func TestStacks_Defaults(t *testing.T) {
	t.Parallel()
	byName := map[string]Stack{}
	for _, s := range Stacks() {
		byName[s.Name] = s
	}
	tests := []struct {
		stack string
		files []string
		want  map[string]string
	}{
		{"go", nil, map[string]string{"web": ".bin/app"}},
		{"node", nil, map[string]string{"web": "npm start"}},
		{"python", []string{"app.py"}, map[string]string{"web": ".venv/bin/python app.py"}},
		{"python", nil, map[string]string{}},
		{"static", []string{"app.py"}, map[string]string{}},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		for _, f := range tt.files {
			if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		tree, err := os.OpenRoot(dir)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, byName[tt.stack].defaults(tree)); diff != "" {
			t.Errorf("%s with %q: defaults (-want +got):\n%s", tt.stack, tt.files, diff)
		}
		_ = tree.Close()
	}
}

// TestStacks_Copy checks that Stacks gives a copy: changing it changes
// nothing the builder uses.
func TestStacks_Copy(t *testing.T) {
	t.Parallel()
	s := Stacks()
	s[0].Steps[0].Command[0] = "rm"
	s[0].Env[0] = "CGO_ENABLED=1"
	if goBuild[0] != "go" || goStdEnv[0] != "CGO_ENABLED=0" {
		t.Errorf("changing what Stacks returned changed the builder's table")
	}
}
