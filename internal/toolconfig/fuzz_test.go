package toolconfig_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/toolconfig"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// round-trips: parsing Raw again gives the same config, the same Raw and no
// warnings.
func FuzzParse(f *testing.F) {
	for _, c := range loadCases(f) {
		f.Add(c.input)
	}
	demo, err := os.ReadFile(filepath.Join("testdata", "demo.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(demo)
	for _, s := range []string{
		"components:\n  web:\n    build: {image: x}\n    run: {command: \"a\\x7f\\x85\\ufeff\\L\\0 \\\" \\\\\"}\n",
		"x: &r {command: x, port: 0x50}\ncomponents:\n  a: {build: {image: x}, run: *r, wait_for: [b]}\n  b: {build: {reuse_from: a}, run: {<<: *r, filelog: yes}}\n",
		"components:\n  web: &w\n    <<: *w\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := toolconfig.Parse(data)
		if err != nil {
			return
		}
		again, err := toolconfig.Parse(res.Config.Raw)
		if err != nil {
			t.Fatalf("Parse(Raw): %v\ninput: %q\nRaw: %s", err, data, res.Config.Raw)
		}
		if diff := cmp.Diff(res.Config, again.Config); diff != "" {
			t.Fatalf("Parse(Raw).Config mismatch (-first +second):\n%s\ninput: %q", diff, data)
		}
		if len(again.Warnings) > 0 {
			t.Fatalf("Parse(Raw).Warnings = %q\ninput: %q", again.Warnings, data)
		}
	})
}
