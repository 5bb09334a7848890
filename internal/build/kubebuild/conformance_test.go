package kubebuild_test

import (
	"testing"

	"slipway.dev/slipway/internal/build"
	"slipway.dev/slipway/internal/build/buildtest"
	"slipway.dev/slipway/internal/build/kubebuild"
)

// TestBuilder_Conformance runs the part of buildtest's suite that needs no
// build to run (buildtest.RunContract): on kwok no container runs, so the
// build step's output the other tests read never comes. What they check
// (Lookup after Build from another builder, one build for concurrent
// requests, cancel leaves nothing, artifacts per tool, Remove) the tests of
// this package check with a stand-in kubelet.
func TestBuilder_Conformance(t *testing.T) {
	t.Parallel()
	cs := client(t)
	buildtest.RunContract(t, func(t *testing.T) func() build.Builder {
		t.Helper()
		_, ns := newBuilder(t, cs)
		return func() build.Builder {
			b, err := kubebuild.New(kubebuild.Config{Client: cs, Registry: registry, Namespace: func(string) string { return ns }})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	})
}
