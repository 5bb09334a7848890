package localbuild_test

import (
	"errors"
	"io"
	"os"
	"testing"

	"slipway.dev/slipway/internal/build"

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
	if _, err := os.Stat(art.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after Remove: %v, want it gone", art.Dir, err)
	}
	if err := b.builder.Logs(t.Context(), "tool", req.Key, build.LogOptions{}, io.Discard); !errors.Is(err, build.ErrNoLog) {
		t.Errorf("Logs after Remove = %v, want ErrNoLog", err)
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
