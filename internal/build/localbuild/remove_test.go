package localbuild_test

import (
	"errors"
	"os"
	"testing"

	"slipway.dev/slipway/internal/slipwaytest"
)

// Ensure Remove deletes a finished artifact and its log, so that Lookup no
// longer finds it and a later Build builds again; removing again, or a key
// never built, is no error.
func TestBuilder_Remove(t *testing.T) {
	t.Parallel()
	b := setup(t)
	repo := slipwaytest.GitRepo(t, map[string]string{"index.html": "hi\n"})
	req := request(repo, repo.Head(t))
	art, err := b.builder.Build(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.builder.Remove(t.Context(), "tool", req.Key); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, ok, err := b.builder.Lookup(t.Context(), "tool", req.Key); ok || err != nil {
		t.Errorf("Lookup after Remove = %v, %v, want not found", ok, err)
	}
	for _, p := range []string{art.Dir, b.builder.LogPath("tool", req.Key)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after Remove: %v, want it gone", p, err)
		}
	}
	if err := b.builder.Remove(t.Context(), "tool", req.Key); err != nil {
		t.Errorf("Remove again: %v", err)
	}
	if err := b.builder.Remove(t.Context(), "tool", "../escape"); err == nil {
		t.Errorf("Remove of an invalid key succeeded")
	}
	if _, err := b.builder.Build(t.Context(), req); err != nil {
		t.Errorf("Build after Remove: %v", err)
	}
	if _, ok, _ := b.builder.Lookup(t.Context(), "tool", req.Key); !ok {
		t.Errorf("Lookup after a new Build: not found")
	}
}
