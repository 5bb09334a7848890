package toolconfig_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/toolconfig"
)

// FuzzParse checks that Parse and ParseStored never panic, that whatever
// they accept round-trips (parsing Raw again gives the same config, the same
// Raw and no warnings), that ParseStored accepts what Parse does, and that
// CheckLimits and Locate take whatever ParseStored accepts.
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
	f.Add([]byte("components:\n  web: {build: {image: x}, run: {command: \"a\\0\", memory: 1e9, cpu: .5m, replicas: 2147483647}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// ParseStored accepts at least what Parse does, and round-trips.
		stored, storedErr := toolconfig.ParseStored(data)
		if storedErr == nil {
			again, err := toolconfig.ParseStored(stored.Config.Raw)
			if err != nil {
				t.Fatalf("ParseStored(Raw): %v\ninput: %q\nRaw: %s", err, data, stored.Config.Raw)
			}
			if diff := cmp.Diff(stored.Config, again.Config); diff != "" {
				t.Fatalf("ParseStored(Raw).Config mismatch (-first +second):\n%s\ninput: %q", diff, data)
			}
			// The limits checks and Locate take any stored config.
			if err := toolconfig.CheckLimits(stored.Config, slipway.DefaultLimits()); err != nil {
				_ = toolconfig.Locate(err, data)
			}
		}
		res, err := toolconfig.Parse(data)
		if err != nil {
			return
		}
		if storedErr != nil {
			t.Fatalf("Parse accepts what ParseStored refuses: %v\ninput: %q", storedErr, data)
		}
		if diff := cmp.Diff(res.Config, stored.Config); diff != "" {
			t.Fatalf("Parse and ParseStored differ (-Parse +ParseStored):\n%s\ninput: %q", diff, data)
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
